"""Random source configurations: geometry drawn on the CPU from a seeded generator, then
rasterised on any array backend.

Drawing the geometry (a few numbers per source) with NumPy's ``Generator`` keeps every
sample a pure function of its seed on every backend; rasterising (the N x N work) runs where
the solver runs, NumPy or CuPy.

Shapes (all fit inside a circle of radius ``radius`` around an integer centre drawn uniformly
so that this circle lies inside the lattice):

- ``disk``: cells within ``radius`` of the centre (P21/P23 lineage);
- ``square``: an axis-aligned square of half-width ``radius / sqrt(2)``;
- ``ellipse``: semi-axes ``radius`` and ``radius * U(0.3, 1)`` at a random orientation;
- ``blob``: a random star-shaped blob, radius ``radius * (0.55 + 0.45 * smooth noise in angle)``;
- ``point``: the centre cell alone;
- ``mix``: each source picks one of the above uniformly.

Each source carries a random strength uniform in ``(low, high]``; overlapping sources add.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DiffbenchError

SHAPES = ("disk", "square", "ellipse", "blob", "point")
SHAPE_CHOICES = SHAPES + ("mix",)
_BLOB_HARMONICS = 3


@dataclass(frozen=True)
class SourceSpec:
    """How the sources of a task are drawn.

    Parameters
    ----------
    shape : str
        One of ``disk, square, ellipse, blob, point, mix``.
    radius : int
        Bounding radius in cells (> 0). Tasks default it to ``round(N / 20)``.
    strength : (float, float)
        Strengths are uniform in ``(low, high]``, ``0 <= low < high``.

    Examples
    --------
    >>> import numpy as np
    >>> spec = SourceSpec("disk", radius=2)
    >>> g = sample_geometry(np.random.default_rng(0), spec, lattice=16, count=3)
    >>> rasterise([g], 16, np).shape
    (1, 16, 16)
    """

    shape: str = "disk"
    radius: int = 5
    strength: tuple[float, float] = (0.0, 1.0)

    def validate(self, lattice: int, max_count: int) -> None:
        if self.shape not in SHAPE_CHOICES:
            raise DiffbenchError(f"unknown source shape {_show(self.shape)}; allowed: {', '.join(SHAPE_CHOICES)}")
        if isinstance(self.radius, bool) or not isinstance(self.radius, (int, np.integer)) or self.radius <= 0:
            raise DiffbenchError(f"source radius must be a positive integer number of cells, got {_show(self.radius)}")
        if self.radius > lattice:
            raise DiffbenchError(
                f"a source of radius {_show(self.radius)} does not fit in a {lattice}x{lattice} lattice; use radius <= {(lattice - 1) // 2}"
            )
        if 2 * self.radius + 1 > lattice:
            raise DiffbenchError(
                f"a source of radius {self.radius} (diameter {2 * self.radius + 1} cells) does not fit in a "
                f"{lattice}x{lattice} lattice; use radius <= {(lattice - 1) // 2}"
            )
        positions = (lattice - 2 * self.radius) ** 2
        if max_count > positions:
            raise DiffbenchError(
                f"{max_count} sources of radius {self.radius} do not fit in a {lattice}x{lattice} lattice "
                f"(only {positions} centre positions); use at most {positions} sources or a smaller radius"
            )
        try:
            low, high = (float(v) for v in self.strength)
        except (TypeError, ValueError, OverflowError):
            raise DiffbenchError(
                f"source strength must be a pair (low, high) of finite numbers, got {_show(self.strength)}"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low < high):
            raise DiffbenchError(f"source strength range must satisfy 0 <= low < high, got ({low}, {high})")


def _show(value: Any) -> str:
    """A short ``repr`` for an error message (a huge integer by its size: its digits may not print)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about 2**{value.bit_length()}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class SourceGeometry:
    """The sources of one sample: per-source centre, shape and strength (NumPy arrays)."""

    centres: np.ndarray  # (k, 2) int: (row, col)
    shapes: list[str]
    strengths: np.ndarray  # (k,)
    radius: int
    params: np.ndarray = field(default_factory=lambda: np.zeros((0, 2 + 2 * _BLOB_HARMONICS)))

    @property
    def count(self) -> int:
        return len(self.strengths)


