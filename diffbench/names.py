"""The one rule for names that become path components: task names, study names, run ids and
the model names inside them.

A name is 1 to :data:`NAME_MAX_LENGTH` characters drawn from ASCII letters, digits, ``.``,
``_`` and ``-``; it starts with a letter or a digit and holds no ``..``. So a name is never
empty, ``.`` or ``..``, never absolute, never holds a separator (``/`` or ``\\``), a control
character or a drive letter, and never hides as a dot file: ``root / name`` stays inside
``root`` on every platform.

Examples
--------
>>> check_name("paper-512", "task name")
'paper-512'
>>> check_name("../../x", "task name")
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: task name '../../x' is not allowed: a name is 1-128 characters from letters, digits, '.', '_' and '-', starts with a letter or digit and holds no '..'
>>> safe_name("pkg.module:My Net")
'pkg.module-My-Net'
"""

from __future__ import annotations

import re
from typing import Any

from .errors import DiffbenchError

#: The longest name (a run id ``<task>--<model>--<digest>`` fits: 64 + 2 + 40 + 2 + 10).
NAME_MAX_LENGTH = 128
#: The allowed characters, and the first one a letter or digit.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The rule in words, as every refusal states it.
NAME_RULE = (
    f"a name is 1-{NAME_MAX_LENGTH} characters from letters, digits, '.', '_' and '-', "
    "starts with a letter or digit and holds no '..'"
)


def is_name(value: Any) -> bool:
    """Whether ``value`` is a string that obeys the rule.

    >>> [is_name(v) for v in ("smoke", "a.b_c-1", "", "..", ".x", "a/b", "a..b", 3, "x" * 129)]
    [True, True, False, False, False, False, False, False, False]
    """
    return (
        isinstance(value, str)
        and 0 < len(value) <= NAME_MAX_LENGTH
        and NAME_PATTERN.fullmatch(value) is not None
        and ".." not in value
    )


def check_name(value: Any, what: str) -> str:
    """``value`` if it obeys the rule, else a one-line :class:`DiffbenchError` naming ``what``
    (e.g. ``"task name"``) and the rule.

    >>> check_name(7, "study name")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: study name must be a string, got int; a name is 1-128 characters from letters, digits, '.', '_' and '-', starts with a letter or digit and holds no '..'
    """
    if not isinstance(value, str):
        raise DiffbenchError(f"{what} must be a string, got {type(value).__name__}; {NAME_RULE}")
    if not is_name(value):
        shown = repr(value) if len(value) <= 60 else repr(value[:40]) + f"... ({len(value)} characters)"
        raise DiffbenchError(f"{what} {shown} is not allowed: {NAME_RULE}")
    return value


def safe_name(text: Any, limit: int = NAME_MAX_LENGTH) -> str:
    """``text`` turned into a name that obeys the rule (for free text such as a model's class
    path): every other character becomes ``-``, runs of dots shrink to one, a leading
    character that is not a letter or digit is dropped, the result is cut to ``limit``
    characters, and an empty result becomes ``x``.

    >>> [safe_name(t) for t in ("cnn-small", "../../etc", "a..b", "", "/", "ünï")]
    ['cnn-small', 'etc', 'a.b', 'x', 'x', 'n-']
    >>> all(is_name(safe_name(t, 5)) for t in ("-....-", "a" * 300, "x.y..", ".."))
    True
    """
    if not 1 <= limit <= NAME_MAX_LENGTH:
        raise DiffbenchError(f"name length limit must be in [1, {NAME_MAX_LENGTH}], got {limit!r}")
    out = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "-" for c in str(text))
    out = re.sub(r"\.{2,}", ".", out).lstrip("._-")[:limit]
    return out if out else "x"
