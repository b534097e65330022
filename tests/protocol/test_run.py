"""End to end: `diffbench run` on the smoke task, result.json, resume, bad input, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diffbench.cli import main
from diffbench.evaluation.functional import METRIC_KEYS
from diffbench.results import compute_digest


def _run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, smoke_data_dir):
    out = tmp_path_factory.mktemp("runs")
    args = [
        "run",
        "--model",
        "unet-small",
        "--task",
        "smoke",
        "--max-epochs",
        "2",
        "--seeds",
        "0,1",
        "--out",
        str(out),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "offline",
    ]
    assert main(args) == 0
    (result_path,) = out.glob("*/result.json")
    return args, out, result_path


def test_result_json_is_complete_and_self_consistent(finished_run):
    _, out, path = finished_run
    r = json.loads(path.read_text())
    assert r["digest"] == compute_digest(r)
    assert r["schema_version"] == 1 and r["protocol_version"] == 1
    assert r["model"]["name"] == "unet-small" and r["model"]["parameters"] > 0
    assert r["model"]["spec"]["init_args"]["in_channels"] == 1
    assert r["task"]["name"] == "smoke" and len(r["task"]["spec_hash"]) == 64
    assert r["data"]["manifest_hash"] and r["data"]["n_test"] == 120
    assert r["seeds"] == [0, 1] and len(r["per_seed"]) == 2
    for seed in r["per_seed"]:
        for split in ("test", "val"):
            for key in METRIC_KEYS:
                assert key in seed[split], (split, key)
        assert sorted(seed["test"]["per_count"]) == ["1", "2", "3", "4", "5"]
        assert seed["test"]["n_samples"] == 120
        assert (path.parent / seed["best_checkpoint"]).is_file()
        assert seed["best_epoch"] in (0, 1)  # the epoch the best checkpoint was taken at (2 epochs run)
        for img in seed["images"]:
            assert (path.parent / img).is_file()
        # the W&B run folder, relative to the run folder (no local path in a result)
        assert seed["wandb"]["mode"] == "offline" and not Path(seed["wandb"]["dir"]).is_absolute()
        assert (path.parent / seed["wandb"]["dir"]).is_dir()
    agg = r["aggregate"]["test"]["nmae"]
    vals = [s["test"]["nmae"] for s in r["per_seed"]]
    assert agg["mean"] == pytest.approx(sum(vals) / 2)
    assert agg["std"] == pytest.approx(abs(vals[0] - vals[1]) / 2**0.5)
    assert r["cost"]["inference_s_per_sample"] > 0 and r["cost"]["solver_s_per_sample"] > 0
    assert r["cost"]["solver_method"] == "dst"
    assert r["command"].startswith("diffbench run --model unet-small --task smoke --seeds 0,1")
    assert r["packages"]["torch"] and r["hardware"]["accelerator"] == "cpu"


def test_the_run_keeps_per_sample_errors_and_intervals(finished_run):
    """Each seed's per-sample errors (in result.json and seed-K/per_sample.npz) give its test
    metrics; aggregate.intervals holds every headline metric's interval; submit accepts it."""
    import numpy as np

    from diffbench.results.per_sample import HEADLINE_METRICS, decode
    from diffbench.results.validate import check_result

    _, _, path = finished_run
    r = json.loads(path.read_text())
    for seed in r["per_seed"]:
        block = decode(seed["per_sample"], "per_sample")
        npz = np.load(path.parent / f"seed-{seed['seed']}" / "per_sample.npz")
        assert npz["index"].tolist() == block["index"].tolist() and len(block["index"]) == 120
        assert npz["abs_sum"].sum() / npz["tgt_sum"].sum() == pytest.approx(seed["test"]["nmae"], rel=1e-12)
        assert npz["max_abs"].max() == pytest.approx(seed["test"]["max_abs_error"], rel=1e-12)
        assert seed["stop"] == {
            "reason": "budget_capped",
            "step": seed["stop"]["step"],
            "epoch": 2,
            "patience": None,
            "max_steps": None,
            "max_epochs": 2,
        }
        assert seed["stop"]["step"] == 2 * -(-r["data"]["n_train"] // r["training"]["batch_size"])
    iv = r["aggregate"]["intervals"]
    assert iv["n_seeds"] == 2 and iv["n_samples"] == 120 and sorted(iv["per_count"]) == ["1", "2", "3", "4", "5"]
    for key in HEADLINE_METRICS:
        m = iv["metrics"][key]
        assert m["low"] <= m["estimate"] <= m["high"] and m["low"] < m["high"], key
        assert m["estimate"] == pytest.approx(r["aggregate"]["test"][key]["mean"], rel=1e-5), key
    assert check_result(r).ranked is False  # 2 seeds
    assert (
        r["training"]["batch_size"] == r["training"]["batch_size_per_process"]
        and r["training"]["early_stopping"] is False
    )


def test_seeds_differ_and_training_learns(finished_run):
    _, _, path = finished_run
    r = json.loads(path.read_text())
    a, b = (s["test"]["mae"] for s in r["per_seed"])
    assert a != b  # different seeds, different networks
    assert max(s["test"]["nmae"] for s in r["per_seed"]) < 1.0  # better than the zero predictor


def test_rerun_without_resume_is_refused_and_resume_is_a_no_op(finished_run, capsys):
    args, out, path = finished_run
    before = path.read_text()
    code, _, err = _run(args, capsys)
    assert code == 2 and err.count("\n") == 1 and "--resume" in err and "Traceback" not in err
    assert main(args + ["--resume"]) == 0
    after = json.loads(path.read_text())
    assert after["per_seed"] == json.loads(before)["per_seed"]


def test_evaluate_reproduces_the_test_metrics(finished_run, smoke_data_dir, tmp_path, capsys):
    _, _, path = finished_run
    r = json.loads(path.read_text())
    ckpt = path.parent / r["per_seed"][0]["best_checkpoint"]
    code, out, err = _run(
        ["evaluate", str(ckpt), "--data-dir", str(smoke_data_dir), "--out", str(tmp_path), "--no-progress"], capsys
    )
    assert code == 0, err
    written = json.loads((tmp_path / "metrics-smoke-test.json").read_text())
    from diffbench.training.checkpoint_io import file_sha256

    # no local path in a result (issue #15): the checkpoint by name and content
    assert written["checkpoint"] == {"name": ckpt.name, "sha256": file_sha256(ckpt)}
    m = written["metrics"]
    for key in ("mae", "nmae", "max_abs_error", "residual"):
        assert m[key] == pytest.approx(r["per_seed"][0]["test"][key], rel=1e-6)
    import numpy as np

    from diffbench.results.per_sample import decode

    again, kept = decode(written["per_sample"], "evaluation"), decode(r["per_seed"][0]["per_sample"], "result")
    assert all(np.array_equal(again[k], kept[k]) for k in kept)  # every sample's errors, as the run kept them


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--model", "nope"], "unknown model"),
        (["--task", "nope"], "unknown task"),
        (["--devices", "0"], "--devices"),
        (["--devices", "999"], "more CPU processes"),
        (["--accelerator", "tpu"], "accelerator"),
        (["--seeds", "a,b"], "--seeds"),
        (["--max-epochs", "0"], "--max-epochs"),
        (["--precision", "7"], "precision"),
        (["--loss", "huber"], "loss"),
        (["--train-fraction", "1.5"], "--train-fraction"),
        (["--test-counts", "30-40"], "no test samples"),
        (["--model-args", "[1]"], "JSON object"),
        (["--model-args", '{"bogus": 1}'], "bogus"),
        (["--wandb-mode", "cloud"], "W&B mode"),
        (["--config", "/nonexistent.yaml"], "does not exist"),
    ],
)
def test_bad_input_is_one_line(extra, needle, capsys, tmp_path, smoke_data_dir):
    args = [
        "run",
        "--task",
        "smoke",
        "--model",
        "unet-small",
        "--out",
        str(tmp_path),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
    ]
    code, _, err = _run(args + extra, capsys)
    assert code == 2
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written


