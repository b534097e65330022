"""Data: the DataModule must feed training faster than the cheapest baseline eats, and
generation must scale linearly with the number of samples.

- cached and streamed batches of ``standard-64`` (``smoke`` in the correctness run) against a
  training step of the cheapest ``-small`` preset (bare PyTorch: forward, MAE, backward, AdamW
  step) at the same batch size: at least 10x faster;
- ``generate_raw`` over 64, 256 and 1024 samples at N = 64, in the generator's chunks:
  exponent of time vs samples in [0.8, 1.2];
- the cached loader with 0, 1 and 2 (persistent) worker processes: time per batch and the
  first batch's start-up, recorded, not asserted (asserted: the same batches);
- the three source rasterisers on NumPy (one ``bincount``, the default here; the layered
  scatter-add CuPy runs; the stamp loop they both reproduce) on a batch of 25 of ``standard-64``,
  ``shapes-64`` and ``paper-512``: recorded, not asserted (asserted: the same bytes).
"""

from __future__ import annotations

import time

import benchlib
import numpy as np
import pytest
from benchlib import fit_exponent, median, record, run_benchmark, timed

SMALL = ("cnn-small", "unet-small", "resnet-small", "fno-small")


def _task(mode) -> str:
    return mode.pick("smoke", "standard-64", "standard-64")


@pytest.fixture(scope="module")
def cached_task(mode, data_root):
    """The task's cache, generated once (its throughput is recorded by the first test)."""
    from diffbench.data.generation import ensure_cache

    name = _task(mode)
    t = time.perf_counter()
    cache = ensure_cache(name, data_root, progress=False, log=lambda m: None)
    elapsed = time.perf_counter() - t
    total = sum(cache.task.splits[s].size for s in cache.task.splits)
    return {"name": name, "generate_s": elapsed, "samples": total}


@pytest.fixture(scope="module")
def cheapest_step(mode, cached_task, data_root, torch_threads):
    """Median time of a bare training step of every ``-small`` preset on real batches; the cheapest."""
    import torch

    from diffbench.data.datamodule import DiffusionDataModule
    from diffbench.models import create

    dm = DiffusionDataModule(cached_task["name"], data_dir=data_root, progress=False)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    x, y = batch["input"], batch["target"]
    steps = {}
    for name in SMALL if not mode.check else ("cnn-small",):
        torch.manual_seed(0)
        net = create(name, in_channels=dm.task.in_channels, lattice=dm.task.lattice)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = (net(x) - y).abs().mean()
            loss.backward()
            opt.step()

        steps[name] = median(timed(step, rounds=mode.pick(1, 3, 5), warmup=1))
    cheapest = min(steps, key=steps.get)
    return {"batch_size": int(x.shape[0]), "steps": steps, "cheapest": cheapest, "step_s": steps[cheapest]}


def _batches_forever(loader):
    while True:
        yield from loader


@pytest.mark.parametrize("serve", ["cache", "stream"])
def test_datamodule_outpaces_training(benchmark, mode, serve, cached_task, cheapest_step, data_root, torch_threads):
    """Batches arrive >= 10x faster than the cheapest -small preset trains on them."""
    from diffbench.data.datamodule import DiffusionDataModule

    dm = DiffusionDataModule(cached_task["name"], data_dir=data_root, serve=serve, backend="numpy", progress=False)
    dm.setup("fit")
    loader = dm.train_dataloader()
    it = _batches_forever(loader)
    batch, t_batch = run_benchmark(benchmark, lambda: next(it), rounds=mode.pick(1, 10, 30), warmup=2)
    assert batch["input"].shape[0] == cheapest_step["batch_size"] == dm.batch_size
    assert bool(batch["target"].isfinite().all())
    ratio = cheapest_step["step_s"] / t_batch
    record(
        benchmark,
        task=cached_task["name"],
        serve=serve,
        batch_size=dm.batch_size,
        batch_s=t_batch,
        samples_per_s=dm.batch_size / t_batch,
        cheapest_model=cheapest_step["cheapest"],
        train_step_s=cheapest_step["step_s"],
        train_steps_s=cheapest_step["steps"],
        ratio_step_over_batch=ratio,
        cache_generation_s=cached_task["generate_s"],
        cache_samples=cached_task["samples"],
        cache_generation_samples_per_s=cached_task["samples"] / cached_task["generate_s"],
    )
    if mode.check:
        return
    message = f"{serve}: a batch takes {t_batch * 1e3:.1f} ms, the cheapest step {cheapest_step['step_s'] * 1e3:.1f} ms ({ratio:.1f}x)"
    assert ratio >= 10, message


