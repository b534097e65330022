"""The canonical JSON of a result and its ``digest`` (SHA-256 of everything but the digest).

A ``digest`` makes any later edit detectable: the leaderboard refuses a result whose digest
does not match its content.

>>> r = {"b": 1, "a": [1.5, None], "digest": "x"}
>>> canonical_json(r)
'{"a":[1.5,null],"b":1,"digest":"x"}'
>>> compute_digest(r) == compute_digest({"a": [1.5, None], "b": 1})
True
>>> clean_number({"x": float("nan"), "y": [1.0, float("inf")]})
{'x': None, 'y': [1.0, None]}
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes

#: The version of the result.json layout; a change of layout bumps it.
RESULT_SCHEMA_VERSION = 1


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, no NaN: the bytes that are hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def compute_digest(result: dict[str, Any]) -> str:
    """SHA-256 hex digest of the canonical JSON of ``result`` without its ``digest`` key."""
    body = {k: v for k, v in result.items() if k != "digest"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def clean_number(x: Any) -> Any:
    """NaN and inf become None (JSON has no NaN); everything else passes through."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): clean_number(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_number(v) for v in x]
    return x


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON (sorted keys, indent 1: the bytes ``diffbench run`` always wrote) to a
    temporary name in the same folder, flush it to disk, then rename it into place."""
    atomic_write_bytes(Path(path), (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def write_result(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Clean ``result`` (NaN -> null), add its ``digest`` and write it atomically; returns what was written."""
    result = clean_number(dict(result))
    result["digest"] = compute_digest(result)
    write_json_atomic(Path(path), result)
    return result
