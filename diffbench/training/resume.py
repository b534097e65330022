"""What ``diffbench run --resume`` promises: an interrupted seed continues exactly where its last
checkpoint left it, and a finished seed's result is kept only if its checkpoint backs it.

**Exact continuation.** :class:`RandomState` is a callback whose state, saved in every
checkpoint, is every random generator a training step draws from: torch's (CPU and each CUDA
device), numpy's global one and Python's ``random``. Restored on resume, the next epoch's
shuffled order (the DataLoader's sampler seeds itself from torch's generator when its
iterator is made) and every dropout mask are those of the uninterrupted run; with the
optimiser, scheduler and loop states Lightning restores, a seed killed after an epoch and
resumed ends with bit-identical weights on one CPU device (tested; on a GPU, as exactly as
two uninterrupted runs agree there, since cuDNN may pick non-deterministic kernels). Under DDP every rank restarts
from rank 0's generators (samplers are seeded by epoch there, but dropout masks of the other
ranks differ), so a resumed multi-device seed may differ slightly; every seed result records
``resumed`` (true when any part of it was trained after a restart).

**Finished seeds.** A seed's ``result.json`` records ``checkpoint.sha256``, the SHA-256 of
its best checkpoint. On resume :func:`check_finished_seed` re-reads the file (a truncated or
edited-to-garbage file is one line), checks the checkpoint's hash, and re-scores the
checkpoint through the evaluator on the validation and test splits (:func:`~diffbench.training.rescore.rescore_seed`, the code
path ``verify`` uses); a seed whose recorded metrics are not what its checkpoint scores is
refused in one line, never folded into a freshly digested run result.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from ..errors import DiffbenchError
from .checkpoint_io import file_sha256
from .rescore import rescore_seed

#: The relative tolerance when a finished seed's metrics are compared with its re-scored
#: checkpoint (every metric of both splits, per source count too): the evaluation's memory
#: format may differ from training's (``--channels-last``) by float rounding.
RESCORE_RTOL = 1e-5


def capture_random_state() -> dict[str, Any]:
    """Every global random generator's state, in types a checkpoint may hold (tensors, ints,
    floats, tuples).

    >>> state = capture_random_state()
    >>> a = torch.rand(3), np.random.rand(), random.random()
    >>> restore_random_state(state)
    >>> b = torch.rand(3), np.random.rand(), random.random()
    >>> torch.equal(a[0], b[0]) and a[1:] == b[1:]
    True
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }


def restore_random_state(state: dict[str, Any]) -> None:
    """Set every global random generator from :func:`capture_random_state`'s output."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    random.setstate(_as_tuples(state["python"]))


def _as_tuples(value: Any) -> Any:
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


class RandomState(Callback):
    """Saves the random generators in every checkpoint and restores them on resume (see the
    module docstring); ``restored`` tells whether this fit started from a checkpoint.

    The generators must hold the saved state when the train iterator of the resumed epoch is
    made (the DataLoader draws its base seed there, and the sampler its order at the first
    batch). Lightning makes one right after the checkpoint is loaded, which a resume under an
    epoch budget then uses; under a step budget it first replays the end of the interrupted
    epoch and makes a fresh iterator when the next epoch starts, so the state is set again
    then (the condition is Lightning's own, ``_TrainingEpochLoop.on_run_start``)."""

    def __init__(self) -> None:
        self.restored = False
        self._pending: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        return capture_random_state()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_random_state(state)
        self._pending = state
        self.restored = True

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        fit_loop = trainer.fit_loop
        fresh_iterator = (
            trainer.current_epoch > 0
            and not getattr(fit_loop, "is_resuming", False)
            and not fit_loop.epoch_loop.restarting
        )
        if fresh_iterator:
            restore_random_state(state)


def read_seed_result(path: Path) -> dict[str, Any]:
    """A seed's ``result.json`` as a mapping, or one line saying why it cannot be."""
    hint = f"delete {path.parent} to train that seed again"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DiffbenchError(f"{path} is not UTF-8 text; {hint}") from None
    except json.JSONDecodeError as exc:
        raise DiffbenchError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"it may have been cut short; {hint}"
        ) from None
    except OSError as exc:
        raise DiffbenchError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(record, dict):
        raise DiffbenchError(f"{path} does not hold a seed result (a JSON object); {hint}")
    return record


