"""Physics-consistency scores of a surrogate: does it respect what the equation guarantees?

Steady diffusion ``-div(D grad u) + gamma u = S`` is linear, symmetric under the lattice's
rotations and flips when D and the boundary are, obeys a maximum principle and conserves
flux. A network is not told any of this. These scores measure how far it is from each
property, on a fixed subset of test samples: :data:`SUBSET` (64) samples evenly spread over
the test split (so over every source count), the same for every model and seed of a task.
They need no training data and no solve, and cost about ``SUBSET * 2.5`` forward passes.

Label-free. No score reads a ground-truth field or a ground-truth scale: the batch's
``target``, ``target_scale``, ``rhs`` and ``fixed_values`` (the last two are divided by the
target's scale) are never touched, and no problem is solved (``tests/trust/test_consistency.py``
garbles them and checks that every score is unchanged). The scores read only the network's
input (the source map and its scale ``input_scale``, so ``S = input[:, 0] * input_scale`` in
physical units, the other input channels), the task's physics (D, gamma, boundary) and the
network's output.

Physical scale of a prediction. The network sees a source map scaled to max 1 and predicts a
field scaled to max 1, i.e. a *shape* ``p``; its amplitude is not an output. Comparing
predictions of different problems (superposition, flux) needs one, and the only label-free
amplitude is the one the equation itself gives the shape: with ``A`` the discrete operator of the
problem's physics (:func:`diffbench.physics.operator.build_stencil`, the solver's own),

    ``alpha(p, S) = <A p, S> / <A p, A p>``  (the least-squares solution of ``A (alpha p) = S``),

and ``u_hat = alpha p``. It uses the network's output and the input only. For an exact solver
``p = u / max u`` and ``alpha = max u`` exactly, so ``u_hat = u`` and every score is ~0; for a
network it is the amplitude that best satisfies the PDE given the network's shape (the same
rescaling as the ``residual`` indicator and ``diffbench solve --scale residual``).

Scores (the ``consistency`` block of a seed's ``result.json``)
---------------------------------------------------------------
``superposition`` (flux sources)
    Pairs ``(i, i + B/2)`` of the subset (``B/2 = 32`` pairs, few sources with many). With the
    physics (D, gamma, boundary) of sample i for all three problems:
    ``||u_hat(S_i + S_j) - u_hat(S_i) - u_hat(S_j)||_2 / ||u_hat(S_i + S_j)||_2`` with
    ``u_hat = alpha p`` as above (the denominator is the prediction's own norm, not the
    solver's). ``mean`` and ``max`` over pairs. ``not applicable`` for clamped sources
    (clamping is not linear in the clamp set).
``equivariance`` (samples with a uniform boundary and a spatially constant D)
    Each eligible sample gets one of the 7 non-identity symmetries of the square (sample k gets
    symmetry k mod 7: rot90, rot180, rot270, flip left-right, flip up-down, transpose,
    anti-transpose), applied to every input channel;
    ``||g^-1 f(g x) - f(x)||_2 / ||f(x)||_2`` in normalised units, ``mean`` and ``max``.
    ``not applicable`` when no sample qualifies.
``maximum_principle`` (non-negative sources, gamma >= 0: the true field is >= 0)
    ``negative_share``: the share of predicted pixels < 0; ``most_negative``: the smallest
    predicted value, normalised units (0 when none is negative).
``flux_balance`` (flux sources, gamma = 0, at least one Dirichlet side)
    In steady state everything the sources inject leaves through the Dirichlet faces, where the
    flux of boundary cell c is ``D_c u_c`` per Dirichlet side face (a corner cell with two such
    faces counts twice; Neumann faces carry none, periodic faces are interior).
    ``|sum_c outflow(u_hat) - sum S| / sum S`` with ``u_hat = alpha p`` as above, ``mean``
    and ``max`` over samples. (Summed over the lattice, ``A u`` telescopes to that outflow, so
    this is ``|sum_c r_c| / sum_c S_c`` for the residual ``r = A u_hat - S``: the global
    conservation the fitted amplitude leaves, where the ``residual`` indicator is its norm.)

Every score block has ``status`` (``ok`` or ``not applicable`` with a ``reason``). An exact
solver scores ~1e-7 (float32 rounding) on superposition, equivariance and flux balance, and a
model made to break one property (exact plus a constant, exact times a ramp, exact for another
decay) moves that score; see ``tests/trust/test_consistency.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..physics.boundary import BOUNDARY_TYPES, SIDES, Boundary
from ..physics.operator import build_stencil
from ..results import mean_std
from .tensors import param_dtype

#: Test samples the scores use.
SUBSET = 64
#: Symmetries of the square (non-identity), as (name, forward, inverse) on the last two axes.
SYMMETRIES: tuple[tuple[str, Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]], ...] = (
    ("rot90", lambda x: torch.rot90(x, 1, (-2, -1)), lambda x: torch.rot90(x, -1, (-2, -1))),
    ("rot180", lambda x: torch.rot90(x, 2, (-2, -1)), lambda x: torch.rot90(x, 2, (-2, -1))),
    ("rot270", lambda x: torch.rot90(x, 3, (-2, -1)), lambda x: torch.rot90(x, -3, (-2, -1))),
    ("flip_lr", lambda x: torch.flip(x, (-1,)), lambda x: torch.flip(x, (-1,))),
    ("flip_ud", lambda x: torch.flip(x, (-2,)), lambda x: torch.flip(x, (-2,))),
    ("transpose", lambda x: x.transpose(-2, -1), lambda x: x.transpose(-2, -1)),
    (
        "anti_transpose",
        lambda x: torch.flip(x, (-2, -1)).transpose(-2, -1),
        lambda x: torch.flip(x, (-2, -1)).transpose(-2, -1),
    ),
)
SCORES = ("superposition", "equivariance", "maximum_principle", "flux_balance")


def not_applicable(reason: str) -> dict[str, Any]:
    return {"status": "not applicable", "reason": reason}


def spread_subset(dataset: Any, size: int = SUBSET) -> dict[str, torch.Tensor]:
    """``size`` samples of a split, evenly spread over it (positions ``linspace(0, n - 1)``)."""
    n = len(dataset)
    positions = sorted(set(np.linspace(0, n - 1, min(size, n)).round().astype(int).tolist()))
    return dataset.__getitems__(positions)


@torch.no_grad()
def _predict(model: torch.nn.Module, x: torch.Tensor, device: torch.device, chunk: int = 64) -> torch.Tensor:
    dtype = param_dtype(model)
    outs = [model(x[i : i + chunk].to(device, dtype)).float()[:, 0].cpu() for i in range(0, x.shape[0], chunk)]
    return torch.cat(outs).double()


def _norm(x: torch.Tensor) -> torch.Tensor:
    return x.square().sum(dim=(-2, -1)).sqrt()


def _boundary(codes: Sequence[int]) -> Boundary:
    return Boundary(*[BOUNDARY_TYPES[int(c)] for c in codes])


def physical_source(batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``S`` in physical units from the input alone: ``input[:, 0] * input_scale`` (B, N, N)."""
    return batch["input"][:, 0].double() * batch["input_scale"].double()[:, None, None]


