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
from diffbench.trust.scores import BASELINES


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
    assert (
        with_mc_dropout(probe, "unet-small", {"dropout": 0.3}, task, ["mc-dropout"]) is probe
    )  # the user's value wins
    assert with_mc_dropout(probe, "unet-small", {}, task, ["residual"]) is probe
    assert not accepts_dropout({"name": "x", "class_path": "torch.nn:Identity", "init_args": {}})


def test_seed_indicators_on_smoke_samples(smoke_dm, smoke_small):
    train, test = smoke_small
    torch.manual_seed(0)
    net = create("cnn-small", 1, lattice=32, dropout=0.1)
    inverse, info = train_inverse(train, smoke_dm.task, epochs=1, batch_size=16, seed=0, device=torch.device("cpu"))
    assert len(info["train_loss"]) == 1 and info["spec"]["init_args"]["in_channels"] == 1 and info["n_train"] == 48
    block = seed_indicators(
        net, test, ["mc-dropout", "residual", "inverse"], batch_size=64, device=torch.device("cpu"), inverse=inverse
    )
    assert block["n_samples"] == 40
    samples = block["samples"]
    assert len(samples["error"]) == len(samples["count"]) == 40
    for group, names in (("indicators", ("mc-dropout", "residual", "inverse")), ("baselines", BASELINES)):
        for name in names:
            row = block[group][name]
            assert row["status"] == "ok", row
            assert -1 <= row["spearman"]["low"] <= row["spearman"]["estimate"] <= row["spearman"]["high"] <= 1
            # 40 samples: 2 worst 5 %, 1 worst 1 %; no AUROC or caught share is printed
            assert row["auroc"] == {"underpowered": True, "positives": 2, "required": 20}
            assert row["catch_rate"]["underpowered"] is True
            assert len(samples["values"][name]) == 40
    plain = create("cnn-small", 1, lattice=32)
    block = seed_indicators(plain, test, ["mc-dropout", "inverse"], batch_size=64, device=torch.device("cpu"))
    assert block["indicators"]["mc-dropout"]["status"] == "not applicable"
    assert block["indicators"]["inverse"]["status"] == "not applicable"
    assert set(block["samples"]["values"]) == set(BASELINES)  # nothing kept for what was not scored


def test_ensemble_needs_two_seeds_and_scores_each_seed(smoke_small):
    test = smoke_small[1]
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        nets.append(create("cnn-small", 1, lattice=32).eval())
    spread, one = ensemble_indicators(nets[:1], [0], test, batch_size=64, device=torch.device("cpu"))
    assert spread is None and one[0]["status"] == "not applicable" and "2 seeds" in one[0]["reason"]
    spread, two = ensemble_indicators(nets, [0, 1], test, batch_size=64, device=torch.device("cpu"))
    assert len(spread) == 40 and min(spread) > 0
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
    blocks = {
        "uq": {
            "indicators": {
                "residual": {
                    "status": "ok",
                    "spearman": {"estimate": 0.5, "low": 0.4, "high": 0.6},
                    "auroc": {"estimate": 0.9, "low": 0.8, "high": 0.95},
                    "catch_rate": {"underpowered": True, "positives": 2, "required": 20},
                },
                "mc-dropout": {"status": "not applicable", "reason": "x"},
            }
        },
        "consistency": {"n_samples": 64, "superposition": {"status": "ok", "mean": 0.1, "max": 0.2}},
    }
    log_to_wandb(logger, blocks)
    assert summary == {
        "uq/residual/spearman": 0.5,
        "uq/residual/auroc": 0.9,
        "consistency/superposition/mean": 0.1,
        "consistency/superposition/max": 0.2,
    }

    class Broken:
        @property
        def experiment(self):
            raise RuntimeError("wandb is down")

    log_to_wandb(Broken(), blocks)  # a warning, no exception
    assert "wandb is down" in capsys.readouterr().err
    log_to_wandb(None, blocks)


def test_run_scores_pool_the_seeds_samples_and_refuse_misaligned_ones():
    import numpy as np
    import pytest

    from diffbench.errors import DiffbenchError
    from diffbench.results.uq import score_indicator
    from diffbench.trust.indicators import aggregate_uq

    rng = np.random.default_rng(0)
    counts = np.repeat(np.arange(1, 11), 60)
    per_seed = []
    for seed in (0, 1):
        err = rng.gamma(2.0, 0.01, size=600) * counts
        values = {"residual": (err + rng.normal(0, 0.02, 600)).tolist()}
        values |= {
            name: (err * 0 + counts).tolist() if name == "source-count" else rng.normal(size=600).tolist()
            for name in BASELINES
        }
        rows = {name: {"status": "ok", "indicator_mean": float(np.mean(v))} for name, v in values.items()}
        per_seed.append(
            {
                "seed": seed,
                "uq": {
                    "indicators": {"residual": rows["residual"]},
                    "baselines": {n: rows[n] for n in BASELINES},
                    "samples": {"error": err.tolist(), "count": counts.tolist(), "values": values},
                },
            }
        )
    block = aggregate_uq(per_seed, ["residual"])
    row = block["indicators"]["residual"]
    both = score_indicator(
        [s["uq"]["samples"]["values"]["residual"] for s in per_seed],
        [s["uq"]["samples"]["error"] for s in per_seed],
        counts,
    )
    assert row["auroc"] == both["auroc"] and row["auroc"]["n_seeds"] == 2 and row["auroc"]["n_samples"] == 600
    assert row["auroc"]["estimate"] > block["baselines"]["prediction-mean"]["auroc"]["estimate"]
    assert row["catch_rate"]["underpowered"]  # 6 worst 1 % per seed
    per_seed[1]["uq"]["samples"]["count"] = counts[::-1].tolist()
    with pytest.raises(DiffbenchError, match="do not line up"):
        aggregate_uq(per_seed, ["residual"])


class _Trap:
    """Unpickling this runs code: a saved inverse network must never be unpickled as code."""

    def __reduce__(self):
        return (print, ("UNPICKLED-CODE-RAN",))


def test_a_saved_inverse_network_is_never_unpickled_as_code(tmp_path, smoke_dm, capsys):
    import pytest

    from diffbench.errors import DiffbenchError
    from diffbench.trust.indicators import INVERSE_FILE, load_or_train_inverse

    path = tmp_path / INVERSE_FILE
    torch.save({"info": _Trap(), "state_dict": {}}, path)
    with pytest.raises(DiffbenchError, match="uq-inverse.pt"):
        load_or_train_inverse(
            path, None, None, smoke_dm.task, epochs=1, batch_size=8, seed=0, device=torch.device("cpu")
        )
    assert "UNPICKLED-CODE-RAN" not in capsys.readouterr().out
