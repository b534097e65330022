"""``diffbench bench``: arguments, errors, and the JSON it assembles (no benchmark is run here).

These are plain tests (no ``benchmark`` fixture): they run with ``--benchmark-disable`` and
are skipped by ``--benchmark-only``.
"""

from __future__ import annotations

import json

import pytest

from diffbench.benchmarking import bench
from diffbench.benchmarking.summary import render_markdown
from diffbench.cli import main
from diffbench.errors import DiffbenchError


def _raw():
    def b(name, fullname, extra, median=0.01):
        return {
            "name": name,
            "fullname": fullname,
            "param": None,
            "extra_info": extra,
            "stats": {"median": median, "min": median, "mean": median, "stddev": 0.0, "rounds": 3},
        }

    return {
        "machine_info": {"cpu": "Test CPU", "cpu_count": 2, "bench_threads": 1, "python": "3.11", "torch_threads": 1},
        "benchmarks": [
            b(
                "test_transform_vs_jacobi[128]",
                "benchmarks/test_solver.py::test_transform_vs_jacobi[128]",
                {"N": 128, "diffbench_s": 0.002, "jacobi_s": 20.0, "speedup_vs_jacobi": 10000.0},
            ),
            b(
                "test_mgcg_vs_pyamg_and_spsolve[128-lognormal]",
                "benchmarks/test_solver.py::test_mgcg_vs_pyamg_and_spsolve[128-lognormal]",
                {
                    "case": "lognormal",
                    "N": 128,
                    "batch": 8,
                    "diffbench_s_per_sample": 0.02,
                    "pyamg_s": 0.05,
                    "spsolve_s": 0.06,
                },
            ),
            b(
                "test_variable_d_solver_time",
                "benchmarks/test_inference.py::test_variable_d_solver_time",
                {"rows": [{"N": 64, "solver_s_per_sample": 0.01}]},
            ),
            b(
                "test_inference_vs_exact_solver[cnn-small]",
                "benchmarks/test_inference.py::test_inference_vs_exact_solver[cnn-small]",
                {
                    "model": "cnn-small",
                    "model_exponent_vs_cells": 1.0,
                    "solver_exponent_vs_cells": 1.05,
                    "rows": [
                        {
                            "model": "cnn-small",
                            "N": 64,
                            "batch": 8,
                            "model_s_per_sample": 0.004,
                            "solver_s_per_sample": 0.0004,
                            "speedup": 0.1,
                        }
                    ],
                },
            ),
            b(
                "test_speedup_at_equal_accuracy[cnn-small]",
                "benchmarks/test_equal_accuracy.py::test_speedup_at_equal_accuracy[cnn-small]",
                {
                    "model": "cnn-small",
                    "rows": [
                        {
                            "problem": "lognormal D, N = 64",
                            "N": 64,
                            "target_nmae": 0.126,
                            "flops_per_sample": 47_800_000,
                            "network": {"min": 8.2e-4, "spread": 0.3},
                            "multigrid": {"tol": 0.9, "loosest": True},
                            "speedup_vs_multigrid": 0.97,
                        }
                    ],
                },
            ),
            b(
                "test_generation_peak_memory[128]",
                "benchmarks/test_memory.py::test_generation_peak_memory[128]",
                {
                    "n": 128,
                    "count": 64,
                    "increment_bytes": 100 * 2**20,
                    "peak_in_float64_fields": 12.5,
                    "peak_over_returned": 8.3,
                },
            ),
        ],
    }


def test_assemble_and_summary_tables():
    out = bench.assemble(
        _raw(),
        ["test_x"],
        1,
        quick=True,
        suites=["solver", "inference"],
        load_before=(1.0, 1.0, 1.0),
        load_after=(2.0, 2.0, 2.0),
        elapsed=3.0,
        env={"DIFFBENCH_BENCH_THREADS": "1", "OMP_NUM_THREADS": "1"},
    )
    assert out["machine"]["cpu"] == "Test CPU" and out["machine"]["load_avg_after"] == [2.0, 2.0, 2.0]
    assert out["failed"] == ["test_x"] and out["quick"] is True
    assert {b["suite"] for b in out["benchmarks"]} == {"solver", "inference", "equal_accuracy", "memory"}
    s = out["summary"]
    assert s["solver"][0]["speedup"] == 10000.0
    assert {r["baseline"] for r in s["solver"]} == {"Jacobi", "pyamg", "spsolve"}
    row = s["inference"]["rows"][0]
    assert row["speedup_vs_transform"] == 0.1 and row["mgcg_s"] == 0.01 and row["speedup_vs_mgcg"] == pytest.approx(2.5)
    assert s["memory"][0]["ratio"] == 12.5
    eq = s["equal_accuracy"]["rows"][0]
    assert eq["speedup_vs_mgcg"] == 0.97 and eq["mgcg_loosest"] is True and eq["speedup_vs_transform"] is None
    md = render_markdown(s)
    assert "| cnn-small | 64 | 8 |" in md and "Jacobi" in md
    assert "| cnn-small | lognormal D, N = 64 | 64 | 0.126 |" in md and "(loosest)" in md
    json.dumps(out)  # serialisable


