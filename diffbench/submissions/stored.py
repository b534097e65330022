"""Where submissions are stored and how they are read back: the leaderboard folder
(``$DIFFBENCH_LEADERBOARD_DIR`` or the repository's ``leaderboard/``), the content-addressed
file names (:func:`document_id`), the :class:`Submission` record, and the loaders that re-check
every stored submission as the build does (:func:`load_submissions`, :func:`load_stored`,
``submit --check``'s :func:`check_stored`), leaving out with its reason (:class:`Skipped`) a
result this diffbench's checks now refuse. Storing one is :mod:`diffbench.submissions.submit`."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from ..errors import DiffbenchError
from ..results.digest import canonical_json
from ..results.fields import one_line
from ..results.jsonio import loads_strict, read_json_strict
from ..results.schema import Result
from ..results.submission import SubmissionMeta
from ..results.validate import error_line
from ..results.verification import VerificationRecord
from .bundle import check_bundle, image_parts, read_verification
from .checks import check_result

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


def stored_digests(leaderboard: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in _stored_files(leaderboard):
        try:
            doc = loads_strict(p.read_text(encoding="utf-8"))
            out[doc["result"]["digest"]] = p
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a broken file is `leaderboard build`'s to report
    return out


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


def load_submissions(
    leaderboard: str | os.PathLike[str] | None = None,
    *,
    current_task: bool = True,
    skipped: list[Skipped] | None = None,
) -> list[Submission]:
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
        raise DiffbenchError(
            f"{root} is not a folder; the leaderboard keeps submissions in <leaderboard>/submissions/<task>/"
        )
    for path in _stored_files(lb):
        sub = load_stored(path, lb, current_task=current_task, skipped=skipped)
        if sub is not None:
            out.append(sub)
    return out


def load_stored(
    path: Path,
    leaderboard: Path,
    *,
    current_task: bool = True,
    skipped: list[Skipped] | None = None,
    hash_checkpoints: bool = False,
) -> Submission | None:
    """One stored submission, re-checked as :func:`load_submissions` does (None: skipped, see there).

    Bundled checkpoints must be present with their recorded size (with ``hash_checkpoints``, also
    their SHA-256: ``submit --check``). A verification record (``<id>/verification.json``) is
    read when it verified exactly this result from exactly these checkpoints; any other record is
    ignored (the entry shows as claimed)."""
    lb = Path(leaderboard)
    source = str(path)
    if not _ID.match(path.stem):
        raise DiffbenchError(
            f"{source}: unexpected file; stored submissions are named <16 hex digits>.json by `diffbench submit`"
        )
    doc = read_json_strict(path, "submission")
    if not isinstance(doc, dict) or set(doc) != {"submission", "result"} or not isinstance(doc["submission"], dict):
        raise DiffbenchError(f"{source}: a stored submission is an object {{\"submission\": ..., \"result\": ...}}")
    if document_id(doc) != path.stem:
        raise DiffbenchError(
            f"{source}: the content does not hash to its file name (edited after `diffbench submit`); "
            "restore it or submit the result again"
        )
    try:
        checked = check_result(doc["result"], source, current_task=current_task)
    except DiffbenchError as exc:
        if skipped is None:
            raise
        rel = path.relative_to(lb).as_posix() if path.is_relative_to(lb) else path.name
        skipped.append(Skipped(path.parent.name, path.stem, str(exc).replace(source, rel)))
        return None
    if checked.task != path.parent.name:
        raise DiffbenchError(
            f"{source}: holds a result of task {checked.task!r} but is filed under {path.parent.name!r}"
        )
    meta = doc["submission"]
    _check_meta(meta, source)
    images = meta["images"]
    for rel, sha in sorted(images.items()):
        parts = image_parts(rel, source)
        img = path.parent.joinpath(path.stem, *parts)
        try:
            ok = hashlib.sha256(img.read_bytes()).hexdigest() == sha
        except OSError:
            raise DiffbenchError(
                f"{source}: its image {img} is missing; restore it or submit the result again"
            ) from None
        if not ok:
            raise DiffbenchError(f"{source}: its image {img} differs from the one submitted (SHA-256 mismatch)")
    checkpoints = check_bundle(doc, path, source, hash_checkpoints)
    sub = Submission(
        id=path.stem,
        task=checked.task,
        path=path,
        doc=doc,
        ranked=checked.ranked,
        typed=checked.result,
        images=listed_images(doc["result"], images),
    )
    sub.verification = read_verification(path.parent / path.stem, checked.digest, checkpoints)
    return sub


def listed_images(result: dict[str, Any], stored: Any) -> list[str]:
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
