"""Benchmark suites' shared set-up: one thread count for every library, modes, machine facts.

Runs:
    pytest benchmarks --benchmark-disable -q          # correctness, tiny sizes (~1 min)
    pytest benchmarks --benchmark-only                # all CPU figures (GPU ones skip without a GPU)
    pytest benchmarks --benchmark-only --bench-quick  # fewer sizes and rounds
"""

from __future__ import annotations

import os
import sys

# Before NumPy/torch load: every library gets the same thread count (benchlib.THREADS).
_THREADS = str(max(1, int(os.environ.get("DIFFBENCH_BENCH_THREADS", "1"))))
_NUMPY_WAS_LOADED = "numpy" in sys.modules
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ.setdefault(_var, _THREADS)
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

import benchlib  # noqa: E402
import pytest  # noqa: E402


def pytest_addoption(parser):
    parser.addoption(
        "--bench-quick",
        action="store_true",
        default=False,
        help="diffbench benchmarks: fewer sizes and rounds (also DIFFBENCH_BENCH_QUICK=1)",
    )


@pytest.fixture(scope="session")
def mode(request) -> benchlib.Mode:
    return benchlib.mode_from_config(request.config)


@pytest.fixture(scope="session")
def torch_threads() -> int:
    """Import torch with the benchmark thread count set (returns the count torch reports)."""
    return benchlib.set_torch_threads()


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-data")


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info.update(benchlib.machine_info(with_torch="torch" in sys.modules))
    machine_info["numpy_loaded_before_thread_env"] = _NUMPY_WAS_LOADED
    machine_info["bench_mode"] = benchlib.mode_from_config(config).name
