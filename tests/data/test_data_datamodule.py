"""DiffusionDataModule: source counts per split, training fractions, batches, stream == cache, DDP."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diffbench.data.cache import Cache
from diffbench.data.datamodule import DiffusionDataModule, SplitDataset, UnpaddedDistributedSampler
from diffbench.data.generation import ensure_cache
from diffbench.data.sampling import sample_rng
from diffbench.data.tasks import load_task, task_names
from diffbench.errors import DiffbenchError
from diffbench.physics.sources import rasterise, sample_geometry

BATCH_KEYS = {
    "input",
    "target",
    "input_scale",
    "target_scale",
    "rhs",
    "fixed",
    "fixed_values",
    "diffusivity",
    "decay",
    "boundary",
    "count",
    "index",
}
PAPER_FRACTIONS = (0.0125, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke cache shared by this module's tests (they only read it)."""
    root = tmp_path_factory.mktemp("smoke-data")
    ensure_cache("smoke", root, progress=False)
    return root


def _dm(data_dir: Path, task: str = "smoke", **kw) -> DiffusionDataModule:
    return DiffusionDataModule(task, data_dir=data_dir, progress=False, backend="numpy", **kw)


def _collect(loader) -> dict[str, torch.Tensor]:
    batches = list(loader)
    return {k: torch.cat([b[k] for b in batches]) for k in batches[0]}


# ---------------------------------------------------------------- counts
def test_counts_are_chosen_per_split(smoke_dir: Path) -> None:
    dm = _dm(smoke_dir, train_counts=[1, 2], val_counts=[3], test_counts=[4, 5], batch_size=16)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    task = dm.task
    train = _collect(dm.train_dataloader())
    assert set(train["count"].tolist()) == {1, 2}
    assert sorted(train["index"].tolist()) == list(range(0, 128))
    val = _collect(dm.val_dataloader())
    assert set(val["count"].tolist()) == {3} and len(val["count"]) == 12
    test = _collect(dm.test_dataloader())
    assert set(test["count"].tolist()) == {4, 5}
    assert test["index"].tolist() == list(range(72, 120))  # in order, each test sample once
    assert test["count"].tolist() == [task.splits["test"].count_of(i) for i in range(72, 120)]


def test_train_and_test_source_counts_may_differ(tmp_path: Path, make_task) -> None:
    """A generalisation task: train on 1-2 sources, test on 3-4 (the paper's 1-10 / 11-20)."""
    path = make_task(splits={"train": {"counts": [1, 2]}, "val": {"counts": [1, 2]}, "test": {"counts": [3, 4]}})
    dm = _dm(tmp_path, path, train_counts=[1, 2], test_counts=[3, 4])
    dm.prepare_data()
    assert set(_collect(dm.train_dataloader())["count"].tolist()) == {1, 2}
    assert set(_collect(dm.test_dataloader())["count"].tolist()) == {3, 4}
    with pytest.raises(
        DiffbenchError, match=r"has no test samples with \[1\] sources; its test split has counts 3\.\.4"
    ):
        _dm(tmp_path, path, test_counts=[1, 3])


def test_missing_count_names_the_available_ones(smoke_dir: Path, make_task) -> None:
    with pytest.raises(
        DiffbenchError,
        match=r"task 'smoke' has no train samples with \[6, 7\] sources; its train split has counts 1\.\.5",
    ):
        _dm(smoke_dir, train_counts=[1, 6, 7])
    path = make_task(splits={"test": {"counts": {"values": [1, 3]}}})
    with pytest.raises(DiffbenchError, match=r"has no test samples with \[2\] sources; available: \[1, 3\]"):
        _dm(smoke_dir, path, test_counts=[2])


