"""The schema of a stored submission: the ``submission`` block ``diffbench submit`` adds
(free text, a link, the date, the images' hashes and, for a submission bundle, each seed's
checkpoint: a file next to it or an http(s) URL, with its SHA-256 and size) and the result as written.

Free text is stored as given (escaped whenever it is rendered) but bounded and on one line;
a link is an absolute ``http(s)`` URL with a host or nothing (never ``javascript:``,
``data:`` or relative).

>>> safe_url("https://example.org/code"), safe_url("javascript:alert(1)"), safe_url("http:///x")
('https://example.org/code', None, None)
>>> SubmissionMeta.model_validate({"title": "t", "authors": "", "url": None, "official": False,
...                                "submitted": "2025-01-02", "images": {}}).submitted
'2025-01-02'
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, PlainValidator, WithJsonSchema

from .fields import CONTROL, COUNT_KEY, HEX64, Closed, fail, show
from .schema import CheckpointRef, Result

#: The most characters of the free-text fields.
TEXT_LIMITS = {"title": 200, "authors": 500}
URL_LIMIT = 2000
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def safe_url(url: Any) -> str | None:
    """``url`` if it is an absolute http(s) URL with a host and no whitespace, else None."""
    if not isinstance(url, str) or not url or len(url) > URL_LIMIT:
        return None
    if CONTROL.search(url) or any(c.isspace() for c in url) or "\\" in url:
        return None
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return url


def _text(limit: int) -> Any:
    def check(v: Any) -> Any:
        if not isinstance(v, str):
            raise fail(f"must be a str, got {show(v)}")
        if len(v) > limit or CONTROL.search(v):
            raise fail(f"is too long (at most {limit} characters) or has control characters")
        return v

    return Annotated[str, PlainValidator(check), WithJsonSchema({"type": "string", "maxLength": limit})]


def _url(v: Any) -> Any:
    if v is not None and safe_url(v) is None:
        raise fail("must be an http(s) URL or null")
    return v


def _date(v: Any) -> Any:
    if not isinstance(v, str) or not DATE.fullmatch(v):
        raise fail(f"must be a YYYY-MM-DD date, got {show(v)}")
    return v


def _official(v: Any) -> Any:
    if not isinstance(v, bool):
        raise fail(f"must be a bool, got {show(v)}")
    return v


def _images(v: Any) -> Any:
    if not isinstance(v, dict) or not all(
        isinstance(k, str) and isinstance(h, str) and HEX64.match(h) for k, h in v.items()
    ):
        raise fail("must map paths to SHA-256 hex digests")
    return v


def _checkpoint_seeds(v: Any) -> Any:
    if not isinstance(v, dict) or not v or not all(isinstance(k, str) and COUNT_KEY.fullmatch(k) for k in v):
        raise fail("must map each seed (as a string, e.g. \"0\") to its checkpoint {path or url, sha256, bytes}")
    return v


class SubmissionMeta(Closed):
    """What ``diffbench submit`` adds to a result."""

    title: _text(TEXT_LIMITS["title"])  # type: ignore[valid-type]
    authors: _text(TEXT_LIMITS["authors"])  # type: ignore[valid-type]
    url: Annotated[
        str | None,
        PlainValidator(_url),
        WithJsonSchema({"anyOf": [{"type": "string", "format": "uri", "pattern": "^https?://"}, {"type": "null"}]}),
    ] = None
    official: Annotated[bool, PlainValidator(_official), WithJsonSchema({"type": "boolean"})]
    submitted: Annotated[
        str, PlainValidator(_date), WithJsonSchema({"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"})
    ]
    images: Annotated[
        dict[str, str],
        PlainValidator(_images),
        WithJsonSchema({"type": "object", "additionalProperties": {"type": "string", "pattern": HEX64.pattern}}),
    ]
    #: The submission bundle: each seed's best checkpoint, a file in ``<id>/`` (``path``) or a URL.
    checkpoints: Annotated[dict[str, CheckpointRef], BeforeValidator(_checkpoint_seeds)] | None = None


class StoredSubmission(Closed):
    """``leaderboard/submissions/<task>/<id>.json``: the submission block and the result as written."""

    submission: SubmissionMeta
    result: Result
