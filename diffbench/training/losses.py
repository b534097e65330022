"""Training losses, by name.

Every loss compares a prediction ``p`` with the normalised target ``y`` (max 1) of the
same shape and returns the **mean over every element** of the batch (all samples, channels
and pixels pooled; pixel-weighted, never a sum, so its scale does not depend on the batch
size or the lattice size). Shapes must match exactly: no broadcasting.

============  ==============================================================================
name          per-pixel term, averaged
============  ==============================================================================
``mae``       ``|p - y|`` (the default; the benchmark's headline metric)
``mse``       ``(p - y)^2``
``tanh-mae``  ``(1 + w2 * tanh(w * y)) * |p - y|^alpha``, the P23 trainer default
              (``my_loss`` / ``HyperbolicTangentMeanError``), defaults ``alpha = 1``,
              ``w = 1``, ``w2 = 2000``
============  ==============================================================================

The ``tanh-mae`` defaults are the paper's. With ``w2 = 2000`` the weight runs from 1 on
empty pixels to about ``1 + 2000 tanh(1) ~ 1524`` at the peak, so the loss is roughly
three orders of magnitude larger than the plain MAE of the same errors; the learning rate
(Adam is scale-invariant to first order) is what matters, but logged loss values are not
comparable across losses. Pass ``w2=...`` to change it. With ``alpha < 1`` the gradient of
``|d|^alpha`` is unbounded at ``d = 0``.

Examples
--------
>>> import torch
>>> loss = make_loss("mae")
>>> float(loss(torch.zeros(2, 1, 8, 8), torch.full((2, 1, 8, 8), 0.5)))
0.5
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import DiffbenchError

__all__ = ["LOSSES", "MAELoss", "MSELoss", "TanhMAELoss", "make_loss"]


def _check(pred: Tensor, target: Tensor) -> None:
    if tuple(pred.shape) != tuple(target.shape):
        raise DiffbenchError(
            f"loss: pred has shape {tuple(pred.shape)} but target has shape {tuple(target.shape)}; they must match exactly"
        )


class MAELoss(nn.Module):
    """``mean |p - y|`` over every element.

    Examples
    --------
    >>> import torch
    >>> float(MAELoss()(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    1.5
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check(pred, target)
        return (pred - target).abs().mean()


class MSELoss(nn.Module):
    """``mean (p - y)^2`` over every element.

    Examples
    --------
    >>> import torch
    >>> float(MSELoss()(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    2.5
    """

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check(pred, target)
        return (pred - target).square().mean()


class TanhMAELoss(nn.Module):
    """The P23 tanh-weighted MAE: ``mean[(1 + w2 tanh(w y)) |p - y|^alpha]``.

    Parameters
    ----------
    alpha : float
        Exponent of the error, > 0 (paper default 1).
    w : float
        Target weight inside the tanh, >= 0 (paper default 1).
    w2 : float
        Weight of the tanh term, >= 0 (paper default 2000; ``w2 = 0`` is ``mean |d|^alpha``).

    Examples
    --------
    >>> import torch
    >>> loss = TanhMAELoss(w2=1.0)
    >>> y = torch.tensor([0.0, 1.0]); p = torch.tensor([0.5, 0.5])
    >>> round(float(loss(p, y)), 6) == round(0.5 * (1 + (1 + math.tanh(1.0))) / 2, 6)
    True
    """

    def __init__(self, alpha: float = 1.0, w: float = 1.0, w2: float = 2000.0) -> None:
        super().__init__()
        for name, value, low, strict in (("alpha", alpha, 0.0, True), ("w", w, 0.0, False), ("w2", w2, 0.0, False)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or (value <= low if strict else value < low):
                bound = "> 0" if strict else ">= 0"
                raise DiffbenchError(f"tanh-mae: {name} must be a finite number {bound}, got {value!r}")
        self.alpha = float(alpha)
        self.w = float(w)
        self.w2 = float(w2)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, w={self.w}, w2={self.w2}"

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check(pred, target)
        weight = 1.0 + self.w2 * torch.tanh(self.w * target)
        err = (pred - target).abs()
        if self.alpha != 1.0:
            err = err.pow(self.alpha)
        return (weight * err).mean()


#: Loss names accepted by :func:`make_loss`, mapped to their classes.
LOSSES: dict[str, type[nn.Module]] = {"mae": MAELoss, "mse": MSELoss, "tanh-mae": TanhMAELoss}


def make_loss(name: str = "mae", **kwargs: Any) -> nn.Module:
    """Build a loss module by name.

    Parameters
    ----------
    name : str
        One of ``mae`` (default), ``mse``, ``tanh-mae``.
    **kwargs
        Hyperparameters of the loss (``tanh-mae``: ``alpha``, ``w``, ``w2``); ``mae`` and
        ``mse`` take none.

    Raises
    ------
    DiffbenchError
        On an unknown name (the message lists the valid ones) or an unknown or invalid
        hyperparameter.

    Examples
    --------
    >>> make_loss("tanh-mae", w2=10.0)
    TanhMAELoss(alpha=1.0, w=1.0, w2=10.0)
    >>> make_loss("huber")
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: unknown loss 'huber'; valid losses: mae, mse, tanh-mae
    """
    if not isinstance(name, str) or name not in LOSSES:
        raise DiffbenchError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    cls = LOSSES[name]
    allowed = ("alpha", "w", "w2") if cls is TanhMAELoss else ()
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise DiffbenchError(f"loss {name!r} got unknown option(s) {', '.join(unknown)}; valid options: {valid}")
    return cls(**kwargs)
