"""How an option of :class:`~diffbench.pipeline.config.RunConfig` is declared and read: the field
factory :func:`option` with its kinds (``identity``, ``optional``, ``bookkeeping``), the
coercions of flag and YAML values and the checks ``run`` applies (one per kind of option), and
the texts a run id and the reproduce command are written with (:func:`counts_text`,
:func:`file_safe`)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import MISSING, field
from typing import Any

from ..errors import DiffbenchError
from ..ranges import parse_int_list
from ..training.options import check_choice, check_positive_int

IDENTITY, OPTIONAL, BOOKKEEPING = "identity", "optional", "bookkeeping"


def option(
    default: Any = MISSING,
    *,
    factory: Callable[[], Any] | None = None,
    flag: str | None,
    help: str = "",
    kind: str = IDENTITY,
    type: Callable[[str], Any] | None = None,
    action: str | None = None,
    config: bool = True,
    coerce: Callable[[Any], Any] | None = None,
    check: Callable[[Any], None] | None = None,
    always: bool = False,
    show: Callable[[Any], str] = str,
) -> Any:
    """A :class:`RunConfig` field and everything about its option (see :mod:`diffbench.pipeline.config`).

    ``flag`` None: no command-line flag; ``type``/``action``: argparse's; ``config``: a YAML may
    set it; ``always``: the reproduce command writes it even at its default."""
    meta = {
        "flag": flag,
        "help": help,
        "kind": kind,
        "type": type,
        "action": action,
        "config": config,
        "coerce": coerce,
        "check": check,
        "always": always,
        "show": show,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def counts_text(counts: list[int]) -> str:
    """The shortest ``--train-counts`` text for ``counts``.

    >>> counts_text([3, 1, 2]), counts_text([5, 9])
    ('1-3', '5,9')
    """
    c = sorted(counts)
    return f"{c[0]}-{c[-1]}" if c == list(range(c[0], c[-1] + 1)) else ",".join(map(str, c))


def file_safe(text: Any, limit: int) -> str:
    """``text`` fit for a file name: every character but ASCII letters, digits, ``-``, ``_`` and
    ``.`` becomes ``-``, runs of dots become one; at most ``limit`` characters.

    >>> file_safe("pkg.mod:Net v2", 12), file_safe("../ünï..x", 20)
    ('pkg.mod-Net-', '.--n-.x')
    """
    out = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "-" for c in str(text))
    return re.sub(r"\.{2,}", ".", out)[:limit]


# -- coercion (flag and YAML values) and checks (what run refuses), one per kind of option ----------


def int_list(flag: str) -> Callable[[Any], list[int]]:
    return lambda value: value if isinstance(value, list) else parse_int_list(value, flag)


def json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}") from None
    if not isinstance(parsed, dict):
        raise DiffbenchError(f"--model-args must be a JSON object, got {value!r}")
    return parsed


def boolean(name: str) -> Callable[[Any], bool]:
    def coerce_bool(value: Any) -> bool:
        if not isinstance(value, bool):
            raise DiffbenchError(f"{name} must be true or false, got {value!r}")
        return value

    return coerce_bool


def fraction(value: Any) -> float:
    if not (isinstance(value, (int, float)) and 0 < value <= 1 and math.isfinite(value)):
        raise DiffbenchError(f"--train-fraction must be in (0, 1], got {value!r}")
    return value


def positive_finite(flag: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise DiffbenchError(f"{flag} must be a finite number > 0, got {value!r}")

    return check


def positive_int(flag: str, optional: bool = False) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not (optional and value is None):
            check_positive_int(flag, value)

    return check


def one_of(flag: str, allowed: tuple[str, ...]) -> Callable[[Any], None]:
    return lambda value: check_choice(flag, value, allowed)


def check_seeds(seeds: Any) -> None:
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise DiffbenchError(f"--seeds must be non-negative integers, e.g. 0,1,2; got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise DiffbenchError(f"--seeds must not repeat a seed, got {seeds!r}")


def model_text(model: Any) -> str:
    return model if isinstance(model, str) else json.dumps(model)
