"""Tuning: ``diffbench tune`` searches a model's learning rate (and, where its preset exposes
them, width or Fourier modes) with Optuna, scoring every trial on the validation split only
under one trial budget, and writes the search and its choice to ``tune.json``;
``diffbench run --recipe-from tune.json`` trains with the choice and records how it was made;
``launch`` submits workers of one search as submitit jobs (local processes or a SLURM array).

>>> from diffbench.tuning import search_space, tune

Imports are lazy: importing this package costs nothing until a name is used.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "LR_RANGE": ".space",
    "SearchSpace": ".space",
    "search_space": ".space",
    "open_storage": ".storage",
    "open_search": ".search",
    "launch_tune": ".launch",
    "tune": ".search",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
