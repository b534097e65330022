"""The indicator scores (Spearman, AUROC of the worst 5 %, catch rate of the worst 1 % at 10 %
flagged) on hand-made cases, with their tie rules."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from diffbench.errors import DiffbenchError
from diffbench.results.uq import score_indicator
from diffbench.trust.options import parse_uq
from diffbench.trust.scores import (
    SCORE_KEYS,
    auroc,
    catch_rate,
    flag_weights,
    spearman,
    worst_mask,
)

ERR = np.linspace(0.01, 1.0, 200)  # 200 samples: worst 5 % = 10, worst 1 % = 2, 10 % flagged = 20


ERR2000 = np.linspace(0.01, 1.0, 2000)  # worst 5 % = 100, worst 1 % = 20: every score is powered


def _estimates(s):
    return {k: s[k]["estimate"] for k in ("spearman", "auroc", "catch_rate")}


def test_perfect_indicator_scores_one():
    s = score_indicator(3 * ERR2000 + 7, ERR2000, n_boot=200)  # any increasing function of the error
    assert s["status"] == "ok"
    assert _estimates(s) == {"spearman": pytest.approx(1.0), "auroc": 1.0, "catch_rate": 1.0}
    assert all(s[k]["low"] <= s[k]["estimate"] <= s[k]["high"] and s[k]["n_samples"] == 2000 for k in SCORE_KEYS)


def test_inverted_indicator_scores_zero():
    s = score_indicator(-ERR2000, ERR2000, n_boot=200)
    assert _estimates(s) == {"spearman": pytest.approx(-1.0), "auroc": 0.0, "catch_rate": 0.0}


def test_random_indicator_is_at_chance():
    rng = np.random.default_rng(0)
    err = rng.exponential(size=20000)
    ind = rng.normal(size=20000)
    assert abs(auroc(ind, worst_mask(err, 0.05)) - 0.5) < 0.03
    assert abs(spearman(ind, err)) < 0.03
    assert abs(catch_rate(ind, err) - 0.10) < 0.05  # 200 worst samples, each flagged with probability 0.1
    s = score_indicator(ind, err, n_boot=200)  # the recorded scores: the same estimates, intervals around chance
    assert s["auroc"]["estimate"] == pytest.approx(auroc(ind, worst_mask(err, 0.05)))
    assert s["auroc"]["low"] < 0.5 < s["auroc"]["high"] and s["spearman"]["low"] < 0 < s["spearman"]["high"]


def test_underpowered_scores_carry_no_number():
    s = score_indicator(3 * ERR + 7, ERR, n_boot=200)  # 200 samples: 10 worst 5 %, 2 worst 1 %
    assert s["auroc"] == {"underpowered": True, "positives": 10, "required": 20}
    assert s["catch_rate"] == {"underpowered": True, "positives": 2, "required": 20}
    assert s["spearman"]["estimate"] == pytest.approx(1.0)  # Spearman has no positives to count


def test_baselines_read_only_the_input_and_the_prediction():
    from diffbench.trust.scores import BASELINES, baseline_values

    x = torch.zeros(2, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0
    x[1, 0, 0, 0], x[1, 0, 2, 3] = 1.0, 0.5
    pred = torch.full((2, 1, 4, 4), 0.25)
    batch = {"input": x, "count": torch.tensor([1, 2]), "target": torch.full((2, 1, 4, 4), float("nan"))}
    v = baseline_values(batch, pred)
    assert list(v) == list(BASELINES)
    assert v["source-count"].tolist() == [1.0, 2.0] and v["input-sum"].tolist() == [1.0, 1.5]
    assert v["prediction-mean"].tolist() == [0.25, 0.25]


def test_hand_counted_auroc_and_catch():
    err = np.arange(20.0)  # worst 5 %: sample 19 only; worst 1 %: sample 19; 10 % flagged: 2 samples
    ind = err.copy()
    ind[19], ind[17] = 18.5, 19.0  # the worst sample has the 2nd largest indicator (sample 17 the largest)
    assert auroc(ind, worst_mask(err, 0.05)) == pytest.approx(18 / 19)  # above 18 of the 19 negatives
    assert catch_rate(ind, err) == 1.0  # flagged: 17 and 19
    ind[19] = 17.5  # now 3rd largest (19.0 and 18.0 above it)
    assert auroc(ind, worst_mask(err, 0.05)) == pytest.approx(17 / 19)
    assert catch_rate(ind, err) == 0.0


def test_ties_count_half_and_share_flags():
    # AUROC: a tied positive/negative pair counts 1/2
    assert auroc([1.0, 1.0, 0.0], [1, 0, 0]) == pytest.approx(0.75)
    assert auroc([2.0, 2.0, 2.0, 2.0], [1, 0, 1, 0]) == 0.5
    # flags at the threshold are shared: 3 flags, 2 above, 1 shared by 2 tied samples
    w = flag_weights([5.0, 4.0, 3.0, 3.0, 1.0] + [0.0] * 25, 0.1)
    assert w[:5].tolist() == [1.0, 1.0, 0.5, 0.5, 0.0] and w.sum() == pytest.approx(3.0)
    # a constant indicator catches what random flagging would: ceil(0.1 n) / n
    assert catch_rate(np.zeros(95), np.arange(95.0)) == pytest.approx(10 / 95)
    s = score_indicator(np.ones(400), np.arange(400.0), n_boot=100)
    assert s["spearman"] is None and s["auroc"]["estimate"] == 0.5
    # the worst set breaks ties in the error by sample order
    assert worst_mask([1.0, 3.0, 3.0, 3.0], 0.5).tolist() == [False, True, True, False]


def test_counts_use_ceil_with_at_least_one():
    assert worst_mask(np.arange(100.0), 0.07).sum() == 7  # 0.07 * 100 is 7.000000000000001
    assert worst_mask(np.arange(10.0), 0.05).sum() == 1
    assert worst_mask(np.arange(120.0), 0.01).sum() == 2


def test_auroc_matches_torchmetrics_with_ties():
    from torchmetrics.functional.classification import binary_auroc

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, size=300).astype(float)  # many ties
    labels = rng.random(300) < 0.2
    ref = float(binary_auroc(torch.tensor(scores), torch.tensor(labels.astype(int))))
    assert auroc(scores, labels) == pytest.approx(ref, abs=1e-6)


def test_spearman_matches_scipy_and_nan_counts_as_suspicious():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(4)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    ind = ERR.copy()
    ind[-1] = math.nan  # the worst sample's indicator is NaN: treated as +inf, still ranked first
    assert catch_rate(ind, ERR) == 1.0 and auroc(ind, worst_mask(ERR, 0.05)) == 1.0


def test_degenerate_inputs():
    assert auroc([1.0, 2.0], [1, 1]) is None  # no negatives
    assert spearman([1.0], [2.0]) is None
    with pytest.raises(DiffbenchError, match="indicator has shape"):
        score_indicator([1, 2, 3], [1, 2])


def test_parse_uq():
    assert parse_uq("ensemble, residual") == ["residual", "ensemble"]
    assert parse_uq(["inverse"]) == ["inverse"] and parse_uq(None) == [] and parse_uq("") == []
    with pytest.raises(DiffbenchError, match="unknown --uq indicator"):
        parse_uq("residual,bayes")
    with pytest.raises(DiffbenchError, match="twice"):
        parse_uq("residual,residual")