def operator_scale(
    p: torch.Tensor, S: torch.Tensor, D: torch.Tensor, decay: torch.Tensor, codes: torch.Tensor
) -> torch.Tensor:
    """``alpha = <A p, S> / <A p, A p>`` per sample (0 where ``A p = 0``): the amplitude that best
    makes the shape ``p`` solve ``A u = S`` (see the module docstring). One stencil per boundary.

    >>> import torch
    >>> from diffbench.solver import solve
    >>> S = torch.zeros(1, 8, 8, dtype=torch.float64); S[0, 3, 4] = 2.0
    >>> u = torch.from_numpy(solve(S.numpy(), tol=1e-12).field)
    >>> p = u / u.amax()
    >>> a = operator_scale(p, S, torch.ones_like(S), torch.zeros(1), torch.zeros(1, 4, dtype=torch.long))
    >>> bool(torch.allclose(a * p, u, rtol=1e-9))
    True
    """
    alpha = torch.zeros(p.shape[0], dtype=torch.float64)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, c in enumerate(codes.tolist()):
        groups.setdefault(tuple(c), []).append(i)
    for c, members in groups.items():
        sel = torch.as_tensor(members)
        st = build_stencil(D[sel].double(), decay[sel].double()[:, None, None], _boundary(c))
        ap = st.apply(p[sel].double())
        num = (ap * S[sel].double()).sum(dim=(-2, -1))
        den = ap.square().sum(dim=(-2, -1))
        alpha[sel] = torch.where(den > 0, num / torch.where(den > 0, den, torch.ones_like(den)), torch.zeros_like(den))
    return alpha