def sample_geometry(rng: np.random.Generator, spec: SourceSpec, lattice: int, count: int) -> SourceGeometry:
    """Draw ``count`` sources for one sample; a pure function of the generator's state."""
    r = int(spec.radius)
    centres = rng.integers(r, lattice - r, size=(count, 2))
    low, high = spec.strength
    strengths = high - (high - low) * rng.random(count)  # uniform in (low, high]
    if spec.shape == "mix":
        shapes = [SHAPES[i] for i in rng.integers(0, len(SHAPES), size=count)]
    else:
        shapes = [spec.shape] * count
    # Shape parameters are always drawn, whatever the shape, so the stream layout is fixed.
    params = np.concatenate(
        [
            rng.uniform(0.3, 1.0, size=(count, 1)),  # ellipse aspect
            rng.uniform(0.0, np.pi, size=(count, 1)),  # ellipse angle
            rng.normal(0.0, 1.0, size=(count, _BLOB_HARMONICS)) / np.arange(2, 2 + _BLOB_HARMONICS),
            rng.uniform(0.0, 2 * np.pi, size=(count, _BLOB_HARMONICS)),
        ],
        axis=1,
    )
    return SourceGeometry(centres=centres, shapes=shapes, strengths=strengths, radius=r, params=params)


def _indicator(shape: str, dy: Any, dx: Any, radius: int, p: np.ndarray, xp: Any) -> Any:
    r2 = dy * dy + dx * dx
    if shape == "disk":
        return r2 <= radius * radius
    if shape == "point":
        return r2 == 0
    if shape == "square":
        h = math.floor(radius / math.sqrt(2.0))
        return (abs(dy) <= h) & (abs(dx) <= h)
    if shape == "ellipse":
        aspect, angle = float(p[0]), float(p[1])
        c, s = math.cos(angle), math.sin(angle)
        u = c * dx + s * dy
        v = -s * dx + c * dy
        b = max(radius * aspect, 0.5)
        return (u / radius) ** 2 + (v / b) ** 2 <= 1.0
    if shape == "blob":
        amps = p[2 : 2 + _BLOB_HARMONICS]
        phases = p[2 + _BLOB_HARMONICS :]
        theta = xp.arctan2(dy, dx)
        wobble = 0 * theta
        for m, (a, ph) in enumerate(zip(amps, phases), start=2):
            wobble = wobble + float(a) * xp.cos(m * theta + float(ph))
        norm = float(np.sum(np.abs(amps))) or 1.0
        rad = radius * (0.55 + 0.45 * wobble / norm)
        return (r2 <= rad * rad) | (r2 == 0)
    raise DiffbenchError(f"unknown source shape {shape!r}; allowed: {', '.join(SHAPE_CHOICES)}")


def rasterise(geometries: list[SourceGeometry], lattice: int, xp: Any = np, dtype: Any = None) -> Any:
    """The source maps (B, N, N) of a list of geometries on backend ``xp`` (NumPy or CuPy).

    Each source is stamped into its bounding box; stamps are added in source order, so the
    result is bit-identical on a given backend whatever the batch composition. In float64 the
    stamps' cells are listed on the CPU (NumPy, so CuPy gets the very same supports) and the
    additions go through :func:`_rasterise_numpy` (one ``bincount``) on NumPy or
    :func:`_rasterise_layers` (a few scatter-adds for the whole batch) on other backends; both
    repeat :func:`_rasterise_stamps`' additions bit for bit.
    """
    dtype = dtype or xp.float64
    if np.dtype(dtype) != np.float64:
        return _rasterise_stamps(geometries, lattice, xp, dtype)
    if xp is np:
        return _rasterise_numpy(geometries, lattice)
    return _rasterise_layers(geometries, lattice, xp)


