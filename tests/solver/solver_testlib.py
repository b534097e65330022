"""Shared helpers of the solver tests: coefficient fields, the independent reference and the
certificate recomputed from the assembled sparse matrix.

The reference (:func:`diffbench.solver.reference.assemble_matrix` + ``direct_solve``) is written
face by face from the definition, independently of :mod:`diffbench.physics.operator`.
"""

from __future__ import annotations

import numpy as np

from diffbench.solver.reference import assemble_matrix, direct_solve

MIXED_Y_PERIODIC_X = {"top": "dirichlet", "bottom": "neumann", "left": "periodic", "right": "periodic"}
MIXED_CORNER = {"top": "neumann", "bottom": "dirichlet", "left": "dirichlet", "right": "neumann"}
MIXED_ONE_SIDE = {"top": "dirichlet", "bottom": "dirichlet", "left": "neumann", "right": "dirichlet"}
MIXED_PERIODIC_Y = {"top": "periodic", "bottom": "periodic", "left": "neumann", "right": "dirichlet"}


def lognormal_d(rng: np.random.Generator, n: int, sigma: float = 1.0, batch: int | None = None) -> np.ndarray:
    """A log-normal D: exp of a lightly smoothed Gaussian field (contrast ~ e^(6 sigma))."""
    shape = (n, n) if batch is None else (batch, n, n)
    z = rng.normal(size=shape)
    z = (z + np.roll(z, 1, -1) + np.roll(z, -1, -1) + np.roll(z, 1, -2) + np.roll(z, -1, -2)) / np.sqrt(5.0)
    return np.exp(sigma * z)


def piecewise_d(rng: np.random.Generator, n: int, contrast: float = 1e3, count: int = 4) -> np.ndarray:
    """Background 1 with ``count`` random rectangles of D = contrast or 1 / contrast."""
    d = np.ones((n, n))
    for k in range(count):
        y0, x0 = rng.integers(0, n - 3, size=2)
        h, w = rng.integers(3, max(4, n // 2), size=2)
        d[y0 : y0 + h, x0 : x0 + w] = contrast if k % 2 == 0 else 1.0 / contrast
    return d


def clamp_mask(rng: np.random.Generator, n: int, count: int = 3, radius: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A few clamped disks and their (non-negative) values."""
    mask = np.zeros((n, n), dtype=bool)
    yy, xx = np.mgrid[:n, :n]
    for _ in range(count):
        cy, cx = rng.integers(radius, n - radius, size=2)
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 <= radius * radius
    values = np.where(mask, rng.uniform(0.5, 2.0, size=(n, n)), 0.0)
    return mask, values


def per_sample(x, b: int, batch: bool):
    """Sample ``b`` of an argument that is a scalar, an (N, N) array, a (B,) array or a (B, N, N) array."""
    x = np.asarray(x, dtype=np.float64)
    if not batch or x.ndim in (0, 2):
        return x
    return x[b]


def reference_solve(source, diffusivity, decay, boundary, fixed=None):
    """Per-sample reference fields and matrices: list of (field, matrix)."""
    s = np.asarray(source, dtype=np.float64)
    batch = s.ndim == 3
    ss = s if batch else s[None]
    out = []
    for b in range(ss.shape[0]):
        n = ss.shape[-1]
        d = np.broadcast_to(per_sample(diffusivity, b, batch), (n, n))
        g = per_sample(decay, b, batch)
        a = assemble_matrix(d, g, boundary)
        if fixed is None:
            u = direct_solve(a, ss[b])
        else:
            mask = np.broadcast_to(per_sample(fixed[0], b, batch), (n, n)).astype(bool)
            vals = np.broadcast_to(per_sample(fixed[1], b, batch), (n, n))
            u = direct_solve(a, ss[b], mask, vals)
        out.append((u, a))
    return out


def certificate(matrix, field, source, mask=None, values=None, *, with_noise: bool = False):
    """``||A u - S|| / ||S||`` over the free cells, recomputed from the sparse matrix.

    With clamped cells S is the right-hand side left after moving the clamped values across:
    ``S_free - A_free,fixed u_fixed``. With ``with_noise`` also returns the rounding floor of
    this quantity in double precision, ``eps || |A| |u| + |S| || / ||S||``: two correct
    evaluations of the residual may differ by a small multiple of it.
    """
    num, den, noise = _certificate_parts(matrix, field, source, mask, values)
    cert = float(num / den) if den > 0 else float(num)
    if not with_noise:
        return cert
    return cert, float(noise / den) if den > 0 else float(noise)


def _certificate_parts(matrix, field, source, mask, values):
    u = np.asarray(field, dtype=np.float64).ravel()
    s = np.asarray(source, dtype=np.float64).ravel()
    r = matrix @ u - s
    scale = abs(matrix) @ np.abs(u) + np.abs(s)
    eps = np.finfo(np.float64).eps
    if mask is None or not np.any(mask):
        return np.linalg.norm(r), np.linalg.norm(s), eps * np.linalg.norm(scale)
    fx = np.asarray(mask, dtype=bool).ravel()
    uc = np.where(fx, np.asarray(values, dtype=np.float64).ravel(), 0.0)
    free = ~fx
    num = np.linalg.norm(r[free])
    den = np.linalg.norm(s[free] - (matrix @ uc)[free])
    return num, den, eps * np.linalg.norm(scale[free])


def rel_max_err(u, ref) -> float:
    u, ref = np.asarray(u), np.asarray(ref)
    return float(np.abs(u - ref).max() / np.abs(ref).max())
