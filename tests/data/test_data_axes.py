"""The issue-6 axes as tasks: every axis task generates certified data with the right channels."""

from __future__ import annotations

import pytest
import torch

from diffbench.data import load_task, task_names
from diffbench.data.batch import to_batch
from diffbench.data.sampling import generate_raw
from diffbench.errors import DiffbenchError

AXIS_TASKS = {
    "shapes-64": ["source"],
    "diffusivity-sample-64": ["source", "log_diffusivity"],
    "diffusivity-inclusions-64": ["source", "log_diffusivity"],
    "diffusivity-lognormal-64": ["source", "log_diffusivity"],
    "ood-constant-d-64": ["source", "log_diffusivity"],
    "boundary-neumann-64": ["source", "decay"],
    "boundary-periodic-64": ["source"],
    "boundary-mixed-64": ["source", "absorbing", "periodic"],
    "decay-64": ["source", "decay"],
    "clamped-64": ["source", "clamped_mask"],
    "extrapolate-sources-64": ["source"],
    "interpolate-sources-64": ["source"],
    "transfer-128": ["source"],
}


def test_every_axis_task_ships():
    assert set(AXIS_TASKS) <= set(task_names())
    axes = {load_task(n).axis for n in task_names()}
    assert {"sources", "diffusivity", "boundary", "decay", "generalisation", "baseline"} <= axes


@pytest.mark.parametrize("name", sorted(AXIS_TASKS))
def test_axis_task_generates_certified_samples_with_its_channels(name):
    task = load_task(name)
    assert task.input_channels == AXIS_TASKS[name]
    split = task.splits["test"]
    idx = [0, split.size // 2, split.size - 1]
    raw = generate_raw(task, "test", idx)
    assert (raw["residual"] <= 1e-8).all()
    batch = to_batch(raw, task)
    assert batch["input"].shape == (3, len(task.input_channels), task.lattice, task.lattice)
    assert torch.allclose(batch["target"].amax(dim=(-2, -1)), torch.ones(3, 1))
    assert (batch["count"].numpy() == [split.count_of(i) for i in idx]).all()


def test_generalisation_splits_are_disjoint_in_source_count():
    ex = load_task("extrapolate-sources-64")
    assert set(ex.splits["train"].counts) == set(range(1, 11)) == set(ex.splits["val"].counts)
    assert set(ex.splits["test"].counts) == set(range(11, 21))
    it = load_task("interpolate-sources-64")
    assert all(c % 2 == 0 for c in it.splits["train"].counts)
    assert all(c % 2 == 1 for c in it.splits["test"].counts)


def test_ood_pairs_share_input_channels():
    assert load_task("ood-constant-d-64").input_channels == load_task("diffusivity-lognormal-64").input_channels
    assert load_task("standard-64").input_channels == load_task("shapes-64").input_channels
    # the forced channel of a constant-D task is log(1) = 0
    task = load_task("ood-constant-d-64")
    batch = to_batch(generate_raw(task, "val", [0]), task)
    assert torch.count_nonzero(batch["input"][:, 1]) == 0


def test_transfer_task_is_the_same_problem_twice_as_fine():
    a, b = load_task("standard-64"), load_task("transfer-128")
    assert b.lattice == 2 * a.lattice and b.sources.radius == 2 * a.sources.radius
    assert a.physics.to_dict() == b.physics.to_dict()


def test_channels_key_is_validated(tmp_path):
    from diffbench.data.tasks import parse_task

    raw = {
        "name": "x",
        "lattice": 16,
        "seed": 1,
        "channels": ["source", "pressure"],
        "splits": {s: {"counts": [1, 2], "per_count": 2} for s in ("train", "val", "test")},
    }
    with pytest.raises(DiffbenchError, match="channels must be a list drawn from"):
        parse_task(raw)
    raw["channels"] = ["decay"]
    assert parse_task(raw).input_channels == ["source", "decay"]