def _rasterise_stamps(geometries: list[SourceGeometry], lattice: int, xp: Any, dtype: Any) -> Any:
    """Stamp by stamp: ``strength * mask`` added over each source's bounding box, in order
    (CuPy, other dtypes; the reference that :func:`_rasterise_numpy` reproduces)."""
    out = xp.zeros((len(geometries), lattice, lattice), dtype=dtype)
    cache: dict[tuple[str, int], Any] = {}
    for b, g in enumerate(geometries):
        r = g.radius
        off = xp.arange(-r, r + 1, dtype=dtype)
        dy, dx = off[:, None], off[None, :]
        for j in range(g.count):
            shape = g.shapes[j]
            key = (shape, r)
            if shape in ("disk", "point", "square"):
                if key not in cache:
                    cache[key] = _indicator(shape, dy, dx, r, g.params[j], xp).astype(dtype)
                mask = cache[key]
            else:
                mask = _indicator(shape, dy, dx, r, g.params[j], xp).astype(dtype)
            cy, cx = int(g.centres[j, 0]), int(g.centres[j, 1])
            out[b, cy - r : cy + r + 1, cx - r : cx + r + 1] += float(g.strengths[j]) * mask
    return out


#: Shapes whose stamp depends on the radius alone (no per-source parameters).
_FIXED_STAMPS = ("disk", "point", "square")


@functools.lru_cache(maxsize=64)
def _fixed_offsets(shape: str, radius: int, lattice: int) -> np.ndarray:
    return _stamp_offsets(shape, radius, np.zeros(2 + 2 * _BLOB_HARMONICS), lattice)


def _stamp_offsets(shape: str, radius: int, params: np.ndarray, lattice: int) -> np.ndarray:
    """Flat offsets (row * N + column) from a source's centre of the cells its stamp covers."""
    off = np.arange(-radius, radius + 1, dtype=np.float64)
    rows, cols = np.nonzero(_indicator(shape, off[:, None], off[None, :], radius, params, np))
    return (rows - radius) * lattice + (cols - radius)


def _source_cells(
    geometries: list[SourceGeometry], lattice: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | list[np.ndarray]]:
    """Every source of the batch, in batch then source order: the flat index (sample * N^2 +
    row * N + column) of its centre, its strength, and the flat offsets of its stamp's cells
    from the centre: one array shared by all sources when they share a fixed stamp, else a list."""
    B = len(geometries)
    counts = [g.count for g in geometries]
    centres = np.concatenate([g.centres for g in geometries]).astype(np.int64, copy=False).reshape(-1, 2)
    radius = np.repeat([g.radius for g in geometries], counts)[:, None]
    outside = (centres < radius) | (centres >= lattice - radius)
    if outside.any():
        k = int(np.flatnonzero(outside.any(axis=1))[0])
        raise DiffbenchError(
            f"a source of radius {int(radius[k, 0])} centred at {centres[k].tolist()} leaves the {lattice}x{lattice} lattice"
        )
    base = np.repeat(np.arange(B, dtype=np.int64) * lattice * lattice, counts) + centres[:, 0] * lattice + centres[:, 1]
    weight = np.concatenate([g.strengths for g in geometries]).astype(np.float64, copy=False)
    shapes: set[str] = set()
    for g in geometries:
        shapes.update(g.shapes)
    radii = {g.radius for g in geometries if g.count}
    if len(shapes) == 1 and len(radii) == 1 and next(iter(shapes)) in _FIXED_STAMPS:  # one stamp for all
        return base, weight, _fixed_offsets(next(iter(shapes)), radii.pop(), lattice)
    offsets = [
        _fixed_offsets(shape, g.radius, lattice)
        if shape in _FIXED_STAMPS
        else _stamp_offsets(shape, g.radius, g.params[j], lattice)
        for g in geometries
        for j, shape in enumerate(g.shapes)
    ]
    return base, weight, offsets


