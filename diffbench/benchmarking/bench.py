"""``diffbench bench``: run the performance benchmarks and write one JSON of every figure.

The benchmarks live in the repository's ``benchmarks/`` (pytest-benchmark suites: solver,
data, training, inference, equal_accuracy, memory, GPU). This command runs them in a child ``pytest`` with
``--benchmark-only --benchmark-json``, then writes ``--out`` (default ``bench.json``) with:

- ``machine``: CPU name, cores, load average before and after, thread settings, malloc
  settings, library versions, GPU name (when there is one);
- ``benchmarks``: every benchmark's timing statistics and its figures (ratios, times,
  exponents, memory);
- ``summary``: the key tables (solver speed-ups, data/training ratios, the inference vs solver
  speed-up table, memory ratios, GPU figures);
- ``failed``: the benchmarks whose ratio assertions failed (the command then exits with an
  error, after writing the file).

Every benchmark runs with one thread per library by default (``DIFFBENCH_BENCH_THREADS``) and
with glibc's malloc told to keep freed memory (``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_`` at 16 GiB): big-tensor steps otherwise spend their time in page
faults (1.3-3.5x slower). ``--default-malloc`` measures glibc's defaults instead.

The command imports nothing heavy itself: registering it costs the CLI nothing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from ..errors import DiffbenchError
from .summary import render_markdown, summarise

BENCH_FORMAT = 1
SUITES = ("solver", "data", "training", "inference", "equal_accuracy", "memory", "gpu")
MALLOC_TUNING = {"MALLOC_MMAP_THRESHOLD_": "17179869184", "MALLOC_TRIM_THRESHOLD_": "17179869184"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run the performance benchmarks (solver, data, training, inference, equal accuracy, memory, GPU) and write one JSON",
    )
    p.add_argument("--out", default="bench.json", help="where to write the JSON of every figure (default bench.json)")
    p.add_argument("--quick", action="store_true", help="fewer sizes and rounds (a few minutes on 2 cores)")
    p.add_argument(
        "--suites",
        default=",".join(SUITES),
        help=f"comma-separated suites to run (default all: {','.join(SUITES)}); GPU ones skip without a GPU",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="threads per library (default $DIFFBENCH_BENCH_THREADS or 1)"
    )
    p.add_argument("--default-malloc", action="store_true", help="measure with glibc's default malloc settings")
    p.add_argument(
        "--benchmarks-dir", default=None, help="the benchmark suites (default: the repository's benchmarks/)"
    )
    p.set_defaults(func=_bench)


# ----------------------------------------------------------------------------- the command
def benchmarks_dir(explicit: str | None = None) -> Path:
    if explicit:
        path = Path(explicit)
    elif os.environ.get("DIFFBENCH_BENCHMARKS_DIR"):
        path = Path(os.environ["DIFFBENCH_BENCHMARKS_DIR"])
    else:
        path = Path(__file__).resolve().parents[2] / "benchmarks"
    if not (path / "conftest.py").is_file():
        raise DiffbenchError(
            f"benchmark suites not found in {path} (they ship with the diffbench repository, not the wheel); "
            "run from a checkout or pass --benchmarks-dir"
        )
    return path


def parse_suites(text: str) -> list[str]:
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    bad = [s for s in names if s not in SUITES]
    if bad or not names:
        raise DiffbenchError(f"unknown suite(s) {', '.join(bad) or '(none)'}; allowed: {', '.join(SUITES)}")
    return list(dict.fromkeys(names))


def _check_tools() -> None:
    missing = [m for m in ("pytest", "pytest_benchmark") if importlib.util.find_spec(m) is None]
    if missing:
        raise DiffbenchError(
            f"diffbench bench needs {' and '.join(missing)}: pip install -e '.[dev]' (pytest, pytest-benchmark, pyamg)"
        )


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise DiffbenchError(f"--out {out} is a directory; give a file name such as bench.json")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise DiffbenchError(f"--out {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise DiffbenchError(f"--out {out}: directory {parent} is not writable")


def _bench(args: argparse.Namespace) -> int:
    suites = parse_suites(args.suites)
    if args.threads is not None and (isinstance(args.threads, bool) or args.threads < 1):
        raise DiffbenchError(f"--threads must be a positive integer, got {args.threads!r}")
    out = Path(args.out)
    _check_out(out)
    bdir = benchmarks_dir(args.benchmarks_dir)
    _check_tools()
    result = run_benchmarks(bdir, suites, quick=args.quick, threads=args.threads, tuned_malloc=not args.default_malloc)
    atomic_write_bytes(out, (json.dumps(result, indent=1, sort_keys=False, default=str) + "\n").encode())
    print(render_markdown(result["summary"]))
    print(f"wrote {out} ({len(result['benchmarks'])} benchmarks, {len(result['failed'])} failed)", file=sys.stderr)
    if result["failed"]:
        raise DiffbenchError(
            f"{len(result['failed'])} benchmark(s) failed their checks ({', '.join(result['failed'])}); every figure is in {out}"
        )
    if not result["benchmarks"]:
        raise DiffbenchError(
            f"no benchmark ran (pytest exit status {result['pytest_exit_status']}); see the output above"
        )
    return 0


def run_benchmarks(
    bdir: Path, suites: list[str], *, quick: bool = False, threads: int | None = None, tuned_malloc: bool = True
) -> dict[str, Any]:
    """Run the suites in a child pytest; returns the combined result (not yet written)."""
    env = dict(os.environ)
    nthreads = str(threads or int(env.get("DIFFBENCH_BENCH_THREADS", "1") or 1))
    env["DIFFBENCH_BENCH_THREADS"] = nthreads
    for var in THREAD_VARS:
        env[var] = nthreads
    if tuned_malloc:
        for k, v in MALLOC_TUNING.items():
            env.setdefault(k, v)
    env.setdefault("WANDB_MODE", "disabled")
    root = bdir.parent
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    files = [str(bdir / f"test_{s}.py") for s in suites if (bdir / f"test_{s}.py").is_file()]
    if not files:
        raise DiffbenchError(f"none of the suites {', '.join(suites)} exists in {bdir}")
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="diffbench-bench-") as tmp:
        bjson, junit = Path(tmp) / "benchmark.json", Path(tmp) / "junit.xml"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            *files,
            "--benchmark-only",
            f"--benchmark-json={bjson}",
            f"--junitxml={junit}",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--rootdir={root}",
        ]
        if quick:
            cmd.append("--bench-quick")
        print("running: " + " ".join(cmd), file=sys.stderr)
        try:
            proc = subprocess.run(cmd, cwd=root, env=env)
        except KeyboardInterrupt:
            raise
        if not bjson.is_file():
            raise DiffbenchError(
                f"pytest exited with status {proc.returncode} and wrote no benchmark JSON; see the output above"
            )
        raw = json.loads(bjson.read_text())
        failed = failed_tests(junit)
    return assemble(
        raw,
        failed,
        proc.returncode,
        quick=quick,
        suites=suites,
        load_before=load_before,
        load_after=os.getloadavg(),
        elapsed=time.perf_counter() - started,
        env=env,
    )


def failed_tests(junit: Path) -> list[str]:
    """Names of the tests that failed or errored, from pytest's JUnit XML."""
    if not junit.is_file():
        return []
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            out.append(case.get("name", "?"))
    return out