def check_finished_seed(path: Path, out_dir: Path, seed: int, task_hash: str, dm: Any) -> dict[str, Any]:
    """The finished seed's record at ``path``, after checking it against its best checkpoint:
    the recorded SHA-256 of the file and the metrics the checkpoint scores on both splits."""
    from .module import SurrogateModule

    record = read_seed_result(path)
    where = f"{path.parent.name}/result.json"
    hint = f"delete {path.parent} to train that seed again"
    if record.get("seed") != seed:
        raise DiffbenchError(f"{where} records seed {record.get('seed')!r}, not {seed}; {hint}")
    rel = record.get("best_checkpoint")
    ckpt = (out_dir / rel).resolve() if isinstance(rel, str) and rel and not Path(rel).is_absolute() else None
    if ckpt is None or out_dir.resolve() not in ckpt.parents or not ckpt.is_file():
        raise DiffbenchError(
            f"{where} does not match its checkpoint: best_checkpoint {rel!r} is not a file of this run; {hint}"
        )
    ref = record.get("checkpoint")
    recorded = ref.get("sha256") if isinstance(ref, dict) else None
    if recorded is not None:
        actual = file_sha256(ckpt)
        if actual != recorded:
            raise DiffbenchError(
                f"{where} does not match its checkpoint {rel}: the file's SHA-256 is {actual[:12]}..., "
                f"the result records {str(recorded)[:12]}...; {hint}"
            )
    # The one re-scoring path (diffbench verify's): the evaluator of the run, on the run's batches.
    scores = rescore_seed(
        ckpt,
        dm.task,
        dm.data_dir,
        test_counts=dm.counts["test"],
        batch_size=dm.batch_size,
        splits=("val", "test"),
        module=SurrogateModule.load(str(ckpt), expect_task_hash=task_hash),
    )
    for split in ("val", "test"):
        wrong = first_difference(record.get(split), scores[split], split)
        if wrong is not None:
            key, want, got = wrong
            raise DiffbenchError(
                f"{where} does not match its checkpoint {rel}: {key} is recorded as {_shown(want)} "
                f"but the checkpoint scores {_shown(got)}; {hint}"
            )
    return record


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "nothing" if value is None else repr(value)[:40]


def first_difference(recorded: Any, scored: Any, where: str) -> tuple[str, Any, Any] | None:
    """The first value of ``scored`` (metrics as JSON holds them: NaN as None) that ``recorded``
    does not hold, as ``(dotted key, recorded, scored)``; numbers agree to :data:`RESCORE_RTOL`.

    >>> first_difference({"mae": 0.5, "per_count": {"1": {"mae": 0.2}}}, {"mae": 0.5, "per_count": {"1": {"mae": 0.3}}}, "test")
    ('test.per_count.1.mae', 0.2, 0.3)
    >>> first_difference({"mae": 0.5, "n_samples": 3}, {"mae": 0.5000001, "n_samples": 3}, "test") is None
    True
    """
    if isinstance(scored, dict):
        if not isinstance(recorded, dict):
            return where, recorded, scored
        for key, value in scored.items():
            found = first_difference(recorded.get(key), value, f"{where}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(scored, bool) or not isinstance(scored, (int, float)):
        return None if recorded == scored else (where, recorded, scored)
    if isinstance(recorded, bool) or not isinstance(recorded, (int, float)):
        return where, recorded, scored
    if isinstance(scored, int) and isinstance(recorded, int):
        return None if recorded == scored else (where, recorded, scored)
    return None if math.isclose(recorded, scored, rel_tol=RESCORE_RTOL, abs_tol=1e-12) else (where, recorded, scored)
