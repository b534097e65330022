"""Indicators: MC-dropout spread, the inverse network, the ensemble, the dropout variant."""

from __future__ import annotations

import torch

from diffbench.data import load_task
from diffbench.models import create, model_spec
from diffbench.trust.indicators import (
    accepts_dropout,
    ensemble_indicators,
    mc_dropout_spread,
    seed_indicators,
    train_inverse,
    with_mc_dropout,
)


def test_mc_dropout_spread_is_zero_without_dropout_and_positive_with_it():
    x = torch.rand(4, 1, 32, 32)
    torch.manual_seed(0)
    plain = create("unet-small", 1, lattice=32, dropout=0.0)
    assert torch.equal(mc_dropout_spread(plain, x, k=3), torch.zeros(4, dtype=torch.float64))
    torch.manual_seed(0)
    dropped = create("unet-small", 1, lattice=32, dropout=0.1)
    spread = mc_dropout_spread(dropped, x, k=3)
    assert spread.shape == (4,) and bool((spread > 0).all())


def test_mc_dropout_keeps_batchnorm_frozen_and_restores_modes():
    torch.manual_seed(0)
    net = create("cnn-small", 1, lattice=32, dropout=0.1)  # has a BatchNorm layer
    net.train()
    bn = next(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    spread = mc_dropout_spread(net, torch.rand(3, 1, 32, 32), k=3)
    assert bool((spread > 0).all())
    assert torch.equal(bn.running_mean, before)  # BatchNorm ran in eval mode
    assert all(m.training for m in net.modules())  # modes restored


def test_dropout_variant_only_when_the_constructor_takes_it():
    task = load_task("smoke")
    probe = create("unet-small", 1, lattice=32)
    assert accepts_dropout(model_spec(probe))
    trained = with_mc_dropout(probe, "unet-small", {}, task, ["mc-dropout"])
    assert model_spec(trained)["init_args"]["dropout"] == 0.1
    assert with_mc_dropout(probe, "unet-small", {"dropout": 0.3}, task, ["mc-dropout"]) is probe  # the user's value wins
    assert with_mc_dropout(probe, "unet-small", {}, task, ["residual"]) is probe
    assert not accepts_dropout({"name": "x", "class_path": "torch.nn:Identity", "init_args": {}})


def test_seed_indicators_on_smoke_samples(smoke_dm, smoke_small):
    train, test = smoke_small
    torch.manual_seed(0)
    net = create("cnn-small", 1, lattice=32, dropout=0.1)
    inverse, info = train_inverse(train, smoke_dm.task, epochs=1, batch_size=16, seed=0, device=torch.device("cpu"))
    assert len(info["train_loss"]) == 1 and info["spec"]["init_args"]["in_channels"] == 1 and info["n_train"] == 48
    block = seed_indicators(net, test, ["mc-dropout", "residual", "inverse"], batch_size=64,
                            device=torch.device("cpu"), inverse=inverse)
    assert block["n_samples"] == 40
    for name in ("mc-dropout", "residual", "inverse"):
        row = block["indicators"][name]
        assert row["status"] == "ok", row
        assert -1 <= row["spearman"] <= 1 and 0 <= row["auroc"] <= 1 and 0 <= row["catch_rate"] <= 1
    plain = create("cnn-small", 1, lattice=32)
    block = seed_indicators(plain, test, ["mc-dropout", "inverse"], batch_size=64,
                            device=torch.device("cpu"))
    assert block["indicators"]["mc-dropout"]["status"] == "not applicable"
    assert block["indicators"]["inverse"]["status"] == "not applicable"


def test_ensemble_needs_two_seeds_and_scores_each_seed(smoke_small):
    test = smoke_small[1]
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(create("cnn-small", 1, lattice=32).eval())
    one = ensemble_indicators(nets[:1], [0], test, batch_size=64, device=torch.device("cpu"))
    assert one[0]["status"] == "not applicable" and "2 seeds" in one[0]["reason"]
    two = ensemble_indicators(nets, [0, 1], test, batch_size=64, device=torch.device("cpu"))
    assert set(two) == {0, 1} and all(r["status"] == "ok" and r["indicator_mean"] > 0 for r in two.values())


def test_indicator_randomness_is_seeded_and_leaves_the_global_rng_alone():
    from diffbench.trust.tensors import seeded

    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    net = create("unet-small", 1, lattice=32, dropout=0.1)
    x = torch.rand(2, 1, 32, 32)
    torch.manual_seed(123)
    with seeded(5, torch.device("cpu")):
        a = mc_dropout_spread(net, x, k=3)
    assert torch.equal(torch.rand(1), expected_next)  # the global stream is where it was
    with seeded(5, torch.device("cpu")):
        b = mc_dropout_spread(net, x, k=3)
    assert torch.equal(a, b)


def test_wandb_summary_gets_the_scores_and_never_breaks(capsys):
    from types import SimpleNamespace

    from diffbench.trust.stage import log_to_wandb

    summary = {}
    logger = SimpleNamespace(experiment=SimpleNamespace(summary=summary))
    blocks = {"uq": {"indicators": {"residual": {"status": "ok", "spearman": 0.5, "auroc": 0.9, "catch_rate": None},
                                    "mc-dropout": {"status": "not applicable", "reason": "x"}}},
              "consistency": {"n_samples": 64, "superposition": {"status": "ok", "mean": 0.1, "max": 0.2}}}
    log_to_wandb(logger, blocks)
    assert summary == {"uq/residual/spearman": 0.5, "uq/residual/auroc": 0.9,
                       "consistency/superposition/mean": 0.1, "consistency/superposition/max": 0.2}

    class Broken:
        @property
        def experiment(self):
            raise RuntimeError("wandb is down")

    log_to_wandb(Broken(), blocks)  # a warning, no exception
    assert "wandb is down" in capsys.readouterr().err
    log_to_wandb(None, blocks)
