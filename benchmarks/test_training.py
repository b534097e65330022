"""Training: the protocol's Lightning step costs at most 1.10x a bare PyTorch loop.

Same model (built from the same spec), same batches (the same DataLoader), same loss (MAE),
same optimiser and schedule (the task's recipe: AdamW + one-cycle for the CPU tasks), same
threads. The two alternate step by step (a bare step runs inside Lightning's
``on_train_batch_end``), so both see the same machine load. Lightning's step is the gap between
consecutive ``on_train_batch_start`` calls minus the bare step inside it (so it includes
fetching the batch, forward, backward, the optimiser, logging and every hook); Lightning's
start-up (Trainer, fit-loop set-up) and the warm-up steps are excluded.

Also recorded (not asserted): a bare ``cnn-small`` / ``unet-small`` step in channels-last memory
format against the default contiguous NCHW, alternating step by step.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from benchlib import median, record, run_benchmark

SMALL = ("cnn-small", "unet-small", "resnet-small", "fno-small")


def _task(mode) -> str:
    return mode.pick("smoke", "smoke", "standard-64")


@pytest.fixture(scope="module")
def datamodule(mode, data_root, torch_threads):
    from diffbench.data.datamodule import DiffusionDataModule

    dm = DiffusionDataModule(_task(mode), data_dir=data_root, progress=False)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def _module(name: str, dm):
    import torch

    from diffbench.models import create, model_spec
    from diffbench.training.module import SurrogateModule
    from diffbench.training.recipes import resolve_recipe

    torch.manual_seed(0)
    spec = model_spec(create(name, in_channels=dm.task.in_channels, lattice=dm.task.lattice))
    recipe = resolve_recipe(dm.task.training.get("recipe", "paper"))
    task = {
        "name": dm.task.name,
        "spec_hash": dm.task.spec_hash,
        "lattice": dm.task.lattice,
        "input_channels": dm.task.input_channels,
    }
    return SurrogateModule(spec, task=task, recipe=recipe), recipe


class _Bare:
    """The same work as SurrogateModule.training_step + Lightning's optimiser loop, by hand."""

    def __init__(self, name: str, dm, total_steps: int) -> None:
        from diffbench.training.losses import make_loss
        from diffbench.training.recipes import build_optimizer

        module, recipe = _module(name, dm)
        self.net = module.model
        self.net.train()
        self.loss_fn = make_loss("mae")
        built = build_optimizer(self.net.parameters(), recipe, total_steps)
        if isinstance(built, dict):
            self.opt, self.sched = built["optimizer"], built["lr_scheduler"]["scheduler"]
        else:
            self.opt, self.sched = built, None
        self.loader = dm.train_dataloader()
        self.it = iter(self.loader)

    def step(self) -> float:
        try:
            batch = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            batch = next(self.it)
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.net(batch["input"]).float(), batch["target"])
        loss.backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()
        return float(loss.detach())


def _interleaved(name: str, dm, bare: _Bare, warmup: int, steps: int) -> tuple[list[float], list[float]]:
    """Lightning steps and bare steps, alternating (L, bare, L, bare, ...) so both see the same load.

    A bare step runs inside ``on_train_batch_end``; Lightning's step is the gap between two
    ``on_train_batch_start`` calls minus the bare step run inside that gap.
    """
    import lightning as L

    class Interleave(L.Callback):
        def __init__(self) -> None:
            self.starts: list[float] = []
            self.bare: list[float] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.starts.append(time.perf_counter())

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            t = time.perf_counter()
            bare.step()
            self.bare.append(time.perf_counter() - t)

    module, _ = _module(name, dm)
    cb = Interleave()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=warmup + steps + 1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        callbacks=[cb],
    )
    trainer.fit(module, train_dataloaders=dm.train_dataloader())
    gaps = np.diff(cb.starts) - np.asarray(cb.bare[: len(cb.starts) - 1])
    light = [float(g) for g in gaps[warmup : warmup + steps]]
    return light, [float(b) for b in cb.bare[warmup : warmup + steps]]