# ---------------------------------------------------------------- fractions
def test_train_fraction_is_balanced_per_count_and_nested(smoke_dir: Path) -> None:
    previous: set[int] = set()
    task = load_task("smoke")
    per_count = task.splits["train"].per_count
    for fraction in PAPER_FRACTIONS:
        dm = _dm(smoke_dir, train_fraction=fraction)
        idx = dm.split_indices("train")
        counts = [task.splits["train"].count_of(i) for i in idx]
        n = per_count * 5
        # The exact fraction of the samples (rounded half up), at least one per count ...
        assert len(idx) == max(5, math.floor(fraction * n + 0.5)), fraction
        # ... shared as evenly as the counts allow: sizes differ by at most one, extras first.
        sizes = [counts.count(c) for c in range(1, 6)]
        assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True), (fraction, sizes)
        assert previous <= set(idx), fraction  # nested: the smaller subset is inside this one
        previous = set(idx)
        # The fraction applies to training only.
        assert dm.split_indices("val") == list(range(task.splits["val"].size))
        assert dm.split_indices("test") == list(range(task.splits["test"].size))
    assert previous == set(range(task.splits["train"].size))


def test_train_loader_serves_exactly_the_fraction(smoke_dir: Path) -> None:
    dm = _dm(smoke_dir, train_fraction=0.1, train_counts=[2, 4], batch_size=5)
    dm.prepare_data()
    got = _collect(dm.train_dataloader())
    # 0.1 of the 2 x 64 samples = 13 (12.8 rounded): 7 of count 2 and 6 of count 4.
    assert sorted(got["index"].tolist()) == list(range(64, 71)) + list(range(192, 198))
    assert sorted(got["count"].tolist()) == [2] * 7 + [4] * 6


