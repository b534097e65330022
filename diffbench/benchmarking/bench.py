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
import contextlib
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

from ..errors import DiffbenchError

BENCH_FORMAT = 1
SUITES = ("solver", "data", "training", "inference", "equal_accuracy", "memory", "gpu")
MALLOC_TUNING = {"MALLOC_MMAP_THRESHOLD_": "17179869184", "MALLOC_TRIM_THRESHOLD_": "17179869184"}
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run the performance benchmarks (solver, data, training, inference, equal accuracy, memory, GPU) and write one JSON")
    p.add_argument("--out", default="bench.json", help="where to write the JSON of every figure (default bench.json)")
    p.add_argument("--quick", action="store_true", help="fewer sizes and rounds (a few minutes on 2 cores)")
    p.add_argument("--suites", default=",".join(SUITES),
                   help=f"comma-separated suites to run (default all: {','.join(SUITES)}); GPU ones skip without a GPU")
    p.add_argument("--threads", type=int, default=None, help="threads per library (default $DIFFBENCH_BENCH_THREADS or 1)")
    p.add_argument("--default-malloc", action="store_true", help="measure with glibc's default malloc settings")
    p.add_argument("--benchmarks-dir", default=None, help="the benchmark suites (default: the repository's benchmarks/)")
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
        raise DiffbenchError(f"diffbench bench needs {' and '.join(missing)}: pip install -e '.[dev]' (pytest, pytest-benchmark, pyamg)")


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
    _write_json(out, result)
    print(render_markdown(result["summary"]))
    print(f"wrote {out} ({len(result['benchmarks'])} benchmarks, {len(result['failed'])} failed)", file=sys.stderr)
    if result["failed"]:
        raise DiffbenchError(f"{len(result['failed'])} benchmark(s) failed their checks ({', '.join(result['failed'])}); every figure is in {out}")
    if not result["benchmarks"]:
        raise DiffbenchError(f"no benchmark ran (pytest exit status {result['pytest_exit_status']}); see the output above")
    return 0


def run_benchmarks(bdir: Path, suites: list[str], *, quick: bool = False, threads: int | None = None, tuned_malloc: bool = True) -> dict[str, Any]:
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
        cmd = [sys.executable, "-m", "pytest", *files, "--benchmark-only", f"--benchmark-json={bjson}", f"--junitxml={junit}",
               "-q", "-p", "no:cacheprovider", f"--rootdir={root}"]
        if quick:
            cmd.append("--bench-quick")
        print("running: " + " ".join(cmd), file=sys.stderr)
        try:
            proc = subprocess.run(cmd, cwd=root, env=env)
        except KeyboardInterrupt:
            raise
        if not bjson.is_file():
            raise DiffbenchError(f"pytest exited with status {proc.returncode} and wrote no benchmark JSON; see the output above")
        raw = json.loads(bjson.read_text())
        failed = failed_tests(junit)
    return assemble(raw, failed, proc.returncode, quick=quick, suites=suites, load_before=load_before,
                    load_after=os.getloadavg(), elapsed=time.perf_counter() - started, env=env)


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