def test_unknown_suite_is_a_one_line_error(capsys):
    assert main(["bench", "--suites", "solver,warp"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown suite(s) warp; allowed: solver, data") and err.count("\n") == 1


def test_bad_out_and_missing_suites_dir(tmp_path, capsys):
    assert main(["bench", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path / "nope" / "b.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path / "b.json"), "--benchmarks-dir", str(tmp_path)]) == 2
    assert "benchmark suites not found" in capsys.readouterr().err
    assert main(["bench", "--threads", "0"]) == 2
    assert "--threads must be a positive integer" in capsys.readouterr().err


def test_parse_suites():
    assert bench.parse_suites(" data ,solver,data") == ["data", "solver"]
    with pytest.raises(DiffbenchError):
        bench.parse_suites(",")


def test_failed_tests_from_junit(tmp_path):
    p = tmp_path / "j.xml"
    p.write_text(
        '<testsuites><testsuite><testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
        '<testcase name="c"><error message="y"/></testcase></testsuite></testsuites>'
    )
    assert bench.failed_tests(p) == ["b", "c"]
    assert bench.failed_tests(tmp_path / "missing.xml") == []


def test_gpu_suite_dry_run_and_its_summary(tmp_path):
    """The GPU suite's code paths on the CPU (``DIFFBENCH_GPU_DRYRUN=1``: NumPy for CuPy, tiny
    sizes): a GPU run is rare and short, so its benchmarks must not rot between runs, and every
    GPU table of the summary must come out of what they record."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    out = tmp_path / "gpu-dry.json"
    env = {**os.environ, "DIFFBENCH_GPU_DRYRUN": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(here / "test_gpu.py"),
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-only",
            "--benchmark-json",
            str(out),
            "-W",
            "ignore::UserWarning",
        ],
        cwd=here.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    raw = json.loads(out.read_text())
    names = {b["name"].split("[")[0] for b in raw["benchmarks"]}
    assert {"test_gpu_stream_stages", "test_gpu_training_step_variants", "test_gpu_cached_loader_pin_memory"} <= names
    summary = bench.assemble(raw, [], 0, quick=True, suites=["gpu"])["summary"]
    s = summary["gpu"]
    assert {"solve", "training", "inference", "mgcg", "stream", "stream_stages", "step_variants", "pin_memory"} <= set(
        s
    )
    assert s["stream_stages"]["layers"] >= 1 and s["stream_stages"]["stages_s"]["rasterise"] > 0
    assert {r["model"] for r in s["step_variants"]} >= {"cnn-small", "unet-small"}
    assert all(r["compile_speedup"] > 0 for r in s["step_variants"])
    md = render_markdown(summary)
    assert "| GPU training step |" in md and "Streamed smoke batch of 25" in md


def test_equal_accuracy_speedups_carry_only_the_digits_their_spreads_allow():
    """A speed-up is printed with the digits its two timings' combined spread allows (the run
    records' rule, results.cost.ratio_spread and timing_digits): one significant digit from a
    combined spread of 100 %, two otherwise."""
    raw = _raw()
    eq = next(b for b in raw["benchmarks"] if b["name"].startswith("test_speedup_at_equal_accuracy"))
    row = eq["extra_info"]["rows"][0]
    row.update(
        network={"min": 1e-3, "spread": 0.2},
        multigrid={"tol": 0.5, "loosest": False, "spread": 1.4},
        speedup_vs_multigrid=0.3456,
        transform={"min": 1e-4, "spread": 0.1},
        speedup_vs_transform=0.12345,
    )
    s = bench.assemble(
        raw, [], 1, quick=True, suites=["equal_accuracy"], load_before=None, load_after=None, elapsed=1.0
    )
    out = s["summary"]["equal_accuracy"]["rows"][0]
    assert (out["speedup_vs_mgcg_digits"], out["speedup_vs_transform_digits"]) == (1, 2)
    line = next(x for x in render_markdown(s["summary"]).splitlines() if x.startswith("| cnn-small | lognormal"))
    assert line.endswith("| 0.3 | 0.12 |"), line
