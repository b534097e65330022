"""Generating a cache: :func:`ensure_cache` checks every shard of a task's splits against the
manifest and generates the missing or corrupted ones, in this process or in a pool of workers
(one per GPU with CuPy), each shard written atomically and merged into the manifest under the
cache's lock. The cache's layout and manifest are :mod:`diffbench.data.cache`'s."""

from __future__ import annotations

import contextlib
import hashlib
import io
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import DiffbenchError
from ..names import check_name
from ..solver.backend import backend_name, get_backend, to_numpy
from .cache import ARRAYS, Cache, default_data_dir, shard_plan, write_error
from .sampling import chunk_size, generate_raw
from .spec import SPLITS, TaskSpec
from .tasks import load_task


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise DiffbenchError(
            f"data dir {root} is not writable ({exc.strerror}); choose another with --data-dir"
        ) from None


def _generate_shard(
    task_path_or_spec: Any, split: str, k: int, root: str, backend: str, device: int | None
) -> dict[str, Any]:
    """Generate shard ``k`` of ``split`` and write it atomically; returns its manifest entry."""
    task = load_task(task_path_or_spec)
    xp = get_backend(backend)
    if device is not None and xp is not np:
        xp.cuda.Device(device).use()
    cache = Cache(task, Path(root))
    a, b = shard_plan(task, split)[k]
    c = chunk_size(task.lattice)
    parts = []
    for s in range(a, b, c):
        raw = generate_raw(task, split, list(range(s, min(s + c, b))), xp)
        parts.append(raw)
    arrays = {name: np.concatenate([to_numpy(p[name]) for p in parts]) for name in ARRAYS}
    if task.physics.diffusivity["kind"] == "constant":
        del arrays["diffusivity"]  # rebuilt from the spec on load
    methods = sorted({m for p in parts for m in p["method"]})
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    path = cache.shard_path(split, k)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with cache.lock():
            atomic_write_bytes(path, data)
    except OSError as exc:
        raise write_error(path, exc) from None
    return {
        "file": str(path.relative_to(cache.root)),
        "start": a,
        "stop": b,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "methods": methods,
        "max_residual": float(arrays["residual"].max()),
        "max_iterations": int(arrays["iterations"].max()),
    }


@contextlib.contextmanager
def _single_threaded_children():
    keys = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: "1" for k in keys})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ensure_cache(
    task: TaskSpec | str,
    data_dir: str | Path | None = None,
    *,
    splits: tuple[str, ...] = SPLITS,
    devices: int = 1,
    backend: str = "auto",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Cache:
    """Make sure every shard of ``splits`` exists and matches its checksum; generate the rest.

    Parameters
    ----------
    devices : int
        Processes (one per GPU with CuPy) that generate shards in parallel; the bytes are the
        same as with one.

    Examples
    --------
    >>> cache = ensure_cache("smoke", "/tmp/diffbench-doc", progress=False)  # doctest: +SKIP
    """
    task = load_task(task)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise DiffbenchError(f"--devices must be a positive integer, got {repr(devices)[:40]}")
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise DiffbenchError(f"unknown split(s) {', '.join(map(str, bad)) or '(none)'}; allowed: {', '.join(SPLITS)}")
    root = Path(data_dir or default_data_dir()) / check_name(task.name, "task name")
    cache = Cache(task, root)
    if root.exists():
        manifest, repairs = cache.load_manifest()
    else:
        manifest, repairs = None, []
    # Every refusal comes before the first write: a bad backend or device count leaves no directory.
    xp = get_backend(backend)
    bname = backend_name(xp)
    if bname == "cupy":
        gpus = xp.cuda.runtime.getDeviceCount()
        if devices > gpus:
            raise DiffbenchError(
                f"--devices {devices} asks for more GPUs than exist ({gpus} visible); use --devices {gpus} or fewer"
            )
    elif devices > usable_cpus():
        cores = usable_cpus()
        raise DiffbenchError(
            f"--devices {devices} asks for more processes than this machine's {cores} usable CPU core(s); use --devices {cores} or fewer"
        )
    _check_writable(root)
    for p in repairs:
        log(f"warning: {p}")
    with cache.lock():
        cache.remove_stale_temporaries(log)
        if repairs and manifest is not None:
            cache.write_manifest(cache.merged(manifest))
    if manifest is None:
        manifest = cache.new_manifest(bname)
    elif manifest.get("backend") != bname:
        log(f"note: cache was written with backend {str(manifest.get('backend'))[:20]}; new shards use {bname}")
    jobs: list[tuple[str, int]] = []
    for split in splits:
        todo, problems = cache.status(split, manifest)
        for p in problems:
            log(f"warning: {p}")
        jobs += [(split, k) for k in todo]
    if not jobs:
        return cache
    total = sum(b - a for s, k in jobs for a, b in [shard_plan(task, s)[k]])
    bar = _progress(total, f"generating {task.name}", progress)
    spec_ref = task.path or task
    started = time.perf_counter()
    try:
        if devices == 1:
            for split, k in jobs:
                entry = _generate_shard(spec_ref, split, k, str(root), bname, None)
                _record(cache, manifest, split, k, entry, bar)
        else:
            gpus = devices if bname == "cupy" else 0
            ctx = mp.get_context("spawn")
            with _single_threaded_children(), ctx.Pool(devices) as pool:
                results = [
                    (
                        split,
                        k,
                        pool.apply_async(
                            _generate_shard, (spec_ref, split, k, str(root), bname, (i % devices) if gpus else None)
                        ),
                    )
                    for i, (split, k) in enumerate(jobs)
                ]
                for split, k, r in results:
                    _record(cache, manifest, split, k, r.get(), bar)
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    log(
        f"generated {total} samples of {task.name} in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.0f} samples/s) -> {root}"
    )
    return cache


def _record(cache: Cache, manifest: dict[str, Any], split: str, k: int, entry: dict[str, Any], bar: Any) -> None:
    with cache.lock():
        merged = cache.merged(manifest, (split, f"{k:05d}", entry))
        cache.write_manifest(merged)
    manifest["splits"] = merged["splits"]
    bar.update(entry["stop"] - entry["start"])


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sample", disable=not enabled, dynamic_ncols=True, smoothing=0.1)