def _cell_lists(
    base: np.ndarray, weight: np.ndarray, offsets: np.ndarray | list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The flat index and the strength of every covered cell of these sources, source by source."""
    if isinstance(offsets, np.ndarray):
        return (base[:, None] + offsets[None, :]).ravel(), np.repeat(weight, len(offsets))
    sizes = np.asarray([len(o) for o in offsets], dtype=np.int64)
    return np.repeat(base, sizes) + np.concatenate(offsets), np.repeat(weight, sizes)


def _rasterise_numpy(geometries: list[SourceGeometry], lattice: int) -> np.ndarray:
    """:func:`rasterise` on NumPy in float64, bit for bit, with one ``bincount`` for the batch.

    The loop adds ``strength * mask`` over each bounding box, source after source; a cell
    outside the mask gains an exact 0, so each cell's value is ``((0 + s_1) + s_2) + ...``
    over the sources covering it, in order. ``bincount`` adds its weights one by one in input
    order, so listing every covered cell of every source, sample by sample and source by
    source, repeats those additions exactly (no Python loop over stamps on the N x N grid).
    """
    B, n2 = len(geometries), lattice * lattice
    if not sum(g.count for g in geometries):
        return np.zeros((B, lattice, lattice))
    index, weight = _cell_lists(*_source_cells(geometries, lattice))
    return np.bincount(index, weights=weight, minlength=B * n2).reshape(B, lattice, lattice)


def source_layers(geometries: list[SourceGeometry]) -> np.ndarray:
    """The layer of every source of the batch (batch then source order): 0 when no earlier
    source of its sample has a bounding box that meets its own, else one more than the highest
    layer among those that do.

    Sources of one layer cover disjoint cells, and the sources covering a cell sit in strictly
    increasing layers in source order (any two of them have meeting boxes), so adding the
    layers one after another adds every cell's strengths in source order.

    Examples
    --------
    >>> g = SourceGeometry(np.array([[5, 5], [6, 6], [20, 20], [7, 5]]), ["disk"] * 4, np.ones(4), 2)
    >>> source_layers([g]).tolist()
    [0, 1, 0, 2]
    """
    counts = np.asarray([g.count for g in geometries], dtype=np.int64)
    if not counts.sum():
        return np.zeros(0, dtype=np.int64)
    B, C = len(geometries), int(counts.max())
    centres = np.zeros((B, C, 2), dtype=np.int64)
    for b, g in enumerate(geometries):
        centres[b, : g.count] = g.centres
    reach = 2 * np.asarray([g.radius for g in geometries], dtype=np.int64)[:, None, None]
    meet = (np.abs(centres[:, :, None, 0] - centres[:, None, :, 0]) <= reach) & (
        np.abs(centres[:, :, None, 1] - centres[:, None, :, 1]) <= reach
    )
    layer = np.zeros((B, C), dtype=np.int64)
    for j in range(1, C):  # vectorised over the batch; padding only ever follows a sample's sources
        layer[:, j] = np.where(meet[:, j, :j], layer[:, :j] + 1, 0).max(axis=1)
    return layer[np.arange(C)[None, :] < counts[:, None]]


def _rasterise_layers(geometries: list[SourceGeometry], lattice: int, xp: Any) -> Any:
    """:func:`rasterise` in float64 on any backend, bit for bit, in one scatter-add per layer of
    :func:`source_layers` (each layer's cells are distinct, so ``flat[index] += strength`` is
    exact and deterministic even where the backend's scatter is parallel). A GPU then runs a
    few kernels per batch rather than a few per source stamp."""
    B, n2 = len(geometries), lattice * lattice
    flat = xp.zeros(B * n2, dtype=xp.float64)
    if not sum(g.count for g in geometries):
        return flat.reshape(B, lattice, lattice)
    base, weight, offsets = _source_cells(geometries, lattice)
    layer = source_layers(geometries)
    shared = xp.asarray(offsets) if isinstance(offsets, np.ndarray) else None
    for level in range(int(layer.max()) + 1):
        sel = np.flatnonzero(layer == level)
        if shared is not None:  # one stamp: the cells are formed on the device
            index = xp.asarray(base[sel])[:, None] + shared[None, :]
            strength = xp.asarray(weight[sel])[:, None]
        else:
            cells, strengths = _cell_lists(base[sel], weight[sel], [offsets[k] for k in sel])
            index, strength = xp.asarray(cells), xp.asarray(strengths)
        flat[index] += strength
    return flat.reshape(B, lattice, lattice)
