"""The training stage: the Lightning :class:`SurrogateModule`, losses, optimiser recipes,
callbacks, timing, W&B logging and the environment record; ``run.train_seed`` trains one
seed of a run and returns what it trained (it knows nothing of the stages after it).
:func:`load_checkpoint` is the one way a checkpoint is opened (it never runs code from the
file; see :mod:`diffbench.training.checkpoint_io`), and :func:`rescore_seed` re-scores a
seed from its checkpoint through the evaluator: the one code path of ``diffbench verify`` and
of a resume that checks a finished seed (:mod:`diffbench.training.rescore`).

>>> from diffbench.training import SurrogateModule, load_checkpoint, make_loss

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "CHECKPOINT_GLOBALS": ".checkpoint_io",
    "AtomicCheckpointIO": ".checkpoint_io",
    "check_model_spec": ".checkpoint_io",
    "file_sha256": ".checkpoint_io",
    "load_checkpoint": ".checkpoint_io",
    "RandomState": ".resume",
    "check_finished_seed": ".resume",
    "LOSSES": ".losses",
    "MAELoss": ".losses",
    "MSELoss": ".losses",
    "TanhMAELoss": ".losses",
    "make_loss": ".losses",
    "RECIPES": ".recipes",
    "build_optimizer": ".recipes",
    "resolve_recipe": ".recipes",
    "SurrogateModule": ".module",
    "module_from_checkpoint": ".rescore",
    "rescore_seed": ".rescore",
    "time_inference": ".timing",
    "time_solver": ".timing",
    "time_matched_solver": ".timing",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
