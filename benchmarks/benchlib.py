"""Helpers shared by the benchmark suites: modes, timers, fits, problems and machine facts.

Every benchmark times diffbench and its baseline *in the same test* (so both see the same
machine load) and asserts only ratios. Figures go to ``benchmark.extra_info`` and from there
into ``--benchmark-json`` and ``diffbench bench``'s JSON.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Threads for every library in a benchmark (torch, BLAS, OpenMP). 1 by default: the CPU
#: machine is shared, and environment.md measured 2-thread torch 5-6x slower than 1 thread
#: when another process keeps a core busy. Set DIFFBENCH_BENCH_THREADS on a dedicated machine.
THREADS = max(1, int(os.environ.get("DIFFBENCH_BENCH_THREADS", "1")))
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "LD_PRELOAD")
REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- modes
@dataclass(frozen=True)
class Mode:
    """How much to measure.

    ``check``: ``--benchmark-disable`` (a correctness run: each body once, tiny sizes, ratio
    asserts only where they are cheap); ``quick``: ``--bench-quick`` (fewer sizes and rounds);
    ``full``: the default with ``--benchmark-only``.
    """

    name: str

    @property
    def check(self) -> bool:
        return self.name == "check"

    @property
    def quick(self) -> bool:
        return self.name == "quick"

    @property
    def full(self) -> bool:
        return self.name == "full"

    def pick(self, check: Any, quick: Any, full: Any) -> Any:
        return {"check": check, "quick": quick, "full": full}[self.name]


def mode_from_config(config: Any) -> Mode:
    if config.getoption("benchmark_disable", False):
        return Mode("check")
    if config.getoption("bench_quick", False) or os.environ.get("DIFFBENCH_BENCH_QUICK") == "1":
        return Mode("quick")
    return Mode("full")


# ----------------------------------------------------------------------------- timing
def timed(
    fn: Callable[[], Any], rounds: int = 3, warmup: int = 1, sync: Callable[[], None] | None = None
) -> list[float]:
    """Wall-clock seconds of ``fn()`` over ``rounds`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    out = []
    for _ in range(rounds):
        gc.collect()
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        out.append(time.perf_counter() - t)
    return out


def run_benchmark(benchmark: Any, fn: Callable[[], Any], rounds: int, warmup: int = 1) -> tuple[Any, float]:
    """Time ``fn`` with pytest-benchmark (its stats land in the JSON); returns (last result, median s).

    With ``--benchmark-disable`` the fixture runs ``fn`` once untimed; the median then comes
    from one manual timing so ratios can still be computed (not asserted).
    """
    if benchmark.disabled:
        t = time.perf_counter()
        result = benchmark(fn)
        return result, time.perf_counter() - t
    result = benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup, iterations=1)
    return result, float(benchmark.stats.stats.median)


def fit_exponent(x: Sequence[float], t: Sequence[float]) -> float:
    """Least-squares slope of log t against log x (the exponent p of t ~ x^p)."""
    lx, lt = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(t, dtype=float))
    return float(np.polyfit(lx, lt, 1)[0])


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def record(benchmark: Any, **figures: Any) -> None:
    """Add figures to the benchmark's JSON entry (numbers rounded, NaN as None)."""
    benchmark.extra_info.update({k: clean(v) for k, v in figures.items()})
    benchmark.extra_info.setdefault("threads", THREADS)
    benchmark.extra_info["load_avg_1min"] = round(os.getloadavg()[0], 2)


def clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if not math.isfinite(v) else float(f"{v:.6g}")
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def set_torch_threads() -> int:
    import torch

    torch.set_num_threads(THREADS)
    return torch.get_num_threads()


# ----------------------------------------------------------------------------- problems
def disk_sources(n: int, batch: int, seed: int = 0, count: int = 10) -> np.ndarray:
    """The default problem's source maps: ``count`` disks of radius round(N/20), fluxes in (0, 1]."""
    from diffbench.physics.sources import SourceSpec, rasterise, sample_geometry

    rng = np.random.default_rng(seed)
    spec = SourceSpec("disk", radius=max(1, round(n / 20)), strength=(0.0, 1.0))
    return rasterise([sample_geometry(rng, spec, n, count) for _ in range(batch)], n, np)


def lognormal_d(n: int, batch: int, seed: int = 0, sigma: float = 1.0, length: float = 4.0) -> np.ndarray:
    """Log-normal D per sample, drawn as tasks draw ``{kind: lognormal}`` (contrast ~e^(6 sigma))."""
    from diffbench.data.fields import _lognormal

    rng = np.random.default_rng(seed)
    return np.stack([_lognormal(rng, n, sigma, length) for _ in range(batch)])


def task_spec(
    n: int,
    *,
    diffusivity: Any = 1.0,
    mode: str = "flux",
    per_count: int = 4,
    counts: tuple[int, int] = (1, 20),
    name: str | None = None,
) -> Any:
    """A task like standard-64 at lattice ``n`` (radius round(N/20))."""
    from diffbench.data.tasks import parse_task

    return parse_task(
        {
            "name": name or f"bench-{n}",
            "lattice": n,
            "seed": 7,
            "sources": {"shape": "disk", "radius": max(1, round(n / 20)), "strength": [0.0, 1.0], "mode": mode},
            "physics": {"diffusivity": diffusivity, "decay": 0.0, "boundary": "dirichlet"},
            "splits": {s: {"counts": list(counts), "per_count": per_count} for s in ("train", "val", "test")},
            "serve": "cache",
        }
    )


# ----------------------------------------------------------------------------- baselines
def spsolve_time(stencil: Any, rhs: np.ndarray, rounds: int = 1) -> tuple[np.ndarray, float]:
    """scipy.sparse.linalg.spsolve of one sample (matrix assembly excluded), median seconds."""
    import scipy.sparse.linalg as spla

    from diffbench.solver.reference import stencil_matrix

    a = stencil_matrix(stencil).tocsc()
    out = {}

    def run() -> None:
        out["u"] = spla.spsolve(a, rhs.ravel())

    ts = timed(run, rounds=rounds, warmup=0)
    return out["u"].reshape(rhs.shape), median(ts)


def pyamg_time(matrix: Any, rhs: np.ndarray, rounds: int = 1) -> tuple[np.ndarray, float]:
    """pyamg Ruge-Stueben inside CG to tol 1e-8, set-up included, median seconds."""
    import pyamg

    out = {}

    def run() -> None:
        ml = pyamg.ruge_stuben_solver(matrix)
        out["u"] = ml.solve(rhs.ravel(), tol=1e-8, accel="cg")

    ts = timed(run, rounds=rounds, warmup=0)
    return out["u"], median(ts)


def eliminated_system(
    d: np.ndarray, mask: np.ndarray | None, vals: np.ndarray | None, source: np.ndarray
) -> tuple[Any, np.ndarray]:
    """The free-cell system ``A_ff x = b`` of one sample (clamped cells moved to the right)."""
    from diffbench.physics import build_stencil
    from diffbench.solver.reference import stencil_matrix

    a = stencil_matrix(build_stencil(d, 0.0, "dirichlet")).tocsr()
    f = source.ravel().astype(np.float64)
    if mask is None:
        return a, f
    fx = mask.ravel()
    free = ~fx
    b = f[free] - a[free][:, fx] @ vals.ravel()[fx]
    return a[free][:, free].tocsr(), b


# ----------------------------------------------------------------------------- machine
def cpu_name() -> str:
    from diffbench.training.environment import cpu_name as _cpu_name

    return _cpu_name()


def gpu_name() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:
        pass
    return None


def machine_info(with_torch: bool = True) -> dict[str, Any]:
    """CPU, cores, load, threads, malloc settings, versions and GPU: what every figure depends on."""
    info: dict[str, Any] = {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "bench_threads": THREADS,
        "thread_env": {k: os.environ.get(k) for k in THREAD_VARS if os.environ.get(k) is not None},
        "malloc_env": {k: os.environ.get(k) for k in MALLOC_VARS if os.environ.get(k) is not None},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    if with_torch:
        try:
            import torch

            info["torch"] = torch.__version__
            info["torch_threads"] = torch.get_num_threads()
            info["gpu"] = gpu_name()
        except ImportError:
            pass
    try:
        info["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


# ----------------------------------------------------------------------------- memory probes
def run_probe(kind: str, **params: Any) -> dict[str, Any]:
    """Run ``_memprobe.py`` in a fresh interpreter; returns its JSON (peak RSS and sizes)."""
    env = dict(os.environ)
    for k in THREAD_VARS:
        env.setdefault(k, str(THREADS))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    cmd = [sys.executable, str(Path(__file__).with_name("_memprobe.py")), kind, json.dumps(params)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {kind} {params} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
