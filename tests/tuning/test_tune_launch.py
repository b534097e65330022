"""`diffbench tune --workers W --launcher local|slurm`: workers of one search as submitit jobs
(local processes here; a SLURM array through a stand-in `sbatch`), and their bad inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from diffbench.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_local_workers_complete_one_search(tmp_path, smoke_data_dir, monkeypatch, capsys):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )  # jobs import this tree
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "out"
    assert (
        main(
            [
                "tune",
                "--model",
                "cnn-small",
                "--task",
                "smoke",
                "--trials",
                "3",
                "--budget-steps",
                "2",
                "--space",
                "lr",
                "--study-name",
                "pair",
                "--workers",
                "2",
                "--launcher",
                "local",
                "--out",
                str(out),
                "--data-dir",
                str(smoke_data_dir),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "submitted 2 local tuning worker(s) for search pair" in printed and "tuned: best of 3 on val" in printed
    doc = json.loads((out / "pair" / "tune.json").read_text())
    assert sorted(t["number"] for t in doc["trials"]) == [0, 1, 2] and doc["states"]["FAIL"] == 0
    assert len({t["params"]["lr"] for t in doc["trials"]}) == 3
    assert len(list((out / "pair" / "jobs").glob("*/*_log.out"))) == 2  # two worker jobs


def test_slurm_workers_are_an_array(tmp_path, monkeypatch, capsys):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\necho 'Submitted batch job 77'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    db = tmp_path / "shared.db"
    assert (
        main(
            [
                "tune",
                "--model",
                "fno-small",
                "--task",
                "smoke",
                "--trials",
                "40",
                "--storage",
                f"sqlite:///{db}",
                "--study-name",
                "fno-s",
                "--workers",
                "4",
                "--launcher",
                "slurm",
                "--partition",
                "gpu",
                "--gpus-per-node",
                "1",
                "--time",
                "240",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "submitted 4 slurm tuning worker(s) for search fno-s: 77_0, 77_1, 77_2, 77_3" in printed
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=240"):
        assert line in script, script
    import optuna

    assert (
        optuna.load_study(study_name="fno-s", storage=f"sqlite:///{db}").user_attrs["definition"]["model"]
        == "fno-small"
    )


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--workers", "2"], "--workers 2 needs --launcher local or slurm"),
        (["--workers", "0", "--launcher", "local"], "--workers must be a positive integer, got 0"),
        (["--launcher", "k8s"], "unknown launcher 'k8s'; allowed: inline, local, slurm"),
        (["--launcher", "local", "--storage", "postgresql://nohost/db"], "cannot open the Optuna storage"),
        (["--launcher", "slurm", "--time", "0"], "--time must be a positive integer, got 0"),
    ],
)
def test_bad_worker_inputs(tmp_path, capsys, args, needle):
    assert main(["tune", "--model", "cnn-small", "--task", "smoke", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not list(tmp_path.glob("*/jobs"))  # nothing submitted
