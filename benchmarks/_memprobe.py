"""Peak-memory probe, run in a fresh interpreter by ``benchlib.run_probe`` (not a test).

    python benchmarks/_memprobe.py generate '{"n": 128}'
    python benchmarks/_memprobe.py train '{"model": "cnn-small", "n": 128, "batch": 16}'

Prints one JSON line: the resident set after imports and a warm-up call (``base_kib``, VmRSS),
the peak resident set at the end (``peak_kib``, VmHWM, its mark reset just before the
workload through /proc/self/clear_refs), their
difference (``increment_bytes``: what the workload added at its peak) and the sizes the
assertions compare it with.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _maxrss_kib() -> int:
    """Peak RSS of this process's memory map (VmHWM). Not ``ru_maxrss``: Linux carries the
    parent's RSS at fork into the child's ``ru_maxrss`` across execve, so a probe started from
    a pytest process that holds torch would report that process's size."""
    hwm = _status_kib("VmHWM")
    return hwm if hwm is not None else int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _rss_kib() -> int:
    rss = _status_kib("VmRSS")
    return rss if rss is not None else _maxrss_kib()


def generate(p: dict) -> dict:
    import benchlib
    import numpy as np

    from diffbench.data.sampling import chunk_size, generate_raw

    n = int(p["n"])
    task = benchlib.task_spec(n, diffusivity=p.get("diffusivity", 1.0), mode=p.get("mode", "flux"), per_count=64)
    count = int(p.get("count") or chunk_size(n))
    generate_raw(task, "train", [0])  # imports, FFT plans, chirp tables: outside the measurement
    reset = _reset_peak()
    base = _rss_kib()
    t = time.perf_counter()
    raw = generate_raw(task, "train", list(range(count)))
    elapsed = time.perf_counter() - t
    peak = _maxrss_kib()
    out_bytes = int(sum(v.nbytes for v in raw.values() if isinstance(v, np.ndarray)))
    return {
        "kind": "generate",
        "n": n,
        "count": count,
        "base_kib": base,
        "peak_kib": peak,
        "increment_bytes": (peak - base) * 1024,
        "returned_bytes": out_bytes,
        "peak_reset": reset,
        "field_float64_bytes": count * n * n * 8,
        "seconds": elapsed,
    }


def train(p: dict) -> dict:
    import torch

    from diffbench.models import count_parameters, create
    from diffbench.training.losses import make_loss

    torch.set_num_threads(int(os.environ.get("DIFFBENCH_BENCH_THREADS", "1")))
    n, batch, name = int(p["n"]), int(p["batch"]), p["model"]
    torch.manual_seed(0)
    net = create(name, in_channels=1, lattice=n)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = make_loss("mae")
    x = torch.rand(batch, 1, n, n)
    y = torch.rand(batch, 1, n, n)
    params = count_parameters(net)
    # Bytes autograd keeps for backward, counted once per storage (the activation estimate).
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor):
        try:
            key = t.untyped_storage().data_ptr()
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        except Exception:
            pass
        return t

    with torch.no_grad():
        net(x[:1])  # lazy buffers (FNO grids), kernels: outside the measurement
    reset = _reset_peak()
    base = _rss_kib()
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = loss_fn(net(x), y)
    loss.backward()
    opt.step()  # the first step allocates AdamW's two state tensors per parameter
    elapsed = time.perf_counter() - t
    peak = _maxrss_kib()
    saved = int(sum(seen.values()))
    return {
        "kind": "train",
        "model": name,
        "n": n,
        "batch": batch,
        "params": params,
        "base_kib": base,
        "peak_kib": peak,
        "increment_bytes": (peak - base) * 1024,
        "peak_reset": reset,
        "saved_activation_bytes": saved,
        "param_bytes": 4 * params,
        "estimate_bytes": saved + 12 * params + 2 * x.numel() * 4,
        "step_seconds": elapsed,
    }


if __name__ == "__main__":
    kind, params = sys.argv[1], json.loads(sys.argv[2])
    result = {"generate": generate, "train": train}[kind](params)
    print(json.dumps(result))
