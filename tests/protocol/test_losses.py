"""Training losses against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from diffbench.errors import DiffbenchError
from diffbench.training.losses import LOSSES, MAELoss, MSELoss, TanhMAELoss, make_loss


def _pair():
    y = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    p = torch.tensor([[[[0.5, 0.5], [0.0, 0.75]]]])  # errors 0.5, 0, -1, 0.5
    return p, y


def test_mae_and_mse_hand_values():
    p, y = _pair()
    assert float(make_loss()(p, y)) == pytest.approx((0.5 + 0 + 1 + 0.5) / 4)
    assert isinstance(make_loss(), MAELoss)
    assert float(make_loss("mse")(p, y)) == pytest.approx((0.25 + 0 + 1 + 0.25) / 4)
    assert isinstance(make_loss("mse"), MSELoss)


def test_mean_is_pixel_weighted_over_the_batch():
    # the value of a batch is the mean over every element, not a sum (neuraloperator#485)
    y = torch.zeros(3, 1, 4, 4)
    p = torch.full((3, 1, 4, 4), 0.5)
    assert float(make_loss("mae")(p, y)) == pytest.approx(0.5)
    assert float(make_loss("mse")(p, y)) == pytest.approx(0.25)


def test_tanh_mae_paper_defaults():
    loss = make_loss("tanh-mae")
    assert isinstance(loss, TanhMAELoss)
    assert (loss.alpha, loss.w, loss.w2) == (1.0, 1.0, 2000.0)
    p, y = _pair()
    weights = [1 + 2000 * math.tanh(v) for v in (0.0, 0.5, 1.0, 0.25)]
    errors = [0.5, 0.0, 1.0, 0.5]
    expected = sum(w * e for w, e in zip(weights, errors)) / 4
    assert float(loss(p, y)) == pytest.approx(expected, rel=1e-6)


def test_tanh_mae_kwargs():
    p, y = _pair()
    loss = make_loss("tanh-mae", alpha=2.0, w=3.0, w2=0.5)
    weights = [1 + 0.5 * math.tanh(3 * v) for v in (0.0, 0.5, 1.0, 0.25)]
    errors = [0.25, 0.0, 1.0, 0.25]
    assert float(loss(p, y)) == pytest.approx(sum(w * e for w, e in zip(weights, errors)) / 4, rel=1e-6)
    # w2 = 0 is the plain MAE
    assert float(make_loss("tanh-mae", w2=0.0)(p, y)) == pytest.approx(float(make_loss("mae")(p, y)))


def test_losses_are_differentiable():
    p, y = _pair()
    for name in LOSSES:
        q = p.clone().requires_grad_(True)
        make_loss(name)(q, y).backward()
        assert q.grad is not None and torch.isfinite(q.grad).all()


def test_errors():
    with pytest.raises(DiffbenchError, match="valid losses: mae, mse, tanh-mae"):
        make_loss("huber")
    with pytest.raises(DiffbenchError, match="unknown option"):
        make_loss("mae", w2=3.0)
    with pytest.raises(DiffbenchError, match="valid options: alpha, w, w2"):
        make_loss("tanh-mae", beta=1.0)
    with pytest.raises(DiffbenchError, match="alpha"):
        make_loss("tanh-mae", alpha=0.0)
    with pytest.raises(DiffbenchError, match="w2"):
        make_loss("tanh-mae", w2=-1.0)
    p, y = _pair()
    with pytest.raises(DiffbenchError, match="must match exactly"):
        make_loss("mae")(p[:, 0], y)  # no silent broadcasting
