"""Helpers of the trust tests: an exact-solver "model", a quick checkpoint, the smoke batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch


class OracleModel(torch.nn.Module):
    """A fake surrogate that solves the problem exactly: normalised source map in, normalised
    field out (max 1). The physics is fixed (the smoke task's by default: D = 1, gamma = 0,
    Dirichlet), except that a second input channel is read as log D (the batch contract's
    ``log_diffusivity``)."""

    def __init__(self, diffusivity: float = 1.0, decay: float = 0.0, boundary: Any = "dirichlet") -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))
        self.physics = dict(diffusivity=diffusivity, decay=decay, boundary=boundary)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from diffbench.solver import solve

        s = x[:, 0].detach().double().cpu().numpy()
        physics = dict(self.physics)
        if x.shape[1] >= 2:
            physics["diffusivity"] = np.exp(x[:, 1].detach().double().cpu().numpy())
        u = solve(s, tol=1e-13, **physics).field
        m = u.max(axis=(-2, -1), keepdims=True)
        u = u / np.where(m > 0, m, 1.0)
        return torch.from_numpy(u).float()[:, None].to(x.device)


def make_checkpoint(
    path: Path, task_name: str = "smoke", model: str = "unet-small", seed: int = 0, **model_args: Any
) -> Path:
    """A checkpoint file that ``SurrogateModule.load`` accepts, with untrained weights."""
    from diffbench.data import load_task
    from diffbench.models import create, model_spec
    from diffbench.training.module import SurrogateModule

    task = load_task(task_name)
    torch.manual_seed(seed)
    net = create(model, in_channels=task.in_channels, lattice=task.lattice, **model_args)
    module = SurrogateModule(
        model_spec(net),
        task={
            "name": task.name,
            "spec_hash": task.spec_hash,
            "lattice": task.lattice,
            "input_channels": task.input_channels,
        },
    )
    module.model.load_state_dict(net.state_dict())
    torch.save({"hyper_parameters": dict(module.hparams), "state_dict": module.state_dict(), "epoch": 0}, path)
    return path
