"""The submission block of a stored submission (:class:`diffbench.results.SubmissionMeta`): a
hand-made file with a bad block is refused by ``load_submissions`` in one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffbench.errors import DiffbenchError
from diffbench.results import (
    SubmissionMeta,
    read_json_strict,
    result_json_schema,
    safe_url,
)
from diffbench.submissions.submit import document_id, load_submissions

FIXTURE = Path(__file__).parent / "fixtures" / "result-v1-smoke-uq.json"
GOOD = {
    "title": "U-Net <b>x</b>",
    "authors": "A. Author",
    "url": "https://example.org/code",
    "official": True,
    "submitted": "2025-01-02",
    "images": {},
}


def _store(lb: Path, meta: dict) -> Path:
    doc = {"submission": meta, "result": read_json_strict(FIXTURE)}
    path = lb / "submissions" / "smoke" / f"{document_id(doc)}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc))
    return path


def test_a_good_block_is_accepted(tmp_path):
    assert SubmissionMeta.model_validate(GOOD).title == "U-Net <b>x</b>"
    path = _store(tmp_path, GOOD)
    (sub,) = load_submissions(tmp_path)
    assert sub.path == path and sub.meta["url"] == GOOD["url"] and sub.typed.task.name == "smoke"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"url": "javascript:alert(1)"}, "submission.url must be an http(s) URL or null"),
        ({"title": "two\nlines"}, "submission.title is too long (at most 200 characters) or has control characters"),
        ({"authors": "x" * 501}, "submission.authors is too long (at most 500 characters)"),
        ({"official": "yes"}, "submission.official must be a bool, got 'yes'"),
        ({"submitted": "2 Jan 2025"}, "submission.submitted must be a YYYY-MM-DD date, got '2 Jan 2025'"),
        ({"images": {"seed-0/a.png": "not-a-hash"}}, "submission.images must map paths to SHA-256 hex digests"),
        ({"extra": 1}, "submission has unknown key(s) extra"),
    ],
)
def test_a_bad_block_is_refused_in_one_line(tmp_path, change, message):
    path = _store(tmp_path, {**GOOD, **change})
    with pytest.raises(DiffbenchError) as info:
        load_submissions(tmp_path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_safe_url():
    assert safe_url("http://example.org:8080/p?a=1&b=2") == "http://example.org:8080/p?a=1&b=2"
    for bad in (
        "javascript:alert(1)",
        "data:text/html,x",
        "/relative",
        "https://",
        "http://exa mple.org",
        "http://x:99999999/",
        3,
    ):
        assert safe_url(bad) is None, bad


def test_the_schema_names_the_submission_rules():
    assert "SubmissionMeta" not in result_json_schema()["$defs"]  # the published schema is result.json's
    schema = SubmissionMeta.model_json_schema()
    assert schema["additionalProperties"] is False and schema["properties"]["title"]["maxLength"] == 200
