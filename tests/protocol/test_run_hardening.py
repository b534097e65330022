"""The run side of issue 16: checkpoints opened without unpickling code, written atomically,
resumed exactly; seed results checked against their checkpoints on resume; one line for every
bad input; a quiet console that says where the W&B run went.

One short smoke run (cnn-small, 2 epochs, one seed, in a subprocess so that its console is
captured as a user sees it) serves several tests: its output, its checkpoints, and the
reference of the exact-resume test.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from diffbench.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _cli(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    return lines[0]


def _run_error_line(err: str) -> str:
    """The one ``error:`` line of an in-process run. Lightning's INFO lines and its log handler's
    complaints about an earlier test's closed capture (``--- Logging error ---`` blocks) are
    artefacts of running several trainings in one pytest process; any other traceback fails."""
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert err.count("Traceback") == err.count("--- Logging error ---"), err[-3000:]
    return line


def _run_args(out: Path, data_dir: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--model",
        "cnn-small",
        "--task",
        "smoke",
        "--max-epochs",
        "2",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        "--no-progress",
        *extra,
    ]


def _subprocess(code: str, env_extra: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DIFFBENCH_THREADS": "1",
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        **(env_extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, check=False
    )


def _main_code(args: list[str], before: str = "") -> str:
    return textwrap.dedent(before) + f"\nimport sys\nfrom diffbench.cli import main\nsys.exit(main({args!r}))\n"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, smoke_data_dir):
    """One uninterrupted run (W&B offline) in a subprocess: its console output and folder."""
    out = tmp_path_factory.mktemp("runs")
    args = _run_args(out, smoke_data_dir, "--wandb-mode", "offline")
    proc = _subprocess(_main_code(args))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = out.iterdir()
    return {"args": args, "out": out, "run_dir": run_dir, "stdout": proc.stdout, "stderr": proc.stderr}


def _best_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "seed-0" / "best.ckpt", map_location="cpu", weights_only=True)["state_dict"]


# ----------------------------------------------------------------------------- item 2: loading


class _Payload:
    """Unpickling this creates ``marker`` (a stand-in for any shell command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    from trust_testlib import make_checkpoint

    make_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    ckpt["payload"] = _Payload(marker)
    torch.save(ckpt, path)
    return path


@pytest.fixture()
def evil(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "trust"))
    marker = tmp_path / "pwned"
    return _evil_checkpoint(tmp_path / "evil.ckpt", marker), marker


def test_evaluate_refuses_a_checkpoint_that_would_run_code(evil, tmp_path, capsys, smoke_data_dir):
    path, marker = evil
    code, _, err = _cli(
        ["evaluate", str(path), "--data-dir", str(smoke_data_dir), "--out", str(tmp_path / "m"), "--no-progress"],
        capsys,
    )
    assert code == 2
    line = _one_error_line(err)
    assert "system" in line and "refused" in line, line
    assert not marker.exists() and not (tmp_path / "m").exists()


