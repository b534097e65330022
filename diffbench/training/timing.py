"""Honest cost: a model's inference time and the exact solver's time, same hardware, same batch."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..physics.boundary import Boundary
from ..solver import solve
from ..solver.backend import backend_name, get_backend, synchronize


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def time_inference(model: torch.nn.Module, inputs: torch.Tensor, device: torch.device, repeats: int = 5) -> dict[str, Any]:
    """Median seconds per sample of ``model(inputs)`` over ``repeats`` timed calls (after warm-up)."""
    was_training = model.training
    model.eval()
    x = inputs.to(device)
    model(x)
    _sync(device)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        _sync(device)
        times.append(time.perf_counter() - t)
    model.train(was_training)
    med = float(np.median(times))
    return {"s_per_sample": med / x.shape[0], "batch_size": int(x.shape[0]), "device": str(device), "repeats": repeats}


def time_solver(task: Any, batch: dict[str, torch.Tensor], repeats: int = 3) -> dict[str, Any]:
    """Median seconds per sample of the fastest exact solver on the batch's problems.

    Solves the same source maps with the batch's physics, on CuPy when a GPU is usable, else
    NumPy — the ground-truth generator's own path, so the speed-up is against what it beats.
    """
    xp = get_backend("auto")
    clamped = task.source_mode == "clamped"
    src = batch["fixed_values"] if clamped else batch["rhs"]
    s = xp.asarray(src.double().cpu().numpy())
    D = xp.asarray(batch["diffusivity"].double().cpu().numpy())
    g = xp.asarray(batch["decay"].double().cpu().numpy())[:, None, None] * xp.ones_like(s)
    kinds = ("dirichlet", "neumann", "periodic")
    codes = batch["boundary"].tolist()
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(codes):
        groups.setdefault(tuple(c), []).append(i)
    method = None

    def once() -> None:
        nonlocal method
        for c, members in groups.items():
            sel = xp.asarray(np.asarray(members))
            b = Boundary(*[kinds[k] for k in c])
            if clamped:
                r = solve(xp.zeros_like(s[sel]), diffusivity=D[sel], decay=g[sel], boundary=b, fixed=(s[sel] > 0, s[sel]))
            else:
                r = solve(s[sel], diffusivity=D[sel], decay=g[sel], boundary=b)
            method = r.method
        synchronize(xp)

    once()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        times.append(time.perf_counter() - t)
    med = float(np.median(times))
    return {"s_per_sample": med / s.shape[0], "batch_size": int(s.shape[0]), "backend": backend_name(xp), "method": method, "repeats": repeats}
