"""``diffbench run --uq ...`` end to end: uq and consistency blocks in result.json; run ids of
runs without --uq are unchanged."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict

from diffbench.cli import main
from diffbench.pipeline.config import RunConfig
from diffbench.results import compute_digest
from diffbench.trust.scores import BASELINES

INDICATORS = ("mc-dropout", "residual", "inverse", "ensemble")


def _finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x)


def test_run_ids_without_uq_are_unchanged():
    cfg = RunConfig(model="unet-small", task="smoke", seeds=[0, 1])
    later = ("uq", "max_steps", "check_val_every_n_epoch", "channels_last", "early_stopping")  # options added later
    legacy = {k: v for k, v in asdict(cfg).items() if k not in cfg.BOOKKEEPING and k not in later}
    digest = hashlib.sha256(json.dumps(legacy, sort_keys=True, default=str).encode()).hexdigest()[:10]
    assert cfg.run_id("unet-small", "smoke") == f"smoke--unet-small--{digest}"
    assert "--uq" not in cfg.command()
    with_uq = RunConfig(model="unet-small", task="smoke", seeds=[0, 1], uq=["residual"])
    assert with_uq.run_id("unet-small", "smoke") != cfg.run_id("unet-small", "smoke")
    assert with_uq.command().endswith("--uq residual")
    cl = RunConfig(model="unet-small", task="smoke", seeds=[0, 1], channels_last=True)
    assert cl.run_id("unet-small", "smoke") != cfg.run_id("unet-small", "smoke") and cl.command().endswith(
        "--channels-last"
    )


def test_bad_uq_is_one_line(tmp_path, smoke_data_dir, capsys):
    code = main(
        [
            "run",
            "--task",
            "smoke",
            "--uq",
            "residual,bayes",
            "--out",
            str(tmp_path),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown --uq indicator" in err
    assert not any(tmp_path.iterdir())


def test_run_with_every_indicator(tmp_path, smoke_data_dir):
    args = [
        "run",
        "--task",
        "smoke",
        "--model",
        "unet-small",
        "--max-epochs",
        "1",
        "--seeds",
        "0,1",
        "--uq",
        "mc-dropout,residual,inverse,ensemble",
        "--out",
        str(tmp_path),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "disabled",
    ]
    assert main(args) == 0
    (path,) = tmp_path.glob("*/result.json")
    r = json.loads(path.read_text())
    assert r["digest"] == compute_digest(r)
    assert r["model"]["spec"]["init_args"]["dropout"] == 0.1  # trained as the MC-dropout variant
    assert r["command"].endswith("--uq mc-dropout,residual,inverse,ensemble")
    assert (path.parent / "uq-inverse.pt").is_file()
    for seed in r["per_seed"]:
        block = seed["uq"]
        assert block["n_samples"] == 120
        assert set(block["samples"]["values"]) == set(INDICATORS) | set(BASELINES)
        for group, names in (("indicators", INDICATORS), ("baselines", BASELINES)):
            for name in names:
                row = block[group][name]
                assert row["status"] == "ok", (name, row)
                assert _finite(row["spearman"]["estimate"]) and _finite(row["indicator_mean"]), (name, row)
                # smoke has 120 test samples: 6 worst 5 %, 2 worst 1 %, below the power rule
                assert row["auroc"] == {"underpowered": True, "positives": 6, "required": 20}
                assert row["catch_rate"] == {"underpowered": True, "positives": 2, "required": 20}
        cons = seed["consistency"]
        for name in ("superposition", "equivariance", "flux_balance"):
            assert cons[name]["status"] == "ok" and _finite(cons[name]["mean"]) and _finite(cons[name]["max"])
        assert _finite(cons["maximum_principle"]["negative_share"])
    uq = r["uq"]
    assert uq["requested"] == list(INDICATORS) and uq["inverse_model"]["val_mae"] > 0
    for group, names in (("indicators", INDICATORS), ("baselines", BASELINES)):
        for name in names:
            row = uq[group][name]
            assert row["status"] == "ok" and row["n_seeds"] == 2
            sp = row["spearman"]
            assert sp["n_seeds"] == 2 and sp["n_samples"] == 120 and sp["low"] <= sp["estimate"] <= sp["high"]
            assert row["auroc"]["underpowered"] and row["catch_rate"]["underpowered"]
            assert row["indicator_mean"]["n"] == 2
    cons = r["consistency"]
    assert cons["n_seeds"] == 2 and _finite(cons["superposition"]["mean"]["mean"])
    # cost: FLOPs and parameters, minima of repeats with their spread, the solver at the network's accuracy
    cost = r["cost"]
    assert cost["flops_per_sample"] > 0 and cost["parameters"] == r["model"]["parameters"]
    assert _finite(cost["speedup_at_equal_accuracy"]) and cost["speedup_digits"] in (1, 2, 3)
    for seed in r["per_seed"]:
        matched = seed["solver_matched"]
        assert matched["target_nmae"] == seed["test"]["nmae"] and matched["nmae"] <= seed["test"]["nmae"]
        assert seed["inference"]["s_per_sample"] <= seed["inference"]["median_s_per_sample"]
    # the run's own result passes the submission checks, every uq score recomputed from its samples
    from diffbench.submissions.submit import check_result

    check_result(r, str(path))
    # the seed files were written before the ensemble existed; resuming recomputes it alike
    assert main(args + ["--resume"]) == 0
    again = json.loads(path.read_text())
    assert again["uq"]["indicators"]["ensemble"] == r["uq"]["indicators"]["ensemble"]
