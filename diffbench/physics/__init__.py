"""Stage 1 — the physics: the equation, its boundaries, its discrete operator and its sources.

Steady diffusion with decay and sources on an N x N lattice of unit cells::

    -div(D grad u) + gamma u = S

discretised with the cell-centred 5-point finite-volume stencil (see :mod:`.operator`).
Everything here is written with slicing and arithmetic only, so the same code runs on
NumPy, CuPy and torch arrays.
"""

from .boundary import BOUNDARY_TYPES, SIDES, Boundary, parse_boundary
from .operator import Stencil, build_stencil, relative_residual, scaled_relative_residual, uniform_relative_residual
from .sources import SourceGeometry, SourceSpec, rasterise, sample_geometry

__all__ = [
    "BOUNDARY_TYPES",
    "SIDES",
    "Boundary",
    "parse_boundary",
    "Stencil",
    "build_stencil",
    "relative_residual",
    "scaled_relative_residual",
    "uniform_relative_residual",
    "SourceSpec",
    "SourceGeometry",
    "sample_geometry",
    "rasterise",
]
