"""The run pipeline: ``diffbench run``, ``diffbench evaluate`` and ``diffbench verify``
(re-scoring through :func:`diffbench.training.rescore_seed`). A run calls the
stages in order, train -> evaluate -> trust -> write the result; the run options are defined
once, in :mod:`diffbench.pipeline.config`.

>>> from diffbench.pipeline import RunConfig, run

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "RunConfig": ".config",
    "run": ".run",
    "evaluate_checkpoint": ".evaluate",
    "verify": ".verify",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
