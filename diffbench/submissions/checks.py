"""The checks a submission passes before it is stored, and again whenever it is read back: the
result against the schema and the protocol, and its task a current task of this diffbench
(:func:`check_result`); the free-text fields and the URL of the submission block
(:func:`check_text`, :func:`check_url`). Every failure is one :class:`DiffbenchError` line."""

from __future__ import annotations

from typing import Any

from .. import PROTOCOL_VERSION
from ..errors import DiffbenchError
from ..results.fields import CONTROL
from ..results.submission import TEXT_LIMITS, safe_url
from ..results.validate import CheckedResult
from ..results.validate import check_result as validate_result


def check_result(result: Any, source: str = "result", *, current_task: bool = True) -> CheckedResult:
    """Check ``result`` (a parsed result.json) against the schema and the protocol
    (:func:`diffbench.results.check_result`) and, with ``current_task``, that its task is a
    task of this diffbench with the same spec hash (results on other data are not comparable).

    Raises :class:`DiffbenchError` (one line, naming ``source`` and the field) on the first
    violation; returns what the leaderboard needs to know about an accepted result.
    """
    checked = validate_result(result, source, protocol_version=PROTOCOL_VERSION)
    if current_task:
        from ..data import load_task, task_names

        name, spec_hash = checked.task, result["task"]["spec_hash"]
        if name not in task_names():
            raise DiffbenchError(
                f"{source} refused: task.name {name!r} is not a task of this diffbench; "
                f"known: {', '.join(task_names()) or '(none)'}"
            )
        try:
            spec = load_task(name)
        except DiffbenchError as exc:
            raise DiffbenchError(f"{source} refused: task.name {name!r} cannot be loaded ({exc})") from None
        if spec.spec_hash != spec_hash:
            raise DiffbenchError(
                f"{source} refused: task.spec_hash is {spec_hash[:12]}..., but task {name!r} is now "
                f"{spec.spec_hash[:12]}...: the result was made on different data; rerun on the current task"
            )
    return checked


# --------------------------------------------------------------------------- submission fields


def check_text(value: str | None, field_name: str) -> str:
    """Free text: stored as given (and escaped on output); no control characters, bounded length."""
    value = "" if value is None else str(value)
    limit = TEXT_LIMITS[field_name]
    if len(value) > limit:
        raise DiffbenchError(f"--{field_name} is {len(value)} characters; at most {limit} are allowed")
    if CONTROL.search(value):
        raise DiffbenchError(
            f"--{field_name} contains a control character (newline, tab, a bidirectional override, ...); give one line of plain text"
        )
    return value.strip()


def check_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    if safe_url(url) is None:
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        why = (
            f"the scheme {scheme!r} is not allowed"
            if scheme and scheme not in ("http", "https")
            else "it is not a well-formed absolute URL"
        )
        raise DiffbenchError(f"--url must be an http:// or https:// link to the code or paper; {why}")
    return url
