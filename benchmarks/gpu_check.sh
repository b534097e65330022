#!/usr/bin/env bash
# The GPU check of diffbench, in one go (see benchmarks/README.md, "GPU run").
#
#   bash benchmarks/gpu_check.sh        # from the repository root, on a machine with a CUDA GPU
#
# Writes under $OUT (default ./gpu-out): nvidia-smi.csv (GPU name, memory, driver, and the
# package versions), log.txt, gpu-<stage>.json for the stages solve, cupy, infer, train, pin and
# tune-<model>, and gpu.json (all pytest-benchmark records merged). Stages run as separate pytest
# processes under their own time limits (550 s at most in all; about 2-5 minutes in practice),
# cheapest and most important first, so a slow stage cannot lose the figures of the others.
# Through the device tool: one call with timeout_s 600.
#
# Needs python3 with CUDA torch, CuPy (cupy-cuda12x or -13x), pytest, pytest-benchmark,
# torchmetrics, scipy and pyyaml: the lent GPU machines' image has them all (no internet there,
# and nothing is reinstalled). diffbench runs from the checkout through PYTHONPATH (`pip install
# -e .` would need setuptools from an index for its isolated build). The FNO presets need
# neuraloperator, tensorly and tensorly-torch (pure Python): carried in .bench-gpu/site when the
# image lacks them (the FNO benchmarks skip if they cannot import).
set -u
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .bench-gpu/site ] && ! python3 -c "import neuralop" 2>/dev/null; then
  export PYTHONPATH="$PYTHONPATH:$PWD/.bench-gpu/site"
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
LOG="$OUT/log.txt"
: > "$LOG"

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/nvidia-smi.csv" 2>&1
python3 - >> "$OUT/nvidia-smi.csv" 2>&1 <<'EOF'
import importlib
for m in ("torch", "cupy", "numpy", "scipy", "pytest_benchmark", "lightning", "torchmetrics", "neuralop"):
    try:
        print(f"# {m} {importlib.import_module(m).__version__}")
    except Exception as exc:
        print(f"# {m} unavailable: {type(exc).__name__}: {exc}")
from diffbench.solver.backend import cupy_available
print("# cupy_available", cupy_available())
EOF
cat "$OUT/nvidia-smi.csv" | tee -a "$LOG"

stage() {  # stage NAME SECONDS pytest-args...
  local name=$1 secs=$2
  shift 2
  echo "=== stage $name (limit ${secs}s) $(date +%T)" | tee -a "$LOG"
  timeout "$secs" python3 -m pytest -m gpu -q -p no:cacheprovider -o addopts="" --benchmark-json "$OUT/gpu-$name.json" "$@" 2>&1 | tee -a "$LOG"
  echo "=== stage $name exit ${PIPESTATUS[0]} $(date +%T)" | tee -a "$LOG"
}

stage solve 60 benchmarks/test_gpu.py::test_gpu_name benchmarks/test_gpu.py::test_gpu_solve_and_generate_vs_bandwidth
stage cupy 100 tests/solver/test_cupy.py tests/data/test_data_cupy.py tests/trust/test_polish.py
stage infer 100 benchmarks/test_gpu.py::test_gpu_inference_vs_cupy_solver benchmarks/test_gpu.py::test_gpu_variable_d_solver benchmarks/test_gpu.py::test_gpu_stream_datamodule_vs_training_step benchmarks/test_gpu.py::test_gpu_stream_stages
stage train 80 benchmarks/test_gpu.py::test_gpu_training_step_full_preset
stage pin 30 benchmarks/test_gpu.py::test_gpu_cached_loader_pin_memory
# AMP, channels-last and torch.compile, one model a stage (inductor builds each model: the slowest
# stages, so the last, and a model that runs out of time loses only its own figures).
for model in cnn-small unet-small cnn unet; do
  stage "tune-$model" 45 "benchmarks/test_gpu.py::test_gpu_training_step_variants[$model]"
done

python3 - "$OUT" 2>&1 <<'EOF' | tee -a "$LOG"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
merged, machine = [], None
for name in ("solve", "cupy", "infer", "train", "pin", "tune-cnn-small", "tune-unet-small", "tune-cnn", "tune-unet"):
    p = out / f"gpu-{name}.json"
    if not p.is_file():
        print(f"(no {p.name})")
        continue
    try:
        d = json.loads(p.read_text())
    except ValueError:  # pytest-benchmark leaves an empty file when a stage has no benchmark
        print(f"({p.name}: no benchmarks)")
        continue
    machine = machine or d.get("machine_info")
    merged += d.get("benchmarks", [])
(out / "gpu.json").write_text(json.dumps({"machine_info": machine, "benchmarks": merged}, indent=1))
print(f"gpu.json: {len(merged)} benchmarks")
for b in merged:
    e = b.get("extra_info") or {}
    rows = e.pop("rows", None)
    e.pop("passes_by_stage", None)
    print(b["name"], json.dumps({k: v for k, v in e.items() if k not in ("threads", "load_avg_1min")}))
    for r in rows or []:
        print("   ", json.dumps(r))
EOF
