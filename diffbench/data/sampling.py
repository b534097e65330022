"""Seeded samples: sample ``i`` of split ``s`` of a task is a pure function of (seed, s, i).

``generate_raw`` draws each sample's configuration on the CPU from
``numpy.random.default_rng([seed, split_code, i])`` (disjoint streams per split), rasterises
and solves the batch on the chosen backend (NumPy or CuPy), refuses any sample whose
residual certificate misses the tolerance, and returns the *raw* arrays in physical units
(what shards store). :func:`diffbench.data.batch.to_batch` turns them into network batches.
No torch here: generation processes start fast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DiffbenchError
from ..physics.boundary import Boundary
from ..physics.sources import rasterise, sample_geometry
from ..solver import solve
from ..solver.backend import to_numpy
from .fields import boundary_codes
from .spec import SPLIT_CODES, TaskSpec

#: Residual certificate every stored sample must meet.
SOLVER_TOL = 1e-8


def sample_rng(task: TaskSpec, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([task.seed, SPLIT_CODES[split], int(index)])


def chunk_size(lattice: int) -> int:
    """Samples solved together: bounded so one chunk stays well under 1 GB of float64 work."""
    return int(max(1, min(64, (1 << 22) // (lattice * lattice))))


def draw_configurations(
    task: TaskSpec, split: str, indices: list[int]
) -> tuple[list[Any], list[Any], list[Any], list[Boundary], list[int]]:
    """The CPU part of :func:`generate_raw`: each sample's source geometry, D, decay, boundary and
    source count, drawn from its own seeded generator (indices are not checked here)."""
    split_spec = task.splits[split]
    geoms, Ds, gammas, bnds, counts = [], [], [], [], []
    for i in indices:
        rng = sample_rng(task, split, i)
        count = split_spec.count_of(i)
        geoms.append(sample_geometry(rng, task.sources, task.lattice, count))
        D, g, b = task.physics.sample(rng, task.lattice)
        Ds.append(D)
        gammas.append(g)
        bnds.append(b)
        counts.append(count)
    return geoms, Ds, gammas, bnds, counts


def generate_raw(task: TaskSpec, split: str, indices: list[int] | np.ndarray, xp: Any = np) -> dict[str, Any]:
    """Generate and solve the samples ``indices`` of ``split``; arrays on backend ``xp``.

    Returns a dict with ``source`` (B, N, N) float32 (flux map, or clamp values for clamped
    tasks), ``field`` (B, N, N) float32, ``diffusivity`` (B, N, N) float32, ``decay`` (B,),
    ``boundary`` (B, 4) int64, ``count`` and ``index`` (B,) int64, ``residual`` (B,) float64,
    ``iterations`` (B,) int64 and ``method`` (list of str).
    """
    split_spec = task.splits[split]
    n = task.lattice
    indices = [int(i) for i in indices]
    bad = [i for i in indices if not 0 <= i < split_spec.size]
    if bad:
        raise DiffbenchError(
            f"sample index {bad[0]} is outside split {split!r} of task {task.name!r} (0..{split_spec.size - 1})"
        )
    geoms, Ds, gammas, bnds, counts = draw_configurations(task, split, indices)
    source = rasterise(geoms, n, xp)
    B = len(indices)
    # D and decay constant over a sample stay one number per sample (the solver takes (B,)
    # arrays): no (B, N, N) float64 copies of them.
    uniform_d = not any(isinstance(D, np.ndarray) for D in Ds)
    if uniform_d:
        D_all = xp.asarray(np.asarray(Ds, dtype=np.float64))
    else:
        D_all = xp.empty((B, n, n), dtype=xp.float64)
        for k, D in enumerate(Ds):
            D_all[k] = xp.asarray(D, dtype=xp.float64)
    g_all = xp.asarray(np.asarray(gammas, dtype=np.float64))
    residual = np.empty(B)
    iterations = np.empty(B, dtype=np.int64)
    methods = [""] * B
    groups: dict[Boundary, list[int]] = {}  # a frozen dataclass: equal sides, one group
    for k, b in enumerate(bnds):
        groups.setdefault(b, []).append(k)
    field = None if len(groups) == 1 else xp.empty_like(source)
    for members in groups.values():
        # One group (one boundary for the whole batch): the arrays themselves, not copies.
        sel = slice(None) if field is None else xp.asarray(np.asarray(members))
        s = source[sel]
        kwargs = dict(diffusivity=D_all[sel], decay=g_all[sel], boundary=bnds[members[0]], tol=SOLVER_TOL)
        if task.source_mode == "clamped":
            res = solve(xp.zeros_like(s), fixed=(s > 0, s), **kwargs)
        else:
            res = solve(s, **kwargs)
        if field is None:
            field = res.field
        else:
            field[sel] = res.field
        residual[members] = to_numpy(res.residual)
        iterations[members] = to_numpy(res.iterations)
        for k in members:
            methods[k] = res.method
        del res, s
    worst = int(np.argmax(residual))
    if not np.all(residual <= SOLVER_TOL):
        raise DiffbenchError(
            f"solver missed the residual certificate for sample {indices[worst]} of split {split!r} "
            f"(residual {residual[worst]:.2e} > {SOLVER_TOL:.0e}); nothing was written"
        )
    codes = {b: boundary_codes(b) for b in groups}
    # Each float64 array goes as soon as its float32 copy exists (the peak is the solve's).
    source32 = source.astype(xp.float32)
    del source
    field32 = field.astype(xp.float32)
    del field
    return {
        "source": source32,
        "field": field32,
        "diffusivity": _float32_field(D_all, n, xp),
        "decay": xp.asarray(np.asarray(gammas, dtype=np.float32)),
        "boundary": xp.asarray(np.asarray([codes[b] for b in bnds], dtype=np.int64).reshape(B, 4)),
        "count": xp.asarray(np.asarray(counts, dtype=np.int64)),
        "index": xp.asarray(np.asarray(indices, dtype=np.int64)),
        "residual": residual,
        "iterations": iterations,
        "method": methods,
    }


def _float32_field(D: Any, n: int, xp: Any) -> Any:
    """D as a (B, N, N) float32 array, from (B, N, N) or one value per sample (B,)."""
    if D.ndim == 3:
        return D.astype(xp.float32)
    out = xp.empty((D.shape[0], n, n), dtype=xp.float32)
    out[...] = D.astype(xp.float32)[:, None, None]
    return out
