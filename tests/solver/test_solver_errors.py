"""Bad inputs raise DiffbenchError (a ValueError) with a message that names the problem."""

from __future__ import annotations

import numpy as np
import pytest

from diffbench.errors import DiffbenchError
from diffbench.solver import solve

N = 16


def src(*shape):
    return np.random.default_rng(0).random(shape or (N, N))


def raises(*words, **kw):
    """Call solve(**kw) and check the error type and that each word is in its message."""
    source = kw.pop("source", None)
    source = src() if source is None else source
    with pytest.raises(DiffbenchError) as info:
        solve(source, **kw)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    for w in words:
        assert w.lower() in msg.lower(), f"{w!r} not in {msg!r}"
    return msg


# ----------------------------------------------------------------------------- diffusivity
@pytest.mark.parametrize(
    "d",
    [0.0, -1.0, np.nan, np.inf, -np.inf],
    ids=["zero", "negative", "nan", "inf", "-inf"],
)
def test_bad_scalar_diffusivity(d):
    raises("diffusivity", "positive", "finite", diffusivity=d)


@pytest.mark.parametrize("bad", [0.0, -2.0, np.nan, np.inf])
def test_bad_diffusivity_field(bad):
    d = np.ones((N, N))
    d[3, 5] = bad
    raises("diffusivity", "D > 0", diffusivity=d)


def test_diffusivity_with_zeros_in_a_batch():
    d = np.ones((2, N, N))
    d[1, 0, :4] = 0.0
    raises("diffusivity", "positive", source=src(2, N, N), diffusivity=d)


@pytest.mark.parametrize("shape", [(N + 1, N + 1), (N, N - 1), (3, N, N), (2, 2, N, N), (5,), (N,)])
def test_diffusivity_of_wrong_shape(shape):
    raises("diffusivity", "shape", source=src(2, N, N), diffusivity=np.ones(shape))


def test_one_dimensional_diffusivity_is_per_sample_even_when_batch_equals_n():
    """A (B,) array is one D per sample, also when B == N (it used to become a profile in x)."""
    s = src(N, N, N)
    d = np.linspace(0.5, 2.0, N)
    res = solve(s, diffusivity=d)
    ref = solve(s[3], diffusivity=float(d[3]))
    assert res.field[3].tobytes() == ref.field.tobytes()


# ----------------------------------------------------------------------------- decay
@pytest.mark.parametrize("g", [-0.1, np.nan, np.inf], ids=["negative", "nan", "inf"])
def test_bad_decay(g):
    raises("decay", ">= 0", decay=g)


def test_bad_decay_field_and_shape():
    g = np.zeros((N, N))
    g[1, 1] = -1e-9
    raises("decay", decay=g)
    raises("decay", "shape", decay=np.zeros((N, N + 2)))


# ----------------------------------------------------------------------------- boundary
@pytest.mark.parametrize("name", ["absorbing", "Dirichlet", "", "robin"])
def test_unknown_boundary_name(name):
    raises("unknown boundary", "dirichlet", "neumann", "periodic", boundary=name)


def test_unknown_boundary_side_and_missing_side():
    raises(
        "side",
        "north",
        boundary={"north": "dirichlet", "bottom": "dirichlet", "left": "dirichlet", "right": "dirichlet"},
    )
    raises("lacks", "right", boundary={"top": "dirichlet", "bottom": "dirichlet", "left": "dirichlet"})
    raises("boundary must be", boundary=3)


@pytest.mark.parametrize(
    "sides",
    [
        {"top": "periodic", "bottom": "dirichlet", "left": "dirichlet", "right": "dirichlet"},
        {"top": "neumann", "bottom": "neumann", "left": "neumann", "right": "periodic"},
    ],
)
def test_periodic_on_one_side_only(sides):
    raises("periodic", "both", boundary=sides)


