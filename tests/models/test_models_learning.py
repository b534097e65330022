"""Slow: the -small presets train fast on two CPU cores and learn a proxy of the smoke task.

The proxy is the smoke task's physics at N = 32: 1-5 disks of radius 2 (round(N / 20)) with
strengths in (0, 1] held fixed (Dirichlet) inside a zero-Dirichlet square, the Laplace equation
solved exactly by a sparse direct solve, input and field each normalised to a maximum of 1.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from diffbench import models
from diffbench.models.check import time_training_step

pytestmark = pytest.mark.slow

SMALL = [name for name in models.PRESETS if name.endswith("-small")]
LATTICE = 32
STEPS = 300
LEARNING_RATE = 1e-3


def clamped_disk_fields(count: int, seed: int, lattice: int = LATTICE, radius: int = 2):
    """``count`` (source map, stationary field) pairs, each ``(count, 1, N, N)`` float32."""
    rng = np.random.default_rng(seed)
    ones = np.ones(lattice)
    second_difference = sp.diags([-ones[:-1], 2 * ones, -ones[:-1]], [-1, 0, 1])
    laplacian = (
        sp.kron(sp.identity(lattice), second_difference) + sp.kron(second_difference, sp.identity(lattice))
    ).tocsr()
    rows, cols = np.mgrid[:lattice, :lattice]
    sources, fields = [], []
    for _ in range(count):
        source = np.zeros((lattice, lattice))
        for _ in range(rng.integers(1, 6)):
            row, col = rng.integers(radius, lattice - radius, size=2)
            source[(rows - row) ** 2 + (cols - col) ** 2 <= radius**2] += rng.uniform(1e-3, 1.0)
        fixed = source.ravel() > 0
        free = ~fixed
        field = source.ravel().copy()
        field[free] = spla.spsolve(laplacian[free][:, free].tocsc(), -laplacian[free][:, fixed] @ field[fixed])
        sources.append(source / source.max())
        fields.append(field.reshape(lattice, lattice) / field.max())
    as_tensor = lambda arrays: torch.tensor(np.array(arrays), dtype=torch.float32)[:, None]  # noqa: E731
    return as_tensor(sources), as_tensor(fields)


@pytest.fixture(scope="module")
def smoke_proxy():
    return clamped_disk_fields(512, seed=0), clamped_disk_fields(128, seed=1)


@pytest.mark.parametrize("name", SMALL)
def test_small_preset_learns_the_smoke_proxy(name, smoke_proxy):
    (x_train, y_train), (x_test, y_test) = smoke_proxy
    torch.manual_seed(0)
    model = models.create(name, 1, lattice=LATTICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(STEPS):
        batch = torch.randint(0, len(x_train), (16,), generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.l1_loss(model(x_train[batch]), y_train[batch]).backward()
        optimizer.step()
    with torch.no_grad():
        mae = (model.eval()(x_test) - y_test).abs().mean().item()
    zero_predictor_mae = y_test.abs().mean().item()
    assert mae < 0.35 * zero_predictor_mae, f"{name}: MAE {mae:.4f} vs the zero predictor's {zero_predictor_mae:.4f}"


@pytest.mark.parametrize("name", SMALL)
def test_small_preset_training_step_is_well_under_0_3_s(name):
    if os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        pytest.skip("the machine is busy: a timing would measure the other processes")
    seconds = time_training_step(name, 1, LATTICE, batch_size=16)
    assert seconds < 0.3, f"{name}: {seconds * 1000:.0f} ms per training step at N=32, batch 16"
