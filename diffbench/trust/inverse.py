"""The inverse network of the ``inverse`` indicator (specified in :mod:`diffbench.trust.indicators`):
trained once per run on the training split to map the normalised field back to the source map
(:func:`train_inverse`), kept in the run's folder as :data:`INVERSE_FILE` and reused on
``--resume`` (:func:`load_or_train_inverse`); :func:`inverse_input` is what it reads."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_bytes
from ..errors import DiffbenchError
from ..models import build_from_spec, create, model_spec
from ..results.names import INVERSE_PRESET
from ..training.checkpoint_io import check_model_spec, load_checkpoint
from .tensors import inverse_input, iterate_split, per_sample_mae, seeded, to_device

#: The run's inverse network, in its output folder (reused on ``--resume``).
INVERSE_FILE = "uq-inverse.pt"


def train_inverse(
    train_set: Any,
    task: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    lr: float = 1e-3,
    log: Callable[[str], None] | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train the inverse network (see the module docstring); returns it and a record of how."""
    with seeded(seed, device):
        return _train_inverse(
            train_set, task, epochs=epochs, batch_size=batch_size, seed=seed, device=device, lr=lr, log=log
        )


def _train_inverse(
    train_set: Any,
    task: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    lr: float,
    log: Callable[[str], None] | None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    gen = torch.Generator().manual_seed(seed)
    net = create(INVERSE_PRESET, in_channels=task.in_channels, out_channels=1, lattice=task.lattice).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    n = len(train_set)
    steps = max(2, epochs * math.ceil(n / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    started = time.perf_counter()
    net.train()
    losses = []
    step = 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).tolist()
        total, count = 0.0, 0
        for start in range(0, n, batch_size):
            b = to_device(train_set.__getitems__(order[start : start + batch_size]), device)
            out = net(inverse_input(b["target"], b["input"]))
            loss = (out[:, 0] - b["input"][:, 0]).abs().mean()
            if not torch.isfinite(loss):
                raise DiffbenchError("the inverse network's training loss became non-finite")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step < steps:
                sched.step()
            step += 1
            total += float(loss.detach()) * b["input"].shape[0]
            count += b["input"].shape[0]
        losses.append(total / max(count, 1))
    net.eval()
    info = {
        "preset": INVERSE_PRESET,
        "spec": model_spec(net),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": "adamw+onecycle",
        "loss": "mae",
        "seed": seed,
        "train_loss": losses,
        "train_time_s": time.perf_counter() - started,
        "n_train": n,
    }
    if log:
        log(f"inverse network trained: {epochs} epochs, final train MAE {losses[-1] if losses else float('nan'):.4g}")
    return net, info


def load_or_train_inverse(
    path: Path,
    train_set: Any,
    val_set: Any,
    task: Any,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The run's inverse network: loaded from ``path`` when a previous attempt saved it, else
    trained, scored on the validation split (``val_mae``: inverse(true field) vs true source
    map) and saved atomically."""
    if path.exists():
        saved = load_checkpoint(path, what="inverse network")  # never unpickles code
        if not isinstance(saved.get("info"), dict) or not isinstance(saved.get("state_dict"), dict):
            raise DiffbenchError(
                f"{path} is not an inverse network written by diffbench (no info and state_dict); delete it to retrain"
            )
        check_model_spec(saved["info"].get("spec"), str(path))
        net = build_from_spec(saved["info"]["spec"])
        net.load_state_dict(saved["state_dict"])
        return net.to(device).eval(), saved["info"]
    net, info = train_inverse(train_set, task, epochs=epochs, batch_size=batch_size, seed=seed, device=device)
    with torch.no_grad():
        errs = []
        for b in iterate_split(val_set, batch_size):
            b = to_device(b, device)
            errs.append(per_sample_mae(net(inverse_input(b["target"], b["input"]))[:, 0], b["input"][:, 0]).cpu())
    info["val_mae"] = float(torch.cat(errs).mean()) if errs else None
    buf = io.BytesIO()
    torch.save({"info": info, "state_dict": {k: v.cpu() for k, v in net.state_dict().items()}}, buf)
    atomic_write_bytes(path, buf.getvalue())
    return net, info