@pytest.mark.parametrize(
    "boundary",
    ["neumann", "periodic", {"top": "neumann", "bottom": "neumann", "left": "periodic", "right": "periodic"}],
)
def test_singular_problems(boundary):
    raises("singular", "decay", "clamped", boundary=boundary)
    # one singular sample in a batch is enough
    raises("singular", source=src(3, N, N), boundary=boundary, decay=np.array([0.1, 0.0, 0.1]))
    # a clamped mask that is all False clamps nothing
    raises("singular", boundary=boundary, fixed=(np.zeros((N, N), bool), 1.0))


def test_regular_neighbours_of_singular_problems_solve():
    """Decay > 0 somewhere, or one clamped cell, or one Dirichlet side makes them regular."""
    g = np.zeros((N, N))
    g[4, 4] = 0.1
    for kw in (
        dict(boundary="neumann", decay=g),
        dict(boundary="periodic", fixed=(np.eye(N, dtype=bool) & (np.arange(N) == 2), 0.0)),
        dict(boundary={"top": "neumann", "bottom": "dirichlet", "left": "neumann", "right": "neumann"}),
    ):
        assert solve(src(), tol=1e-8, **kw).residual <= 1e-8


# ----------------------------------------------------------------------------- source
@pytest.mark.parametrize(
    "source,words",
    [
        (np.ones(N), ("shape", "dimensions")),
        (np.ones((2, 2, N, N)), ("shape", "dimensions")),
        (np.ones((N, N + 1)), ("square",)),
        (np.ones((2, N, N - 2)), ("square",)),
        (np.ones((7, 7)), ("at least 8",)),
        (np.ones((3, 4, 4)), ("at least 8",)),
        (np.ones((N, N), dtype=complex), ("real", "dtype")),
        (np.ones((N, N), dtype=bool), ("real", "dtype")),
        (np.ones((N, N), dtype=object), ("real", "dtype")),
        (np.array("x"), ("shape",)),
        ("not an array", ("shape",)),
        (object(), ("numpy", "array")),
    ],
    ids=[
        "rank1",
        "rank4",
        "non-square",
        "non-square-batch",
        "n7",
        "n4-batch",
        "complex",
        "bool",
        "object",
        "rank0",
        "str",
        "object-instance",
    ],
)
def test_bad_source(source, words):
    raises(*words, source=source)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_source(bad):
    s = src()
    s[2, 3] = bad
    raises("source", "nan", "finite", source=s)


def test_integer_and_float32_sources_are_accepted():
    s = (src() * 10).astype(np.int32)
    a = solve(s)
    b = solve(s.astype(np.float64))
    assert a.field.dtype == np.float64 and a.field.tobytes() == b.field.tobytes()
    assert solve(src().astype(np.float32)).field.dtype == np.float64


# ----------------------------------------------------------------------------- fixed, tol, guess
@pytest.mark.parametrize("shape", [(N + 1, N + 1), (N, N - 1), (2, N, N), (N,), (1, 1, N, N)])
def test_fixed_mask_of_wrong_shape(shape):
    raises("fixed mask", "shape", source=src(3, N, N), fixed=(np.ones(shape, dtype=bool), 1.0))


def test_fixed_values_and_pair():
    m = np.zeros((N, N), bool)
    m[3, 3] = True
    raises("fixed values", "shape", fixed=(m, np.ones((3, 3))))
    raises("fixed values", "finite", fixed=(m, np.full((N, N), np.nan)))
    raises("pair", fixed=m)


@pytest.mark.parametrize("tol", [0.0, -1e-8, 1.0, np.nan, "1e-8"])
def test_bad_tol(tol):
    raises("tol", diffusivity=np.exp(np.random.default_rng(1).normal(size=(N, N))), tol=tol)


def test_bad_initial_guess():
    d = np.exp(np.random.default_rng(1).normal(size=(N, N)))
    raises("initial_guess", "shape", diffusivity=d, initial_guess=np.zeros((N + 1, N + 1)))
    g = np.zeros((N, N))
    g[0, 0] = np.nan
    raises("initial_guess", "finite", diffusivity=d, initial_guess=g)