def _git_commit(root: Path) -> dict[str, Any] | None:
    from ..training.environment import git_commit  # here: importlib.metadata costs the CLI start ~12 ms

    return git_commit()


def assemble(
    raw: dict[str, Any],
    failed: list[str],
    exit_status: int,
    *,
    quick: bool,
    suites: list[str],
    load_before: Any = None,
    load_after: Any = None,
    elapsed: float | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The command's JSON from pytest-benchmark's JSON and the list of failed tests."""
    env = env or {}
    mi = dict(raw.get("machine_info") or {})
    machine = {
        "cpu": mi.get("cpu")
        if isinstance(mi.get("cpu"), str)
        else (mi.get("cpu") or {}).get("brand_raw") or platform.processor(),
        "cpu_count": mi.get("cpu_count", os.cpu_count()),
        "memory_gib": mi.get("memory_gib"),
        "gpu": mi.get("gpu"),
        "load_avg_before": [round(x, 2) for x in load_before] if load_before else None,
        "load_avg_after": [round(x, 2) for x in load_after] if load_after else None,
        "bench_threads": int(env.get("DIFFBENCH_BENCH_THREADS", mi.get("bench_threads", 1))),
        "torch_threads": mi.get("torch_threads"),
        "thread_env": {k: env[k] for k in THREAD_VARS if k in env},
        "malloc_env": {k: env[k] for k in MALLOC_TUNING if k in env},
        "python": mi.get("python") or platform.python_version(),
        "platform": mi.get("platform") or platform.platform(),
        "versions": {k: mi.get(k) for k in ("numpy", "scipy", "torch") if mi.get(k)},
        "hostname": platform.node(),
    }
    benches = []
    for b in raw.get("benchmarks", []):
        st = b.get("stats") or {}
        benches.append(
            {
                "name": b.get("name"),
                "fullname": b.get("fullname"),
                "suite": _suite_of(b.get("fullname", "")),
                "param": b.get("param"),
                "median_s": st.get("median"),
                "min_s": st.get("min"),
                "mean_s": st.get("mean"),
                "stddev_s": st.get("stddev"),
                "rounds": st.get("rounds"),
                "figures": b.get("extra_info") or {},
            }
        )
    gpu_names = {x["figures"].get("gpu") for x in benches if x["figures"].get("gpu")}
    if gpu_names and not machine["gpu"]:
        machine["gpu"] = sorted(gpu_names)[0]
    return {
        "format": BENCH_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": bool(quick),
        "suites": suites,
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "machine": machine,
        "git": _git_commit(Path(__file__).resolve().parents[2]),
        "pytest_exit_status": exit_status,
        "failed": failed,
        "benchmarks": benches,
        "summary": summarise(benches),
    }


def _suite_of(fullname: str) -> str:
    base = fullname.split("::", 1)[0].rsplit("/", 1)[-1]
    return base[len("test_") : -len(".py")] if base.startswith("test_") and base.endswith(".py") else base