def _physical(
    p: torch.Tensor, S: torch.Tensor, D: torch.Tensor, decay: torch.Tensor, codes: torch.Tensor
) -> torch.Tensor:
    return operator_scale(p, S, D, decay, codes)[:, None, None] * p


def _mean_max(values: torch.Tensor) -> dict[str, Any]:
    return {"status": "ok", "mean": float(values.mean()), "max": float(values.max())}


def superposition(
    model: torch.nn.Module, batch: Mapping[str, torch.Tensor], base: torch.Tensor, device: torch.device, chunk: int = 64
) -> dict[str, Any]:
    """See the module docstring; ``base`` is the prediction on ``batch["input"]``."""
    B = base.shape[0]
    half = B // 2
    if half < 1:
        return not_applicable("needs at least 2 samples")
    x = batch["input"]
    S = physical_source(batch)
    D = batch["diffusivity"].double()
    g = batch["decay"].double()
    codes = batch["boundary"].long()
    i = torch.arange(half)
    j = i + half
    same = (D[i] == D[j]).flatten(1).all(dim=1) & (g[i] == g[j]) & (codes[i] == codes[j]).all(dim=1)

    def normalised(src: torch.Tensor) -> torch.Tensor:
        m = src.amax(dim=(-2, -1))
        return src / torch.where(m > 0, m, torch.ones_like(m))[:, None, None]

    def inputs(src: torch.Tensor) -> torch.Tensor:  # channel 0 from src, the rest from sample i
        return torch.cat([normalised(src).to(x.dtype)[:, None], x[i, 1:]], dim=1)

    S_sum = S[i] + S[j]
    problems = [S_sum]
    if not bool(same.all()):
        problems.append(S[j])
    preds = _predict(model, torch.cat([inputs(p) for p in problems]), device, chunk)
    phys_i = (D[i], g[i], codes[i])
    u_sum = _physical(preds[:half], S_sum, *phys_i)
    u_i = _physical(base[i], S[i], *phys_i)
    u_j = _physical(base[j], S[j], D[j], g[j], codes[j])
    if len(problems) == 2:  # sample j under sample i's physics, where they differ
        alt = _physical(preds[half:], S[j], *phys_i)
        u_j = torch.where(same[:, None, None], u_j, alt)
    err = _norm(u_sum - u_i - u_j) / _norm(u_sum).clamp_min(1e-300)
    return {**_mean_max(err), "n_pairs": half}


def equivariance(
    model: torch.nn.Module, batch: Mapping[str, torch.Tensor], base: torch.Tensor, device: torch.device, chunk: int = 64
) -> dict[str, Any]:
    """See the module docstring."""
    codes = batch["boundary"].long()
    D = batch["diffusivity"]
    uniform = (codes == codes[:, :1]).all(dim=1)
    constant_d = (D == D[:, :1, :1]).flatten(1).all(dim=1)
    eligible = (uniform & constant_d).nonzero().flatten()
    if eligible.numel() == 0:
        return not_applicable("no sample has a uniform boundary and a spatially constant D")
    x = batch["input"][eligible]
    f_x = base[eligible]
    transformed = torch.empty_like(x)
    which = [k % len(SYMMETRIES) for k in range(eligible.numel())]
    for k, t in enumerate(which):
        transformed[k] = SYMMETRIES[t][1](x[k])
    pred = _predict(model, transformed, device, chunk)
    back = torch.stack([SYMMETRIES[t][2](pred[k]) for k, t in enumerate(which)])
    err = _norm(back - f_x) / _norm(f_x).clamp_min(1e-300)
    used = sorted({SYMMETRIES[t][0] for t in which}, key=[s[0] for s in SYMMETRIES].index)
    return {**_mean_max(err), "n_samples": int(eligible.numel()), "transforms": used}


