"""Strict JSON for results and submissions: UTF-8, bounded size, no ``NaN``/``Infinity``
literals, no overflowing numbers, no repeated key in an object.

>>> loads_strict('{"a": 1.5}')
{'a': 1.5}
>>> loads_strict('{"a": NaN}')
Traceback (most recent call last):
...
ValueError: the literal NaN is not JSON (a non-finite number must be written as null)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError

#: The largest result.json (or stored submission) that is read.
MAX_RESULT_BYTES = 32 * 2**20


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"the literal {name} is not JSON (a non-finite number must be written as null)")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} overflows to infinity (a non-finite number must be written as null)")
    return value


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` literals, overflowing numbers and repeated keys."""
    return json.loads(
        text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_no_duplicates
    )


def read_json_strict(path: Path, what: str = "result", limit: int = MAX_RESULT_BYTES) -> Any:
    """Read ``path`` as strict JSON; every failure is a one-line :class:`DiffbenchError`."""
    path = Path(path)
    try:
        if path.is_dir():
            raise DiffbenchError(f"{path} is a folder; give the {what} file itself (e.g. {path / 'result.json'})")
        if not path.is_file():
            raise DiffbenchError(f"{what} file {path} does not exist (give the result.json that `diffbench run` wrote)")
        size = path.stat().st_size
        if size > limit:
            raise DiffbenchError(f"{what} file {path} is {size} bytes; at most {limit} are accepted")
        raw = path.read_bytes()
    except OSError as exc:
        raise DiffbenchError(f"cannot read {what} file {path} ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiffbenchError(f"{path} is not UTF-8 text (byte {exc.start}); a result.json is UTF-8 JSON") from None
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise DiffbenchError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:
        raise DiffbenchError(f"{path} is refused: {exc}") from None