def test_config_file(tmp_path, capsys, smoke_data_dir):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    code, _, err = _run(["run", "--config", str(bad)], capsys)
    assert code == 2 and "not valid YAML" in err
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("modle: unet\n")
    code, _, err = _run(["run", "--config", str(unknown)], capsys)
    assert code == 2 and "modle" in err and "allowed" in err
    import argparse

    from diffbench.pipeline.commands import build_run_config, register

    good = tmp_path / "good.yaml"
    good.write_text("model: fno-small\ntask: smoke\nseeds: 0-2\nmax-epochs: 3\n")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    cfg = build_run_config(parser.parse_args(["run", "--config", str(good), "--max-epochs", "5"]))
    assert (cfg.model, cfg.task, cfg.seeds, cfg.max_epochs) == ("fno-small", "smoke", [0, 1, 2], 5)


def test_relative_out_dir(tmp_path, monkeypatch, smoke_data_dir):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "run",
                "--task",
                "smoke",
                "--model",
                "cnn-small",
                "--max-epochs",
                "1",
                "--out",
                "rel-runs",
                "--data-dir",
                str(smoke_data_dir),
                "--no-progress",
                "--wandb-mode",
                "disabled",
            ]
        )
        == 0
    )
    (path,) = (tmp_path / "rel-runs").glob("*/result.json")
    seed = json.loads(path.read_text())["per_seed"][0]
    assert not Path(seed["best_checkpoint"]).is_absolute() and (path.parent / seed["best_checkpoint"]).is_file()


