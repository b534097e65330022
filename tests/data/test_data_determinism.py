"""Sample i of split s is a pure function of (task seed, s, i), whatever else is generated."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pytest

from diffbench.data.cache import shard_plan
from diffbench.data.generation import ensure_cache
from diffbench.data.sampling import generate_raw, sample_rng
from diffbench.data.tasks import SPLITS, load_task
from diffbench.hashing import sha256_file
from diffbench.physics.sources import rasterise, sample_geometry

ARRAYS = ("source", "field", "diffusivity", "decay", "boundary", "count", "index", "residual", "iterations")


def _bytes(raw: dict, k: int | None = None) -> dict[str, bytes]:
    out = {}
    for name in ARRAYS:
        a = np.asarray(raw[name])
        out[name] = (a if k is None else a[k]).tobytes()
    return out


def test_same_seed_split_index_gives_identical_arrays() -> None:
    task = load_task("smoke")
    idx = [0, 63, 64, 200, 319]
    a, b = generate_raw(task, "train", idx), generate_raw(task, "train", idx)
    assert _bytes(a) == _bytes(b)
    assert a["method"] == b["method"]
    assert a["index"].tolist() == idx
    assert a["count"].tolist() == [task.splits["train"].count_of(i) for i in idx] == [1, 1, 2, 4, 5]


def test_splits_use_disjoint_seed_streams() -> None:
    task = load_task("smoke")
    idx = list(range(12))
    raws = {s: generate_raw(task, s, idx) for s in SPLITS}
    for s in SPLITS:
        for t in SPLITS:
            if s < t:
                for i in idx:
                    assert not np.array_equal(raws[s]["source"][i], raws[t]["source"][i]), (s, t, i)
    # Streams differ from their first draw on, and samples within a split differ too.
    firsts = {s: sample_rng(task, s, 0).random(4).tobytes() for s in SPLITS}
    assert len(set(firsts.values())) == 3
    train = raws["train"]["source"]
    assert len({train[i].tobytes() for i in idx}) == len(idx)


def test_task_seed_changes_the_samples(make_task) -> None:
    a, b = load_task(make_task(seed=1)), load_task(make_task(seed=2))
    assert not np.array_equal(generate_raw(a, "train", [0, 1])["source"], generate_raw(b, "train", [0, 1])["source"])
    # ... while the same seed in another file gives the same samples.
    c = load_task(make_task(seed=1))
    assert _bytes(generate_raw(a, "test", [0, 5])) == _bytes(generate_raw(c, "test", [0, 5]))


def test_sample_is_built_from_its_own_seed_and_count() -> None:
    """The stored source map is the rasterised geometry drawn from rng(seed, split, i) with count(i)."""
    task = load_task("smoke")
    raw = generate_raw(task, "val", [5, 30, 59])
    for k, i in enumerate([5, 30, 59]):
        count = task.splits["val"].count_of(i)
        g = sample_geometry(sample_rng(task, "val", i), task.sources, task.lattice, count)
        assert g.count == count == raw["count"][k]
        np.testing.assert_array_equal(rasterise([g], task.lattice, np)[0].astype(np.float32), raw["source"][k])


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"physics": {"diffusivity": {"kind": "lognormal", "sigma": 0.5, "length": 3}}},  # mgcg
        {"physics": {"decay": 0.5, "boundary": {"random": ["dirichlet", "neumann", "periodic"]}}},  # groups by boundary
        {"sources": {"mode": "clamped"}},
    ],
    ids=["smoke-like", "lognormal-mgcg", "random-boundary", "clamped"],
)
def test_sample_in_a_batch_equals_sample_alone(make_task, overrides: dict) -> None:
    task = load_task(make_task(overrides))
    idx = list(range(task.splits["train"].size))
    batch = generate_raw(task, "train", idx)
    for i in (0, 5, len(idx) - 1):
        alone = generate_raw(task, "train", [i])
        assert _bytes(alone, 0) == _bytes(batch, i), i
        assert alone["method"][0] == batch["method"][i]
    # Another batch composition (reversed, a subset) changes nothing either.
    rev = generate_raw(task, "train", idx[::-1][:5])
    for k, i in enumerate(idx[::-1][:5]):
        assert _bytes(rev, k) == _bytes(batch, i)


def test_regenerating_gives_identical_shard_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = ensure_cache("smoke", tmp_path / "a", progress=False)
    # A later clock must not leak into the files (zip timestamps, for instance).
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7 * 86400 + 3)
    b = ensure_cache("smoke", tmp_path / "b", progress=False)
    ma, mb = a.read_manifest(), b.read_manifest()
    for split in SPLITS:
        for k, _ in enumerate(shard_plan(a.task, split)):
            pa, pb = a.shard_path(split, k), b.shard_path(split, k)
            assert pa.read_bytes() == pb.read_bytes()
            assert (
                sha256_file(pa)[0]
                == ma["splits"][split]["shards"][f"{k:05d}"]["sha256"]
                == mb["splits"][split]["shards"][f"{k:05d}"]["sha256"]
            )
    assert a.manifest_hash() == b.manifest_hash()
    # Delete one shard and regenerate it in place: same bytes.
    before = hashlib.sha256(a.shard_path("val", 0).read_bytes()).hexdigest()
    a.shard_path("val", 0).unlink()
    ensure_cache("smoke", tmp_path / "a", progress=False)
    assert hashlib.sha256(a.shard_path("val", 0).read_bytes()).hexdigest() == before


def test_two_devices_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    """``--devices 2`` spawns two generation processes; the files are the same as with one."""
    # NumPy: on CuPy, --devices counts GPUs (see test_data_cupy.py).
    one = ensure_cache("smoke", tmp_path / "one", backend="numpy", progress=False)
    two = ensure_cache("smoke", tmp_path / "two", devices=2, backend="numpy", progress=False)
    for split in SPLITS:
        for k, _ in enumerate(shard_plan(one.task, split)):
            assert one.shard_path(split, k).read_bytes() == two.shard_path(split, k).read_bytes()
    m1, m2 = one.read_manifest(), two.read_manifest()
    assert m1["splits"] == m2["splits"]
    assert one.manifest_hash() == two.manifest_hash()
