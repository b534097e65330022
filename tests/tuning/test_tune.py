"""`diffbench tune`: a search on the validation split only, its tune.json, the run that
reproduces its choice, crashing and pruned trials, two workers on one SQLite storage, bad
inputs. Every search here is a few smoke trials of a few optimiser steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.tuning.search import tune

REPO = Path(__file__).resolve().parents[2]


def _quiet(_: str) -> None:
    pass


@pytest.fixture
def no_test_split(monkeypatch):
    """Any use of the test split raises: setting it up, its loader, its samples."""
    from diffbench.data import datamodule

    def refuse(*_a, **_k):
        raise AssertionError("the test split was touched during tuning")

    setup = datamodule.DiffusionDataModule.setup

    def guarded_setup(self, stage=None):
        if stage in (None, "test", "predict"):
            refuse()
        return setup(self, stage)

    def guarded(method):
        def inner(self, *a, **k):
            if self.split == "test":
                refuse()
            return method(self, *a, **k)

        return inner

    monkeypatch.setattr(datamodule.DiffusionDataModule, "setup", guarded_setup)
    monkeypatch.setattr(datamodule.DiffusionDataModule, "test_dataloader", refuse)
    monkeypatch.setattr(datamodule.SplitDataset, "__getitems__", guarded(datamodule.SplitDataset.__getitems__))
    monkeypatch.setattr(datamodule.SplitDataset, "__getitem__", guarded(datamodule.SplitDataset.__getitem__))


def test_the_guard_catches_a_test_access(no_test_split, smoke_data_dir):
    from diffbench.data import DiffusionDataModule

    dm = DiffusionDataModule("smoke", data_dir=smoke_data_dir, progress=False)
    with pytest.raises(AssertionError, match="test split was touched"):
        dm.setup("test")
    dm.setup("fit")
    dm.val_dataloader()


def test_tune_scores_on_validation_only_and_records_every_trial(no_test_split, smoke_data_dir, tmp_path):
    doc = tune(
        "cnn-small", "smoke", trials=3, max_epochs=1, out=str(tmp_path), data_dir=str(smoke_data_dir), log=_quiet
    )
    assert doc["trials_total"] == 3 and doc["states"]["FAIL"] == 0, doc[
        "trials"
    ]  # COMPLETE, or PRUNED by the median rule
    assert doc["label"] == "tuned: best of 3 on val"
    values = [t["val_nmae"] for t in doc["trials"]]
    assert all(0 < v < 5 for v in values)
    complete = {t["number"]: t["val_nmae"] for t in doc["trials"] if t["state"] == "COMPLETE"}
    assert doc["chosen"]["val_nmae"] == min(complete.values()) and complete[doc["chosen"]["number"]] == min(
        complete.values()
    )
    lrs = [t["params"]["lr"] for t in doc["trials"]]
    assert len(set(lrs)) == 3 and all(1e-4 <= lr <= 1e-2 for lr in lrs)
    assert {t["params"]["width"] for t in doc["trials"]} <= {0.5, 1.0, 2.0}  # cnn-small exposes its width
    assert all(
        t["duration_s"] > 0 and t["steps_run"] == 20 and t["reports"] == 1 for t in doc["trials"]
    )  # 320 / 16 per epoch
    on_disk = json.loads((tmp_path / doc["study_name"] / "tune.json").read_text())
    assert on_disk["chosen"] == doc["chosen"] and on_disk["command"].startswith(
        "diffbench tune --model cnn-small --task smoke"
    )
    assert str(tmp_path) not in json.dumps(on_disk)  # no local path in the record
    trial_dirs = [tmp_path / doc["study_name"] / t["run_dir"] for t in doc["trials"]]
    assert all((d / "seed-0" / "metrics.csv").is_file() for d in trial_dirs)
    assert not list((tmp_path / doc["study_name"]).rglob("*.ckpt"))  # scored trials keep no checkpoints
    # Same options again: the same search (found by its name), already complete: nothing retrained.
    again = tune(
        "cnn-small", "smoke", trials=3, max_epochs=1, out=str(tmp_path), data_dir=str(smoke_data_dir), log=_quiet
    )
    assert [t["val_nmae"] for t in again["trials"]] == values
    # Another search under the same name is refused.
    with pytest.raises(DiffbenchError, match="searches another definition"):
        tune(
            "cnn-small",
            "smoke",
            trials=3,
            max_epochs=2,
            out=str(tmp_path),
            study_name=doc["study_name"],
            data_dir=str(smoke_data_dir),
            log=_quiet,
        )


def test_a_seeded_search_replays(smoke_data_dir, tmp_path):
    a = tune(
        "resnet-small",
        "smoke",
        trials=2,
        budget_steps=2,
        seed=3,
        out=str(tmp_path / "a"),
        data_dir=str(smoke_data_dir),
        log=_quiet,
    )
    b = tune(
        "resnet-small",
        "smoke",
        trials=2,
        budget_steps=2,
        seed=3,
        out=str(tmp_path / "b"),
        data_dir=str(smoke_data_dir),
        log=_quiet,
    )
    assert [t["params"] for t in a["trials"]] == [t["params"] for t in b["trials"]]
    assert a["trials"][0]["model_args"] == {
        "hidden_channels": {0.5: 8, 1.0: 16, 2.0: 32}[a["trials"][0]["params"]["width"]]
    }


def test_run_recipe_from_reproduces_the_choice(smoke_data_dir, tmp_path, capsys):
    from diffbench.cli import build_parser
    from diffbench.pipeline.config import build_run_config

    doc = tune(
        "cnn-small", "smoke", trials=2, budget_steps=2, out=str(tmp_path), data_dir=str(smoke_data_dir), log=_quiet
    )
    path = tmp_path / doc["study_name"] / "tune.json"
    cfg = build_run_config(build_parser().parse_args(["run", "--recipe-from", str(path)]))
    assert (cfg.model, cfg.task, cfg.lr, cfg.model_args) == (
        "cnn-small",
        "smoke",
        doc["chosen"]["options"]["lr"],
        doc["chosen"]["options"]["model_args"],
    )
    assert cfg.command() == doc["chosen"]["command"]  # the explicit --lr/--model-args command is the same run
    assert cfg.tuning["label"] == "tuned: best of 2 on val" and cfg.tuning["chosen_trial"] == doc["chosen"]["number"]

    for extra, needle in (
        (["--lr", "0.1"], "give either --recipe-from or --lr"),
        (["--model", "unet-small"], "was tuned for model 'cnn-small', not 'unet-small'"),
        (["--task", "standard-64"], "was tuned for task 'smoke'"),
    ):
        assert main(["run", "--recipe-from", str(path), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "something-else"}')
    assert main(["run", "--recipe-from", str(bad)]) == 2
    assert "is not a tune.json" in capsys.readouterr().err
    assert main(["run", "--recipe-from", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err

    out = tmp_path / "runs"
    assert (
        main(
            [
                "run",
                "--recipe-from",
                str(path),
                "--max-steps",
                "2",
                "--out",
                str(out),
                "--data-dir",
                str(smoke_data_dir),
                "--wandb-mode",
                "disabled",
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    (result_path,) = out.glob("*/result.json")
    result = json.loads(result_path.read_text())
    tuning = result["training"]["tuning"]
    assert tuning["label"] == "tuned: best of 2 on val" and tuning["trials"] == 2
    assert (result_path.parent / "tune.json").read_bytes() == path.read_bytes()  # the search, stored beside the result
    import hashlib

    assert tuning["tune_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert result["training"]["recipe"]["lr"] == doc["chosen"]["options"]["lr"]


def test_a_crashing_trial_is_recorded_and_the_search_goes_on(smoke_data_dir, tmp_path, monkeypatch):
    from diffbench.tuning import search

    calls = []
    real = search.train_seed

    def flaky(setup, seed, **kwargs):
        calls.append(seed)
        if len(calls) == 2:
            raise RuntimeError("out of memory on purpose\nsecond line")
        return real(setup, seed, **kwargs)

    monkeypatch.setattr(search, "train_seed", flaky)
    doc = tune(
        "cnn-small", "smoke", trials=3, budget_steps=2, out=str(tmp_path), data_dir=str(smoke_data_dir), log=_quiet
    )
    assert [t["state"] for t in doc["trials"]] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert doc["trials"][1]["error"] == "RuntimeError: out of memory on purpose"
    assert doc["chosen"]["number"] in (0, 2) and doc["trials_total"] == 3


def test_every_trial_failing_is_exit_2(smoke_data_dir, tmp_path, monkeypatch, capsys):
    from diffbench.tuning import search

    def broken(*_a, **_k):
        raise RuntimeError("broken")

    monkeypatch.setattr(search, "train_seed", broken)
    assert (
        main(
            [
                "tune",
                "--model",
                "cnn-small",
                "--task",
                "smoke",
                "--trials",
                "2",
                "--budget-steps",
                "1",
                "--out",
                str(tmp_path),
                "--data-dir",
                str(smoke_data_dir),
                "--no-progress",
            ]
        )
        == 2
    )
    captured = capsys.readouterr()
    assert "tuned: best of 2 on val (2 fail)" in captured.out
    assert (
        captured.err.count("\n") == 1
        and "no trial of search" in captured.err
        and "first error: RuntimeError: broken" in captured.err
    )
    (path,) = tmp_path.glob("*/tune.json")
    assert json.loads(path.read_text())["chosen"] is None


def test_pruned_trials_stop_early_and_are_recorded(smoke_data_dir, tmp_path, monkeypatch):
    import optuna

    monkeypatch.setattr(
        optuna.pruners, "MedianPruner", lambda **_: optuna.pruners.ThresholdPruner(upper=-1.0)
    )  # prunes every report
    doc = tune(
        "cnn-small", "smoke", trials=2, max_epochs=3, out=str(tmp_path), data_dir=str(smoke_data_dir), log=_quiet
    )
    assert [t["state"] for t in doc["trials"]] == ["PRUNED", "PRUNED"]
    assert all(
        t["steps_run"] == 20 and t["reports"] == 1 and t["val_nmae"] > 0 for t in doc["trials"]
    )  # stopped after epoch 1 of 3
    assert doc["chosen"] is None


def test_two_workers_share_one_sqlite_search(smoke_data_dir, tmp_path):
    db = tmp_path / "shared.db"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    cmd = [
        sys.executable,
        "-m",
        "diffbench.cli",
        "tune",
        "--model",
        "cnn-small",
        "--task",
        "smoke",
        "--trials",
        "4",
        "--budget-steps",
        "2",
        "--space",
        "lr",
        "--storage",
        f"sqlite:///{db}",
        "--study-name",
        "shared",
        "--out",
        str(tmp_path / "out"),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
    ]
    workers = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)
    ]
    logs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs
    import optuna

    trials = optuna.load_study(study_name="shared", storage=f"sqlite:///{db}").get_trials()
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len({t.params["lr"] for t in trials}) == 4  # no two workers drew the same trial
    ran = [
        line.split(":")[0]
        for log in logs
        for line in log.splitlines()
        if line.startswith("trial ") and "val nmae" in line
    ]
    assert sorted(ran) == [f"trial {n}" for n in range(4)]  # every trial trained once, by one worker
    doc = json.loads((tmp_path / "out" / "shared" / "tune.json").read_text())
    assert doc["trials_total"] == 4 and doc["storage"] == "sqlite"


def test_a_trial_whose_worker_died_is_retried_not_counted(smoke_data_dir, tmp_path, monkeypatch):
    """A worker killed mid-trial leaves its trial RUNNING with no more heartbeats; the next worker
    to claim a trial fails it as lost (after the grace period), trains the same parameters again
    as a new trial, and the search still ends with K counted trials, the lost one recorded with
    its reason."""
    import time

    from diffbench.tuning import search as search_mod
    from diffbench.tuning import storage

    monkeypatch.setattr(storage, "HEARTBEAT_S", 1)
    monkeypatch.setattr(storage, "GRACE_S", 1)
    options = dict(
        trials=2, budget_steps=2, space="lr", out=str(tmp_path), data_dir=str(smoke_data_dir), study_name="lost"
    )
    dead = search_mod.open_search("cnn-small", "smoke", **options)
    lost = search_mod._claim(dead.study, 2, 0, storage.claim_lock(dead.storage), dead.space)
    storage.record_heartbeat(dead, lost)  # it trained a while, then its process was killed: no tell, no more beats
    time.sleep(2.5)
    doc = tune("cnn-small", "smoke", log=_quiet, **options)
    rows = {r["number"]: r for r in doc["trials"]}
    assert (
        rows[0]["state"] == "FAIL" and rows[0]["error"] == "worker lost: no heartbeat for over 1 s; retried as trial 1"
    )
    assert rows[1]["state"] == "COMPLETE" and rows[1]["params"] == rows[0]["params"] and rows[1]["retry_of"] == 0
    assert sorted(r["state"] for n, r in rows.items() if n != 0) == ["COMPLETE", "COMPLETE"]
    assert doc["trials_total"] == 2 and doc["label"] == "tuned: best of 2 on val" and doc["states"]["RUNNING"] == 0
    assert doc["lost"] == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--trials", "0"], "--trials must be a positive integer, got 0"),
        (["--budget-steps", "0"], "--budget-steps must be a positive integer, got 0"),
        (["--max-epochs", "0"], "--max-epochs must be a positive integer, got 0"),
        (["--budget-steps", "2", "--max-epochs", "1"], "not allowed with argument"),
        (["--space", "everything"], "unknown search space 'everything'; allowed: full, lr"),
        (["--storage", "postgresql://nohost/db"], "cannot open the Optuna storage postgresql://nohost/db"),
        (["--storage", "sqlite:////no/such/dir/x.db"], "its folder must exist"),
        (["--storage", "not a url"], "is not a database URL"),
        (["--study-name", "../x"], "--study-name '../x' is not allowed"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
        (["--task", "nope"], "unknown task"),
    ],
)
def test_bad_tune_inputs_are_one_line_errors(tmp_path, capsys, args, needle):
    assert main(["tune", "--model", "cnn-small", "--task", "smoke", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err
    assert not list(tmp_path.glob("*/trials"))  # refused before any trial


def test_recipe_from_tuned_is_the_shipped_search(capsys):
    """`--recipe-from tuned` trains with the search diffbench ships for the model on the task
    (diffbench/training/tuned/), and refuses, in one line, a pair without one."""
    from diffbench.cli import build_parser
    from diffbench.pipeline.config import build_run_config
    from diffbench.training.tuned import shipped

    assert ("standard-64", "cnn-small") in shipped()
    doc = json.loads(shipped()[("standard-64", "cnn-small")].read_text())
    cfg = build_run_config(build_parser().parse_args(["run", "--recipe-from", "tuned", "--model", "cnn-small"]))
    assert (cfg.task, cfg.lr) == ("standard-64", doc["chosen"]["options"]["lr"])
    assert cfg.tuning["label"] == doc["label"] and cfg.recipe_from.endswith("standard-64--cnn-small.json")
    assert "--lr " in cfg.command() and "tuned" not in cfg.command()  # the reproduce command names the rate itself
    assert main(["run", "--recipe-from", "tuned", "--model", "cnn-small", "--task", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no tuned recipe is shipped for model 'cnn-small' on task 'smoke'" in err
    assert "cnn-small on standard-64" in err


def test_a_recipe_carried_over_from_another_task_says_so(tmp_path, capsys):
    """`tuned:TASK` trains on the run's own task with the model's shipped search on TASK, and the
    label names TASK, so a board never shows a carried-over rate as tuned on its own task; a study
    takes the same form; an empty or unshipped TASK is one line."""
    from diffbench.cli import build_parser
    from diffbench.pipeline.config import build_run_config
    from diffbench.studies.runner import run_config
    from diffbench.studies.spec import load_study
    from diffbench.training.tuned import shipped

    doc = json.loads(shipped()[("standard-64", "cnn-small")].read_text())
    cfg = build_run_config(
        build_parser().parse_args(
            ["run", "--recipe-from", "tuned:standard-64", "--model", "cnn-small", "--task", "smoke"]
        )
    )
    assert (cfg.task, cfg.lr) == ("smoke", doc["chosen"]["options"]["lr"])
    assert cfg.tuning["label"] == doc["label"] + " of standard-64" and cfg.tuning["tuned_task"] == "standard-64"
    assert cfg.recipe_from.endswith("standard-64--cnn-small.json")
    same = build_run_config(
        build_parser().parse_args(["run", "--recipe-from", "tuned:standard-64", "--model", "cnn-small"])
    )
    assert (
        same.tuning["label"] == doc["label"] and "tuned_task" not in same.tuning
    )  # its own task: nothing carried over
    for value, needle in (
        ("tuned:", "the task of recipe tuned:TASK"),
        ("tuned:../x", "the task of recipe tuned:TASK"),
        ("tuned:smoke", "no tuned recipe is shipped for model 'cnn-small' on task 'smoke'"),
    ):
        assert main(["run", "--recipe-from", value, "--model", "cnn-small", "--task", "smoke"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    study = tmp_path / "s.yaml"
    study.write_text(
        "name: s\nmodels: [unet-small]\ntasks: [shapes-64, decay-64]\nseeds: [0]\nsteps: 40\n"
        "recipe_from: tuned:standard-64\n"
    )
    spec = load_study(str(study))
    cfgs = [run_config(spec, i, tmp_path) for i in range(2)]
    lr = json.loads(shipped()[("standard-64", "unet-small")].read_text())["chosen"]["options"]["lr"]
    assert [(c.task, c.lr, c.tuning["label"].endswith(" of standard-64")) for c in cfgs] == [
        ("shapes-64", lr, True),
        ("decay-64", lr, True),
    ]
    study.write_text("name: s\nmodels: [unet-small]\ntasks: [shapes-64]\nseeds: [0]\nrecipe_from: tuned:smoke\n")
    assert main(["study", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no tuned recipe is shipped for model 'unet-small' on task 'smoke'" in err, err


def test_a_study_trains_with_the_shipped_recipe_and_early_stopping(tmp_path, capsys):
    from diffbench.studies.runner import run_config
    from diffbench.studies.spec import load_study
    from diffbench.training.tuned import shipped

    study = tmp_path / "s.yaml"
    study.write_text(
        "name: s\nmodels: [cnn-small]\ntasks: [standard-64]\nseeds: [0, 1, 2]\nsteps: 100\n"
        "early_stopping: true\nrecipe_from: tuned\n"
    )
    cfg = run_config(load_study(str(study)), 0, tmp_path)
    lr = json.loads(shipped()[("standard-64", "cnn-small")].read_text())["chosen"]["options"]["lr"]
    assert (
        cfg.early_stopping
        and cfg.lr == lr
        and cfg.max_steps == 100
        and cfg.tuning["label"].startswith("tuned: best of")
    )
    for text, needle in (
        ("recipe_from: tuned\nmodels: [no-such-model]\n", "no tuned recipe is shipped for model 'no-such-model'"),
        ("recipe_from: latest\nmodels: [cnn-small]\n", "recipe_from must be one of tuned"),
        ("early_stopping: maybe\nmodels: [cnn-small]\n", "early_stopping must be true or false"),
    ):
        study.write_text("name: s\ntasks: [standard-64]\nseeds: [0]\n" + text)
        assert main(["study", str(study)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
