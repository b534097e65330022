"""Seeded samples: sample ``i`` of split ``s`` of a task is a pure function of (seed, s, i).

``generate_raw`` draws each sample's configuration on the CPU from
``numpy.random.default_rng([seed, split_code, i])`` (disjoint streams per split), rasterises
and solves the batch on the chosen backend (NumPy or CuPy), refuses any sample whose
residual certificate misses the tolerance, and returns the *raw* arrays in physical units
(what shards store). ``to_batch`` turns raw arrays into the network-facing batch (normalised
inputs and targets, plus what the evaluator needs), the same way for cached and streamed data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import DiffbenchError
from ..physics.sources import rasterise, sample_geometry
from ..solver import solve
from ..solver.backend import to_numpy
from .fields import boundary_codes, boundary_key, boundary_maps
from .tasks import SPLIT_CODES, TaskSpec

#: Residual certificate every stored sample must meet.
SOLVER_TOL = 1e-8
_SIDE_KINDS = ("dirichlet", "neumann", "periodic")


def sample_rng(task: TaskSpec, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([task.seed, SPLIT_CODES[split], int(index)])


def chunk_size(lattice: int) -> int:
    """Samples solved together: bounded so one chunk stays well under 1 GB of float64 work."""
    return int(max(1, min(64, (1 << 22) // (lattice * lattice))))


def generate_raw(task: TaskSpec, split: str, indices: list[int] | np.ndarray, xp: Any = np) -> dict[str, Any]:
    """Generate and solve the samples ``indices`` of ``split``; arrays on backend ``xp``.

    Returns a dict with ``source`` (B, N, N) float32 (flux map, or clamp values for clamped
    tasks), ``field`` (B, N, N) float32, ``diffusivity`` (B, N, N) float32, ``decay`` (B,),
    ``boundary`` (B, 4) int64, ``count`` and ``index`` (B,) int64, ``residual`` (B,) float64,
    ``iterations`` (B,) int64 and ``method`` (list of str).
    """
    split_spec = task.splits[split]
    n = task.lattice
    indices = [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < split_spec.size]
    if bad:
        raise DiffbenchError(f"sample index {bad[0]} is outside split {split!r} of task {task.name!r} (0..{split_spec.size - 1})")
    geoms, Ds, gammas, bnds, counts = [], [], [], [], []
    for i in indices:
        rng = sample_rng(task, split, i)
        count = split_spec.count_of(i)
        geoms.append(sample_geometry(rng, task.sources, n, count))
        D, g, b = task.physics.sample(rng, n)
        Ds.append(D)
        gammas.append(g)
        bnds.append(b)
        counts.append(count)
    source = rasterise(geoms, n, xp)
    B = len(indices)
    D_all = xp.empty((B, n, n), dtype=xp.float64)
    for k, D in enumerate(Ds):
        D_all[k] = xp.asarray(D, dtype=xp.float64)
    g_all = xp.asarray(np.asarray(gammas, dtype=np.float64))[:, None, None] * xp.ones((1, n, n))
    field = xp.empty_like(source)
    residual = np.empty(B)
    iterations = np.empty(B, dtype=np.int64)
    methods = [""] * B
    groups: dict[str, list[int]] = {}
    for k, b in enumerate(bnds):
        groups.setdefault(boundary_key(b), []).append(k)
    for members in groups.values():
        sel = xp.asarray(np.asarray(members))
        s = source[sel]
        kwargs = dict(diffusivity=D_all[sel], decay=g_all[sel], boundary=bnds[members[0]], tol=SOLVER_TOL)
        if task.source_mode == "clamped":
            res = solve(xp.zeros_like(s), fixed=(s > 0, s), **kwargs)
        else:
            res = solve(s, **kwargs)
        field[sel] = res.field
        residual[members] = to_numpy(res.residual)
        iterations[members] = to_numpy(res.iterations)
        for k in members:
            methods[k] = res.method
    worst = int(np.argmax(residual))
    if not np.all(residual <= SOLVER_TOL):
        raise DiffbenchError(
            f"solver missed the residual certificate for sample {indices[worst]} of split {split!r} "
            f"(residual {residual[worst]:.2e} > {SOLVER_TOL:.0e}); nothing was written"
        )
    return {
        "source": source.astype(xp.float32),
        "field": field.astype(xp.float32),
        "diffusivity": D_all.astype(xp.float32),
        "decay": xp.asarray(np.asarray(gammas, dtype=np.float32)),
        "boundary": xp.asarray(np.asarray([boundary_codes(b) for b in bnds], dtype=np.int64).reshape(B, 4)),
        "count": xp.asarray(np.asarray(counts, dtype=np.int64)),
        "index": xp.asarray(np.asarray(indices, dtype=np.int64)),
        "residual": residual,
        "iterations": iterations,
        "method": methods,
    }


def _tensor(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x))
    return torch.from_dlpack(x)  # CuPy: zero-copy on the GPU


def to_batch(raw: dict[str, Any], task: TaskSpec) -> dict[str, torch.Tensor]:
    """The network-facing batch from raw arrays (NumPy, CuPy or torch; leading dim B).

    - ``input`` (B, C, N, N): channel 0 is the source map scaled to max 1 (the paper's
      convention); further channels follow ``task.input_channels``.
    - ``target`` (B, 1, N, N): the field scaled to max 1.
    - ``input_scale``, ``target_scale`` (B,): the factors, so physical values can be recovered
      (``u = target * target_scale``).
    - ``rhs`` = S / target_scale, ``fixed``, ``fixed_values`` (normalised), ``diffusivity``,
      ``decay``, ``boundary``, ``count``, ``index``: what the evaluator needs.
    """
    src = _tensor(raw["source"]).float()
    fld = _tensor(raw["field"]).float()
    B, n = src.shape[0], src.shape[-1]
    D = raw["diffusivity"]
    D = torch.full_like(src, float(D)) if np.ndim(D) == 0 else _tensor(D).float()
    in_scale = src.amax(dim=(-2, -1)).double()
    tg_scale = fld.amax(dim=(-2, -1)).double()
    in_div = torch.where(in_scale > 0, in_scale, torch.ones_like(in_scale)).float()[:, None, None]
    tg_div = torch.where(tg_scale > 0, tg_scale, torch.ones_like(tg_scale)).float()[:, None, None]
    clamped = task.source_mode == "clamped"
    fixed = src > 0 if clamped else torch.zeros_like(src, dtype=torch.bool)
    boundary = _tensor(raw["boundary"]).long()
    decay = _tensor(raw["decay"]).float()
    channels = [src / in_div]
    for name in task.input_channels[1:]:
        if name == "log_diffusivity":
            channels.append(torch.log(D))
        elif name == "decay":
            channels.append(decay[:, None, None].expand(B, n, n))
        elif name in ("absorbing", "periodic"):
            maps = []
            for codes in boundary.tolist():
                from ..physics.boundary import Boundary

                b = Boundary(*[_SIDE_KINDS[c] for c in codes])
                maps.append(torch.from_numpy(boundary_maps(b, n)[0 if name == "absorbing" else 1]))
            channels.append(torch.stack(maps).to(src.device))
        elif name == "clamped_mask":
            channels.append(fixed.float())
        else:  # pragma: no cover - input_channels and this list are kept in step
            raise DiffbenchError(f"unknown input channel {name!r}")
    return {
        "input": torch.stack(channels, dim=1).contiguous(),
        "target": (fld / tg_div)[:, None].contiguous(),
        "input_scale": in_scale,
        "target_scale": tg_scale,
        "rhs": torch.zeros_like(src) if clamped else src / tg_div,
        "fixed": fixed,
        "fixed_values": torch.where(fixed, src / tg_div, torch.zeros_like(src)),
        "diffusivity": D,
        "decay": decay,
        "boundary": boundary,
        "count": _tensor(raw["count"]).long(),
        "index": _tensor(raw["index"]).long(),
    }
