"""Every physics axis through the data path: generated, certified, and served as the right channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from diffbench.data.batch import to_batch
from diffbench.data.cache import Cache
from diffbench.data.datamodule import DiffusionDataModule
from diffbench.data.fields import BOUNDARY_CODES, boundary_maps
from diffbench.data.generation import ensure_cache
from diffbench.data.sampling import SOLVER_TOL, generate_raw
from diffbench.data.tasks import SPLITS, load_task
from diffbench.physics.boundary import Boundary
from diffbench.physics.operator import build_stencil

KINDS = {v: k for k, v in BOUNDARY_CODES.items()}

VARIANTS = {
    "lognormal": (
        {"physics": {"diffusivity": {"kind": "lognormal", "sigma": 0.7, "length": 3}}},
        ["source", "log_diffusivity"],
    ),
    "inclusions": (
        {"physics": {"diffusivity": {"kind": "inclusions", "count": [1, 3], "radius": [2, 5], "contrast": [0.1, 10]}}},
        ["source", "log_diffusivity"],
    ),
    "per-sample-D": (
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [0.25, 4]}}},
        ["source", "log_diffusivity"],
    ),
    "constant-D-2": ({"physics": {"diffusivity": 2.0}}, ["source", "log_diffusivity"]),
    "decay-range-neumann": ({"physics": {"decay": [0.05, 2.0], "boundary": "neumann"}}, ["source", "decay"]),
    "random-boundary": (
        {"physics": {"decay": 0.3, "boundary": {"random": ["dirichlet", "neumann", "periodic"]}}},
        ["source", "absorbing", "periodic"],
    ),
    "mixed-sides": (
        {"physics": {"boundary": {"top": "periodic", "bottom": "periodic", "left": "dirichlet", "right": "neumann"}}},
        ["source"],
    ),
    "clamped": ({"sources": {"mode": "clamped"}}, ["source", "clamped_mask"]),
    "clamped-neumann-lognormal": (
        {
            "sources": {"mode": "clamped"},
            "physics": {"boundary": "neumann", "diffusivity": {"kind": "lognormal", "sigma": 0.5, "length": 2}},
        },
        ["source", "log_diffusivity", "clamped_mask"],
    ),
    "shapes-mix": ({"lattice": 24, "sources": {"shape": "mix", "radius": 3}}, ["source"]),
}


def _boundary(codes) -> Boundary:
    return Boundary(*[KINDS[int(c)] for c in codes])


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_physics_variant_through_the_data_path(tmp_path: Path, make_task, variant: str) -> None:
    overrides, channels = VARIANTS[variant]
    path = make_task(overrides)
    task = load_task(path)
    assert task.input_channels == channels

    cache = ensure_cache(path, tmp_path, progress=False)
    m = cache.read_manifest()
    clamped = task.source_mode == "clamped"
    for split in SPLITS:
        raw = cache.load_split(split)
        size = task.splits[split].size
        assert np.all(raw["residual"] <= SOLVER_TOL) and raw["residual"].shape == (size,)
        assert max(e["max_residual"] for e in m["splits"][split]["shards"].values()) <= SOLVER_TOL
        assert np.all(np.isfinite(raw["field"])) and np.all(raw["field"] >= 0)
        D = np.broadcast_to(np.asarray(raw["diffusivity"], dtype=np.float64), raw["field"].shape)
        assert np.all(D > 0)

        batch = to_batch(raw, task)
        assert batch["input"].shape == (size, len(channels), task.lattice, task.lattice)
        ch = {name: batch["input"][:, c] for c, name in enumerate(channels)}
        assert torch.all(ch["source"].amax(dim=(1, 2)) == 1)
        assert torch.all(batch["target"].amax(dim=(1, 2, 3)) == 1)
        if "log_diffusivity" in ch:
            torch.testing.assert_close(
                ch["log_diffusivity"], torch.log(torch.from_numpy(D.astype(np.float32))), rtol=0, atol=1e-6
            )
        if "decay" in ch:
            assert torch.equal(ch["decay"], torch.from_numpy(raw["decay"])[:, None, None].expand_as(ch["decay"]))
        if "absorbing" in ch:
            for k in range(size):
                a, p = boundary_maps(_boundary(raw["boundary"][k]), task.lattice)
                assert torch.equal(ch["absorbing"][k], torch.from_numpy(a)) and torch.equal(
                    ch["periodic"][k], torch.from_numpy(p)
                )
        if clamped:
            mask = raw["source"] > 0
            assert torch.equal(ch["clamped_mask"], torch.from_numpy(mask).float())
            assert torch.equal(batch["fixed"], torch.from_numpy(mask))
            # The field holds the clamp value on every clamped cell.
            np.testing.assert_array_equal(raw["field"][mask], raw["source"][mask])
            assert not torch.any(batch["rhs"])
        else:
            assert not batch["fixed"].any()

        # An independent check that the stored field solves the stored problem: recompute
        # A u with the stored (float32) D, decay and boundary. float32 storage limits this
        # to ~1e-6; a wrong D, decay or boundary would give O(1).
        for k in range(size):
            st = build_stencil(D[k].astype(np.float64), float(raw["decay"][k]), _boundary(raw["boundary"][k]))
            u = raw["field"][k].astype(np.float64)
            Au = st.apply(u)
            if clamped:
                # No flux on free cells. (With one clamped source, no decay and no absorbing
                # side the exact field is constant, so A u is ~0 everywhere: compare with the
                # size of A's diagonal term, not with A u.)
                free = ~mask[k]
                assert np.linalg.norm(Au[free]) <= 1e-5 * np.linalg.norm(st.diag * u), (split, k)
            else:
                S = raw["source"][k].astype(np.float64)
                assert np.linalg.norm(Au - S) <= 1e-4 * np.linalg.norm(S), (split, k)

    train = cache.load_split("train")
    _check_distribution(variant, task, train)


def _check_distribution(variant: str, task, raw: dict) -> None:
    """The drawn physics is what the spec asks for (and does vary where it should)."""
    D = np.broadcast_to(np.asarray(raw["diffusivity"], dtype=np.float64), raw["field"].shape)
    if variant == "lognormal":
        assert np.all([D[k].std() > 0 for k in range(len(D))])
        assert abs(np.mean(np.log(D))) < 0.05  # zero-mean log field per sample
    elif variant == "inclusions":
        vals = np.unique(D.astype(np.float32))
        assert 1.0 in vals and np.all((vals >= np.float32(0.1)) & (vals <= np.float32(10)))
        assert any(not np.all(D[k] == 1) for k in range(len(D)))
    elif variant == "per-sample-D":
        per = D[:, 0, 0]
        assert np.all(D == per[:, None, None]) and len(set(per.tolist())) == len(per)
        assert np.all((per >= np.float32(0.25)) & (per <= np.float32(4)))
    elif variant == "constant-D-2":
        assert np.all(D == 2)
    elif variant == "decay-range-neumann":
        assert np.all((raw["decay"] >= np.float32(0.05)) & (raw["decay"] <= np.float32(2))) and len(
            set(raw["decay"].tolist())
        ) == len(raw["decay"])
        assert np.all(raw["boundary"] == BOUNDARY_CODES["neumann"])
    elif variant == "random-boundary":
        kinds = {tuple(b) for b in raw["boundary"].tolist()}
        assert kinds == {(c,) * 4 for c in BOUNDARY_CODES.values()}
        assert np.all(raw["decay"] == np.float32(0.3))
    elif variant == "mixed-sides":
        assert np.all(raw["boundary"] == [2, 2, 0, 1])


def test_random_boundary_datamodule_batch(tmp_path: Path, make_task) -> None:
    """The same channels reach the network through the DataModule, streamed or cached."""
    path = make_task(VARIANTS["random-boundary"][0])
    a = DiffusionDataModule(path, data_dir=tmp_path, backend="numpy", progress=False, eval_batch_size=6)
    b = DiffusionDataModule(path, data_dir=tmp_path, backend="numpy", progress=False, eval_batch_size=6, serve="stream")
    a.prepare_data()
    for x, y in zip(a.test_dataloader(), b.test_dataloader()):
        assert x["input"].shape[1] == 3
        for k in x:
            assert torch.equal(x[k], y[k]), k


def test_clamped_values_are_the_source_strengths(make_task) -> None:
    """Clamped sources: the source map holds the clamp values; overlaps add like fluxes."""
    task = load_task(make_task(VARIANTS["clamped"][0]))
    raw = generate_raw(task, "test", [0, 5])
    for k in range(2):
        mask = raw["source"][k] > 0
        assert mask.any()
        assert np.array_equal(raw["field"][k][mask], raw["source"][k][mask])
        assert raw["field"][k][~mask].max() < raw["source"][k].max()  # maximum principle: interior below the clamp


def test_load_split_of_a_constant_d_task_rebuilds_d(tmp_path: Path, make_task) -> None:
    path = make_task(VARIANTS["constant-D-2"][0])
    cache = ensure_cache(path, tmp_path, progress=False, splits=("val",))
    raw = cache.load_split("val")
    assert np.ndim(raw["diffusivity"]) == 0 and float(raw["diffusivity"]) == 2.0
    with np.load(cache.shard_path("val", 0)) as z:
        assert "diffusivity" not in z.files  # not stored: it is the spec's
    assert isinstance(cache, Cache)
