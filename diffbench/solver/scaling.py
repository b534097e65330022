"""The power-of-two rescaling that keeps ``solve`` inside float64's range: the per-sample
exponents of the operator's and the field's scale (:func:`scale_exponents`, which refuses what
float64 cannot hold once rescaled) and the way back to physical units (:func:`scale_back`).
Scaling by powers of two changes no bit of a problem of ordinary magnitude."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DiffbenchError
from .backend import to_numpy

#: Largest binary-exponent spread of D within one sample (max / min up to 2^500, about 3e150):
#: beyond it the face conductances ``2 a b / (a + b)`` of the rescaled problem underflow.
MAX_D_SPREAD_EXP = 500
#: Samples whose scale exponents (see ``solve``) all lie within +-RESCALE_FREE are solved as given:
#: rescaling them would change no bit (powers of two are exact far from float64's limits).
RESCALE_FREE = 64
#: A returned field's largest magnitude must lie in [2^(LOWEST_FIELD_EXP - 1), 2^1024), about
#: 2.2e-305 .. 1.8e308: from there down to 0, rounding to subnormals costs at most 2^-63 of the
#: maximum, below float64's own rounding of it.
LOWEST_FIELD_EXP = -1011


def peak_magnitude(x: Any, xp: Any) -> Any:
    """Per-sample max |x| over the lattice, in two reading passes (no |x| array); NaN if any is NaN."""
    return xp.maximum(x.max(axis=(-2, -1)), -x.min(axis=(-2, -1)))


def binary_exponent(peak: Any, xp: Any) -> Any:
    """Binary exponents e of ``peak`` (peak in [2^(e-1), 2^e)); 0 for zeros."""
    return xp.frexp(peak)[1].astype(xp.int32)  # ldexp's exponent type on NumPy and CuPy


def scale_exponents(s: Any, D: Any, g: Any, mask: Any, fvals: Any, xp: Any) -> tuple[Any, Any]:
    """Per-sample exponents (kd, ku), shaped (B, 1, 1), of the operator's and the field's scale.

    Refuses, with one line, what float64 cannot hold once rescaled: D spread over more than
    2^MAX_D_SPREAD_EXP within a sample, or a decay beyond float64's range relative to max D.
    """
    kd = binary_exponent(D.max(axis=(-2, -1)), xp)
    spread = kd - binary_exponent(D.min(axis=(-2, -1)), xp)
    if bool((spread > MAX_D_SPREAD_EXP).any()):
        i = int(np.flatnonzero(to_numpy(spread > MAX_D_SPREAD_EXP))[0])
        raise DiffbenchError(
            f"diffusivity contrast too large for float64 in sample {i} (min {float(D[i].min()):.3g}, max "
            f"{float(D[i].max()):.3g}): max / min must be at most 2^{MAX_D_SPREAD_EXP} (about 3e150)"
        )
    gmax = g.max(axis=(-2, -1))
    ratio = xp.where(gmax > 0, binary_exponent(gmax, xp) - kd, 0)
    if bool((ratio > 1000).any()):
        i = int(np.flatnonzero(to_numpy(ratio > 1000))[0])
        raise DiffbenchError(
            f"decay too large for the diffusivity in sample {i} (max decay {float(g[i].max()):.3g}, max D "
            f"{float(D[i].max()):.3g}): decay / D must be at most 2^1000 (about 1e301)"
        )
    # The field's scale: S / max D for a flux source, the clamped values for clamped cells.
    none = -(1 << 20)
    smax = peak_magnitude(s, xp)
    cand = xp.where(smax > 0, binary_exponent(smax, xp) - kd, none)
    if mask is not None:
        hmax = peak_magnitude(xp.where(mask, fvals, 0.0), xp)
        cand = xp.maximum(cand, xp.where(hmax > 0, binary_exponent(hmax, xp), none))
    ku = xp.where(cand == none, 0, cand)
    return kd[:, None, None], ku[:, None, None]


def scale_back(u: Any, peak: Any, ku: Any, finite: Any, rescale: bool, xp: Any) -> Any:
    """``2^ku u`` (``peak``: max |u| per sample), refused with one line when a finite field's
    magnitude leaves float64's range."""
    peak = xp.where(finite, peak, 0.0)
    e = binary_exponent(peak, xp) + ku[:, 0, 0]
    bad = (peak > 0) & ((e > 1024) | (e < LOWEST_FIELD_EXP))
    if bool(bad.any()):
        i = int(np.flatnonzero(to_numpy(bad))[0])
        mag = float(to_numpy(e)[i]) * math.log10(2.0)
        raise DiffbenchError(
            f"the solution of sample {i} has magnitude about 1e{mag:+.0f}, outside float64's range for a field "
            f"(about 2.2e-305 .. 1.8e+308); rescale the source or the diffusivity"
        )
    return xp.ldexp(u, ku) if rescale else u
