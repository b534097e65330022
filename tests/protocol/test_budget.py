"""Budgets that do not confound: early stopping on validation MAE under a maximum budget,
recorded per seed (where it stopped and why), and ``--batch-size`` as the global batch so that
``--devices N`` takes the same optimiser steps as one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from diffbench.cli import main
from diffbench.training.run import split_batch, stop_record


class _Flat(L.LightningModule):
    """A model whose validation MAE never improves after the first evaluation."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def training_step(self, batch, batch_idx):
        return (self.w * batch[0]).sum() * 0.0 + self.w.sum() * 0.0

    def validation_step(self, batch, batch_idx):
        self.log("val/mae", 1.0)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader():
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 1)), batch_size=2)


def _fit(patience: int | None, max_epochs: int):
    early = EarlyStopping(monitor="val/mae", mode="min", patience=patience) if patience else None
    trainer = L.Trainer(
        accelerator="cpu",
        max_epochs=max_epochs,
        callbacks=[early] if early else [],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_Flat(), _loader(), _loader())
    return stop_record(trainer, early, max_epochs, None)


def test_a_run_that_stops_improving_is_recorded_as_stopped_early():
    stop = _fit(patience=2, max_epochs=20)
    assert stop["reason"] == "stopped_early" and stop["patience"] == 2
    assert stop["epoch"] == 3 and stop["step"] == 6  # 1 evaluation to set the best, 2 without improvement


def test_a_run_that_reaches_its_budget_is_recorded_as_budget_capped():
    assert _fit(patience=5, max_epochs=3) == {
        "reason": "budget_capped",
        "step": 6,
        "epoch": 3,
        "patience": 5,
        "max_steps": None,
        "max_epochs": 3,
    }
    assert _fit(patience=None, max_epochs=2)["reason"] == "budget_capped"


def test_the_global_batch_must_split_over_the_processes(tmp_path, capsys, smoke_data_dir):
    assert split_batch(16, None, 4) == (16, 4)
    code = main(
        [
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--devices",
            "2",
            "--accelerator",
            "cpu",
            "--batch-size",
            "15",
            "--out",
            str(tmp_path),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "--batch-size 15 is the global batch and must split evenly over the 2 processes" in err


def _run(tmp_path: Path, smoke_data_dir: Path, devices: int) -> dict:
    exe = Path(sys.executable).with_name("diffbench")
    env = {**os.environ, "WANDB_MODE": "disabled", "DIFFBENCH_THREADS": "1"}
    out = tmp_path / f"runs-{devices}"
    subprocess.run(
        [
            str(exe),
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--devices",
            str(devices),
            "--accelerator",
            "cpu",
            "--max-epochs",
            "3",
            "--batch-size",
            "16",
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
    )
    (path,) = out.glob("*/result.json")
    return json.loads(path.read_text())


#: Test nMAE of the 1- and 2-process runs may differ by this much, relative: the data order
#: and the batches' composition differ (a DistributedSampler shuffles per process). With the
#: per-process batch of before, the 2-process run took half the steps and was off by ~50 %.
DEVICE_TOLERANCE = 0.25


@pytest.mark.slow
def test_two_processes_take_the_steps_of_one(tmp_path, smoke_data_dir):
    one, two = _run(tmp_path, smoke_data_dir, 1), _run(tmp_path, smoke_data_dir, 2)
    assert one["per_seed"][0]["stop"]["step"] == two["per_seed"][0]["stop"]["step"] == 60  # 320 samples / 16, 3 epochs
    assert one["training"]["batch_size"] == two["training"]["batch_size"] == 16
    assert (one["training"]["batch_size_per_process"], two["training"]["batch_size_per_process"]) == (16, 8)
    a, b = one["aggregate"]["test"]["nmae"]["mean"], two["aggregate"]["test"]["nmae"]["mean"]
    print(f"test nMAE: 1 process {a:.4f}, 2 processes {b:.4f}")
    assert abs(a - b) <= DEVICE_TOLERANCE * a, (a, b)


def test_early_stopping_changes_the_run_id_only_when_set():
    from diffbench.pipeline.config import RunConfig

    plain = RunConfig(model="cnn-small", task="smoke", seeds=[0, 1, 2])
    assert plain.run_id("m", "t") == "t--m--a66fa7178e"  # as before the option existed (test_run_options' golden id)
    early = RunConfig(model="cnn-small", task="smoke", seeds=[0, 1, 2], early_stopping=True)
    assert early.run_id("m", "t") != plain.run_id("m", "t")
    assert early.command().endswith("--early-stopping") and "--early-stopping" not in plain.command()
