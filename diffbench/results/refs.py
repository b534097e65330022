"""References a result makes to files: relative paths of plain names, http(s) URLs, and a seed's
best checkpoint in a submission bundle (:class:`CheckpointRef`). Part of the result schema
(:mod:`diffbench.results.schema`)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema, model_validator

from .fields import HEX64, MAX_CHECKPOINT_BYTES, PATH_PART, Closed, Count, fail, show


def relative_path(v: Any, suffix: str | None = None) -> Any:
    """``v`` if it is a relative POSIX path of plain names (ending in ``suffix``), else a one-line failure."""
    from pathlib import PurePosixPath

    ok = isinstance(v, str) and not v.startswith("/") and len(v) <= 1000
    parts = PurePosixPath(v).parts if ok else ()
    if not ok or not parts or not all(PATH_PART.match(p) for p in parts) or (suffix and not v.endswith(suffix)):
        end = f" ending in {suffix}" if suffix else ""
        raise fail(f"must be a relative path of plain names{end} (no absolute path, no '..'), got {show(v)}")
    return v


def http_url(v: Any) -> Any:
    """``v`` if it is an absolute http(s) URL with a host and no whitespace, else a one-line failure."""
    from urllib.parse import urlsplit

    ok = isinstance(v, str) and len(v) <= 2000 and not any(c.isspace() for c in v) and "\\" not in v
    try:
        parts = urlsplit(v) if ok else None
        ok = ok and parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        ok = False
    if not ok:
        raise fail(f"must be an http(s) URL with a host, got {show(v)}")
    return v


def _sha256(v: Any) -> Any:
    if not isinstance(v, str) or not HEX64.match(v):
        raise fail(f"must be a SHA-256 hex digest (64 lower-case hex digits), got {show(v)}")
    return v


class CheckpointRef(Closed):
    """A seed's best checkpoint in a submission bundle: a ``path`` relative to the result (the
    file travels with it) or an http(s) ``url`` (large models), with its SHA-256 and size."""

    path: (
        Annotated[
            str,
            PlainValidator(lambda v: relative_path(v, ".ckpt")),
            WithJsonSchema({"type": "string", "pattern": "^[^/].*\\.ckpt$"}),
        ]
        | None
    ) = None
    url: (
        Annotated[
            str, PlainValidator(http_url), WithJsonSchema({"type": "string", "format": "uri", "pattern": "^https?://"})
        ]
        | None
    ) = None
    sha256: Annotated[str, PlainValidator(_sha256), WithJsonSchema({"type": "string", "pattern": HEX64.pattern})]
    bytes: Count(1, MAX_CHECKPOINT_BYTES)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one_location(self) -> Any:
        if (self.path is None) == (self.url is None):
            raise fail("must give exactly one of path (relative to the result) and url (http/https)")
        return self
