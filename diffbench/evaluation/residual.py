"""The ground-truth-free metric: :func:`prediction_residual`, the relative residual of the
discrete PDE evaluated on a prediction (the ``residual`` entry of the metric specification in
:mod:`diffbench.evaluation.functional`), and the per-sample norm and ratio it shares with the
other metrics."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ..errors import DiffbenchError
from ..physics.boundary import BOUNDARY_TYPES
from ..physics.operator import build_stencil, scaled_relative_residual

__all__ = ["prediction_residual", "boundary_spec", "lattice_norm", "ratio_or_numerator"]


def boundary_spec(codes: tuple[int, ...]) -> dict[str, str]:
    """Boundary codes (top, bottom, left, right; 0 dirichlet, 1 neumann, 2 periodic) -> a stencil's boundary spec."""
    bad = [c for c in codes if not 0 <= c < len(BOUNDARY_TYPES)]
    if bad:
        raise DiffbenchError(f"boundary codes must be 0 (dirichlet), 1 (neumann) or 2 (periodic), got {list(codes)}")
    return dict(zip(("top", "bottom", "left", "right"), (BOUNDARY_TYPES[c] for c in codes)))


def lattice_norm(x: Tensor) -> Tensor:
    """The L2 norm of each sample over the lattice (the last two axes)."""
    return x.square().sum(dim=(-2, -1)).sqrt()


def ratio_or_numerator(num: Tensor, den: Tensor) -> Tensor:
    """num / den, and num where den == 0 (the physics module's convention)."""
    return torch.where(den == 0, num, num / torch.where(den == 0, torch.ones_like(den), den))


def prediction_residual(pred: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    """The relative PDE residual of each predicted field, with no ground truth.

    Parameters
    ----------
    pred : Tensor (B, 1, N, N) or (B, N, N)
        Prediction in normalised units.
    batch : mapping
        ``rhs``, ``diffusivity`` (B, N, N), ``decay`` (B,), ``boundary`` (B, 4) int codes
        (0 dirichlet, 1 neumann, 2 periodic; sides top, bottom, left, right), and optionally
        ``fixed`` (B, N, N) bool with ``fixed_values`` (B, N, N).

    Returns
    -------
    Tensor (B,) float64
        Per sample: ``||alpha A u - b|| / ||b||`` with the best scalar ``alpha`` when the
        sample has no clamped cell, else ``||f (A u' - b)|| / ||f (b - A u_c)||`` (see the
        docstring of :mod:`diffbench.evaluation.functional`). 0 for an exact solve, 1 for the zero field.

    Examples
    --------
    >>> import torch
    >>> B, N = 1, 8
    >>> batch = {"rhs": torch.ones(B, N, N), "diffusivity": torch.ones(B, N, N),
    ...          "decay": torch.zeros(B), "boundary": torch.zeros(B, 4, dtype=torch.long)}
    >>> prediction_residual(torch.zeros(B, 1, N, N), batch).tolist()
    [1.0]
    """
    u = pred[:, 0] if pred.dim() == 4 else pred
    u = u.to(torch.float64)
    rhs = batch["rhs"].to(torch.float64)
    D = batch["diffusivity"].to(torch.float64)
    decay = batch["decay"].to(torch.float64)
    fixed = batch.get("fixed")
    out = torch.empty(u.shape[0], dtype=torch.float64, device=u.device)
    if u.shape[0] == 0:
        return out
    if fixed is None:
        has_fixed = torch.zeros(u.shape[0], dtype=torch.int64, device=u.device)
    else:
        fixed = fixed.bool()
        has_fixed = fixed.flatten(1).any(dim=1).to(torch.int64)
    # one stencil per (boundary codes, clamped or not) group
    keys = torch.cat([batch["boundary"].to(torch.int64), has_fixed[:, None]], dim=1)
    groups, inverse = torch.unique(keys, dim=0, return_inverse=True)
    for g, key in enumerate(groups.tolist()):
        sel = (inverse == g).nonzero().flatten()
        st = build_stencil(D[sel], decay[sel][:, None, None], boundary_spec(tuple(key[:4])))
        if not key[4]:
            out[sel] = scaled_relative_residual(st, u[sel], rhs[sel])
            continue
        fx = fixed[sel]
        fv = batch["fixed_values"][sel].to(torch.float64)
        b = rhs[sel]
        free = (~fx).to(torch.float64)
        uc = torch.where(fx, fv, torch.zeros_like(fv))
        uf = torch.where(fx, fv, u[sel])
        num = lattice_norm(free * (st.apply(uf) - b))
        den = lattice_norm(free * (b - st.apply(uc)))
        out[sel] = ratio_or_numerator(num, den)
    return out
