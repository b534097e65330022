"""Raw samples (physical units) to the network-facing batch, the same for cache and stream."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import DiffbenchError
from ..physics.boundary import Boundary
from .fields import boundary_maps
from .spec import TaskSpec

_SIDE_KINDS = ("dirichlet", "neumann", "periodic")


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
    channels = [src / in_div]  # (B, N, N) each; stacked into (B, C, N, N) below
    for name in task.input_channels[1:]:
        if name == "log_diffusivity":
            channels.append(torch.log(D))
        elif name == "decay":
            channels.append(decay[:, None, None].expand(B, n, n))
        elif name in ("absorbing", "periodic"):
            maps = []
            for codes in boundary.tolist():
                b = Boundary(*[_SIDE_KINDS[c] for c in codes])
                maps.append(torch.from_numpy(boundary_maps(b, n)[0 if name == "absorbing" else 1]))
            channels.append(torch.stack(maps).to(src.device))
        elif name == "clamped_mask":
            channels.append(fixed.float())
        else:  # pragma: no cover - input_channels and this list are kept in step
            raise DiffbenchError(f"unknown input channel {name!r}")
    # Fresh (B, N, N) arrays cost page faults on every streamed batch, so none is made twice:
    # one channel needs no stack, and flux tasks have no fixed values (all zero).
    return {
        "input": (channels[0][:, None] if len(channels) == 1 else torch.stack(channels, dim=1)).contiguous(),
        "target": (fld / tg_div)[:, None].contiguous(),
        "input_scale": in_scale,
        "target_scale": tg_scale,
        "rhs": torch.zeros_like(src) if clamped else src / tg_div,
        "fixed": fixed,
        "fixed_values": torch.where(fixed, src / tg_div, torch.zeros_like(src)) if clamped else torch.zeros_like(src),
        "diffusivity": D,
        "decay": decay,
        "boundary": boundary,
        "count": _tensor(raw["count"]).long(),
        "index": _tensor(raw["index"]).long(),
    }
