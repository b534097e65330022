"""The training stage: the Lightning :class:`SurrogateModule`, losses, optimiser recipes,
callbacks, timing, W&B logging and the environment record; ``run.train_seed`` trains one
seed of a run and returns what it trained (it knows nothing of the stages after it).

>>> from diffbench.training import SurrogateModule, make_loss

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "LOSSES": ".losses",
    "MAELoss": ".losses",
    "MSELoss": ".losses",
    "TanhMAELoss": ".losses",
    "make_loss": ".losses",
    "RECIPES": ".recipes",
    "build_optimizer": ".recipes",
    "resolve_recipe": ".recipes",
    "SurrogateModule": ".module",
    "time_inference": ".timing",
    "time_solver": ".timing",
    "time_matched_solver": ".timing",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
