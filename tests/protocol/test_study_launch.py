"""`diffbench study --launcher local|slurm`: one submitit job per run (local subprocesses here;
a SLURM array through a stand-in `sbatch`), and the launcher's bad inputs."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from diffbench.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY = "name: tiny\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0]\ntrain_fractions: [0.25, 1.0]\nsteps: 3\n"


@pytest.fixture
def tiny_study(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_local_launcher_runs_one_submitit_job_per_run(tiny_study, tmp_path, smoke_data_dir, monkeypatch, capsys):
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )  # the jobs import this tree
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = tmp_path / "out"
    args = [
        "study",
        str(tiny_study),
        "--launcher",
        "local",
        "--out",
        str(out),
        "--data-dir",
        str(smoke_data_dir),
        "--wandb-mode",
        "disabled",
        "--no-progress",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "submitted 2 local job(s) for study tiny" in printed and "| cnn-small |" in printed
    root = out / "tiny"
    summary = json.loads((root / "summary.json").read_text())
    assert [r["n_train"] for r in summary["rows"]] == [80, 320]
    assert len(list(root.glob("runs/*/result.json"))) == 2
    job_logs = list((root / "jobs").glob("*/*_log.out"))
    assert len(job_logs) == 2  # one submitit job per run, each with its own log
    pids = {p.name.split("_")[0] for p in job_logs}
    assert str(os.getpid()) not in pids
    mtimes = {p: p.stat().st_mtime for p in root.glob("runs/*/seed-*/best.ckpt")}
    assert (
        main(
            [
                "study",
                str(tiny_study),
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
    )  # an inline pass over the launched study resumes: nothing retrained
    assert {p: p.stat().st_mtime for p in root.glob("runs/*/seed-*/best.ckpt")} == mtimes


def test_a_failing_job_is_one_line_and_keeps_the_others(tmp_path, smoke_data_dir, monkeypatch, capsys):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    bad = tmp_path / "Bad.py"
    bad.write_text(
        "import torch\nclass Bad(torch.nn.Module):\n    def __init__(self, in_channels, out_channels=1):\n"
        "        super().__init__(); self.c = torch.nn.Conv2d(in_channels, out_channels, 2, stride=2)\n"
        "    def forward(self, x):\n        return self.c(x)\n"
    )
    study = tmp_path / "mixed.yaml"
    study.write_text(f"name: mixed\nmodels: [cnn-small, '{bad}:Bad']\ntasks: [smoke]\nseeds: [0]\nsteps: 2\n")
    assert (
        main(
            [
                "study",
                str(study),
                "--launcher",
                "local",
                "--out",
                str(tmp_path / "out"),
                "--data-dir",
                str(smoke_data_dir),
                "--wandb-mode",
                "disabled",
                "--no-progress",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "1 of 2 run(s) of study mixed failed" in err and "Bad" in err and "shape" in err
    )  # the model's own error: its output has the wrong shape
    assert (
        len(list((tmp_path / "out" / "mixed").glob("runs/smoke--cnn-small--*/result.json"))) == 1
    )  # the good run is kept


def test_slurm_launcher_submits_an_array(tiny_study, tmp_path, monkeypatch, capsys):
    """A stand-in `sbatch` records the script submitit writes and answers as SLURM does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f"#!/bin/sh\ncp \"$1\" {tmp_path}/submitted.sh\necho 'Submitted batch job 4242'\n")
    sbatch.chmod(0o755)
    srun = bin_dir / "srun"  # submitit checks that it is on a cluster
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    assert (
        main(
            [
                "study",
                str(tiny_study),
                "--launcher",
                "slurm",
                "--partition",
                "gpu-h200",
                "--time",
                "90",
                "--gpus-per-node",
                "2",
                "--cpus-per-task",
                "8",
                "--array-parallelism",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "submitted 2 slurm job(s) for study tiny: 4242_0, 4242_1" in printed
    assert f"`diffbench study {tiny_study} --out {out}` writes the table" in printed
    script = (tmp_path / "submitted.sh").read_text()
    for line in (
        "#SBATCH --partition=gpu-h200",
        "#SBATCH --time=90",
        "#SBATCH --array=0-1%1",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --ntasks-per-node=2",
        "#SBATCH --job-name=diffbench-tiny",
    ):
        assert line in script, script


def test_slurm_without_sbatch_is_one_line(tiny_study, tmp_path, monkeypatch, capsys):
    if shutil.which("sbatch"):
        pytest.skip("this machine has a real sbatch")
    assert main(["study", str(tiny_study), "--launcher", "slurm", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot submit study 'tiny' through the slurm launcher" in err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--launcher", "k8s"], "unknown launcher 'k8s'; allowed: inline, local, slurm"),
        (["--launcher", "slurm", "--time", "0"], "--time must be a positive integer, got 0"),
        (["--launcher", "slurm", "--gpus-per-node", "-1"], "--gpus-per-node must be an integer >= 0"),
        (["--launcher", "slurm", "--partition", "a b"], "--partition must be a SLURM partition name"),
        (["--launcher", "local", "--cpus-per-task", "0"], "--cpus-per-task must be a positive integer"),
        (["--launcher", "local", "--devices", "2"], "give each job its GPUs with --gpus-per-node"),
    ],
)
def test_bad_launcher_inputs(tiny_study, tmp_path, capsys, args, needle):
    assert main(["study", str(tiny_study), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "out" / "tiny" / "runs").exists()
