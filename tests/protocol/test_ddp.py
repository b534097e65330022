"""`diffbench run --devices 2` (Lightning DDP on two CPU processes): the metrics equal a
single-device evaluation of the same checkpoint — no padded duplicates counted — and the error
indicators (``--uq``, computed on rank 0 after testing) score the whole test split once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_two_process_run_scores_like_one_device(tmp_path, smoke_data_dir):
    exe = Path(sys.executable).with_name("diffbench")
    env = {**os.environ, "WANDB_MODE": "disabled", "DIFFBENCH_THREADS": "1"}
    out = tmp_path / "runs"
    run = subprocess.run(
        [
            str(exe),
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--devices",
            "2",
            "--accelerator",
            "cpu",
            "--max-epochs",
            "1",
            "--uq",
            "residual,mc-dropout",
            "--out",
            str(out),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        capture_output=True,
        text=True,
    )
    for noise in ("sync_dist=True", "LeafSpec", "litlogger"):  # advice that does not apply, filtered by message
        assert noise not in run.stdout + run.stderr, noise
    (result_path,) = out.glob("*/result.json")
    result = json.loads(result_path.read_text())
    assert result["training"]["devices"] == 2
    seed = result["per_seed"][0]
    subprocess.run(
        [
            str(exe),
            "evaluate",
            str(result_path.parent / seed["best_checkpoint"]),
            "--data-dir",
            str(smoke_data_dir),
            "--out",
            str(tmp_path / "eval"),
            "--no-progress",
        ],
        check=True,
        env=env,
        timeout=600,
        capture_output=True,
    )
    single = json.loads((tmp_path / "eval" / "metrics-smoke-test.json").read_text())["metrics"]
    assert seed["test"]["n_samples"] == single["n_samples"] == 120
    for key in ("mae", "nmae", "mae_sources", "max_abs_error", "p99_sample_mae", "residual"):
        assert seed["test"][key] == pytest.approx(single[key], rel=1e-9, abs=1e-12), key
    uq = seed["uq"]
    assert uq["n_samples"] == 120 and set(uq["indicators"]) == {"residual", "mc-dropout"}
    for name, ind in uq["indicators"].items():
        assert ind["status"] == "ok", name
        # 120 samples give 6 "worst 5 %" positives: the AUROC is underpowered; Spearman has an interval
        assert ind["auroc"].get("underpowered") is True or 0.0 <= ind["auroc"]["estimate"] <= 1.0, name
        assert -1.0 <= ind["spearman"]["estimate"] <= 1.0, name
    assert set(result["uq"]["indicators"]) == {"residual", "mc-dropout"}


@pytest.mark.slow
def test_two_process_run_with_every_indicator(tmp_path, smoke_data_dir):
    """All four indicators under DDP, two seeds: the inverse network is trained once, the ensemble
    spans both seeds, every indicator scores the 120 test samples."""
    exe = Path(sys.executable).with_name("diffbench")
    env = {**os.environ, "WANDB_MODE": "disabled", "DIFFBENCH_THREADS": "1"}
    out = tmp_path / "runs"
    subprocess.run(
        [
            str(exe),
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--devices",
            "2",
            "--accelerator",
            "cpu",
            "--seeds",
            "0,1",
            "--max-steps",
            "5",
            "--uq",
            "mc-dropout,residual,inverse,ensemble",
            "--out",
            str(out),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
        capture_output=True,
    )
    (result_path,) = out.glob("*/result.json")
    result = json.loads(result_path.read_text())
    assert len(list(result_path.parent.glob("uq-inverse*"))) == 1
    for seed in result["per_seed"]:
        assert seed["uq"]["n_samples"] == 120
        assert {k: v["status"] for k, v in seed["uq"]["indicators"].items()} == dict.fromkeys(
            ("mc-dropout", "residual", "inverse", "ensemble"), "ok"
        )
    assert result["uq"]["indicators"]["ensemble"]["n_seeds"] == 2