def test_solve_refuses_a_checkpoint_that_would_run_code(evil, tmp_path, capsys):
    path, marker = evil
    np.save(tmp_path / "s.npy", np.ones((32, 32)))
    code, _, err = _cli(
        [
            "solve",
            "--checkpoint",
            str(path),
            "--input",
            str(tmp_path / "s.npy"),
            "--output",
            str(tmp_path / "u.npy"),
            "--no-compare",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 2
    line = _one_error_line(err)
    assert "system" in line and "refused" in line, line
    assert not marker.exists() and not (tmp_path / "u.npy").exists()


def test_evaluate_refuses_a_model_spec_that_names_a_function(tmp_path, capsys, smoke_data_dir):
    """The spec's class path is imported to rebuild the model: a checkpoint that names a
    function (``os:system`` with a ``command`` argument) is refused before it is called."""
    sys.path.insert(0, str(ROOT / "tests" / "trust"))
    from trust_testlib import make_checkpoint

    marker = tmp_path / "pwned"
    path = make_checkpoint(tmp_path / "spec.ckpt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["hyper_parameters"]["model_spec"] = {
        "name": "x",
        "class_path": "os:system",
        "init_args": {"command": f"touch {marker}"},
    }
    torch.save(ckpt, path)
    code, _, err = _cli(
        ["evaluate", str(path), "--data-dir", str(smoke_data_dir), "--out", str(tmp_path / "m"), "--no-progress"],
        capsys,
    )
    assert code == 2
    line = _one_error_line(err)
    assert "'os:system'" in line and "refused" in line, line
    assert not marker.exists()


def test_resume_and_the_inverse_network_refuse_a_crafted_file(evil, smoke_run, tmp_path, capsys):
    path, marker = evil
    out = tmp_path / "runs"
    run_dir = out / smoke_run["run_dir"].name
    shutil.copytree(smoke_run["run_dir"], run_dir)
    (run_dir / "result.json").unlink()
    (run_dir / "seed-0" / "result.json").unlink()
    shutil.copy(path, run_dir / "seed-0" / "last.ckpt")
    args = [a if a != str(smoke_run["out"]) else str(out) for a in smoke_run["args"]]
    code, _, err = _cli(args + ["--resume", "--wandb-mode", "disabled"], capsys)
    assert code == 2
    # (only the error lines: Lightning's log handler may still point at an earlier test's closed capture)
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "refused" in line and "posix.system" in line and not marker.exists()
    from diffbench.errors import DiffbenchError
    from diffbench.trust.indicators import load_or_train_inverse

    with pytest.raises(DiffbenchError, match="inverse network .* refused"):
        load_or_train_inverse(path, None, None, None, epochs=1, batch_size=1, seed=0, device=torch.device("cpu"))
    assert not marker.exists()


def test_loader_refuses_by_type_and_loads_what_a_run_writes(evil, smoke_run):
    from diffbench.errors import DiffbenchError
    from diffbench.training.checkpoint_io import CHECKPOINT_GLOBALS, load_checkpoint

    path, marker = evil
    with pytest.raises(DiffbenchError, match=r"refused.*posix\.system|refused.*nt\.system"):
        load_checkpoint(path)
    assert not marker.exists()
    for name in ("best.ckpt", "last.ckpt"):
        ckpt = load_checkpoint(smoke_run["run_dir"] / "seed-0" / name)
        assert ckpt["hyper_parameters"]["model_spec"]["name"] == "cnn-small"
        assert torch.serialization.get_unsafe_globals_in_checkpoint(smoke_run["run_dir"] / "seed-0" / name) == [
            f"{g.__module__}.{g.__qualname__}" for g in CHECKPOINT_GLOBALS
        ]


# ----------------------------------------------------------------------------- console (also seen)


def test_console_says_where_wandb_went_and_holds_no_foreign_noise(smoke_run):
    text = smoke_run["stdout"] + smoke_run["stderr"]
    assert "wandb sync" in text and str(smoke_run["run_dir"] / "wandb") in text, text[-2000:]
    for noise in ("anonymous setting has no effect", "LeafSpec", "litlogger", "sync_dist"):
        assert noise not in text, noise
    seed = json.loads((smoke_run["run_dir"] / "seed-0" / "result.json").read_text())
    assert not Path(seed["wandb"]["dir"]).is_absolute()  # no local absolute path in a result
    assert (smoke_run["run_dir"] / seed["wandb"]["dir"]).is_dir()


# ----------------------------------------------------------------------------- item 8: exact resume


KILL_AFTER_FIRST_EPOCH = """
import os
from diffbench.training import callbacks

def _killed(self, trainer, pl_module):
    if trainer.current_epoch == 1:  # epoch 0 and its checkpoints are done
        os._exit(9)  # as a kill: no clean-up, no exception handler

callbacks.TrainTimer.on_train_epoch_start = _killed
"""


def test_a_run_killed_after_one_epoch_resumes_to_the_same_weights(smoke_run, tmp_path, smoke_data_dir):
    out = tmp_path / "runs"
    args = _run_args(out, smoke_data_dir, "--wandb-mode", "disabled")
    killed = _subprocess(_main_code(args, KILL_AFTER_FIRST_EPOCH))
    assert killed.returncode == 9, killed.stderr[-2000:]
    (run_dir,) = out.iterdir()
    assert (run_dir / "seed-0" / "last.ckpt").is_file() and not (run_dir / "seed-0" / "result.json").exists()
    resumed = _subprocess(_main_code(args + ["--resume"]))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    want, got = _best_weights(smoke_run["run_dir"]), _best_weights(run_dir)
    assert want.keys() == got.keys()
    assert all(torch.equal(want[k], got[k]) for k in want), "resumed weights differ from the uninterrupted run's"
    a = json.loads((smoke_run["run_dir"] / "seed-0" / "result.json").read_text())
    b = json.loads((run_dir / "seed-0" / "result.json").read_text())
    assert a["test"]["nmae"] == b["test"]["nmae"] and a["val"] == b["val"]
    assert b["resumed"] is True and a["resumed"] is False


def _early_stopping_state(run_dir: Path) -> dict:
    ckpt = torch.load(run_dir / "seed-0" / "last.ckpt", map_location="cpu", weights_only=True)
    (state,) = [v for k, v in ckpt["callbacks"].items() if k.startswith("EarlyStopping")]
    return {k: (v.item() if isinstance(v, torch.Tensor) else v) for k, v in state.items()}


def test_a_run_with_early_stopping_killed_after_one_epoch_resumes_to_the_same_state(tmp_path, smoke_data_dir):
    """A study resumed after a kill crashed here: Lightning replays the finished epoch's end, where
    the early-stopping check found no validation metric ('Early stopping conditioned on metric
    val/mae which is not available'); the resumed run must also count that epoch's check once."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"

    def args(out: Path, *more: str) -> list[str]:  # a step budget, as studies and the ranked baselines run
        return [
            "run",
            "--model",
            "cnn-small",
            "--task",
            "smoke",
            "--max-steps",
            "60",
            "--early-stopping",
            "--seeds",
            "0",
            "--out",
            str(out),
            "--data-dir",
            str(smoke_data_dir),
            "--no-progress",
            "--wandb-mode",
            "disabled",
            *more,
        ]

    done = _subprocess(_main_code(args(whole)))
    assert done.returncode == 0, done.stderr[-2000:]
    killed = _subprocess(_main_code(args(cut), KILL_AFTER_FIRST_EPOCH))
    assert killed.returncode == 9, killed.stderr[-2000:]
    resumed = _subprocess(_main_code(args(cut, "--resume")))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (a_dir,), (b_dir,) = whole.iterdir(), cut.iterdir()
    want, got = _best_weights(a_dir), _best_weights(b_dir)
    assert all(torch.equal(want[k], got[k]) for k in want), "resumed weights differ from the uninterrupted run's"
    a = json.loads((a_dir / "seed-0" / "result.json").read_text())
    b = json.loads((b_dir / "seed-0" / "result.json").read_text())
    assert a["stop"] == b["stop"] and a["test"]["nmae"] == b["test"]["nmae"]
    assert _early_stopping_state(a_dir) == _early_stopping_state(b_dir)
    assert b["resumed"] is True


# ----------------------------------------------------------------------------- item 5: disk full


def test_disk_full_is_one_line_keeps_the_last_checkpoint_and_resume_continues(
    tmp_path, capsys, smoke_data_dir, monkeypatch
):
    monkeypatch.setenv("DIFFBENCH_THREADS", "1")
    out = tmp_path / "runs"
    args = _run_args(out, smoke_data_dir, "--wandb-mode", "disabled")
    real_save = torch.save
    calls = {"n": 0}

    def save_until_full(obj, f, *a, **k):
        calls["n"] += 1
        if calls["n"] <= 2:  # epoch 0: best.ckpt and last.ckpt
            return real_save(obj, f, *a, **k)
        fh = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f  # noqa: SIM115 - a stand-in for torch.save
        fh.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", save_until_full)
    code, _, err = _cli(args, capsys)
    assert code == 2
    line = _run_error_line(err)
    assert "No space left on device" in line and ("last.ckpt" in line or "best.ckpt" in line), line
    monkeypatch.setattr(torch, "save", real_save)
    (run_dir,) = out.iterdir()
    seed_dir = run_dir / "seed-0"
    from diffbench.training.checkpoint_io import load_checkpoint

    assert load_checkpoint(seed_dir / "last.ckpt")["epoch"] == 0  # the previous checkpoint survived
    assert not [p.name for p in seed_dir.iterdir() if ".tmp-" in p.name]  # the half-written temporary is gone
    leftover = seed_dir / f"last.ckpt.tmp-{os.getpid() + 1}"
    leftover.write_bytes(b"from a killed writer")
    code, _, err = _cli(args + ["--resume"], capsys)
    assert code == 0, err
    assert not leftover.exists()
    assert json.loads((seed_dir / "result.json").read_text())["epochs_run"] == 2


# ----------------------------------------------------------------------------- item 3 and 10: seed files on resume


@pytest.fixture()
def finished_copy(smoke_run, tmp_path):
    out = tmp_path / "runs"
    shutil.copytree(smoke_run["run_dir"], out / smoke_run["run_dir"].name)
    args = [a if a != str(smoke_run["out"]) else str(out) for a in smoke_run["args"]]
    return args + ["--resume", "--wandb-mode", "disabled"], out / smoke_run["run_dir"].name


def test_resume_keeps_an_untouched_finished_seed(finished_copy, capsys):
    args, run_dir = finished_copy
    before = json.loads((run_dir / "seed-0" / "result.json").read_text())
    code, _, err = _cli(args, capsys)
    assert code == 0, err
    assert json.loads((run_dir / "result.json").read_text())["per_seed"][0]["test"] == before["test"]


@pytest.mark.parametrize("edit", ["metric", "per_count", "checkpoint"])
def test_resume_refuses_a_seed_result_edited_by_hand(finished_copy, capsys, edit):
    args, run_dir = finished_copy
    path = run_dir / "seed-0" / "result.json"
    seed = json.loads(path.read_text())
    if edit == "metric":
        seed["test"]["nmae"] = seed["test"]["nmae"] / 10
        path.write_text(json.dumps(seed))
    elif edit == "per_count":
        seed["val"]["per_count"]["5"]["mae_sources"] *= 0.9
        path.write_text(json.dumps(seed))
    else:
        with open(run_dir / seed["best_checkpoint"], "ab") as fh:
            fh.write(b"\0")
    (run_dir / "result.json").unlink()
    code, _, err = _cli(args, capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "seed-0" in line and "does not match" in line, line
    assert not (run_dir / "result.json").exists()


def test_resume_with_a_truncated_seed_result_is_one_line(finished_copy, capsys):
    args, run_dir = finished_copy
    path = run_dir / "seed-0" / "result.json"
    path.write_text(path.read_text()[:100])
    code, _, err = _cli(args, capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "seed-0" in line and "result.json" in line and "not valid JSON" in line, line


# ----------------------------------------------------------------------------- item 10: input checks


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--lr", "inf"], "--lr must be a finite number > 0"),
        (["--lr", "nan"], "--lr must be a finite number > 0"),
        (["--lr", "0"], "--lr must be a finite number > 0"),
        (["--lr=-1e-3"], "--lr must be a finite number > 0"),
        (["--seeds", "0-99999999999"], "at most 10000"),
    ],
)
def test_bad_run_options_are_one_line(extra, needle, capsys, tmp_path, smoke_data_dir):
    args = [
        "run",
        "--task",
        "smoke",
        "--model",
        "cnn-small",
        "--max-epochs",
        "1",
        "--out",
        str(tmp_path / "o"),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "disabled",
    ]
    code, _, err = _cli(args + extra, capsys)
    assert code == 2
    assert needle in _one_error_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        (b"model: caf\xe9\n", "not UTF-8"),
        (b"a: &x [1, 2]\nb: *x\n", "anchors or aliases"),
        (b"lr: .inf\n", "--lr must be a finite number > 0"),
    ],
)
def test_bad_config_files_are_one_line(content, needle, capsys, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    code, _, err = _cli(
        ["run", "--config", str(cfg), "--task", "smoke", "--out", str(tmp_path / "o"), "--no-progress"], capsys
    )
    assert code == 2
    assert needle in _one_error_line(err)
    assert not (tmp_path / "o").exists()


TUPLE_MODEL = """
import torch
from torch import nn

class TupleOut(nn.Module):
    def __init__(self, in_channels, out_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y


class Float64Out(TupleOut):
    def forward(self, x):
        return self.conv(x).double()
"""


@pytest.mark.parametrize("cls, needle", [("TupleOut", "tuple"), ("Float64Out", "float64")])
def test_a_model_whose_output_cannot_be_trained_on_is_one_line(cls, needle, tmp_path, capsys, smoke_data_dir):
    model = tmp_path / "badmodel.py"
    model.write_text(TUPLE_MODEL)
    out = tmp_path / "o"
    code, _, err = _cli(
        [
            "run",
            "--task",
            "smoke",
            "--model",
            f"{model}:{cls}",
            "--max-epochs",
            "1",
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
    assert needle in _one_error_line(err)
    assert not any(out.glob("*/seed-0/*.ckpt"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has a GPU")
def test_devices_beyond_the_cpu_without_a_gpu_says_so(capsys, tmp_path):
    code, _, err = _cli(
        [
            "run",
            "--model",
            "fno",
            "--task",
            "smoke",
            "--devices",
            str((os.cpu_count() or 1) + 2),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2
    line = _one_error_line(err)
    assert "no GPU was found" in line and "cores" in line, line


@pytest.fixture()
def plain_checkpoint(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "trust"))
    from trust_testlib import make_checkpoint

    np.save(tmp_path / "s.npy", np.ones((32, 32)))
    return make_checkpoint(tmp_path / "plain.ckpt")


def test_solve_report_pointing_at_a_directory_is_refused_before_writing(plain_checkpoint, tmp_path, capsys):
    (tmp_path / "rep").mkdir()
    code, _, err = _cli(
        [
            "solve",
            "--checkpoint",
            str(plain_checkpoint),
            "--input",
            str(tmp_path / "s.npy"),
            "--output",
            str(tmp_path / "u.npy"),
            "--report",
            str(tmp_path / "rep"),
            "--no-compare",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 2
    assert "--report" in _one_error_line(err) and "directory" in err
    assert not (tmp_path / "u.npy").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_solve_into_a_read_only_folder_is_one_line_nonroot(plain_checkpoint, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = _cli(
            [
                "solve",
                "--checkpoint",
                str(plain_checkpoint),
                "--input",
                str(tmp_path / "s.npy"),
                "--output",
                str(ro / "u.npy"),
                "--no-compare",
                "--threads",
                "1",
            ],
            capsys,
        )
    finally:
        ro.chmod(0o755)
    assert code == 2 and "not writable" in _one_error_line(err)


def test_solve_into_an_unwritable_folder_is_one_line(plain_checkpoint, tmp_path, capsys, monkeypatch):
    """As root a read-only folder is writable, so the write itself is made to fail with EACCES."""
    from diffbench.data import cache

    def denied(path, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(cache, "atomic_write_bytes", denied)
    code, _, err = _cli(
        [
            "solve",
            "--checkpoint",
            str(plain_checkpoint),
            "--input",
            str(tmp_path / "s.npy"),
            "--output",
            str(tmp_path / "u.npy"),
            "--no-compare",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 2
    line = _one_error_line(err)
    assert "--output" in line and "Permission denied" in line, line


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_submission_title_with_a_bidi_control_is_refused(char):
    from diffbench.errors import DiffbenchError
    from diffbench.submissions.submit import check_text

    with pytest.raises(DiffbenchError, match="--title contains a control character"):
        check_text(f"U-Net {char}tenalp", "title")
    assert check_text("Réseau — U-Net (ß, 中文)", "title") == "Réseau — U-Net (ß, 中文)"


@pytest.fixture(params=["3500k", "6m"])
def tiny_disk(tmp_path, request):
    """A tmpfs (root only) of 3.5 MB, where the second checkpoint of epoch 0 does not fit (the
    issue's case: it was left truncated under its final name), or of 6 MB, where epoch 0's two
    checkpoints (2.4 MB each for cnn-small) fit and epoch 1's do not."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()[:80]})")
    try:
        yield mount, request.param
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_a_real_disk_full_run_is_one_line_and_resumes_after_room_is_made(
    tiny_disk, capsys, smoke_data_dir, monkeypatch
):
    disk, size = tiny_disk
    monkeypatch.setenv("DIFFBENCH_THREADS", "1")
    args = _run_args(disk / "runs", smoke_data_dir, "--wandb-mode", "disabled")
    code, _, err = _cli(args, capsys)
    assert code == 2
    line = _run_error_line(err)
    assert "No space left on device" in line, line
    (seed_dir,) = (disk / "runs").glob("*/seed-0")
    from diffbench.training.checkpoint_io import load_checkpoint

    for ckpt in seed_dir.glob("*.ckpt"):
        assert load_checkpoint(ckpt)["epoch"] == 0  # whatever is under a checkpoint's name is whole
    if size == "6m":
        assert (seed_dir / "last.ckpt").is_file()  # epoch 0's checkpoint survived epoch 1's failed write
    assert not [p.name for p in seed_dir.iterdir() if ".tmp" in p.name]
    assert subprocess.run(["mount", "-o", "remount,size=32m", str(disk)], check=False).returncode == 0
    code, _, err = _cli(args + ["--resume"], capsys)
    assert code == 0, err
    seed = json.loads((seed_dir / "result.json").read_text())
    assert seed["epochs_run"] == 2 and seed["resumed"] is (size == "6m")


def test_disk_full_outside_the_checkpoints_is_one_line_too(tmp_path, capsys, smoke_data_dir, monkeypatch):
    """Any other write of a run (here the example images) failing for lack of space."""
    from PIL import Image

    monkeypatch.setenv("DIFFBENCH_THREADS", "1")

    def full(self, fp, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(fp))

    monkeypatch.setattr(Image.Image, "save", full)
    args = _run_args(tmp_path / "runs", smoke_data_dir, "--wandb-mode", "disabled", "--max-steps", "2")
    code, _, err = _cli(args, capsys)
    assert code == 2
    line = _run_error_line(err)
    assert "No space left on device" in line and ".png" in line and "--resume" in line, line


@pytest.mark.parametrize(
    "text, needle",
    [
        ("name: ../../x\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0]\n", "name '../../x' is not allowed"),
        ("name: s\nmodels: &m [cnn-small]\ntasks: *m\nseeds: [0]\n", "anchors or aliases"),
        ("name: s\nmodels: [caf\xe9]\n", "not UTF-8"),
    ],
)
def test_study_files_are_read_safely_and_their_names_checked(text, needle, tmp_path):
    from diffbench.errors import DiffbenchError
    from diffbench.studies.spec import load_study

    path = tmp_path / "s.yaml"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(DiffbenchError, match=needle):
        load_study(str(path))


def test_evaluate_records_the_checkpoint_by_name_and_hash_not_by_local_path(
    smoke_run, smoke_data_dir, tmp_path, capsys
):
    from diffbench.training.checkpoint_io import file_sha256

    ckpt = smoke_run["run_dir"] / "seed-0" / "best.ckpt"
    code, _, err = _cli(
        ["evaluate", str(ckpt), "--data-dir", str(smoke_data_dir), "--out", str(tmp_path), "--no-progress"], capsys
    )
    assert code == 0, err
    text = (tmp_path / "metrics-smoke-test.json").read_text()
    assert str(smoke_run["run_dir"]) not in text and str(tmp_path) not in text
    assert json.loads(text)["checkpoint"] == {"name": "best.ckpt", "sha256": file_sha256(ckpt)}