def assemble(raw: dict[str, Any], failed: list[str], exit_status: int, *, quick: bool, suites: list[str], load_before: Any = None,
             load_after: Any = None, elapsed: float | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The command's JSON from pytest-benchmark's JSON and the list of failed tests."""
    env = env or {}
    mi = dict(raw.get("machine_info") or {})
    machine = {
        "cpu": mi.get("cpu") if isinstance(mi.get("cpu"), str) else (mi.get("cpu") or {}).get("brand_raw") or platform.processor(),
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
        benches.append({
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
        })
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
    return base[len("test_"):-len(".py")] if base.startswith("test_") and base.endswith(".py") else base


def _fig(benches: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [b["figures"] for b in benches if b["name"] and b["name"].startswith(prefix)]


def summarise(benches: list[dict[str, Any]]) -> dict[str, Any]:
    """The key figures of each suite, as small tables (lists of rows)."""
    s: dict[str, Any] = {}
    solver = []
    for f in _fig(benches, "test_transform_vs_jacobi"):
        solver.append({"problem": "disks, D=1", "N": f.get("N"), "baseline": "Jacobi", "diffbench_s": f.get("diffbench_s"),
                       "baseline_s": f.get("jacobi_s"), "speedup": f.get("speedup_vs_jacobi")})
    for f in _fig(benches, "test_transform_vs_spsolve"):
        solver.append({"problem": "disks, D=1", "N": f.get("N"), "baseline": "spsolve", "diffbench_s": f.get("diffbench_s"),
                       "baseline_s": f.get("spsolve_s"), "speedup": f.get("speedup_vs_spsolve")})
    for f in _fig(benches, "test_mgcg_vs_pyamg_and_spsolve"):
        for base, key in (("pyamg", "pyamg_s"), ("spsolve", "spsolve_s")):
            solver.append({"problem": f"{f.get('case')} (batch {f.get('batch')})", "N": f.get("N"), "baseline": base,
                           "diffbench_s": f.get("diffbench_s_per_sample"), "baseline_s": f.get(key),
                           "speedup": (f.get(key) / f["diffbench_s_per_sample"]) if f.get(key) and f.get("diffbench_s_per_sample") else None})
    if solver:
        s["solver"] = solver
    exps = {}
    for name, key in (("test_transform_cost_exponent", "transform"), ("test_mgcg_cost_exponent", "mgcg")):
        for f in _fig(benches, name):
            exps[key] = {"exponent_vs_cells": f.get("exponent_vs_cells"), "s_per_sample": f.get("s_per_sample")}
    if exps:
        s["solver_cost_vs_N"] = exps
    data = [{"serve": f.get("serve"), "task": f.get("task"), "batch_s": f.get("batch_s"), "cheapest_model": f.get("cheapest_model"),
             "train_step_s": f.get("train_step_s"), "ratio": f.get("ratio_step_over_batch")} for f in _fig(benches, "test_datamodule_outpaces_training")]
    if data:
        s["data"] = data
    for f in _fig(benches, "test_generation_scales_linearly"):
        s["generation_scaling"] = {"N": f.get("N"), "samples": f.get("samples"), "seconds": f.get("seconds"),
                                   "exponent_vs_samples": f.get("exponent_vs_samples")}
    training = [{"model": f.get("model"), "task": f.get("task"), "batch": f.get("batch_size"), "bare_step_s": f.get("bare_step_s"),
                 "lightning_step_s": f.get("lightning_step_s"), "ratio_pairwise": f.get("median_pairwise_ratio"),
                 "ratio_of_medians": f.get("ratio_lightning_over_bare")} for f in _fig(benches, "test_lightning_step_overhead")]
    if training:
        s["training"] = training
    mgcg = {}
    for f in _fig(benches, "test_variable_d_solver_time"):
        mgcg = {r["N"]: r["solver_s_per_sample"] for r in f.get("rows", [])}
    inference = []
    exponents = {}
    for f in _fig(benches, "test_inference_vs_exact_solver"):
        exponents[f.get("model")] = {"model": f.get("model_exponent_vs_cells"), "solver": f.get("solver_exponent_vs_cells")}
        for r in f.get("rows", []):
            m = mgcg.get(r["N"])
            inference.append({"model": r["model"], "N": r["N"], "batch": r["batch"], "model_s": r["model_s_per_sample"],
                              "transform_s": r["solver_s_per_sample"], "speedup_vs_transform": r["speedup"],
                              "mgcg_s": m, "speedup_vs_mgcg": (m / r["model_s_per_sample"]) if m else None})
    if inference:
        s["inference"] = {"device": "cpu", "rows": inference, "exponents_vs_cells": exponents,
                          "note": "speedup = solver time / network time per sample (same N, batch, threads); < 1: the solver is faster"}
    matched = []
    for f in _fig(benches, "test_speedup_at_equal_accuracy"):
        for r in f.get("rows", []):
            matched.append({"model": f.get("model"), "problem": r.get("problem"), "N": r.get("N"), "target_nmae": r.get("target_nmae"),
                            "flops_per_sample": r.get("flops_per_sample"), "network_s": (r.get("network") or {}).get("min"),
                            "network_spread": (r.get("network") or {}).get("spread"),
                            "mgcg_tol": (r.get("multigrid") or {}).get("tol"), "mgcg_loosest": (r.get("multigrid") or {}).get("loosest"),
                            "speedup_vs_mgcg": r.get("speedup_vs_multigrid"), "speedup_vs_transform": r.get("speedup_vs_transform")})
    if matched:
        s["equal_accuracy"] = {"rows": matched, "note": "speedup = solver time at the network's accuracy / network time (minima of "
                               "repeats, same batch and process); mgcg_loosest: the loosest tolerance already beat the target, "
                               "so the speed-up is an upper bound"}
    memory = []
    for f in _fig(benches, "test_generation_peak_memory"):
        memory.append({"what": "generate", "N": f.get("n"), "batch": f.get("count"), "peak_mib": f["increment_bytes"] / 2**20,
                       "ratio": f.get("peak_in_float64_fields"), "ratio_of": "float64 fields of the chunk",
                       "peak_over_returned": f.get("peak_over_returned")})
    for f in _fig(benches, "test_training_peak_memory"):
        memory.append({"what": f"train {f.get('model')}", "N": f.get("n"), "batch": f.get("batch"), "peak_mib": f["increment_bytes"] / 2**20,
                       "ratio": f.get("peak_over_estimate"), "ratio_of": "saved activations + 12 B/param + batch"})
    if memory:
        s["memory"] = memory
    gpu: dict[str, Any] = {}
    for f in _fig(benches, "test_gpu_solve_and_generate_vs_bandwidth"):
        gpu.setdefault("solve", []).append({k: f.get(k) for k in ("gpu", "N", "batch", "copy_bandwidth_GBps", "solve_samples_per_s",
                                                                   "generate_samples_per_s", "passes_model", "solve_fraction_of_model_bound",
                                                                   "solve_fraction_of_floor_bound", "generate_pool_over_float64_fields")})
    for f in _fig(benches, "test_gpu_training_step_full_preset"):
        gpu.setdefault("training", []).append({k: f.get(k) for k in ("gpu", "model", "N", "batch", "params", "step_s", "samples_per_s", "peak_memory_bytes")})
    for f in _fig(benches, "test_gpu_inference_vs_cupy_solver"):
        gpu.setdefault("inference", []).extend(f.get("rows", []))
    for f in _fig(benches, "test_gpu_variable_d_solver"):
        gpu["mgcg"] = f.get("rows", [])
    for f in _fig(benches, "test_gpu_stream_datamodule_vs_training_step"):
        gpu["stream"] = {k: f.get(k) for k in ("gpu", "task", "batch_s", "samples_per_s", "train_steps_s", "cheapest_model", "ratio_step_over_batch")}
    for f in _fig(benches, "test_gpu_stream_stages"):
        gpu["stream_stages"] = {k: f.get(k) for k in ("gpu", "task", "batch_size", "batch_s", "stages_s", "sources", "layers",
                                                      "rasterise_speedup_over_stamp_loop")}
    for f in _fig(benches, "test_gpu_training_step_variants"):
        variants = f.get("variants") or {}
        gpu.setdefault("step_variants", []).append({"model": f.get("model"), "N": f.get("N"), "batch": f.get("batch"),
                                                    "fp32_step_s": (variants.get("fp32") or {}).get("step_s"),
                                                    **{f"{v}_speedup": row.get("speedup_over_fp32") for v, row in variants.items() if v != "fp32"},
                                                    "compile_first_step_s": (variants.get("compile") or {}).get("first_step_s")})
    for f in _fig(benches, "test_gpu_cached_loader_pin_memory"):
        gpu["pin_memory"] = {k: f.get(k) for k in ("gpu", "N", "batch", "batch_bytes", "s_per_batch", "speedup_pinned")}
    if gpu:
        s["gpu"] = gpu
    return s


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return f"{x:.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def render_markdown(summary: dict[str, Any]) -> str:
    """The summary's main tables as Markdown (what the README quotes)."""
    lines: list[str] = []
    if "solver" in summary:
        lines += ["| problem | N | baseline | diffbench s/sample | baseline s/sample | speed-up |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['problem']} | {r['N']} | {r['baseline']} | {_num(r['diffbench_s'])} | {_num(r['baseline_s'])} | {_num(r['speedup'])}x |"
                  for r in summary["solver"]]
        lines.append("")
    if "inference" in summary:
        lines += ["| model | N | batch | network s/sample | transform solve s/sample | speed-up vs transform | mgcg s/sample (log-normal D) | speed-up vs mgcg |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['N']} | {r['batch']} | {_num(r['model_s'])} | {_num(r['transform_s'])} | {_num(r['speedup_vs_transform'])} | "
                  f"{_num(r['mgcg_s'])} | {_num(r['speedup_vs_mgcg'])} |" for r in summary["inference"]["rows"]]
        lines.append("")
    if "equal_accuracy" in summary:
        lines += ["| model | problem | N | target nMAE | FLOPs/sample | network s/sample | mgcg tol | speed-up vs mgcg | speed-up vs transform |",
                  "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['problem']} | {r['N']} | {_num(r['target_nmae'])} | {_num(r['flops_per_sample'])} | "
                  f"{_num(r['network_s'], 2)} | {_num(r['mgcg_tol'])}{' (loosest)' if r['mgcg_loosest'] else ''} | "
                  f"{_num(r['speedup_vs_mgcg'], 2)} | {_num(r['speedup_vs_transform'], 2)} |" for r in summary["equal_accuracy"]["rows"]]
        lines.append("")
    if "gpu" in summary and summary["gpu"].get("inference"):
        lines += ["| GPU model | N | batch | network s/sample | CuPy transform s/sample | speed-up |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['N']} | {r['batch']} | {_num(r['model_s_per_sample'])} | {_num(r['solver_s_per_sample'])} | {_num(r['speedup'])} |"
                  for r in summary["gpu"]["inference"]]
        lines.append("")
    if "gpu" in summary and summary["gpu"].get("step_variants"):
        lines += ["| GPU training step | N | batch | fp32 s | bf16 autocast | channels-last | torch.compile | compile's first step s |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['N']} | {r['batch']} | {_num(r['fp32_step_s'])} | {_num(r.get('bf16-autocast_speedup'))}x | "
                  f"{_num(r.get('channels-last_speedup'))}x | {_num(r.get('compile_speedup'))}x | {_num(r.get('compile_first_step_s'))} |"
                  for r in summary["gpu"]["step_variants"]]
        lines.append("")
    stages = summary.get("gpu", {}).get("stream_stages")
    if stages:
        parts = ", ".join(f"{k} {_num(v * 1e3)} ms" for k, v in (stages.get("stages_s") or {}).items())
        lines += [f"Streamed {stages['task']} batch of {stages['batch_size']}: {_num(stages['batch_s'] * 1e3)} ms ({parts}); "
                  f"rasterise {_num(stages['rasterise_speedup_over_stamp_loop'])}x the stamp loop ({stages['sources']} sources, "
                  f"{stages['layers']} layers).", ""]
    return "\n".join(lines)


def _write_json(path: Path, obj: Any) -> None:
    data = (json.dumps(obj, indent=1, sort_keys=False, default=str) + "\n").encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
