"""The DST-I that CuPy runs (a real FFT of the odd extension), checked on NumPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from diffbench.solver.transform import dst1_odd_extension


def _previous_formula(x: np.ndarray, axis: int) -> np.ndarray:
    """The odd-extension DST-I as written before its extension was built in place (zero-filled
    array, negated temporary): the bytes the new one must keep, so CuPy caches do not change."""
    x = np.moveaxis(x, axis, -1)
    n = x.shape[-1]
    ext = np.zeros(x.shape[:-1] + (2 * n + 2,))
    ext[..., 1 : n + 1] = x
    ext[..., n + 2 :] = -x[..., ::-1]
    return np.moveaxis(-np.fft.rfft(ext, axis=-1)[..., 1 : n + 1].imag, -1, axis)


@pytest.mark.parametrize("shape", [(8, 8), (31, 31), (3, 64, 64), (2, 5, 17, 17)])
def test_odd_extension_dst1_is_scipys_dst1(shape):
    x = np.random.default_rng(sum(shape)).standard_normal(shape)
    for axis in (-1, -2, 0):
        got = dst1_odd_extension(x, axis, np)
        want = scipy.fft.dst(x, type=1, axis=axis)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
        assert got.tobytes() == _previous_formula(x, axis).tobytes()  # C-order bytes, bit for bit
    # Its own inverse up to 2(N+1), as idst1 assumes.
    n = shape[-1]
    back = dst1_odd_extension(dst1_odd_extension(x, -1, np), -1, np) / (2 * (n + 1))
    np.testing.assert_allclose(back, x, rtol=0, atol=1e-12 * np.abs(x).max())


def test_odd_extension_leaves_its_input_alone():
    x = np.random.default_rng(1).standard_normal((4, 16, 16))
    before = x.copy()
    dst1_odd_extension(x, -2, np)
    assert np.array_equal(x, before)