# ---------------------------------------------------------------- batches
def test_batch_keys_shapes_and_normalisation(smoke_dir: Path) -> None:
    dm = _dm(smoke_dir, batch_size=7)
    dm.prepare_data()
    task = dm.task
    raw = Cache(task, smoke_dir / "smoke").load_split("train")
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == BATCH_KEYS
    B, n = 7, task.lattice
    assert batch["input"].shape == (B, task.in_channels, n, n) == (B, 1, n, n)
    assert batch["target"].shape == (B, 1, n, n)
    assert batch["input"].dtype == batch["target"].dtype == torch.float32
    for key in ("input_scale", "target_scale", "decay", "count", "index"):
        assert batch[key].shape == (B,), key
    assert batch["boundary"].shape == (B, 4)
    assert batch["fixed"].dtype == torch.bool and not batch["fixed"].any()
    assert torch.all(batch["target"].amax(dim=(1, 2, 3)) == 1.0)
    assert torch.all(batch["input"][:, 0].amax(dim=(1, 2)) == 1.0)
    assert torch.all(batch["input"] >= 0) and torch.all(batch["target"] >= 0)
    for k, i in enumerate(batch["index"].tolist()):
        count = task.splits["train"].count_of(i)
        assert batch["count"][k] == count
        # The sample was built from exactly `count` sources drawn from its own seed.
        g = sample_geometry(sample_rng(task, "train", i), task.sources, n, count)
        src = rasterise([g], n, np)[0].astype(np.float32)
        np.testing.assert_array_equal(src, raw["source"][i])
        np.testing.assert_allclose((batch["input"][k, 0] * batch["input_scale"][k]).numpy(), src, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(
            (batch["target"][k, 0] * batch["target_scale"][k]).numpy(), raw["field"][i], rtol=1e-6, atol=1e-9
        )
        # rhs is the source in target units: A(target) = rhs.
        np.testing.assert_allclose((batch["rhs"][k] * batch["target_scale"][k]).numpy(), src, rtol=1e-6, atol=1e-7)


def test_stream_equals_cache(smoke_dir: Path) -> None:
    cached = _dm(smoke_dir, serve="cache", test_counts=[2, 5], eval_batch_size=9)
    stream = _dm(smoke_dir / "never-written", serve="stream", test_counts=[2, 5], eval_batch_size=9)
    cached.prepare_data()
    stream.prepare_data()
    assert not (smoke_dir / "never-written").exists()
    assert (
        stream.data_fingerprint() is None
        and cached.data_fingerprint() == Cache(cached.task, smoke_dir / "smoke").manifest_hash()
    )
    for split, getter in (("test", "test_dataloader"), ("val", "val_dataloader")):
        a = list(getattr(cached, getter)())
        b = list(getattr(stream, getter)())
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert set(x) == set(y) == BATCH_KEYS
            for key in BATCH_KEYS:
                assert x[key].dtype == y[key].dtype and torch.equal(x[key], y[key]), (split, key)
    cached.setup("fit")
    stream.setup("fit")
    positions = [0, 3, 100, 319, 17]
    x, y = cached.datasets["train"].__getitems__(positions), stream.datasets["train"].__getitems__(positions)
    for key in BATCH_KEYS:
        assert torch.equal(x[key], y[key]), key
    one = cached.datasets["train"][100]
    assert all(torch.equal(one[k], x[k][2]) for k in BATCH_KEYS)


def test_worker_processes_serve_the_same_batches(smoke_dir: Path) -> None:
    a = _dm(smoke_dir, test_counts=[3], eval_batch_size=8)
    b = _dm(smoke_dir, test_counts=[3], eval_batch_size=8, num_workers=2)
    xs, ys = list(a.test_dataloader()), list(b.test_dataloader())
    assert len(xs) == len(ys) == 3
    for x, y in zip(xs, ys):
        assert all(torch.equal(x[k], y[k]) for k in BATCH_KEYS)


def test_pin_memory_only_where_cuda_takes_cpu_batches(smoke_dir: Path) -> None:
    """Pinned batches are the same batches; without CUDA nothing is pinned (torch would warn)."""
    plain = _dm(smoke_dir, test_counts=[3], eval_batch_size=8)
    pinned = _dm(smoke_dir, test_counts=[3], eval_batch_size=8, pin_memory=True)
    loader = pinned.test_dataloader()
    assert plain.test_dataloader().pin_memory is False
    assert loader.pin_memory is torch.cuda.is_available()
    for x, y in zip(plain.test_dataloader(), loader):
        assert all(torch.equal(x[k], y[k]) for k in BATCH_KEYS)
        assert x["input"].is_pinned() is False and y["input"].is_pinned() is torch.cuda.is_available()


def test_setup_regenerates_a_corrupted_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = ensure_cache("smoke", tmp_path, backend="numpy", progress=False)  # the backend _dm uses: same bytes
    shard = cache.shard_path("val", 0)
    good = shard.read_bytes()
    shard.write_bytes(good[: len(good) // 2])
    capsys.readouterr()
    dm = _dm(tmp_path)
    dm.setup("validate")
    assert "failed its checksum" in capsys.readouterr().err
    assert shard.read_bytes() == good
    assert len(dm.datasets["val"]) == 60


def test_setup_refuses_a_cache_of_another_spec(tmp_path: Path, make_task) -> None:
    ensure_cache(make_task(name="same", seed=1), tmp_path, progress=False)
    dm = _dm(tmp_path, make_task(name="same", seed=2))
    with pytest.raises(DiffbenchError, match="generated from a different spec"):
        dm.setup("test")


# ---------------------------------------------------------------- DDP
@pytest.mark.parametrize("size", [1, 2, 7, 10, 11, 13])
@pytest.mark.parametrize("replicas", [2, 3])
def test_unpadded_sampler_covers_every_index_once(size: int, replicas: int) -> None:
    ds = list(range(size))
    seen: list[int] = []
    for rank in range(replicas):
        s = UnpaddedDistributedSampler(ds, num_replicas=replicas, rank=rank)
        got = list(s)
        assert len(got) == len(s)
        seen += got
    assert sorted(seen) == list(range(size)) and len(seen) == size


@pytest.mark.parametrize("replicas, test_counts", [(2, None), (3, [1, 2])])
def test_ddp_test_loader_scores_each_sample_exactly_once(
    tmp_path: Path, make_task, monkeypatch: pytest.MonkeyPatch, replicas: int, test_counts
) -> None:
    """Under DDP (faked: world size and rank patched) each test sample is served by one rank."""
    path = make_task(splits={"test": {"counts": [1, 3], "per_count": 7}})
    dm = _dm(tmp_path, path, test_counts=test_counts, eval_batch_size=4)
    dm.prepare_data()
    size = len(dm.split_indices("test"))
    assert size % replicas != 0
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda group=None: replicas)
    seen: list[int] = []
    for rank in range(replicas):
        monkeypatch.setattr(torch.distributed, "get_rank", lambda group=None, r=rank: r)
        for getter in ("test_dataloader", "val_dataloader"):
            loader = getattr(dm, getter)()
            assert isinstance(loader.sampler, UnpaddedDistributedSampler)
        loader = dm.test_dataloader()
        for batch in loader:
            seen += batch["index"].tolist()
            assert torch.equal(
                batch["count"], torch.tensor([dm.task.splits["test"].count_of(i) for i in batch["index"].tolist()])
            )
    assert sorted(seen) == dm.split_indices("test") and len(seen) == size


# ---------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "kw, pattern",
    [
        ({"batch_size": 0}, r"batch size must be a positive integer, got 0"),
        ({"batch_size": -4}, r"batch size must be a positive integer, got -4"),
        ({"batch_size": 2.5}, r"batch size must be a positive integer, got 2\.5"),
        ({"batch_size": True}, r"batch size must be a positive integer, got True"),
        ({"batch_size": "8"}, r"batch size must be a positive integer, got '8'"),
        ({"eval_batch_size": -1}, r"eval batch size must be a positive integer, got -1"),
        ({"eval_batch_size": 0}, r"eval batch size must be a positive integer, got 0"),
        ({"eval_batch_size": 1.5}, r"eval batch size must be a positive integer, got 1\.5"),
        ({"train_fraction": 0}, r"train fraction must be in \(0, 1\], got 0"),
        ({"train_fraction": -0.5}, r"train fraction must be in \(0, 1\], got -0\.5"),
        ({"train_fraction": 1.5}, r"train fraction must be in \(0, 1\], got 1\.5"),
        ({"train_fraction": math.nan}, r"train fraction must be in \(0, 1\], got nan"),
        ({"train_fraction": math.inf}, r"train fraction must be in \(0, 1\], got inf"),
        ({"train_fraction": "0.5"}, r"train fraction must be in \(0, 1\], got '0\.5'"),
        ({"train_fraction": True}, r"train fraction must be in \(0, 1\], got True"),
        ({"num_workers": -1}, r"num_workers must be an integer >= 0, got -1"),
        ({"num_workers": 1.5}, r"num_workers must be an integer >= 0, got 1\.5"),
        ({"num_workers": True}, r"num_workers must be an integer >= 0, got True"),
        ({"serve": "disk"}, r"serve must be 'cache' or 'stream', got 'disk'"),
        ({"pin_memory": "yes"}, r"pin_memory must be true or false, got 'yes'"),
        ({"pin_memory": 1}, r"pin_memory must be true or false, got 1"),
        ({"test_counts": [0]}, r"has no test samples with \[0\] sources"),
        ({"test_counts": [1.5]}, r"test counts must be a non-empty list of integer source counts, got \[1\.5\]"),
        ({"train_counts": ["a"]}, r"train counts must be a non-empty list of integer source counts, got \['a'\]"),
        ({"train_counts": []}, r"train counts must be a non-empty list of integer source counts, got \[\]"),
        ({"val_counts": 3}, r"val counts must be a non-empty list of integer source counts, got 3"),
        ({"val_counts": [True]}, r"val counts must be a non-empty list"),
    ],
    ids=str,
)
def test_bad_arguments_raise(tmp_path: Path, kw: dict, pattern: str) -> None:
    with pytest.raises(DiffbenchError, match=pattern):
        _dm(tmp_path, **kw)
    assert list(tmp_path.iterdir()) == []


def test_counts_accept_ranges_and_numpy_integers(tmp_path: Path) -> None:
    dm = _dm(tmp_path, train_counts=range(1, 3), test_counts=np.array([4, 5]), val_counts=(np.int64(3),))
    assert dm.counts == {"train": (1, 2), "val": (3,), "test": (4, 5)}


def test_unknown_task_raises(tmp_path: Path) -> None:
    with pytest.raises(DiffbenchError) as info:
        _dm(tmp_path, "nope")
    assert str(info.value) == f"unknown task 'nope'; available: {', '.join(task_names())}"
    assert {"paper-512", "smoke", "standard-64"} <= set(task_names())


def test_default_batch_size_comes_from_the_task(tmp_path: Path) -> None:
    dm = _dm(tmp_path)
    assert dm.batch_size == 16 and dm.eval_batch_size >= 16
    assert _dm(tmp_path, batch_size=3, eval_batch_size=5).eval_batch_size == 5
    assert isinstance(SplitDataset(dm.task, "test", [1, 2]), torch.utils.data.Dataset)
