"""Memory: peak resident memory of generation and of a training step, each in a fresh process.

Each figure is the peak RSS of a child interpreter (VmHWM, its mark reset just before the
workload) minus its RSS at that point (after imports and a warm-up call), so imports and
libraries do not count. Not ``ru_maxrss`` / ``RUSAGE_CHILDREN``: Linux carries the parent's RSS
at fork into the child's ``ru_maxrss`` across execve, so a probe started from a pytest process
holding torch (~300 MB) reported that size whatever it did.

- Generation (``generate_raw`` of one generator chunk: 64 samples at N = 128, 16 at N = 512).
  Asserted: the peak is at most 4 float64 copies of the chunk's fields (4 x B N^2 x 8 bytes)
  + 16 MiB. The constant-D solve holds two (B, N, N) float64 arrays at its peak (the source
  and the transformed field; D and decay stay one number per sample, the residual
  certificate works in ~1 MiB blocks of samples), then the float32 copies it returns replace
  them one by one: 2.4-2.5 copies measured (12.8 before D, decay and the stencil stopped
  being expanded). Another full-size temporary, or anything dense in N^2 x N^2, breaks the
  bound. Also recorded: the peak over the float32 arrays it returns (1.6-1.7x; 8.5x before).
- Training (one forward + backward + AdamW step of each ``-small`` preset, N = 128 batch 16,
  and N = 512 batch 2 in the full run). The estimate is what a step must hold: the tensors
  autograd saves for backward (counted by ``saved_tensors_hooks``, once per storage), gradients
  and AdamW's two states (12 bytes per parameter) and the batch. Asserted: peak <= 2 x estimate
  + 64 MiB (backward's gradient buffers and the allocator's slack stay within one more
  activation-sized pool; a retained graph or a leaked copy of the activations would not).
"""

from __future__ import annotations

import benchlib
from benchlib import record

MIB = 1 << 20
SMALL = ("cnn-small", "unet-small", "resnet-small", "fno-small")


def pytest_generate_tests(metafunc):
    m = benchlib.mode_from_config(metafunc.config)
    if "gen_n" in metafunc.fixturenames:
        metafunc.parametrize("gen_n", m.pick([32], [128, 512], [128, 512]))
    if "train_case" in metafunc.fixturenames:
        cases = m.pick(
            [("cnn-small", 32, 4)],
            [(name, 128, 16) for name in SMALL],
            [(name, 128, 16) for name in SMALL] + [(name, 512, 2) for name in SMALL],
        )
        metafunc.parametrize("train_case", cases, ids=[f"{c[0]}-{c[1]}-b{c[2]}" for c in cases])


def test_generation_peak_memory(benchmark, mode, gen_n):
    out, _ = benchlib.run_benchmark(benchmark, lambda: benchlib.run_probe("generate", n=gen_n), rounds=1, warmup=0)
    inc, f64 = out["increment_bytes"], out["field_float64_bytes"]
    record(benchmark, **out, peak_over_returned=inc / out["returned_bytes"], peak_in_float64_fields=inc / f64)
    assert inc <= 4 * f64 + 16 * MIB, f"N={gen_n}: generation peak {inc / MIB:.0f} MiB = {inc / f64:.1f} float64 fields"


def test_training_peak_memory(benchmark, mode, train_case):
    name, n, batch = train_case
    out, _ = benchlib.run_benchmark(
        benchmark, lambda: benchlib.run_probe("train", model=name, n=n, batch=batch), rounds=1, warmup=0
    )
    inc, est = out["increment_bytes"], out["estimate_bytes"]
    record(
        benchmark,
        **out,
        peak_over_estimate=inc / est,
        peak_over_saved_activations=inc / max(1, out["saved_activation_bytes"]),
    )
    assert inc <= 2 * est + 64 * MIB, (
        f"{name} N={n} b={batch}: peak {inc / MIB:.0f} MiB vs estimate {est / MIB:.0f} MiB"
    )
