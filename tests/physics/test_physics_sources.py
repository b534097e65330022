"""Source geometry: shapes inside the lattice and their radius, strengths, seeding, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffbench.errors import DiffbenchError
from diffbench.physics.sources import (
    SHAPE_CHOICES,
    SHAPES,
    SourceGeometry,
    SourceSpec,
    _rasterise_layers,
    _rasterise_stamps,
    rasterise,
    sample_geometry,
    source_layers,
)


def _single_maps(shape, n, radius, seeds, strength=(0.5, 2.0)):
    """One-source maps (so overlaps cannot add) and their geometries."""
    spec = SourceSpec(shape, radius=radius, strength=strength)
    spec.validate(n, 1)
    geoms = [sample_geometry(np.random.default_rng(s), spec, n, 1) for s in seeds]
    return geoms, rasterise(geoms, n, np)


@pytest.mark.parametrize("shape", SHAPE_CHOICES)
@pytest.mark.parametrize("n,radius", [(16, 1), (32, 3), (33, 5), (40, 19)])
def test_every_shape_lies_within_radius_of_its_centre(shape, n, radius):
    geoms, maps = _single_maps(shape, n, radius, range(60))
    yy, xx = np.mgrid[:n, :n]
    for g, m in zip(geoms, maps):
        cy, cx = g.centres[0]
        assert radius <= cy <= n - 1 - radius and radius <= cx <= n - 1 - radius
        support = m != 0
        assert support[cy, cx], "the centre cell always belongs to the source"
        dist2 = (yy - cy) ** 2 + (xx - cx) ** 2
        assert dist2[support].max() <= radius * radius + 1e-9, f"{g.shapes[0]} reaches beyond radius {radius}"
        # a single source has one value, its strength, in (low, high]
        vals = np.unique(m[support])
        assert len(vals) == 1 and vals[0] == g.strengths[0]
        assert 0.5 < vals[0] <= 2.0


@pytest.mark.parametrize("shape", SHAPES)
def test_shapes_have_their_size(shape):
    n, radius = 48, 8
    geoms, maps = _single_maps(shape, n, radius, range(20))
    cells = (maps != 0).sum(axis=(-2, -1))
    if shape == "point":
        assert np.all(cells == 1)
    elif shape == "disk":
        assert np.all(cells == sum(1 for y in range(-8, 9) for x in range(-8, 9) if y * y + x * x <= 64))
    elif shape == "square":
        h = math.floor(radius / math.sqrt(2))
        assert np.all(cells == (2 * h + 1) ** 2)
    else:
        assert np.all(cells > 1) and np.all(cells <= math.pi * (radius + 1) ** 2)
        assert len(set(cells.tolist())) > 1, "random shapes vary"


def test_mix_uses_every_shape_and_multi_source_maps_add():
    n = 64
    spec = SourceSpec("mix", radius=4, strength=(1.0, 3.0))
    g = sample_geometry(np.random.default_rng(0), spec, n, 200)
    assert set(g.shapes) == set(SHAPES)
    assert np.all((g.strengths > 1.0) & (g.strengths <= 3.0))
    m = rasterise([g], n, np)[0]
    total = sum(
        rasterise(
            [type(g)(g.centres[j : j + 1], g.shapes[j : j + 1], g.strengths[j : j + 1], g.radius, g.params[j : j + 1])],
            n,
            np,
        )[0]
        for j in range(g.count)
    )
    np.testing.assert_allclose(m, total, rtol=1e-14)
    assert m.min() >= 0


def test_strengths_are_in_the_half_open_range():
    spec = SourceSpec("disk", radius=2, strength=(0.0, 1.0))
    g = sample_geometry(np.random.default_rng(1), spec, 32, 100)  # positions: 28^2 >= 100
    assert np.all(g.strengths > 0.0) and np.all(g.strengths <= 1.0)
    spec = SourceSpec("point", radius=1, strength=(5.0, 5.5))
    g = sample_geometry(np.random.default_rng(2), spec, 16, 50)
    assert np.all(g.strengths > 5.0) and np.all(g.strengths <= 5.5)


@pytest.mark.parametrize("shape", SHAPE_CHOICES)
def test_same_seed_same_map(shape):
    spec = SourceSpec(shape, radius=3)
    maps = []
    for _ in range(2):
        geoms = [sample_geometry(np.random.default_rng(s), spec, 32, 5) for s in (7, 8, 9)]
        maps.append(rasterise(geoms, 32, np))
    assert maps[0].tobytes() == maps[1].tobytes()
    other = rasterise([sample_geometry(np.random.default_rng(10), spec, 32, 5)], 32, np)
    assert other[0].tobytes() != maps[0][0].tobytes()


@pytest.mark.parametrize("shape", SHAPE_CHOICES)
def test_rasterise_adds_like_stamp_by_stamp_to_the_bit(shape):
    """NumPy rasterises the batch with one bincount; it must repeat the stamp loop's additions
    exactly, in source order, where many sources overlap."""
    spec = SourceSpec(shape, radius=4, strength=(0.1, 3.0))
    geoms = [sample_geometry(np.random.default_rng(s), spec, 20, 30) for s in range(5)]
    geoms.insert(2, sample_geometry(np.random.default_rng(9), spec, 20, 0))  # a sample without sources
    fast = rasterise(geoms, 20, np)
    ref = _rasterise_stamps(geoms, 20, np, np.float64)
    assert fast.dtype == np.float64 and fast.shape == (6, 20, 20)
    assert fast.tobytes() == ref.tobytes()
    assert not fast[2].any()
    if shape != "point":  # single cells rarely overlap
        # The order of additions matters here (so the test can fail): reversed sources round differently.
        rev = [
            SourceGeometry(g.centres[::-1], g.shapes[::-1], g.strengths[::-1], g.radius, g.params[::-1]) for g in geoms
        ]
        assert _rasterise_stamps(rev, 20, np, np.float64).tobytes() != ref.tobytes()


@pytest.mark.parametrize("shape", SHAPE_CHOICES)
def test_layered_rasterise_adds_like_stamp_by_stamp_to_the_bit(shape):
    """The layered scatter-add (CuPy's path, run here on NumPy) must give the stamp loop's bits
    where up to 30 sources pile up, in samples of different counts (one without sources)."""
    spec = SourceSpec(shape, radius=4, strength=(0.1, 3.0))
    geoms = [sample_geometry(np.random.default_rng(s), spec, 20, c) for s, c in enumerate((30, 1, 12, 0, 30))]
    layered = _rasterise_layers(geoms, 20, np)
    ref = _rasterise_stamps(geoms, 20, np, np.float64)
    assert layered.dtype == np.float64 and layered.shape == (5, 20, 20)
    assert layered.tobytes() == ref.tobytes()
    assert layered.tobytes() == rasterise(geoms, 20, np).tobytes()
    if shape != "point":
        assert source_layers(geoms).max() >= 3  # the overlaps this test is about really happen


def test_source_layers_are_disjoint_and_ordered():
    """Within a layer no two sources share a cell; the sources covering a cell have strictly
    increasing layers in source order."""
    spec = SourceSpec("mix", radius=3)
    geoms = [sample_geometry(np.random.default_rng(s), spec, 24, 15) for s in range(6)]
    layer = source_layers(geoms)
    assert layer.shape == (90,) and layer.dtype == np.int64
    k = 0
    for b, g in enumerate(geoms):
        covered: dict[int, list[int]] = {}
        for j in range(g.count):
            one = SourceGeometry(g.centres[j : j + 1], g.shapes[j : j + 1], np.ones(1), g.radius, g.params[j : j + 1])
            for cell in np.flatnonzero(rasterise([one], 24, np)[0]):
                covered.setdefault(int(cell), []).append(int(layer[k + j]))
        k += g.count
        assert any(len(v) > 1 for v in covered.values())
        for levels in covered.values():
            assert all(a < c for a, c in zip(levels, levels[1:])), (b, levels)
    far = SourceGeometry(np.array([[3, 3], [3, 10], [10, 3]]), ["disk"] * 3, np.ones(3), 3)
    assert source_layers([far]).tolist() == [0, 0, 0]  # boxes 7 apart do not meet at radius 3
    assert source_layers([]).shape == (0,)


def test_rasterise_refuses_a_source_outside_the_lattice():
    g = sample_geometry(np.random.default_rng(0), SourceSpec("disk", radius=3), 16, 2)
    g.centres[1] = (2, 8)
    with pytest.raises(DiffbenchError, match="leaves the 16x16 lattice"):
        rasterise([g], 16, np)


def test_rasterise_is_batch_independent_and_typed():
    spec = SourceSpec("mix", radius=3)
    geoms = [sample_geometry(np.random.default_rng(s), spec, 24, 4) for s in range(5)]
    batch = rasterise(geoms, 24, np)
    assert batch.shape == (5, 24, 24) and batch.dtype == np.float64
    for b, g in enumerate(geoms):
        assert rasterise([g], 24, np)[0].tobytes() == batch[b].tobytes()
    assert rasterise(geoms, 24, np, dtype=np.float32).dtype == np.float32
    assert rasterise([], 24, np).shape == (0, 24, 24)


@pytest.mark.parametrize(
    "spec,n,count,words",
    [
        (SourceSpec("disk", radius=0), 32, 1, ("radius", "positive")),
        (SourceSpec("disk", radius=-2), 32, 1, ("radius", "positive")),
        (SourceSpec("disk", radius=2.5), 32, 1, ("radius", "integer")),
        (SourceSpec("disk", radius=True), 32, 1, ("radius",)),
        (SourceSpec("disk", radius=16), 32, 1, ("does not fit", "radius <= 15")),
        (SourceSpec("disk", radius=4), 8, 1, ("does not fit",)),
        (SourceSpec("disk", radius=3), 10, 17, ("do not fit", "16 centre positions")),
        (SourceSpec("disk", radius=1, strength=(1.0, 1.0)), 16, 1, ("strength", "low < high")),
        (SourceSpec("disk", radius=1, strength=(-1.0, 1.0)), 16, 1, ("strength",)),
        (SourceSpec("disk", radius=1, strength=(0.0, float("inf"))), 16, 1, ("strength",)),
        (SourceSpec("disk", radius=1, strength=(2.0, 1.0)), 16, 1, ("strength",)),
        (SourceSpec("star", radius=1), 16, 1, ("unknown source shape", "disk", "mix")),
        (SourceSpec("disk", radius=1, strength=(1.0,)), 16, 1, ("strength", "pair")),
        (SourceSpec("disk", radius=1, strength="high"), 16, 1, ("strength", "pair")),
    ],
)
def test_validation_errors(spec, n, count, words):
    with pytest.raises(DiffbenchError) as info:
        spec.validate(n, count)
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_largest_valid_specs_pass():
    SourceSpec("disk", radius=15).validate(31, 1)
    SourceSpec("disk", radius=3).validate(10, 16)
    SourceSpec("mix", radius=1, strength=(0.0, 1e-9)).validate(8, 36)
