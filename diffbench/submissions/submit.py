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
seeds may be copies (:func:`diffbench.results.validate.check_distinct_seeds`).

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
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from .. import PROTOCOL_VERSION
from ..errors import DiffbenchError
from ..results.digest import canonical_json
from ..results.fields import CONTROL, one_line
from ..results.jsonio import MAX_RESULT_BYTES, loads_strict, read_json_strict  # noqa: F401 (part of submit's face)
from ..results.schema import Result
from ..results.submission import TEXT_LIMITS, URL_LIMIT, SubmissionMeta, safe_url  # noqa: F401 (part of submit's face)
from ..results.validate import MIN_RANKED_SEEDS, CheckedResult, error_line  # noqa: F401 (part of submit's face)
from ..results.validate import check_result as validate_result
from ..results.verification import VerificationRecord
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

ID_LENGTH = 16
_ID = re.compile(rf"^[0-9a-f]{{{ID_LENGTH}}}$")
ENV_DIR = "DIFFBENCH_LEADERBOARD_DIR"


# --------------------------------------------------------------------------- locations


def default_leaderboard_dir() -> Path:
    """``$DIFFBENCH_LEADERBOARD_DIR``, else ``leaderboard/`` at the root of the repository."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    import diffbench

    return Path(diffbench.__file__).resolve().parents[1] / "leaderboard"


def resolve_leaderboard_dir(arg: str | os.PathLike[str] | None) -> Path:
    return Path(arg) if arg else default_leaderboard_dir()


def submissions_dir(leaderboard: Path) -> Path:
    return Path(leaderboard) / "submissions"


# --------------------------------------------------------------------------- the result checks


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
            raise DiffbenchError(f"{source} refused: task.name {name!r} is not a task of this diffbench; "
                                 f"known: {', '.join(task_names()) or '(none)'}")
        try:
            spec = load_task(name)
        except DiffbenchError as exc:
            raise DiffbenchError(f"{source} refused: task.name {name!r} cannot be loaded ({exc})") from None
        if spec.spec_hash != spec_hash:
            raise DiffbenchError(f"{source} refused: task.spec_hash is {spec_hash[:12]}..., but task {name!r} is now "
                                 f"{spec.spec_hash[:12]}...: the result was made on different data; rerun on the current task")
    return checked


# --------------------------------------------------------------------------- submission fields


def check_text(value: str | None, field_name: str) -> str:
    """Free text: stored as given (and escaped on output); no control characters, bounded length."""
    value = "" if value is None else str(value)
    limit = TEXT_LIMITS[field_name]
    if len(value) > limit:
        raise DiffbenchError(f"--{field_name} is {len(value)} characters; at most {limit} are allowed")
    if CONTROL.search(value):
        raise DiffbenchError(f"--{field_name} contains a control character (newline, tab, a bidirectional override, ...); give one line of plain text")
    return value.strip()


def check_url(url: str | None) -> str | None:
    if url is None or url == "":
        return None
    if safe_url(url) is None:
        scheme = url.split(":", 1)[0].strip().lower() if ":" in url else ""
        why = f"the scheme {scheme!r} is not allowed" if scheme and scheme not in ("http", "https") else "it is not a well-formed absolute URL"
        raise DiffbenchError(f"--url must be an http:// or https:// link to the code or paper; {why}")
    return url


# --------------------------------------------------------------------------- images


# --------------------------------------------------------------------------- storage


def document_id(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:ID_LENGTH]


@dataclass
class Submission:
    """A stored submission: where it is and what it holds."""

    id: str
    task: str
    path: Path
    doc: dict[str, Any]
    ranked: bool
    images: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    #: The result as the typed, validated :class:`diffbench.results.Result` (what the site reads).
    typed: Result | None = None
    #: The verification record, when ``diffbench verify`` verified exactly this submission.
    verification: VerificationRecord | None = None

    @property
    def result(self) -> dict[str, Any]:
        return self.doc["result"]

    @property
    def meta(self) -> dict[str, Any]:
        return self.doc["submission"]

    @property
    def image_dir(self) -> Path:
        return self.path.parent / self.id


def _stored_files(leaderboard: Path) -> Iterator[Path]:
    root = submissions_dir(leaderboard)
    if root.is_dir():
        yield from sorted(p for p in root.glob("*/*.json") if not p.name.startswith("."))


def _stored_digests(leaderboard: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in _stored_files(leaderboard):
        try:
            doc = loads_strict(p.read_text(encoding="utf-8"))
            out[doc["result"]["digest"]] = p
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a broken file is `leaderboard build`'s to report
    return out


def _check_writable(directory: Path, leaderboard: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DiffbenchError(f"leaderboard dir {leaderboard} is not writable ({exc.strerror or exc}); "
                             f"pass --leaderboard DIR or set ${ENV_DIR}") from None


def submit(result_path: str | os.PathLike[str], leaderboard: str | os.PathLike[str] | None = None, *, title: str | None = None,
           authors: str | None = None, url: str | None = None, official: bool = False, today: str | None = None,
           dry_run: bool = False, with_checkpoints: bool = False, checkpoint_urls: dict[int, str] | None = None) -> Submission:
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
    sub = Submission(id=sid, task=checked.task, path=target, doc=doc, ranked=checked.ranked, typed=checked.result,
                     images=_listed(result, images), missing_images=missing)

    existing = _stored_digests(lb)
    if checked.digest in existing:
        where = existing[checked.digest]
        rel = where.relative_to(lb) if where.is_relative_to(lb) else where
        raise DiffbenchError(f"{source} refused: this result (digest {checked.digest[:12]}...) is already on the leaderboard "
                             f"as {rel}; a run is submitted once")
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
        raise DiffbenchError(f"cannot write to leaderboard dir {lb} ({exc.strerror or exc}); nothing was stored") from None
    return sub


@dataclass
class Skipped:
    """A stored submission that the site leaves out, and why (shown on the index)."""

    task: str
    id: str
    reason: str


def check_stored(path: str | os.PathLike[str], leaderboard: str | os.PathLike[str] | None = None) -> Submission:
    """``submit --check``: one stored submission re-checked as the build does, its bundled
    checkpoints hashed too (what CI runs on each submission of a pull request)."""
    path = Path(path)
    lb = resolve_leaderboard_dir(leaderboard) if leaderboard else path.parent.parent.parent
    sub = load_stored(path, lb, hash_checkpoints=True)
    assert sub is not None  # without `skipped`, a refusal raises
    return sub


def load_submissions(leaderboard: str | os.PathLike[str] | None = None, *, current_task: bool = True,
                     skipped: list[Skipped] | None = None) -> list[Submission]:
    """Every stored submission, re-checked (strict JSON, file name = content hash, result
    checks, images present with their recorded hashes); sorted by task then id.

    A stored file that is not what ``submit`` wrote (bad JSON, renamed, edited, images changed)
    raises. A result that this diffbench's checks refuse (e.g. a value over a limit introduced
    after it was stored) raises too, unless ``skipped`` is given: then it is left out and
    recorded there with the one-line reason (the build shows it), so one entry never stops the
    board."""
    lb = resolve_leaderboard_dir(leaderboard)
    root = submissions_dir(lb)
    out: list[Submission] = []
    if not root.exists():
        return out
    if not root.is_dir():
        raise DiffbenchError(f"{root} is not a folder; the leaderboard keeps submissions in <leaderboard>/submissions/<task>/")
    for path in _stored_files(lb):
        sub = load_stored(path, lb, current_task=current_task, skipped=skipped)
        if sub is not None:
            out.append(sub)
    return out


def load_stored(path: Path, leaderboard: Path, *, current_task: bool = True, skipped: list[Skipped] | None = None,
                hash_checkpoints: bool = False) -> Submission | None:
    """One stored submission, re-checked as :func:`load_submissions` does (None: skipped, see there).

    Bundled checkpoints must be present with their recorded size (with ``hash_checkpoints``, also
    their SHA-256: ``submit --check``). A verification record (``<id>/verification.json``) is
    read when it verified exactly this result from exactly these checkpoints; any other record is
    ignored (the entry shows as claimed)."""
    lb = Path(leaderboard)
    source = str(path)
    if not _ID.match(path.stem):
        raise DiffbenchError(f"{source}: unexpected file; stored submissions are named <16 hex digits>.json by `diffbench submit`")
    doc = read_json_strict(path, "submission")
    if not isinstance(doc, dict) or set(doc) != {"submission", "result"} or not isinstance(doc["submission"], dict):
        raise DiffbenchError(f"{source}: a stored submission is an object {{\"submission\": ..., \"result\": ...}}")
    if document_id(doc) != path.stem:
        raise DiffbenchError(f"{source}: the content does not hash to its file name (edited after `diffbench submit`); "
                             "restore it or submit the result again")
    try:
        checked = check_result(doc["result"], source, current_task=current_task)
    except DiffbenchError as exc:
        if skipped is None:
            raise
        rel = path.relative_to(lb).as_posix() if path.is_relative_to(lb) else path.name
        skipped.append(Skipped(path.parent.name, path.stem, str(exc).replace(source, rel)))
        return None
    if checked.task != path.parent.name:
        raise DiffbenchError(f"{source}: holds a result of task {checked.task!r} but is filed under {path.parent.name!r}")
    meta = doc["submission"]
    _check_meta(meta, source)
    images = meta["images"]
    for rel, sha in sorted(images.items()):
        parts = image_parts(rel, source)
        img = path.parent.joinpath(path.stem, *parts)
        try:
            ok = hashlib.sha256(img.read_bytes()).hexdigest() == sha
        except OSError:
            raise DiffbenchError(f"{source}: its image {img} is missing; restore it or submit the result again") from None
        if not ok:
            raise DiffbenchError(f"{source}: its image {img} differs from the one submitted (SHA-256 mismatch)")
    checkpoints = check_bundle(doc, path, source, hash_checkpoints)
    sub = Submission(id=path.stem, task=checked.task, path=path, doc=doc, ranked=checked.ranked, typed=checked.result,
                     images=_listed(doc["result"], images))
    sub.verification = read_verification(path.parent / path.stem, checked.digest, checkpoints)
    return sub


def _listed(result: dict[str, Any], stored: Any) -> list[str]:
    """The stored images in the order the result lists them (seed by seed)."""
    out: list[str] = []
    for s in result["per_seed"]:
        for rel in s.get("images") or []:
            key = "/".join(PurePosixPath(rel).parts)
            if key in stored and key not in out:
                out.append(key)
    return out


def _check_meta(meta: Any, source: str) -> None:
    """The submission block of a stored submission, through :class:`diffbench.results.SubmissionMeta`."""
    try:
        SubmissionMeta.model_validate(meta)
    except ValidationError as exc:
        raise DiffbenchError(one_line(f"{source}: " + " ".join(error_line(exc, "submission")))) from None
