"""``diffbench verify``: re-score a submission from its checkpoints and compare every metric.

A submission is trusted on its word until it is verified: its ``digest`` proves only that the
result was not edited *after* the digest was computed, and anyone can recompute a digest.
diffbench's test data are regenerated bit for bit from the task's seeds, so a checkpoint can
be re-scored anywhere. ``verify`` does, for a stored submission
(``leaderboard/submissions/<task>/<id>.json``) or a run's ``result.json``:

1. the result checks of ``submit`` (schema, digest, aggregation, the task's current spec hash)
   and, for a stored submission, that its file name is its content hash;
2. each seed's checkpoint: the submission bundle's file (``<id>/checkpoints/seed-<k>.ckpt``,
   or under ``--checkpoint-dir``), fetched from its http(s) URL when it has one, or for a
   ``result.json`` the run's ``best_checkpoint``; its size and SHA-256 must be the recorded ones;
3. each seed re-scored through :func:`~diffbench.training.rescore.rescore_seed` (the model
   rebuilt from its recorded spec, the parameter count checked, the validation and test
   splits regenerated from the task's seeds, the run's evaluator and batches);
4. every metric of both splits, every source count included, compared with the claim
   within :data:`~diffbench.results.verification.REL_TOL` + :data:`~diffbench.results.verification.ABS_TOL`
   (``n_samples`` exactly).

The first disagreement is a one-line :class:`DiffbenchError`. A verified stored submission
gets its record, ``<id>/verification.json`` (date, diffbench version, hardware, tolerance,
the result digest and checkpoint hashes), which the site shows as "verified".
``--max-bytes`` bounds what is re-scored: a submission whose checkpoints weigh more is
skipped (it stays "claimed"), as CI does for large models.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import DiffbenchError
from ..hashing import sha256_file
from ..results.digest import canonical_json, write_json_atomic
from ..results.jsonio import read_json_strict
from ..results.validate import check_result
from ..results.verification import ABS_TOL, RECORD_NAME, REL_TOL, first_mismatch

__all__ = ["VerifyReport", "fetch_checkpoint", "verify"]

#: How long one checkpoint download may stall (seconds).
FETCH_TIMEOUT = 60


@dataclass
class VerifyReport:
    """What ``verify`` found: ``status`` is ``verified`` or ``skipped`` (over ``--max-bytes``)."""

    status: str
    source: str
    seeds: list[int] = field(default_factory=list)
    metrics_compared: int = 0
    checkpoint_bytes: int = 0
    record: dict[str, Any] | None = None
    record_path: Path | None = None
    reason: str = ""


@dataclass
class _Target:
    source: str
    result: dict[str, Any]
    refs: dict[str, dict[str, Any]]
    base: Path
    submission_id: str | None
    record_path: Path | None


def _open_target(path: Path, checkpoint_dir: Path | None) -> _Target:
    source = str(path)
    doc = read_json_strict(path, "submission")
    if isinstance(doc, dict) and set(doc) == {"submission", "result"}:
        if not isinstance(doc["submission"], dict):
            raise DiffbenchError(f"{source}: the submission block must be an object")
        if hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:16] != path.stem:
            raise DiffbenchError(
                f"{source}: the content does not hash to its file name (edited after `diffbench submit`)"
            )
        result = doc["result"]
        refs = doc["submission"].get("checkpoints") or {}
        if not refs:
            raise DiffbenchError(
                f"{source} has no checkpoints; submit it with `diffbench submit RESULT --with-checkpoints` "
                "to make it verifiable"
            )
        base = checkpoint_dir or path.parent / path.stem
        return _Target(source, result, refs, base, path.stem, path.parent / path.stem / RECORD_NAME)
    result = doc
    refs = {}
    per_seed = result.get("per_seed") if isinstance(result, dict) else None
    for s in per_seed if isinstance(per_seed, list) else []:
        if isinstance(s, dict) and isinstance(s.get("checkpoint"), dict):
            refs[str(s.get("seed"))] = s["checkpoint"]
        elif isinstance(s, dict) and isinstance(s.get("best_checkpoint"), str):
            refs[str(s.get("seed"))] = {"path": s["best_checkpoint"]}
    return _Target(source, result, refs, checkpoint_dir or path.parent, None, None)


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if not newurl.lower().startswith(("http://", "https://")):
            raise DiffbenchError(f"{req.full_url} redirects to {newurl[:80]!r}; only http(s) is followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_checkpoint(url: str, dest: Path, sha256: str, size: int, *, timeout: float = FETCH_TIMEOUT) -> Path:
    """Download ``url`` (http or https only) to ``dest``, refusing more than ``size`` bytes and
    any content whose SHA-256 is not ``sha256``; written to a temporary name, then renamed."""
    if not url.lower().startswith(("http://", "https://")):
        raise DiffbenchError(f"checkpoint URL {url[:80]!r} is not http(s); only http:// and https:// are fetched")
    if dest.is_file() and sha256_file(dest) == (sha256, size):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    h, n = hashlib.sha256(), 0
    try:
        opener = urllib.request.build_opener(_HttpOnly)
        with os.fdopen(fd, "wb") as out, opener.open(url, timeout=timeout) as resp:
            while block := resp.read(2**20):
                n += len(block)
                if n > size:
                    raise DiffbenchError(f"{url} sends more than the {size} bytes recorded for it; refused")
                h.update(block)
                out.write(block)
        if n != size or h.hexdigest() != sha256:
            raise DiffbenchError(
                f"{url} is not the recorded checkpoint: {n} bytes with SHA-256 {h.hexdigest()[:12]}..., "
                f"recorded {size} bytes with {sha256[:12]}..."
            )
        os.replace(tmp, dest)
    except DiffbenchError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        raise DiffbenchError(f"cannot fetch checkpoint {url[:120]} ({str(reason).splitlines()[0][:120]})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return dest


def _checkpoint_file(t: _Target, seed: int, fetch_dir: Path) -> tuple[Path, str, int]:
    ref = t.refs.get(str(seed))
    if not isinstance(ref, dict):
        raise DiffbenchError(f"{t.source}: seed {seed} has no checkpoint; every seed is re-scored")
    if ref.get("url"):
        path = fetch_checkpoint(
            str(ref["url"]), fetch_dir / f"{ref['sha256']}.ckpt", str(ref["sha256"]), int(ref["bytes"])
        )
    else:
        rel = str(ref.get("path") or "")
        if not rel or rel.startswith("/") or ".." in Path(rel).parts:
            raise DiffbenchError(
                f"{t.source}: seed {seed}'s checkpoint path {rel!r} must be relative to the submission"
            )
        path = t.base / rel
        if not path.is_file():
            raise DiffbenchError(
                f"{t.source}: seed {seed}'s checkpoint {path} does not exist (give the folder with --checkpoint-dir)"
            )
    sha, size = sha256_file(path)
    if "sha256" in ref and (sha, size) != (ref["sha256"], ref.get("bytes")):
        raise DiffbenchError(
            f"{t.source}: seed {seed}'s checkpoint {path.name} is not the recorded one "
            f"({size} bytes, SHA-256 {sha[:12]}...; recorded {ref.get('bytes')} bytes, {str(ref['sha256'])[:12]}...)"
        )
    return path, sha, size


def verify(
    target: str | os.PathLike[str],
    *,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    max_bytes: int | None = None,
    record: bool = True,
    accelerator: str = "cpu",
    today: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Verify ``target`` (a stored submission or a run's result.json; see the module docstring)."""
    from ..data import load_task, task_names
    from ..models import count_parameters
    from ..training.rescore import module_from_checkpoint, rescore_seed

    log = log or (lambda msg: None)
    path = Path(target)
    t = _open_target(path, Path(checkpoint_dir) if checkpoint_dir else None)
    checked = check_result(t.result, t.source)
    result = t.result
    if checked.task not in task_names():
        raise DiffbenchError(
            f"{t.source}: task {checked.task!r} is not a task of this diffbench; it cannot be re-scored"
        )
    task = load_task(checked.task)
    if task.spec_hash != result["task"]["spec_hash"]:
        raise DiffbenchError(
            f"{t.source}: task {checked.task!r} changed since the run (spec hash differs); it cannot be re-scored"
        )
    for s in result["per_seed"]:
        recorded = (s.get("checkpoint") or {}).get("sha256")
        ref = t.refs.get(str(s["seed"])) or {}
        if recorded and ref.get("sha256") and recorded != ref["sha256"]:
            raise DiffbenchError(
                f"{t.source}: seed {s['seed']}'s bundled checkpoint ({str(ref['sha256'])[:12]}...) is not the one "
                f"the run recorded ({recorded[:12]}...)"
            )
    total = sum(int((t.refs.get(str(s)) or {}).get("bytes") or 0) for s in checked.seeds)
    if max_bytes is not None and total > max_bytes:
        reason = f"its checkpoints weigh {total} bytes, over the budget of {max_bytes}; it stays claimed"
        return VerifyReport("skipped", t.source, list(checked.seeds), checkpoint_bytes=total, reason=reason)

    started = time.monotonic()
    package = {"name": result["model"].get("package"), "version": result["model"].get("package_version")}
    hashes: dict[str, str] = {}
    compared = total = 0
    with tempfile.TemporaryDirectory(prefix="diffbench-verify-") as tmp:
        fetch_dir = Path(checkpoint_dir) if checkpoint_dir else Path(tmp)
        for s in result["per_seed"]:
            seed = s["seed"]
            ckpt, sha, size = _checkpoint_file(t, seed, fetch_dir)
            hashes[str(seed)] = sha
            total += size
            module = module_from_checkpoint(ckpt, expect_task_hash=task.spec_hash, package=package)
            n_params = count_parameters(module.model)
            if n_params != result["model"]["parameters"]:
                raise DiffbenchError(
                    f"{t.source}: seed {seed}'s checkpoint has {n_params} parameters, the result claims "
                    f"{result['model']['parameters']}"
                )
            log(f"seed {seed}: re-scoring {ckpt.name} ({size} bytes) on {task.name} ...")
            got = rescore_seed(
                ckpt,
                task,
                data_dir,
                test_counts=result["data"].get("test_counts"),
                batch_size=result["training"].get("batch_size"),
                accelerator=accelerator,
                module=module,
                progress=progress,
            )
            for split in ("test", "val"):
                bad = first_mismatch(s[split], got[split], split)
                if bad is not None:
                    where, claimed, rescored = bad
                    raise DiffbenchError(
                        f"{t.source}: seed {seed} claims {where} = {claimed!r}, but its checkpoint scores "
                        f"{rescored!r} (tolerance rel {REL_TOL:g} + abs {ABS_TOL:g}): not verified"
                    )
                compared += _count_numbers(s[split])
    report = VerifyReport("verified", t.source, list(checked.seeds), compared, total)
    if t.submission_id is not None and record:
        from ..training.environment import hardware

        report.record = {
            "record_version": 1,
            "status": "verified",
            "submission": t.submission_id,
            "result_digest": checked.digest,
            "checkpoints": hashes,
            "verified": today or datetime.now(timezone.utc).date().isoformat(),
            "diffbench_version": __version__,
            "hardware": hardware(accelerator, 1)["label"][:200],
            "tolerance": {"rel": REL_TOL, "abs": ABS_TOL},
            "metrics_compared": compared,
            "seconds": round(time.monotonic() - started, 1),
        }
        report.record_path = t.record_path
        try:
            write_json_atomic(t.record_path, report.record)
        except OSError as exc:
            raise DiffbenchError(
                f"cannot write the verification record {t.record_path} ({exc.strerror or exc})"
            ) from None
    return report


def _count_numbers(block: dict[str, Any]) -> int:
    n = 0
    for k, v in block.items():
        if k == "per_count" and isinstance(v, dict):
            n += sum(_count_numbers(row) for row in v.values())
        elif isinstance(v, (int, float)) or v is None:
            n += 1
    return n