@pytest.mark.parametrize("name", SMALL)
def test_lightning_step_overhead(benchmark, mode, name, datamodule):
    """Lightning step <= 1.10 x bare step (median of interleaved pairs), same model, batches, optimiser, threads."""
    warmup, steps = mode.pick((1, 2), (2, 12), (3, 20))
    total = warmup + steps + 1
    bare = _Bare(name, datamodule, total_steps=4 * total)
    # pytest-benchmark's own record of the bare loop (stand-alone), then the interleaved comparison
    _, t_alone = run_benchmark(benchmark, bare.step, rounds=max(1, steps // 2), warmup=1)
    light, bare_steps = _interleaved(name, datamodule, bare, warmup, steps)
    t_bare, t_light = median(bare_steps), median(light)
    ratio = t_light / t_bare
    pair = median([a / b for a, b in zip(light, bare_steps)])
    record(
        benchmark,
        model=name,
        task=datamodule.task.name,
        batch_size=datamodule.batch_size,
        steps=steps,
        bare_step_s=t_bare,
        bare_step_s_alone=t_alone,
        lightning_step_s=t_light,
        ratio_lightning_over_bare=ratio,
        median_pairwise_ratio=pair,
        lightning_steps_s=light,
        bare_steps_s=bare_steps,
    )
    # Asserted on the median of the per-pair ratios: each Lightning step is compared with the
    # bare step run right after it, which cancels the load swings of a shared machine (the ratio
    # of the two medians is recorded too).
    if not mode.check:
        assert pair <= 1.10, (
            f"{name}: Lightning step {pair:.2f}x the bare step ({t_light * 1e3:.1f} vs {t_bare * 1e3:.1f} ms medians)"
        )


@pytest.mark.parametrize("name", ("cnn-small", "unet-small"))
def test_channels_last_step(benchmark, mode, name, datamodule):
    """A bare training step in channels-last memory format vs the default (contiguous NCHW),
    same model weights, batch, optimiser and threads, alternating step by step. Recorded, not
    asserted (a figure for choosing the format); asserted: both formats compute the same loss."""
    import torch

    from diffbench.models import create

    batch = next(iter(datamodule.train_dataloader()))
    x, y = batch["input"], batch["target"]
    warmup, steps = mode.pick((1, 1), (2, 8), (2, 12))
    runs = {}
    for fmt in ("contiguous", "channels_last"):
        torch.manual_seed(0)
        net = create(name, in_channels=datamodule.task.in_channels, lattice=datamodule.task.lattice)
        xf, yf = x, y
        if fmt == "channels_last":
            net = net.to(memory_format=torch.channels_last)
            xf, yf = x.contiguous(memory_format=torch.channels_last), y.contiguous(memory_format=torch.channels_last)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)

        def step(net=net, opt=opt, xf=xf, yf=yf) -> float:
            opt.zero_grad(set_to_none=True)
            loss = (net(xf) - yf).abs().mean()
            loss.backward()
            opt.step()
            return float(loss.detach())

        runs[fmt] = step
    first = {fmt: step() for fmt, step in runs.items()}  # the same weights: the same loss
    assert first["channels_last"] == pytest.approx(first["contiguous"], rel=1e-5)
    for _ in range(warmup):
        for step in runs.values():
            step()
    times: dict[str, list[float]] = {fmt: [] for fmt in runs}
    for _ in range(steps):
        for fmt, step in runs.items():
            t = time.perf_counter()
            step()
            times[fmt].append(time.perf_counter() - t)
    _, t_cl = run_benchmark(benchmark, runs["channels_last"], rounds=max(1, steps // 2), warmup=0)
    pair = median([a / b for a, b in zip(times["channels_last"], times["contiguous"])])
    record(
        benchmark,
        model=name,
        task=datamodule.task.name,
        batch_size=int(x.shape[0]),
        steps=steps,
        contiguous_step_s=median(times["contiguous"]),
        channels_last_step_s=median(times["channels_last"]),
        channels_last_step_s_alone=t_cl,
        median_pairwise_ratio_channels_last_over_contiguous=pair,
        first_loss=first,
        contiguous_steps_s=times["contiguous"],
        channels_last_steps_s=times["channels_last"],
    )
