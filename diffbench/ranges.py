"""Bounded integer lists from the command line and YAML: ``"0,1,2"``, ``"0-4"``, ``"1-3,7"``.

A range is expanded only after its length is checked, so ``--seeds 0-99999999999`` is a
one-line error naming the limit, not a MemoryError.

Examples
--------
>>> parse_int_list("1-3,7", "--seeds")
[1, 2, 3, 7]
>>> parse_int_list("0-99999999999", "--seeds")
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: --seeds names 100000000000 integers; at most 10000 are allowed
"""

from __future__ import annotations

from typing import Any

from .errors import DiffbenchError

#: The most integers one list may name (seeds, source counts).
MAX_INT_LIST = 10_000
#: Every integer lies in [-INT_BOUND, INT_BOUND] (a signed 64-bit integer).
INT_BOUND = 2**63 - 1


def parse_int_list(text: Any, what: str, limit: int = MAX_INT_LIST) -> list[int]:
    """``"0,1,2"``, ``"0-4"`` or a mix (``"1-3,7"``) into at most ``limit`` integers.

    >>> parse_int_list("", "--test-counts")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: --test-counts must name at least one integer, got ''
    >>> parse_int_list("5-2", "--seeds")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: --seeds must be integers like 0,1,2 or ranges like 1-10, got '5-2'
    """
    shown = repr(text) if len(repr(text)) <= 80 else repr(str(text)[:60]) + "..."
    bad = DiffbenchError(f"{what} must be integers like 0,1,2 or ranges like 1-10, got {shown}")
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise bad
    spans: list[tuple[int, int]] = []
    total = 0
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if len(part) > 60:
            raise bad
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                a, b = int(part[:cut]), int(part[cut + 1 :])
            else:
                a = b = int(part)
        except ValueError:
            raise bad from None
        if b < a:
            raise bad
        if not (-INT_BOUND <= a and b <= INT_BOUND):
            raise DiffbenchError(f"{what} holds an integer outside [-{INT_BOUND}, {INT_BOUND}], got {shown}")
        total += b - a + 1
        if total > limit:
            raise DiffbenchError(
                f"{what} names {total if len(spans) == 0 else f'more than {limit}'} integers; at most {limit} are allowed"
            )
        spans.append((a, b))
    if not spans:
        raise DiffbenchError(f"{what} must name at least one integer, got {shown}")
    return [v for a, b in spans for v in range(a, b + 1)]
