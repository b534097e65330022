"""The disk cache: shards of raw samples plus a manifest, written atomically, resumable.

Layout of ``<data_dir>/<task>/``::

    manifest.json                # task spec and hash, versions, solver, per-shard sha256
    train/shard-00000.npz ...    # raw samples (physical units), see sampling.generate_raw
    val/...  test/...

Every file is written to a temporary name and renamed into place, and the manifest is
rewritten (atomically) after each shard, so an interrupted generation resumes where it
stopped and no half-written file ever looks complete. A shard whose checksum does not match
is reported and regenerated — bit-identically, since samples are pure functions of their seeds.

Several generations may share a cache (two processes, or ``generate --splits train`` beside
``--splits test``): shard writes and every read-modify-write of the manifest hold the
cache's lock (``.lock``, a :mod:`filelock`), and each new entry is merged into the manifest
on disk, so no generation drops another's entries. Under the same lock, the temporary files
a killed generation left (``.shard-NNNNN.npz.*.tmp`` in the split folders,
``.manifest.json.*.tmp`` beside the manifest) are removed on the next run.

A manifest that is not what this module writes (not a mapping, no ``splits``, an entry that is
not a complete shard record) is reported and repaired: the entries that are sound are kept,
the rest of the shards are regenerated. A full disk or a read-only folder is a one-line error;
the previous manifest and every finished shard survive it.

This module holds the layout, the manifest and the checks; generating the missing shards
(:func:`~diffbench.data.generation.ensure_cache`) is :mod:`diffbench.data.generation`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from .. import __version__
from ..atomic import atomic_write_bytes  # noqa: F401 (part of the cache's face: callers import it from here)
from ..errors import DiffbenchError
from ..hashing import sha256_file
from .sampling import SOLVER_TOL, chunk_size
from .spec import SPLITS, TaskSpec

MANIFEST = "manifest.json"
LOCK = ".lock"
FORMAT_VERSION = 1
#: The arrays of a shard, in the order they are written.
ARRAYS = ("source", "field", "diffusivity", "decay", "boundary", "count", "index", "residual", "iterations")
#: The temporary names atomic_write_bytes gives a shard (in a split folder) and the manifest.
_SHARD_TMP = re.compile(r"\.shard-\d{5}\.npz\.[A-Za-z0-9_]+\.tmp")
_MANIFEST_TMP = re.compile(r"\.manifest\.json\.[A-Za-z0-9_]+\.tmp")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def default_data_dir() -> Path:
    return Path(os.environ.get("DIFFBENCH_DATA_DIR", "data"))


def shard_size(task: TaskSpec) -> int:
    """Samples per shard: about 64 MB of float64 work, a multiple of the solve chunk."""
    c = chunk_size(task.lattice)
    size = max(c, min(1024, (1 << 26) // (task.lattice * task.lattice * 8)))
    return (size // c) * c


def shard_plan(task: TaskSpec, split: str) -> list[tuple[int, int]]:
    n, s = task.splits[split].size, shard_size(task)
    return [(a, min(a + s, n)) for a in range(0, n, s)]


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())


def write_error(path: Path, exc: OSError) -> DiffbenchError:
    """A one-line error for a failed write (the temporary file is already gone)."""
    reason = exc.strerror or type(exc).__name__
    return DiffbenchError(
        f"cannot write {path}: {reason}; nothing half-written was left (free space or choose another --data-dir)"
    )


@dataclass
class Cache:
    task: TaskSpec
    root: Path
    #: (inode, size, mtime) of the manifest this object last wrote: while the file on disk is
    #: still that one, no other generation wrote since, and merging needs no re-read.
    _written: tuple[int, int, int] | None = field(default=None, repr=False, compare=False)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def shard_path(self, split: str, k: int) -> Path:
        return self.root / split / f"shard-{k:05d}.npz"

    def lock(self) -> FileLock:
        """The cache's lock: held for every shard write and manifest read-modify-write."""
        return FileLock(str(self.root / LOCK))

    # ------------------------------------------------------------- manifest
    def read_manifest(self, log: Callable[[str], None] | None = None) -> dict[str, Any] | None:
        """The manifest, repaired if need be; ``None`` when there is none (or nothing sound).

        What is not sound is reported through ``log`` (default: stderr) and left out, so its
        shards are regenerated; a manifest of another spec or format is refused.
        """
        m, problems = self.load_manifest()
        say = log or (lambda msg: print(msg, file=sys.stderr))
        for p in problems:
            say(f"warning: {p}")
        return m

    def load_manifest(self) -> tuple[dict[str, Any] | None, list[str]]:
        """The manifest, repaired if need be, and the problems found (unreported: see
        :meth:`read_manifest`); ``(None, [])`` when there is none."""
        if not self.manifest_path.exists():
            return None, []
        try:
            m = json.loads(self.manifest_path.read_bytes())
        except (OSError, ValueError, RecursionError):
            return None, [f"{self.manifest_path} is unreadable; verifying shards from scratch"]
        if not isinstance(m, dict) or not isinstance(m.get("spec_hash"), str):
            what = "not a JSON object" if not isinstance(m, dict) else "no spec_hash text"
            return None, [f"{self.manifest_path} is malformed ({what}); rebuilding it, every shard is regenerated"]
        if m["spec_hash"] != self.task.spec_hash:
            task = m.get("task")
            name = task.get("name", "?") if isinstance(task, dict) else "?"
            raise DiffbenchError(
                f"data dir {self.root} holds task {str(name)[:64]!r} generated from a different "
                f"spec (hash {m['spec_hash'][:12]} vs {self.task.spec_hash[:12]}); delete it or pass another --data-dir"
            )
        if m.get("format") != FORMAT_VERSION:
            raise DiffbenchError(
                f"data dir {self.root} uses cache format {repr(m.get('format'))[:20]}; this diffbench reads format {FORMAT_VERSION}; regenerate it"
            )
        return self._repaired(m)

    def _repaired(self, m: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``m`` with every split present and only sound shard entries kept."""
        problems: list[str] = []
        splits = m.get("splits")
        if not isinstance(splits, dict):
            problems.append(
                f"{self.manifest_path} is malformed (no splits mapping); repairing it, the shards it lost are regenerated"
            )
            splits = {}
        clean: dict[str, Any] = {}
        for split in SPLITS:
            part = splits.get(split)
            shards = part.get("shards") if isinstance(part, dict) else None
            if not isinstance(shards, dict):
                if splits:
                    problems.append(
                        f"{self.manifest_path} is malformed (split {split} has no shards mapping); repairing it, its shards are regenerated"
                    )
                shards = {}
            good = {k: e for k, e in shards.items() if self._sound_entry(split, k, e)}
            if len(good) != len(shards):
                bad = sorted(str(k)[:12] for k in set(shards) - set(good))
                problems.append(
                    f"{self.manifest_path} is malformed ({len(bad)} unsound {split} shard entr{'y' if len(bad) == 1 else 'ies'}: "
                    f"{', '.join(bad[:5])}{', ...' if len(bad) > 5 else ''}); repairing it, those shards are regenerated"
                )
            clean[split] = {"size": self.task.splits[split].size, "shards": good}
        return {**m, "splits": clean}, problems

    def _sound_entry(self, split: str, key: Any, e: Any) -> bool:
        """Whether ``e`` is a complete shard record as the generation (:mod:`diffbench.data.generation`) writes it."""

        def integer(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 0

        if not (isinstance(key, str) and re.fullmatch(r"\d{5}", key) and isinstance(e, dict)):
            return False
        residual = e.get("max_residual")
        return (
            e.get("file") == f"{split}/shard-{key}.npz"
            and all(integer(e.get(f)) for f in ("start", "stop", "bytes", "max_iterations"))
            and isinstance(e.get("sha256"), str)
            and _SHA256.fullmatch(e["sha256"]) is not None
            and isinstance(e.get("methods"), list)
            and all(isinstance(x, str) for x in e["methods"])
            and isinstance(residual, (int, float))
            and not isinstance(residual, bool)
            and math.isfinite(residual)
        )

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` atomically (call with :meth:`lock` held)."""
        try:
            atomic_write_json(self.manifest_path, manifest)
        except OSError as exc:
            raise write_error(self.manifest_path, exc) from None
        self._written = self._manifest_stamp()

    def merged(self, manifest: dict[str, Any], update: tuple[str, str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The manifest on disk (call with the lock held) with ``manifest``'s entries it lacks and
        ``update`` merged in: another generation's entries are kept, never overwritten."""
        unchanged = self._written is not None and self._manifest_stamp() == self._written
        current = None if unchanged else self.load_manifest()[0]
        if current is None:
            current = manifest
        else:
            for split in SPLITS:
                theirs = current["splits"][split]["shards"]
                for key, e in manifest["splits"][split]["shards"].items():
                    theirs.setdefault(key, e)
        if update is not None:
            split, key, entry = update
            current["splits"][split]["shards"][key] = entry
        return current

    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.manifest_path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def remove_stale_temporaries(self, log: Callable[[str], None]) -> None:
        """Remove the temporary files a killed generation left (call with :meth:`lock` held:
        no live writer is then between its temporary file and its rename)."""
        stale = [p for p in self.root.glob(".manifest.json.*.tmp") if _MANIFEST_TMP.fullmatch(p.name)]
        for split in SPLITS:
            if (self.root / split).is_dir():
                stale += [p for p in (self.root / split).glob(".shard-*.tmp") if _SHARD_TMP.fullmatch(p.name)]
        removed = 0
        for p in stale:
            with contextlib.suppress(FileNotFoundError):
                if p.is_file() and not p.is_symlink():
                    p.unlink()
                    removed += 1
        if removed:
            log(f"note: removed {removed} temporary file(s) left by an interrupted generation in {self.root}")

    def new_manifest(self, backend: str) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "task": self.task.to_dict(),
            "spec_hash": self.task.spec_hash,
            "diffbench_version": __version__,
            "numpy_version": np.__version__,
            "backend": backend,
            "solver_tol": SOLVER_TOL,
            "splits": {s: {"size": self.task.splits[s].size, "shards": {}} for s in SPLITS},
        }

    def status(self, split: str, manifest: dict[str, Any] | None, verify: bool = True) -> tuple[list[int], list[str]]:
        """Shards still to (re)generate, and messages about corrupted ones."""
        todo, problems = [], []
        entries = manifest["splits"][split]["shards"] if manifest else {}
        for k, (a, b) in enumerate(shard_plan(self.task, split)):
            e = entries.get(f"{k:05d}")
            path = self.shard_path(split, k)
            if e is None or not path.exists():
                todo.append(k)
                continue
            if (e.get("start"), e.get("stop")) != (a, b):
                todo.append(k)
                continue
            if path.stat().st_size != e.get("bytes") or (verify and sha256_file(path)[0] != e.get("sha256")):
                problems.append(f"{path} failed its checksum (corrupted or truncated); regenerating it")
                todo.append(k)
        return todo, problems

    def manifest_hash(self) -> str | None:
        m = self.read_manifest()
        if m is None:
            return None
        core = {s: {k: v["sha256"] for k, v in sorted(m["splits"][s]["shards"].items())} for s in SPLITS}
        return hashlib.sha256(json.dumps({"spec": m["spec_hash"], "shards": core}, sort_keys=True).encode()).hexdigest()

    # ------------------------------------------------------------- reading
    def load_split(self, split: str) -> dict[str, np.ndarray]:
        """All raw arrays of a split (the cache must be complete)."""
        parts = []
        for k, _ in enumerate(shard_plan(self.task, split)):
            with np.load(self.shard_path(split, k), allow_pickle=False) as z:
                parts.append({name: z[name] for name in ARRAYS if name in z.files})
        out = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        if "diffusivity" not in out:
            out["diffusivity"] = np.float32(self.task.physics.diffusivity["value"])
        return out
