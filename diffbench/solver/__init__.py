"""Stage 2 — the solver: certified ground truth, fastest exact method first.

>>> from diffbench.solver import solve
"""

from .api import SolveResult, solve
from .backend import cupy_available, get_backend, to_numpy

__all__ = ["solve", "SolveResult", "cupy_available", "get_backend", "to_numpy"]
