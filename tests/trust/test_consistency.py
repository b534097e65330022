"""Physics-consistency scores: ~0 (float32 rounding) for an exact solver, clearly not for an
untrained network, and not applicable where the physics does not promise the property."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trust_testlib import OracleModel

from diffbench.data.batch import to_batch
from diffbench.data.tasks import parse_task
from diffbench.models import create
from diffbench.solver import solve
from diffbench.trust.consistency import consistency_scores, outflow

CPU = torch.device("cpu")
ROUNDING = 1e-6  # float32 predictions


def test_exact_solver_is_consistent(smoke_subset, smoke_dm):
    r = consistency_scores(OracleModel(), smoke_subset, smoke_dm.task, CPU)
    assert r["n_samples"] == 64
    assert r["superposition"]["status"] == "ok" and r["superposition"]["n_pairs"] == 32
    assert r["superposition"]["max"] < ROUNDING
    assert r["equivariance"]["max"] < ROUNDING and len(r["equivariance"]["transforms"]) == 7
    assert r["flux_balance"]["max"] < ROUNDING
    assert r["maximum_principle"]["negative_share"] == 0.0 and r["maximum_principle"]["most_negative"] == 0.0


def test_untrained_network_is_not(smoke_subset, smoke_dm):
    torch.manual_seed(0)
    net = create("unet-small", 1, lattice=32)
    r = consistency_scores(net, smoke_subset, smoke_dm.task, CPU)
    assert r["superposition"]["mean"] > 1e-2
    assert r["equivariance"]["mean"] > 1e-2
    assert r["flux_balance"]["mean"] > 1e-2
    assert net.training  # mode restored


def _per_sample_d_batch(boundary="dirichlet", decay=0.0, n=16, batch=8):
    """A batch with a different constant D per sample (log D is an input channel)."""
    task = parse_task(
        {
            "name": "t",
            "lattice": n,
            "seed": 0,
            "sources": {"radius": 1},
            "physics": {
                "diffusivity": {"kind": "per-sample", "range": [0.2, 5.0]},
                "decay": decay,
                "boundary": boundary,
            },
            "splits": {s: {"counts": [1, 3], "per_count": 2} for s in ("train", "val", "test")},
        }
    )
    rng = np.random.default_rng(0)
    src = np.zeros((batch, n, n))
    for b in range(batch):
        ys, xs = rng.integers(0, n, size=(2, 3))
        src[b, ys, xs] = rng.uniform(0.1, 1.0, size=3)
    D = np.exp(rng.uniform(np.log(0.2), np.log(5.0), size=batch))[:, None, None] * np.ones((1, n, n))
    field = solve(src, diffusivity=D, decay=decay, boundary=boundary).field
    codes = {"dirichlet": 0, "neumann": 1, "periodic": 2}
    raw = {
        "source": src.astype(np.float32),
        "field": field.astype(np.float32),
        "diffusivity": D.astype(np.float32),
        "decay": np.full(batch, decay, dtype=np.float32),
        "boundary": np.full((batch, 4), codes[boundary] if isinstance(boundary, str) else 0, dtype=np.int64),
        "count": np.full(batch, 3),
        "index": np.arange(batch),
    }
    return task, to_batch(raw, task)


def test_superposition_and_flux_with_physics_that_differs_between_samples():
    task, batch = _per_sample_d_batch()
    assert task.input_channels == ["source", "log_diffusivity"]
    r = consistency_scores(OracleModel(), batch, task, CPU)
    assert r["superposition"]["max"] < 1e-5  # sample j is re-solved and re-predicted under sample i's D
    assert r["flux_balance"]["max"] < 1e-5
    assert r["equivariance"]["status"] == "ok"  # D is constant in space


def test_not_applicable_where_the_physics_does_not_promise_it(smoke_subset, smoke_dm):
    batch = dict(smoke_subset)
    codes = batch["boundary"].clone()
    codes[:, 2:] = 1  # left/right Neumann: not symmetric under rotations
    batch["boundary"] = codes
    r = consistency_scores(OracleModel(), batch, smoke_dm.task, CPU)
    assert r["equivariance"]["status"] == "not applicable"
    decayed = dict(smoke_subset)
    decayed["decay"] = torch.full_like(smoke_subset["decay"], 0.5)
    r = consistency_scores(OracleModel(), decayed, smoke_dm.task, CPU)
    assert r["flux_balance"]["status"] == "not applicable"


def test_outflow_by_hand():
    u = torch.zeros(1, 4, 4, dtype=torch.float64)
    u[0, 0, 0] = 1.0  # a corner cell: two Dirichlet faces
    u[0, 1, 3] = 2.0  # a right-edge cell
    D = torch.full((1, 4, 4), 3.0, dtype=torch.float64)
    assert outflow(u, D, torch.zeros(1, 4, dtype=torch.long)).item() == pytest.approx(3 * (2 * 1 + 2))
    neumann_right = torch.tensor([[0, 0, 0, 1]])  # top, bottom, left Dirichlet; right Neumann
    assert outflow(u, D, neumann_right).item() == pytest.approx(3 * 2 * 1)


def test_a_float64_model_gets_float64_inputs(smoke_subset, smoke_dm):
    torch.manual_seed(0)
    net = create("cnn-small", 1, lattice=32).double()  # as trained under --precision 64-true
    r = consistency_scores(net, smoke_subset, smoke_dm.task, CPU)
    assert r["superposition"]["status"] == "ok" and np.isfinite(r["superposition"]["mean"])


# --------------------------------------------------------------------------- label-free


class _Shifted(torch.nn.Module):
    """The exact solver with ``c`` added to every normalised prediction."""

    def __init__(self, c):
        super().__init__()
        self.oracle, self.c = OracleModel(), c

    def forward(self, x):
        return self.oracle(x) + self.c


class _Tilted(torch.nn.Module):
    """The exact solver times a fixed left-to-right ramp: linear in the source, not equivariant."""

    def forward(self, x):
        n = x.shape[-1]
        ramp = torch.linspace(1.0, 1.5, n)[None, None, None, :]
        return OracleModel()(x) * ramp


class _Leaky(OracleModel):
    """An exact solver of another equation (decay 0.05): linear and equivariant, not flux-conserving."""

    def __init__(self):
        super().__init__(decay=0.05)


def _garbled(batch):
    """The batch with every ground-truth tensor (and everything derived from it) replaced by garbage."""
    out = dict(batch)
    out["target"] = torch.full_like(batch["target"], float("nan"))
    out["target_scale"] = torch.full_like(batch["target_scale"], 1e30)
    out["rhs"] = torch.full_like(batch["rhs"], float("nan"))
    out["fixed_values"] = torch.full_like(batch["fixed_values"], float("nan"))
    return out


def _numbers(block):
    out = {}
    for name, row in block.items():
        if isinstance(row, dict):
            out[name] = {k: v for k, v in row.items() if isinstance(v, (int, float))}
    return out


def test_no_consistency_score_reads_the_target(smoke_subset, smoke_dm):
    torch.manual_seed(0)
    net = create("cnn-small", 1, lattice=32)
    clean = consistency_scores(net, smoke_subset, smoke_dm.task, CPU)
    garbled = consistency_scores(net, _garbled(smoke_subset), smoke_dm.task, CPU)
    assert _numbers(garbled) == _numbers(clean)
    task, batch = _per_sample_d_batch()
    assert _numbers(consistency_scores(OracleModel(), _garbled(batch), task, CPU)) == _numbers(
        consistency_scores(OracleModel(), batch, task, CPU)
    )


def test_each_score_moves_when_its_property_is_broken(smoke_subset, smoke_dm):
    task = smoke_dm.task
    shifted = consistency_scores(_Shifted(0.05), smoke_subset, task, CPU)
    assert shifted["superposition"]["mean"] > 1e-2  # adding a constant is not linear ...
    assert shifted["equivariance"]["max"] < ROUNDING  # ... but is symmetric
    below = consistency_scores(_Shifted(-0.05), smoke_subset, task, CPU)["maximum_principle"]
    assert below["negative_share"] > 0.1 and -0.05 <= below["most_negative"] < -0.04
    tilted = consistency_scores(_Tilted(), smoke_subset, task, CPU)
    assert tilted["equivariance"]["mean"] > 1e-2
    assert tilted["maximum_principle"]["negative_share"] == 0.0
    leaky = consistency_scores(_Leaky(), smoke_subset, task, CPU)
    assert leaky["flux_balance"]["mean"] > 1e-2
    assert leaky["equivariance"]["max"] < ROUNDING
