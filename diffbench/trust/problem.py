"""The problem a certified solve is given (:mod:`diffbench.trust.polish`): the physics of a batch
(:class:`Physics`; :func:`task_physics` reads the task's, with the command line's overrides, and
:func:`on_backend` moves it to NumPy or CuPy), its operator (:func:`physics_stencil`) and the
residual certificate ``||A u - S|| / ||S||`` of a field, recomputed from that operator
(:func:`certificate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import Boundary, parse_boundary
from ..physics.operator import build_stencil, norm2, relative_residual
from ..solver.backend import array_module, to_numpy


@dataclass
class Physics:
    """The physics of a batch: D (B, N, N), decay (B,), one boundary, clamped or flux sources."""

    diffusivity: np.ndarray
    decay: np.ndarray
    boundary: Boundary
    clamped: bool = False
    notes: list[str] = field(default_factory=list)


def task_physics(
    task: Any, batch: int, n: int, *, diffusivity: Any = None, decay: Any = None, boundary: Any = None
) -> Physics:
    """The physics of ``batch`` problems of the task, with the given overrides.

    A physics axis the task draws per sample (D not constant, a decay range, several boundaries)
    has no single value in the checkpoint: it must be given (``--diffusivity``, ``--decay``,
    ``--boundary``), else :class:`DiffbenchError` says which option is missing.
    """
    spec = task.physics
    notes = []
    d = spec.diffusivity
    if diffusivity is None:
        if d["kind"] != "constant":
            raise DiffbenchError(
                f"task {task.name!r} draws the diffusivity per sample ({d['kind']}); give it with --diffusivity "
                "(a number or a .npy of shape (N, N) or (B, N, N))"
            )
        diffusivity = d["value"]
    else:
        notes.append("diffusivity given on the command line")
    D = np.asarray(diffusivity, dtype=np.float64)
    if D.ndim == 0:
        D = np.full((batch, n, n), float(D))
    elif D.shape == (n, n):
        D = np.broadcast_to(D, (batch, n, n)).copy()
    elif D.shape != (batch, n, n):
        raise DiffbenchError(
            f"diffusivity must be a number or have shape ({n}, {n}) or ({batch}, {n}, {n}), got {D.shape}"
        )
    if not np.isfinite(D).all() or not (D > 0).all():
        raise DiffbenchError("diffusivity must be positive and finite everywhere (D > 0)")
    lo, hi = spec.decay
    if decay is None:
        if lo != hi:
            raise DiffbenchError(
                f"task {task.name!r} draws the decay per sample in [{lo}, {hi}]; give it with --decay (a number >= 0)"
            )
        decay = lo
    else:
        notes.append("decay given on the command line")
    g = np.asarray(decay, dtype=np.float64)
    if g.ndim == 0:
        g = np.full(batch, float(g))
    elif g.shape != (batch,):
        raise DiffbenchError(f"decay must be a number or have shape ({batch},), got {g.shape}")
    if not np.isfinite(g).all() or not (g >= 0).all():
        raise DiffbenchError("decay must be finite and >= 0")
    if boundary is None:
        if len(spec.boundaries) != 1:
            options = ", ".join(str(b.describe()) for b in spec.boundaries)
            raise DiffbenchError(
                f"task {task.name!r} draws the boundary per sample (one of {options}); give it with --boundary"
            )
        b = spec.boundaries[0]
    else:
        b = parse_boundary(boundary)
        notes.append("boundary given on the command line")
    return Physics(D, g, b, task.source_mode == "clamped", notes)


def physics_stencil(physics: Physics) -> Any:
    """The operator of ``physics`` (what :func:`certificate` measures against)."""
    return build_stencil(physics.diffusivity, physics.decay[:, None, None], physics.boundary)


def certificate(u: np.ndarray, sources: np.ndarray, physics: Physics, stencil: Any = None) -> np.ndarray:
    """Per-sample ``||A u - S|| / ||S||`` over the free cells, recomputed from the stencil
    (clamped cells must hold their values exactly, else the certificate is inf); a NumPy array
    whatever the backend of ``u``. ``stencil``: :func:`physics_stencil` of ``physics``, when the
    caller already has it (a batch's certificates then share one)."""
    xp = array_module(u)
    st = physics_stencil(physics) if stencil is None else stencil
    if not physics.clamped:
        return to_numpy(relative_residual(st, u, sources)).astype(np.float64)
    mask = sources > 0
    free = (~mask).astype(xp.float64)
    uc = xp.where(mask, sources, 0.0)
    num = norm2(st.apply(u) * free)  # free of underflow: a 1e-170 clamped value is not a residual of 0
    den = norm2(free * st.apply(uc))
    res = xp.where(den == 0, num, num / xp.where(den == 0, 1.0, den))
    held = (xp.where(mask, u, 0.0) == uc).all(axis=(-2, -1))
    return to_numpy(xp.where(held, res, xp.inf)).astype(np.float64)


def on_backend(physics: Physics, xp: Any) -> Physics:
    """The same physics with its arrays on backend ``xp``."""
    return Physics(
        xp.asarray(physics.diffusivity, dtype=xp.float64),
        xp.asarray(physics.decay, dtype=xp.float64),
        physics.boundary,
        physics.clamped,
        list(physics.notes),
    )
