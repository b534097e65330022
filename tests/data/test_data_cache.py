"""The disk cache: manifest, resume, interruption, corruption, foreign specs, bad data dirs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import diffbench
import diffbench.data.cache as cache_mod
import diffbench.data.generation as generation_mod
import diffbench.data.sampling as sampling_mod
from diffbench.data.cache import MANIFEST, Cache, shard_plan
from diffbench.data.generation import ensure_cache
from diffbench.data.sampling import SOLVER_TOL
from diffbench.data.tasks import SPLITS, load_task
from diffbench.errors import DiffbenchError
from diffbench.hashing import sha256_file
from diffbench.solver.backend import backend_name, get_backend, to_numpy

KNOWN_METHODS = {"dst", "dct", "fft", "mgcg"}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".write-probe" in p.name]


def _count_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    real = generation_mod._generate_shard

    def counting(spec, split, k, *args, **kw):
        calls.append((split, k))
        return real(spec, split, k, *args, **kw)

    monkeypatch.setattr(generation_mod, "_generate_shard", counting)
    return calls


@pytest.fixture
def small_shards(monkeypatch: pytest.MonkeyPatch) -> int:
    """Four samples per shard: the tiny task has 3 train, 2 val and 2 test shards."""
    monkeypatch.setattr(cache_mod, "shard_size", lambda task: 4)
    return 4


def _assert_consistent(cache: Cache, complete: bool) -> None:
    """Every shard the manifest lists exists and matches; no temporary files anywhere."""
    m = json.loads(cache.manifest_path.read_text())
    for split in SPLITS:
        plan = shard_plan(cache.task, split)
        entries = m["splits"][split]["shards"]
        if complete:
            assert sorted(entries) == [f"{k:05d}" for k in range(len(plan))]
        for key, e in entries.items():
            path = cache.root / e["file"]
            assert path == cache.shard_path(split, int(key))
            assert path.stat().st_size == e["bytes"] and sha256_file(path)[0] == e["sha256"]
            assert (e["start"], e["stop"]) == plan[int(key)]
    assert _tmp_files(cache.root) == []


# ---------------------------------------------------------------- manifest
def test_manifest_records_spec_versions_methods_residuals_and_checksums(tmp_path: Path) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    assert cache.root == tmp_path / "smoke"
    m = json.loads((tmp_path / "smoke" / MANIFEST).read_text())
    task = load_task("smoke")
    assert m["spec_hash"] == task.spec_hash
    assert m["task"] == task.to_dict()
    assert m["diffbench_version"] == diffbench.__version__
    assert m["numpy_version"] == np.__version__
    assert m["backend"] == backend_name(get_backend("auto"))
    assert m["solver_tol"] == SOLVER_TOL == 1e-8
    for split in SPLITS:
        s = m["splits"][split]
        assert s["size"] == task.splits[split].size
        assert len(s["shards"]) == len(shard_plan(task, split)) >= 1
        covered = []
        for key, e in sorted(s["shards"].items()):
            path = cache.root / e["file"]
            assert e["sha256"] == sha256_file(path)[0] and e["bytes"] == path.stat().st_size
            assert e["methods"] and set(e["methods"]) <= KNOWN_METHODS
            assert 0 <= e["max_residual"] <= 1e-8
            assert isinstance(e["max_iterations"], int)
            with np.load(path, allow_pickle=False) as z:
                assert z["index"].tolist() == list(range(e["start"], e["stop"]))
                assert z["residual"].shape == (e["stop"] - e["start"],)
                assert np.all(z["residual"] <= SOLVER_TOL)
                assert float(z["residual"].max()) == e["max_residual"]
                assert z["count"].tolist() == [task.splits[split].count_of(i) for i in z["index"]]
            covered.extend(range(e["start"], e["stop"]))
        assert covered == list(range(task.splits[split].size))
    _assert_consistent(cache, complete=True)


def test_progress_bar_shows_rate_and_eta(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ensure_cache("smoke", tmp_path, splits=("val",), progress=True)
    err = capsys.readouterr().err
    assert "generating smoke" in err and "sample/s" in err
    assert "<" in err  # tqdm's [elapsed<remaining] ETA
    assert "samples/s" in err  # the summary line


# ---------------------------------------------------------------- resume
def test_resume_does_not_rewrite_finished_shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_calls(monkeypatch)
    cache = ensure_cache("smoke", tmp_path, splits=("train",), progress=False)
    assert calls == [("train", 0)]
    shard = cache.shard_path("train", 0)
    st = shard.stat()
    ensure_cache("smoke", tmp_path, progress=False)
    assert calls == [("train", 0), ("val", 0), ("test", 0)]
    st2 = shard.stat()
    assert (st.st_ino, st.st_mtime_ns) == (st2.st_ino, st2.st_mtime_ns)
    # Complete: nothing more to do.
    ensure_cache("smoke", tmp_path, progress=False)
    assert len(calls) == 3
    _assert_consistent(cache, complete=True)


@pytest.mark.parametrize("where", ["before-solve", "during-write"])
def test_interrupted_generation_resumes(
    tmp_path: Path, make_task, small_shards: int, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    path = make_task()
    reference = ensure_cache(path, tmp_path / "reference", progress=False)
    assert len(shard_plan(reference.task, "train")) == 3

    real_generate, real_fsync = generation_mod._generate_shard, os.fsync
    state = {"shards": 0, "writes": 0}

    def interrupt_second_shard(*args, **kw):
        state["shards"] += 1
        if state["shards"] == 2:
            raise KeyboardInterrupt
        return real_generate(*args, **kw)

    def interrupt_second_write(fd):
        state["writes"] += 1
        if state["writes"] == 3:  # shard 0, manifest, then shard 1: its temp file is half done
            assert len(_tmp_files(tmp_path / "data")) == 1
            raise KeyboardInterrupt
        return real_fsync(fd)

    if where == "before-solve":
        monkeypatch.setattr(generation_mod, "_generate_shard", interrupt_second_shard)
    else:
        monkeypatch.setattr(cache_mod.os, "fsync", interrupt_second_write)
    with pytest.raises(KeyboardInterrupt):
        ensure_cache(path, tmp_path / "data", progress=False)
    monkeypatch.setattr(generation_mod, "_generate_shard", real_generate)
    monkeypatch.setattr(cache_mod.os, "fsync", real_fsync)

    cache = Cache(load_task(path), tmp_path / "data" / load_task(path).name)
    m = cache.read_manifest()
    assert sorted(m["splits"]["train"]["shards"]) == ["00000"]
    assert not cache.shard_path("train", 1).exists()
    _assert_consistent(cache, complete=False)

    calls = _count_calls(monkeypatch)
    ensure_cache(path, tmp_path / "data", progress=False)
    assert ("train", 0) not in calls and ("train", 1) in calls
    _assert_consistent(cache, complete=True)
    assert _files(cache.root) == _files(reference.root)


def test_sample_above_tolerance_is_never_written(
    tmp_path: Path, make_task, small_shards: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_task()
    real_solve = sampling_mod.solve

    # A solve whose certificate misses the tolerance for one sample of shard 1 (samples 4..7).
    state = {"calls": 0}

    def failing(source, **kw):
        res = real_solve(source, **kw)
        state["calls"] += 1
        if state["calls"] == 2:
            r = np.array(to_numpy(res.residual), dtype=float, copy=True)
            r[-1] = 1e-5
            res.residual = r
        return res

    monkeypatch.setattr(sampling_mod, "solve", failing)
    with pytest.raises(
        DiffbenchError,
        match=r"solver missed the residual certificate for sample 7 of split 'train' \(residual 1\.00e-05 > 1e-08\); nothing was written",
    ):
        ensure_cache(path, tmp_path, progress=False)
    task = load_task(path)
    cache = Cache(task, tmp_path / task.name)
    assert cache.shard_path("train", 0).exists() and not cache.shard_path("train", 1).exists()
    assert sorted(cache.read_manifest()["splits"]["train"]["shards"]) == ["00000"]
    _assert_consistent(cache, complete=False)
    monkeypatch.setattr(sampling_mod, "solve", real_solve)
    ensure_cache(path, tmp_path, progress=False)
    _assert_consistent(cache, complete=True)


# ---------------------------------------------------------------- corruption
@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupted_shard_is_reported_and_regenerated_identically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    shard = cache.shard_path("test", 0)
    good = shard.read_bytes()
    sha = sha256_file(shard)[0]
    data = bytearray(good)
    if damage == "flip":
        mid = len(data) // 2
        data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray()
    shard.write_bytes(bytes(data))
    capsys.readouterr()
    ensure_cache("smoke", tmp_path, progress=False)
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and str(shard) in warnings[0] and "checksum" in warnings[0], err
    assert sha256_file(shard)[0] == sha and shard.read_bytes() == good
    _assert_consistent(cache, complete=True)
    # The next run finds everything intact and says nothing.
    ensure_cache("smoke", tmp_path, progress=False)
    assert "warning" not in capsys.readouterr().err


def test_missing_shard_file_is_regenerated(tmp_path: Path) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    good = cache.shard_path("train", 0).read_bytes()
    cache.shard_path("train", 0).unlink()
    ensure_cache("smoke", tmp_path, progress=False)
    assert cache.shard_path("train", 0).read_bytes() == good


def test_unreadable_manifest_is_reported_and_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    before = _files(cache.root)
    cache.manifest_path.write_text('{"format": 1, "spec_ha')
    capsys.readouterr()
    ensure_cache("smoke", tmp_path, progress=False)
    assert "unreadable" in capsys.readouterr().err
    assert _files(cache.root) == before


# ---------------------------------------------------------------- refusals
def test_cache_of_another_spec_is_refused(tmp_path: Path, make_task) -> None:
    first = make_task(name="shared", seed=1)
    second = make_task(name="shared", seed=2)
    cache = ensure_cache(first, tmp_path, progress=False)
    before = _files(cache.root)
    with pytest.raises(DiffbenchError) as info:
        ensure_cache(second, tmp_path, progress=False)
    msg = str(info.value)
    assert "holds task 'shared' generated from a different spec" in msg
    assert load_task(first).spec_hash[:12] in msg and load_task(second).spec_hash[:12] in msg
    assert "delete it or pass another --data-dir" in msg and "\n" not in msg
    assert _files(cache.root) == before
    # Reading it is refused too.
    with pytest.raises(DiffbenchError, match="different spec"):
        Cache(load_task(second), cache.root).read_manifest()


def test_cache_of_another_format_is_refused(tmp_path: Path) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    m = json.loads(cache.manifest_path.read_text())
    m["format"] = 999
    cache.manifest_path.write_text(json.dumps(m))
    with pytest.raises(DiffbenchError, match=r"cache format 999; this diffbench reads format 1"):
        ensure_cache("smoke", tmp_path, progress=False)


@pytest.mark.parametrize("layout", ["under-a-file", "is-a-file", "task-dir-is-a-file"])
def test_unwritable_data_dir_is_one_clear_error(tmp_path: Path, layout: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    if layout == "under-a-file":
        data_dir = blocker / "data"
    elif layout == "is-a-file":
        data_dir = blocker
    else:
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        (data_dir / "smoke").write_text("not a directory")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(DiffbenchError) as info:
        ensure_cache("smoke", data_dir, progress=False)
    msg = str(info.value)
    assert msg.startswith(f"data dir {data_dir / 'smoke'} is not writable") and "--data-dir" in msg and "\n" not in msg
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_bad_devices_splits_or_backend_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(DiffbenchError, match=r"--devices must be a positive integer"):
            ensure_cache("smoke", tmp_path / "d", devices=bad, progress=False)
    with pytest.raises(DiffbenchError, match=r"unknown split\(s\) training; allowed: train, val, test"):
        ensure_cache("smoke", tmp_path / "d", splits=("train", "training"), progress=False)
    with pytest.raises(DiffbenchError, match=r"unknown split\(s\) \(none\)"):
        ensure_cache("smoke", tmp_path / "d", splits=(), progress=False)
    with pytest.raises(DiffbenchError, match=r"unknown backend 'tpu'"):
        ensure_cache("smoke", tmp_path / "d", backend="tpu", progress=False)
    assert not (tmp_path / "d").exists()
