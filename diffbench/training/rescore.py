"""Re-scoring a seed from its checkpoint: the one code path of ``diffbench verify`` (and of a
resume that re-derives a finished seed from its checkpoint); in the training stage so that
both the run (training) and ``verify`` (pipeline) can call it.

:func:`read_checkpoint` opens a checkpoint through the one loader,
:func:`diffbench.training.checkpoint_io.load_checkpoint` (``weights_only=True`` after listing the
pickle's globals without running them: a checkpoint that needs more than tensors and plain
containers is refused in one line). :func:`module_from_checkpoint` rebuilds the
network from the model spec the checkpoint records (a plugin names its package and version:
a missing one is a one-line error saying what to ``pip install``) and loads the weights.
:func:`rescore_seed` regenerates the task's validation and test splits from the task's seeds
(the data cache; the training split is never generated) and scores them through the
evaluator of ``diffbench run`` (:class:`~diffbench.training.module.SurrogateModule`'s
validation and test epochs, the same batches), returning the metrics as result.json holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import PROTOCOL_VERSION, __version__
from ..errors import DiffbenchError
from ..results.digest import clean_number
from .checkpoint_io import load_checkpoint

__all__ = ["module_from_checkpoint", "read_checkpoint", "rescore_seed"]


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The diffbench checkpoint at ``path`` as a dict, opened by the one loader
    (:func:`diffbench.training.checkpoint_io.load_checkpoint`: nothing unpickled runs code) and
    checked to hold what a diffbench checkpoint holds; every failure is one line."""
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt.get("hyper_parameters"), dict) or "state_dict" not in ckpt:
        raise DiffbenchError(f"{path} is not a diffbench checkpoint (no hyper-parameters and state dict)")
    return ckpt


def module_from_checkpoint(
    path: str | Path, *, expect_task_hash: str | None = None, package: dict[str, str] | None = None
) -> Any:
    """The :class:`SurrogateModule` of a checkpoint, its network rebuilt from the recorded spec
    and its weights loaded. ``package`` (``{"name", "version"}``) names the plugin distribution
    when the checkpoint's spec predates specs that record it."""
    from .module import SurrogateModule

    ckpt = read_checkpoint(path)
    hp = ckpt["hyper_parameters"]
    if not isinstance(hp.get("model_spec"), dict) or not isinstance(hp.get("task"), dict):
        raise DiffbenchError(f"{path} is not a diffbench checkpoint (no model spec and task recorded)")
    if hp.get("protocol_version") != PROTOCOL_VERSION:
        raise DiffbenchError(
            f"{path} was written under protocol version {hp.get('protocol_version')}; this diffbench "
            f"({__version__}) scores protocol version {PROTOCOL_VERSION}"
        )
    if expect_task_hash is not None and hp["task"].get("spec_hash") != expect_task_hash:
        raise DiffbenchError(
            f"{path} was trained on task {hp['task'].get('name')!r} (spec {str(hp['task'].get('spec_hash'))[:12]}), "
            f"not on the task of the result (spec {expect_task_hash[:12]})"
        )
    spec = dict(hp["model_spec"])
    if package and "package" not in spec and package.get("name") not in (None, "diffbench"):
        spec["package"] = {"name": str(package["name"]), "version": str(package.get("version"))}
    module = SurrogateModule(**{**{k: hp[k] for k in ("task", "loss", "recipe") if k in hp}, "model_spec": spec})
    try:
        module.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise DiffbenchError(
            f"{path}: its weights do not fit the model its spec rebuilds ({str(exc).splitlines()[0][:160]})"
        ) from None
    return module


def rescore_seed(
    checkpoint: str | Path,
    task: Any,
    data_dir: str | Path | None = None,
    *,
    test_counts: Sequence[int] | None = None,
    batch_size: int | None = None,
    splits: Sequence[str] = ("test", "val"),
    accelerator: str = "cpu",
    module: Any = None,
    progress: bool = False,
) -> dict[str, dict[str, Any]]:
    """Score ``checkpoint`` on ``splits`` of ``task`` as ``diffbench run`` scored it: ``{split:
    metrics}``, NaN as None (what result.json holds).

    ``test_counts`` and ``batch_size`` are the run's (``result["data"]["test_counts"]``, also
    the validation counts, and ``result["training"]["batch_size"]``: the evaluation batches are
    the run's). ``module`` skips loading (a module already built from the checkpoint).
    """
    import lightning as L

    from ..data import DiffusionDataModule, load_task

    spec = load_task(task)
    if module is None:
        module = module_from_checkpoint(checkpoint, expect_task_hash=spec.spec_hash)
    dm = DiffusionDataModule(
        spec,
        data_dir=data_dir,
        batch_size=batch_size,
        test_counts=test_counts,
        val_counts=test_counts,
        progress=progress,
    )
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    out: dict[str, dict[str, Any]] = {}
    for split in splits:
        if split == "test":
            dm.setup("test")
            trainer.test(module, datamodule=dm, verbose=False)
            out["test"] = clean_number(module.test_results)
        elif split == "val":
            dm.setup("validate")
            trainer.validate(module, datamodule=dm, verbose=False)
            out["val"] = clean_number(module.val_results)
        else:
            raise DiffbenchError(f"split must be test or val, got {split!r}; training data is never scored")
    return out