def test_generation_scales_linearly(benchmark, mode):
    """generate_raw time vs samples at N = 64 (the generator's 64-sample chunks): exponent in [0.8, 1.2]."""
    from diffbench.data.sampling import chunk_size, generate_raw

    task = benchlib.task_spec(mode.pick(32, 64, 64), per_count=64)
    counts = mode.pick([16, 64], [64, 256, 1024], [64, 256, 1024])
    c = chunk_size(task.lattice)

    def generate(total: int) -> int:
        done = 0
        for a in range(0, total, c):
            raw = generate_raw(task, "train", list(range(a, min(a + c, total))))
            done += raw["field"].shape[0]
        return done

    times = {}
    for total in counts[:-1]:
        times[total] = median(timed(lambda: generate(total), rounds=mode.pick(1, 3, 5)))
    done, t_last = run_benchmark(benchmark, lambda: generate(counts[-1]), rounds=mode.pick(1, 2, 3))
    assert done == counts[-1]
    times[counts[-1]] = t_last
    p = fit_exponent(counts, [times[k] for k in counts])
    record(
        benchmark,
        N=task.lattice,
        chunk=c,
        samples=counts,
        seconds={str(k): v for k, v in times.items()},
        samples_per_s={str(k): k / v for k, v in times.items()},
        exponent_vs_samples=p,
    )
    if not mode.check:
        assert 0.8 <= p <= 1.2, f"generation time grows like samples^{p:.2f}"


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_cached_loader_workers(benchmark, mode, workers, cached_task, data_root, torch_threads):
    """Cached training batches with ``num_workers`` worker processes (persistent, as the
    DataModule makes them): the first batch of the first epoch (start-up) and then the time per
    batch, taken back to back. Recorded, not asserted; asserted: the batches are those of the
    main process (same sampler seed)."""
    import torch

    from diffbench.data.datamodule import DiffusionDataModule

    def loader_for(n: int):
        dm = DiffusionDataModule(cached_task["name"], data_dir=data_root, num_workers=n, progress=False)
        dm.setup("fit")
        return dm.train_dataloader()

    loader = loader_for(workers)
    assert loader.persistent_workers == (workers > 0)
    torch.manual_seed(0)
    t = time.perf_counter()
    it = iter(loader)
    first = next(it)
    startup = time.perf_counter() - t
    torch.manual_seed(0)
    reference = next(iter(loader_for(0)))
    assert all(torch.equal(first[k], reference[k]) for k in reference)

    def batches_forever():
        yield from it
        while True:
            yield from loader  # persistent workers: later epochs reuse the processes

    stream = batches_forever()
    _, t_batch = run_benchmark(benchmark, lambda: next(stream), rounds=mode.pick(3, 30, 60), warmup=2)
    record(
        benchmark,
        task=cached_task["name"],
        workers=workers,
        batch_size=loader.batch_size,
        batch_s=t_batch,
        first_batch_s=startup,
        batches_per_epoch=len(loader),
    )


@pytest.mark.parametrize("task_name", ["standard-64", "shapes-64", "paper-512"])
def test_rasteriser_paths(benchmark, mode, task_name):
    """NumPy's one-``bincount`` rasteriser against the layered scatter-add (what CuPy runs, here on
    NumPy) and the stamp loop, on one batch of 25 spread over the source counts. On the CPU all
    three are bound by memory and NumPy call overhead; on a GPU the layered path replaces a few
    kernels per source with a few per layer (``test_gpu.py::test_gpu_stream_stages``)."""
    from diffbench.data.sampling import draw_configurations
    from diffbench.data.tasks import load_task
    from diffbench.physics.sources import _rasterise_layers, _rasterise_numpy, _rasterise_stamps, source_layers

    task = load_task(task_name)
    n = task.lattice
    idx = [int(i) for i in np.linspace(0, task.splits["train"].size - 1, 25)]
    geoms = draw_configurations(task, "train", idx)[0]
    rounds = mode.pick(1, 5, 10)
    out, t_bincount = run_benchmark(benchmark, lambda: _rasterise_numpy(geoms, n), rounds=rounds)
    layered = _rasterise_layers(geoms, n, np)
    stamps = _rasterise_stamps(geoms, n, np, np.float64)
    assert out.tobytes() == layered.tobytes() == stamps.tobytes()
    layers = source_layers(geoms)
    record(
        benchmark,
        task=task.name,
        batch=len(idx),
        sources=len(layers),
        layers=int(layers.max()) + 1,
        bincount_s=t_bincount,
        layered_s=median(timed(lambda: _rasterise_layers(geoms, n, np), rounds=rounds)),
        stamp_loop_s=median(timed(lambda: _rasterise_stamps(geoms, n, np, np.float64), rounds=rounds)),
    )