def maximum_principle(batch: Mapping[str, torch.Tensor], base: torch.Tensor) -> dict[str, Any]:
    """See the module docstring."""
    nonneg = (batch["input"][:, 0] >= 0).flatten(1).all(dim=1) & (batch["decay"] >= 0)
    if not bool(nonneg.any()):
        return not_applicable("no sample has non-negative sources")
    p = base[nonneg]
    return {
        "status": "ok",
        "negative_share": float((p < 0).double().mean()),
        "most_negative": float(min(0.0, float(p.min()))),
        "n_samples": int(nonneg.sum()),
    }


def outflow(u: torch.Tensor, D: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Per-sample flux out of the Dirichlet faces: ``sum D_c u_c`` over each Dirichlet side."""
    edges = {
        "top": (slice(None), 0, slice(None)),
        "bottom": (slice(None), -1, slice(None)),
        "left": (slice(None), slice(None), 0),
        "right": (slice(None), slice(None), -1),
    }
    total = torch.zeros(u.shape[0], dtype=torch.float64)
    dirichlet = BOUNDARY_TYPES.index("dirichlet")
    for k, side in enumerate(SIDES):
        on = (codes[:, k] == dirichlet).double()
        total = total + on * (D[edges[side]] * u[edges[side]]).sum(dim=-1)
    return total


def flux_balance(batch: Mapping[str, torch.Tensor], base: torch.Tensor) -> dict[str, Any]:
    """See the module docstring."""
    codes = batch["boundary"].long()
    S = physical_source(batch)
    total = S.sum(dim=(-2, -1))
    dirichlet = BOUNDARY_TYPES.index("dirichlet")
    ok = (batch["decay"] == 0) & (codes == dirichlet).any(dim=1) & (total > 0)
    if not bool(ok.any()):
        return not_applicable("needs samples with decay 0, a Dirichlet side and a positive total source")
    D = batch["diffusivity"].double()[ok]
    u = _physical(base[ok], S[ok], D, batch["decay"].double()[ok], codes[ok])
    out = outflow(u, D, codes[ok])
    err = (out - total[ok]).abs() / total[ok]
    return {**_mean_max(err), "n_samples": int(ok.sum())}


def consistency_scores(
    model: torch.nn.Module, batch: Mapping[str, torch.Tensor], task: Any, device: torch.device, batch_size: int = 64
) -> dict[str, Any]:
    """The ``consistency`` block for one model on one subset batch (see the module docstring).

    ``batch_size`` bounds each forward pass (a run passes its evaluation batch size, which its
    test loop has shown to fit in memory)."""
    started = time.perf_counter()
    was = model.training
    model.eval()
    chunk = max(1, int(batch_size))
    try:
        base = _predict(model, batch["input"], device, chunk)
        clamped = getattr(task, "source_mode", "flux") == "clamped"
        out: dict[str, Any] = {"n_samples": int(base.shape[0])}
        out["superposition"] = (
            not_applicable("clamped sources: clamping is not linear in the clamp set")
            if clamped
            else superposition(model, batch, base, device, chunk)
        )
        out["equivariance"] = equivariance(model, batch, base, device, chunk)
        out["maximum_principle"] = maximum_principle(batch, base)
        out["flux_balance"] = (
            not_applicable("clamped sources: the injected flux is not an input")
            if clamped
            else flux_balance(batch, base)
        )
    finally:
        model.train(was)
    out["time_s"] = time.perf_counter() - started
    return out


def aggregate_consistency(blocks: Sequence[Mapping[str, Any] | None]) -> dict[str, Any]:
    """Mean ± std over seeds of every number of each ``ok`` score (the run-level block)."""
    blocks = [b for b in blocks if b and b.get("status") != "error"]
    if not blocks:
        return {}
    out: dict[str, Any] = {"n_samples": blocks[0].get("n_samples"), "n_seeds": len(blocks)}
    for name in SCORES:
        rows = [b.get(name) or {} for b in blocks]
        ok = [r for r in rows if r.get("status") == "ok"]
        if not ok:
            reason = next((r.get("reason") for r in rows if r.get("reason")), "not computed")
            out[name] = not_applicable(reason)
            continue
        entry: dict[str, Any] = {"status": "ok"}
        for key, value in ok[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.startswith("n_"):
                entry[key] = mean_std([r.get(key) for r in ok])
            elif key != "status":
                entry[key] = value
        out[name] = entry
    return out
