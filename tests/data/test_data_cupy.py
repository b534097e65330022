"""The data path on CuPy: deterministic, batch-independent, same bytes on regeneration, stream == cache.

Skipped unless :func:`diffbench.solver.backend.cupy_available`. Bytes are compared within one
backend only: NumPy and CuPy agree to solver accuracy, not bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from diffbench.data.cache import shard_plan
from diffbench.data.generation import ensure_cache
from diffbench.data.sampling import SOLVER_TOL, generate_raw
from diffbench.data.tasks import SPLITS, load_task
from diffbench.errors import DiffbenchError
from diffbench.solver.backend import cupy_available, get_backend, to_numpy

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs a CUDA GPU and CuPy")]

ARRAYS = ("source", "field", "diffusivity", "decay", "boundary", "count", "index", "residual", "iterations")
VARIANTS = {
    "flux": {},
    "lognormal": {"physics": {"diffusivity": {"kind": "lognormal", "sigma": 0.6, "length": 3}}},
    "random-boundary": {"physics": {"decay": 0.4, "boundary": {"random": ["dirichlet", "neumann", "periodic"]}}},
    "clamped": {"sources": {"mode": "clamped", "shape": "mix"}},
}


def _np(raw: dict, k: int | None = None) -> dict[str, bytes]:
    return {
        n: (np.asarray(to_numpy(raw[n])) if k is None else np.asarray(to_numpy(raw[n]))[k]).tobytes() for n in ARRAYS
    }


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_cupy_batch_equals_alone_and_matches_numpy(make_task, variant: str) -> None:
    cp = get_backend("cupy")
    task = load_task(make_task(VARIANTS[variant]))
    idx = list(range(task.splits["train"].size))
    batch = generate_raw(task, "train", idx, cp)
    assert isinstance(batch["field"], cp.ndarray)
    assert np.all(batch["residual"] <= SOLVER_TOL)
    assert _np(generate_raw(task, "train", idx, cp)) == _np(batch)
    for i in (0, 5, len(idx) - 1):
        assert _np(generate_raw(task, "train", [i], cp), 0) == _np(batch, i), i
    ref = generate_raw(task, "train", idx, np)
    for name in ("source", "diffusivity", "decay", "boundary", "count", "index"):
        np.testing.assert_array_equal(to_numpy(batch[name]), ref[name], err_msg=name)
    np.testing.assert_allclose(to_numpy(batch["field"]), ref["field"], rtol=1e-5, atol=1e-6 * float(ref["field"].max()))


def test_cupy_cache_regenerates_identical_bytes(tmp_path: Path, make_task) -> None:
    path = make_task(VARIANTS["lognormal"])
    a = ensure_cache(path, tmp_path / "a", backend="cupy", progress=False)
    b = ensure_cache(path, tmp_path / "b", backend="cupy", progress=False)
    assert a.read_manifest()["backend"] == "cupy"
    for split in SPLITS:
        for k, _ in enumerate(shard_plan(a.task, split)):
            assert a.shard_path(split, k).read_bytes() == b.shard_path(split, k).read_bytes()
    assert a.read_manifest()["splits"] == b.read_manifest()["splits"]


def test_cupy_stream_equals_cupy_cache(tmp_path: Path, make_task) -> None:
    from diffbench.data.datamodule import DiffusionDataModule

    path = make_task(VARIANTS["random-boundary"])
    cached = DiffusionDataModule(path, data_dir=tmp_path, backend="cupy", progress=False, eval_batch_size=5)
    stream = DiffusionDataModule(
        path, data_dir=tmp_path, backend="cupy", progress=False, eval_batch_size=5, serve="stream"
    )
    cached.prepare_data()
    n = 0
    for x, y in zip(cached.test_dataloader(), stream.test_dataloader()):
        assert y["input"].is_cuda
        for key in x:
            assert torch.equal(x[key], y[key].cpu()), key
        n += len(x["index"])
    assert n == cached.task.splits["test"].size


def test_more_devices_than_gpus_is_refused_before_writing(tmp_path: Path) -> None:
    cp = get_backend("cupy")
    too_many = cp.cuda.runtime.getDeviceCount() + 1
    with pytest.raises(DiffbenchError, match=rf"--devices {too_many} asks for more GPUs than exist"):
        ensure_cache("smoke", tmp_path / "d", devices=too_many, backend="cupy", progress=False)
    assert not (tmp_path / "d").exists()
