"""Honest cost: a model's inference time and the exact solver's time, same hardware, same batch,
same process; the hardware-independent cost (FLOPs, parameters); and the solver's time at the
network's own accuracy. The rules (minimum of repeats after warm-up, spread, load average,
the accuracy ladder) are in :mod:`diffbench.results.cost`.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..physics.boundary import Boundary
from ..results.cost import REFERENCE_TOL, REPEATS, TOLERANCES, WARMUP, summarise
from ..solver import solve
from ..solver.backend import backend_name, get_backend, synchronize

_KINDS = ("dirichlet", "neumann", "periodic")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> list[float] | None:
    """The machine's 1/5/15-minute load average (None where the OS has none)."""
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def repeat(fn: Callable[[], Any], *, warmup: int, repeats: int, sync: Callable[[], None] = lambda: None) -> list[float]:
    """Seconds of ``repeats`` timed calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return times


@torch.no_grad()
def time_inference(
    model: torch.nn.Module, inputs: torch.Tensor, device: torch.device, repeats: int = REPEATS, warmup: int = WARMUP
) -> dict[str, Any]:
    """Seconds per sample of ``model(inputs)``: the minimum of ``repeats`` timed calls after
    ``warmup`` (see :func:`diffbench.results.cost.summarise`), with the model's forward FLOPs
    per sample and its parameters."""
    from ..models.cost import count_flops
    from ..models.registry import count_parameters

    was_training = model.training
    model.eval()
    x = inputs.to(device)
    try:
        times = repeat(lambda: model(x), warmup=max(1, warmup), repeats=repeats, sync=lambda: _sync(device))
    finally:
        model.train(was_training)
    out = summarise(times, int(x.shape[0]), load_average(), warmup=max(1, warmup))
    out["device"] = str(device)
    # counted on a float32 CPU copy: the count does not depend on the device or the precision
    probe = copy.deepcopy(model).cpu().float()  # .float(), not .to(dtype): complex (FNO) weights stay complex
    out["flops_per_sample"] = count_flops(probe, int(x.shape[1]), int(x.shape[-1]))
    out["parameters"] = count_parameters(model)  # a complex weight is two real parameters, as model.parameters counts
    return out


def _problems(
    task: Any, batch: dict[str, torch.Tensor], xp: Any
) -> tuple[bool, Any, Any, Any, dict[tuple[int, ...], list[int]]]:
    clamped = task.source_mode == "clamped"
    src = batch["fixed_values"] if clamped else batch["rhs"]
    s = xp.asarray(src.double().cpu().numpy())
    D = xp.asarray(batch["diffusivity"].double().cpu().numpy())
    g = xp.asarray(batch["decay"].double().cpu().numpy())[:, None, None] * xp.ones_like(s)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(batch["boundary"].tolist()):
        groups.setdefault(tuple(c), []).append(i)
    return clamped, s, D, g, groups


def _solver(task: Any, batch: dict[str, torch.Tensor], xp: Any, **options: Any) -> Callable[[], tuple[Any, str | None]]:
    """A function solving the batch's problems (one call per boundary group) with ``options``;
    returns the fields and the method used."""
    clamped, s, D, g, groups = _problems(task, batch, xp)

    def once() -> tuple[Any, str | None]:
        out = xp.empty_like(s)
        method = None
        for c, members in groups.items():
            sel = xp.asarray(np.asarray(members))
            b = Boundary(*[_KINDS[k] for k in c])
            if clamped:
                r = solve(
                    xp.zeros_like(s[sel]),
                    diffusivity=D[sel],
                    decay=g[sel],
                    boundary=b,
                    fixed=(s[sel] > 0, s[sel]),
                    **options,
                )
            else:
                r = solve(s[sel], diffusivity=D[sel], decay=g[sel], boundary=b, **options)
            out[sel] = r.field
            method = r.method if method in (None, r.method) else "mixed"
        synchronize(xp)
        return out, method

    return once


def time_solver(task: Any, batch: dict[str, torch.Tensor], repeats: int = REPEATS, warmup: int = 1) -> dict[str, Any]:
    """Seconds per sample of the fastest exact solver on the batch's problems (``solve`` at its
    default tolerance, minimum of repeats).

    Solves the same source maps with the batch's physics, on CuPy when a GPU is usable, else
    NumPy — the ground-truth generator's own path, so the speed-up is against what it beats.
    """
    xp = get_backend("auto")
    once = _solver(task, batch, xp)
    method = once()[1]
    times = repeat(once, warmup=max(0, warmup - 1), repeats=repeats)
    out = summarise(times, int(batch["input"].shape[0]), load_average(), warmup=max(1, warmup))
    out.update(backend=backend_name(xp), method=method)
    return out


def field_nmae(field: Any, reference: Any) -> float:
    """``sum |u - u*| / sum |u*|`` over the batch with every sample scaled to max 1 by its
    reference (the headline nMAE's reduction on the batch contract's normalised fields)."""
    u, ref = np.asarray(field, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    peak = np.abs(ref).max(axis=(-2, -1), keepdims=True)
    peak = np.where(peak > 0, peak, 1.0)
    return float(np.abs((u - ref) / peak).sum() / np.abs(ref / peak).sum())


def time_matched_solver(
    task: Any,
    batch: dict[str, torch.Tensor],
    target_nmae: float,
    repeats: int = REPEATS,
    warmup: int = 1,
    tolerances: tuple[float, ...] = TOLERANCES,
) -> dict[str, Any]:
    """The exact solver's time at the network's accuracy ``target_nmae`` (see
    :mod:`diffbench.results.cost`): multigrid-CG at the loosest tolerance of the ladder whose
    nMAE against the converged field is <= ``target_nmae``, and the transform solver where every
    problem of the batch has one (exact in one step: its time is the cost at any accuracy);
    ``s_per_sample`` and ``method`` are the cheaper. All timed in this process, same batch."""
    xp = get_backend("auto")
    to_np = (lambda a: a.get()) if backend_name(xp) == "cupy" else (lambda a: a)
    reference, _ = _solver(task, batch, xp, tol=REFERENCE_TOL, on_miss="flag")()  # transform where it applies
    ref = to_np(reference)
    ladder = []
    chosen = None
    for tol in tolerances:
        field, _ = _solver(task, batch, xp, tol=tol, method="mgcg", on_miss="flag")()
        err = field_nmae(to_np(field), ref)
        ladder.append({"tol": tol, "nmae": err})
        if err <= target_nmae:
            chosen = tol
            break
    per = int(batch["input"].shape[0])
    out: dict[str, Any] = {
        "target_nmae": target_nmae,
        "reference_tol": REFERENCE_TOL,
        "ladder": ladder,
        "backend": backend_name(xp),
    }
    if chosen is not None:
        once = _solver(task, batch, xp, tol=chosen, method="mgcg", on_miss="flag")
        mg = summarise(repeat(once, warmup=max(0, warmup), repeats=repeats), per, load_average(), warmup=max(0, warmup))
        out["multigrid"] = {**mg, "tol": chosen, "nmae": ladder[-1]["nmae"], "loosest": chosen == tolerances[0]}
    else:
        out["multigrid"] = None
        out["multigrid_note"] = f"no tolerance down to {tolerances[-1]:g} reaches nMAE {target_nmae:g}"
    auto = _solver(task, batch, xp)
    field, method = auto()
    if method not in (None, "mgcg", "mixed"):
        tr = summarise(
            repeat(auto, warmup=max(0, warmup - 1), repeats=repeats), per, load_average(), warmup=max(1, warmup)
        )
        out["transform"] = {
            **tr,
            "method": method,
            "nmae": field_nmae(to_np(field), ref),
            "note": "exact in one step: its time is the cost at any accuracy",
        }
    else:
        out["transform"] = None
    candidates = [
        (v["s_per_sample"], k, v) for k, v in (("multigrid", out["multigrid"]), ("transform", out["transform"])) if v
    ]
    if candidates:
        _, kind, best = min(candidates, key=lambda c: c[0])
        out.update(
            s_per_sample=best["s_per_sample"],
            spread=best["spread"],
            method=best.get("method", "mgcg"),
            tol=best.get("tol"),
            nmae=best["nmae"],
            kind=kind,
        )
    return out