def test_unwritable_out_dir(tmp_path, capsys, smoke_data_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(
        ["run", "--task", "smoke", "--out", str(blocker / "sub"), "--data-dir", str(smoke_data_dir)], capsys
    )
    assert code == 2 and "not writable" in err


NAN_MODEL = '''
import torch
from torch import nn

class NaNAfterTwoSteps(nn.Module):
    def __init__(self, in_channels, out_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        if self.training:
            self.calls += 1
        y = self.conv(x)
        return y * float("nan") if self.calls > 25 else y
'''


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, capsys, smoke_data_dir):
    model_file = tmp_path / "nanmodel.py"
    model_file.write_text(NAN_MODEL)
    out = tmp_path / "runs"
    code, _, err = _run(
        [
            "run",
            "--task",
            "smoke",
            "--model",
            f"{model_file}:NaNAfterTwoSteps",
            "--max-epochs",
            "3",
            "--out",
            str(out),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
            "--wandb-mode",
            "disabled",
        ],
        capsys,
    )
    assert code == 2
    line = [l for l in err.splitlines() if l.startswith("error:")][0]
    assert "loss became nan at epoch 1" in line and "step" in line
    (last,) = out.glob("*/seed-0/last.ckpt")
    assert last.is_file()
    assert not list(out.glob("*/result.json"))


def test_resume_refuses_a_checkpoint_from_another_task(tmp_path, capsys, smoke_data_dir):
    import torch

    from diffbench.training.module import SurrogateModule

    out = tmp_path / "runs"
    args = [
        "run",
        "--task",
        "smoke",
        "--model",
        "unet-small",
        "--max-epochs",
        "1",
        "--out",
        str(out),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "disabled",
    ]
    assert main(args) == 0
    (run_dir,) = out.iterdir()
    ckpt = torch.load(run_dir / "seed-0" / "last.ckpt", weights_only=False)
    ckpt["hyper_parameters"]["task"]["spec_hash"] = "0" * 64
    (run_dir / "result.json").unlink()
    (run_dir / "seed-0" / "result.json").unlink()
    torch.save(ckpt, run_dir / "seed-0" / "last.ckpt")
    code, _, err = _run(args + ["--resume"], capsys)
    assert code == 2 and "trained on task" in err
    with pytest.raises(Exception, match="protocol version"):
        ckpt["hyper_parameters"]["protocol_version"] = 99
        torch.save(ckpt, tmp_path / "old.ckpt")
        SurrogateModule.load(str(tmp_path / "old.ckpt"))


def test_channels_last_run_is_recorded_and_reproduced(tmp_path, capsys, smoke_data_dir):
    """--channels-last: the network trains in that memory format (its saved conv weights keep the
    strides), the reproduce command carries the flag, and a plain evaluation of the checkpoint
    gives the same test metrics."""
    import torch

    out = tmp_path / "runs"
    code, _, err = _run(
        [
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--max-steps",
            "3",
            "--channels-last",
            "--out",
            str(out),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
            "--wandb-mode",
            "disabled",
        ],
        capsys,
    )
    assert code == 0, err
    (path,) = out.glob("*/result.json")
    r = json.loads(path.read_text())
    assert r["command"].endswith("--channels-last")
    ckpt = path.parent / r["per_seed"][0]["best_checkpoint"]
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    convs = [w for k, w in state.items() if w.ndim == 4 and w.shape[1] > 1 and w.shape[-1] > 1]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous() for w in convs)
    code, _, err = _run(
        ["evaluate", str(ckpt), "--data-dir", str(smoke_data_dir), "--out", str(tmp_path), "--no-progress"], capsys
    )
    assert code == 0, err
    m = json.loads((tmp_path / "metrics-smoke-test.json").read_text())["metrics"]
    for key in ("mae", "nmae", "max_abs_error"):
        assert m[key] == pytest.approx(r["per_seed"][0]["test"][key], rel=1e-5)
    bad = tmp_path / "bad.yaml"
    bad.write_text("channels_last: maybe\n")
    code, _, err = _run(
        ["run", "--config", str(bad), "--task", "smoke", "--out", str(tmp_path / "x"), "--no-progress"], capsys
    )
    assert code == 2 and "channels_last must be true or false" in err and not (tmp_path / "x").exists()


def test_a_fresh_result_passes_submit(finished_run, tmp_path, capsys):
    """What `diffbench run` writes today is what `diffbench submit` accepts (the schema follows the run)."""
    _, _, path = finished_run
    assert main(["submit", str(path), "--leaderboard", str(tmp_path / "lb"), "--dry-run"]) == 0, capsys.readouterr().err
