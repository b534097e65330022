"""``diffbench submit``: check a run's ``result.json`` against the schema and the protocol, store it.

What is checked (:func:`check_result`; every failure is one :class:`DiffbenchError` line
naming the file, the field and what is allowed): strict JSON (:mod:`diffbench.results.jsonio`),
then the schema and the protocol (:func:`diffbench.results.check_result`: versions, the digest
against the content, every field through the pydantic models of :mod:`diffbench.results.schema`,
the seeds, the aggregation, the ``uq`` and ``consistency`` blocks and the cost means agreeing
with the per-seed results), then ``task.name`` a known task (:func:`diffbench.data.load_task`)
whose current ``spec_hash`` is the result's (results on other data are not comparable).
Example images listed by the seeds: relative, plain names, ``.png`` with a PNG header, at most
:data:`MAX_IMAGE_BYTES` each. A listed image missing next to the result is skipped (reported),
not refused. Nothing here imports torch (a test checks it). Every value is bounded and no
string may hold a local absolute path (:func:`diffbench.results.validate.check_bounds`); no two
seeds may be copies (:func:`diffbench.results.across.check_distinct_seeds`).

Submission bundles (``--with-checkpoints``, ``--checkpoint-url SEED=URL``): each seed's best
checkpoint travels with the submission, by file or URL, with its SHA-256 and size
(:mod:`diffbench.submissions.bundle`), so that ``diffbench verify`` can re-score it; its
record makes the entry "verified" on the site. ``submit --check FILE`` re-checks one stored
submission as the build does, its bundled checkpoints hashed (what CI runs).

Submission fields: ``--title`` and ``--authors`` are free text (any characters but
control characters and bidirectional controls, at most 200 / 500 characters); they are stored as given and escaped
whenever they are rendered. ``--url`` must be an ``http://`` or ``https://`` URL with a
host; anything else (``javascript:``, ``data:``, relative) is refused.

Storage: ``<leaderboard>/submissions/<task>/<id>.json`` holding
``{"submission": {...}, "result": {...the original result, byte-for-byte the same JSON
values...}}`` where ``id`` is the first 16 hex digits of the SHA-256 of the canonical JSON
of that document (content-addressed: the name proves the content). The run's example
images are copied to ``<leaderboard>/submissions/<task>/<id>/`` and their SHA-256 recorded
in the submission block. A result whose digest is already stored is refused as a
duplicate. A result with fewer than :data:`MIN_RANKED_SEEDS` seeds is stored but shown as
unranked. Images go in first (a temporary folder renamed into place), the JSON last, by an
atomic rename: an interrupted submit leaves nothing that the site would pick up.

The checks are :mod:`diffbench.submissions.checks`; where submissions are stored and how they are
read back and re-checked (:func:`load_submissions`, ``submit --check``) is
:mod:`diffbench.submissions.stored`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from ..errors import DiffbenchError
from ..results.jsonio import MAX_RESULT_BYTES, loads_strict, read_json_strict  # noqa: F401 (part of submit's face)
from ..results.submission import TEXT_LIMITS, URL_LIMIT, SubmissionMeta, safe_url  # noqa: F401 (part of submit's face)
from ..results.validate import MIN_RANKED_SEEDS, CheckedResult, error_line  # noqa: F401 (part of submit's face)
from .bundle import (  # noqa: F401 (part of submit's face)
    MAX_BUNDLED_CHECKPOINT_BYTES,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    bundle_checkpoints,
    check_bundle,
    collect_images,
    image_parts,
    read_verification,
)
from .checks import check_result, check_text, check_url  # noqa: F401 (part of submit's face)
from .stored import (  # noqa: F401 (part of submit's face)
    ENV_DIR,
    ID_LENGTH,
    Skipped,
    Submission,
    check_stored,
    default_leaderboard_dir,
    document_id,
    listed_images,
    load_stored,
    load_submissions,
    resolve_leaderboard_dir,
    stored_digests,
    submissions_dir,
)


def _check_writable(directory: Path, leaderboard: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DiffbenchError(
            f"leaderboard dir {leaderboard} is not writable ({exc.strerror or exc}); "
            f"pass --leaderboard DIR or set ${ENV_DIR}"
        ) from None


def submit(
    result_path: str | os.PathLike[str],
    leaderboard: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
    authors: str | None = None,
    url: str | None = None,
    official: bool = False,
    today: str | None = None,
    dry_run: bool = False,
    with_checkpoints: bool = False,
    checkpoint_urls: dict[int, str] | None = None,
) -> Submission:
    """Check ``result_path`` and store it in ``leaderboard`` (see the module docstring).

    ``with_checkpoints`` makes it a submission bundle: each seed's best checkpoint (the run's
    ``best_checkpoint``, next to the result) is copied to ``<id>/checkpoints/seed-<k>.ckpt``, or
    for a seed in ``checkpoint_urls`` recorded by its http(s) URL; either way with its SHA-256
    and size (``diffbench verify`` re-scores from them)."""
    from ..data.cache import atomic_write_json

    result_path = Path(result_path)
    lb = resolve_leaderboard_dir(leaderboard)
    source = str(result_path)
    result = read_json_strict(result_path)
    checked = check_result(result, source)
    meta = {
        "title": check_text(title, "title"),
        "authors": check_text(authors, "authors"),
        "url": check_url(url),
        "official": bool(official),
        "submitted": today or datetime.now(timezone.utc).date().isoformat(),
    }
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["submitted"]):
        raise DiffbenchError(f"submission date must be YYYY-MM-DD, got {meta['submitted']!r}")
    images, missing = collect_images(result, result_path.parent, source)
    meta["images"] = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(images.items())}
    files: dict[str, Path] = {}
    if with_checkpoints or checkpoint_urls:
        meta["checkpoints"], files = bundle_checkpoints(result, result_path.parent, source, checkpoint_urls or {})
    doc = {"submission": meta, "result": result}
    sid = document_id(doc)
    task_dir = submissions_dir(lb) / checked.task
    target = task_dir / f"{sid}.json"
    sub = Submission(
        id=sid,
        task=checked.task,
        path=target,
        doc=doc,
        ranked=checked.ranked,
        typed=checked.result,
        images=listed_images(result, images),
        missing_images=missing,
    )

    existing = stored_digests(lb)
    if checked.digest in existing:
        where = existing[checked.digest]
        rel = where.relative_to(lb) if where.is_relative_to(lb) else where
        raise DiffbenchError(
            f"{source} refused: this result (digest {checked.digest[:12]}...) is already on the leaderboard "
            f"as {rel}; a run is submitted once"
        )
    if dry_run:
        return sub

    _check_writable(task_dir, lb)
    img_dir = task_dir / sid
    staging = None
    try:
        if images or files:
            if img_dir.exists():
                shutil.rmtree(img_dir)  # leftovers of an interrupted submit of this very document
            staging = Path(tempfile.mkdtemp(prefix=f".{sid}.", suffix=".tmp", dir=task_dir))
            for rel, data in images.items():
                dest = staging.joinpath(*rel.split("/"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
            for rel, src in files.items():
                dest = staging.joinpath(*rel.split("/"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            os.replace(staging, img_dir)
            staging = None
        atomic_write_json(target, doc)
    except OSError as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if (images or files) and not target.exists():
            shutil.rmtree(img_dir, ignore_errors=True)
        raise DiffbenchError(
            f"cannot write to leaderboard dir {lb} ({exc.strerror or exc}); nothing was stored"
        ) from None
    return sub
