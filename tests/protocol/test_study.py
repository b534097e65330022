"""`diffbench study`: a tiny study end to end, the log-law fit, resume, bad study files."""

from __future__ import annotations

import json
import math

import pytest

from diffbench.cli import main
from diffbench.studies.analysis import fit_log_law
from diffbench.studies.spec import load_study, study_names


def _row(n, estimate, half, seeds, capped=0):
    """A study row whose run kept per-sample errors: its nmae interval, its seeds, how they stopped."""
    return {
        "n_train": n,
        "per_seed_nmae": list(seeds),
        "intervals": {
            "method": "two-level bootstrap-t",
            "metrics": {"nmae": {"estimate": estimate, "low": estimate - half, "high": estimate + half}},
        },
        "stops": [
            {"reason": "budget_capped" if i < capped else "stopped_early", "step": 100} for i in range(len(seeds))
        ],
    }


def test_log_law_fit_recovers_an_exact_law_on_the_per_size_means():
    law = [(n, 0.5 - 0.1 * math.log10(n)) for n in (25, 100, 400, 1600)]
    rows = [_row(n, y, 0.01, [y - 0.001, y + 0.001]) for n, y in law]
    fit = fit_log_law(rows)
    assert fit["a"] == pytest.approx(0.5) and fit["b"] == pytest.approx(-0.1)
    assert fit["r2"] == pytest.approx(1.0) and fit["chi2"] == pytest.approx(0.0, abs=1e-12) and fit["n_points"] == 4
    # the band is the fit's: stated errors of 0.01 / 1.96 per mean, narrowest in the middle of the range
    widths = [b["half_width"] for b in fit["band"]]
    assert 0 < min(widths) < 0.01 and widths[0] > widths[1] and widths[-1] > widths[-2]
    assert fit["slope_interval"][1] < 0 and fit["verdict"].startswith("Reproduced")


def test_the_fit_weights_each_size_by_its_interval():
    # three sizes on the law and one far off it with a huge interval: weighted, the outlier barely moves the line
    rows = [_row(n, 0.5 - 0.1 * math.log10(n), 0.002, [0.5 - 0.1 * math.log10(n)] * 2) for n in (10, 100, 1000)]
    rows.append(_row(10000, 0.5, 1.0, [0.4, 0.6]))
    assert fit_log_law(rows)["b"] == pytest.approx(-0.1, abs=1e-3)


def test_a_plateau_is_not_the_log_law_and_the_verdict_says_where_it_holds():
    import random

    rnd = random.Random(0)
    sizes = (20, 40, 100, 250, 500, 1000, 2000)
    mean = {n: max(0.3 - 0.1 * math.log10(n), 0.3 - 0.1 * math.log10(250)) for n in sizes}  # the law, then a plateau
    rows = [
        _row(n, mean[n], 0.004, [mean[n] + rnd.gauss(0, 0.002) for _ in range(3)], capped=3 if n >= 500 else 0)
        for n in sizes
    ]
    fit = fit_log_law(rows)
    assert fit["lack_of_fit"]["p"] < 0.05 and fit["holds_for"]["n_high"] <= 500
    assert fit["verdict"].startswith("Not reproduced over the whole range")
    assert "holds only for n_train 20-" in fit["verdict"] and "9 of 21 runs stopped at the step cap" in fit["verdict"]
    assert [p["capped"] for p in fit["points"]] == [0, 0, 0, 0, 3, 3, 3]


def test_no_fall_is_not_reproduced_and_one_size_is_no_fit():
    rows = [_row(n, 0.2, 0.01, [0.199, 0.201]) for n in (10, 100, 1000)]
    assert fit_log_law(rows)["verdict"].startswith("Not reproduced: the error does not fall")
    assert fit_log_law(rows[:1]) is None  # one size: nothing to fit


def test_rows_without_per_sample_errors_fall_back_to_a_seed_interval_that_says_so():
    import random

    rnd = random.Random(0)
    rows = [
        {"n_train": n, "per_seed_nmae": [0.4 - 0.05 * math.log10(n) + rnd.gauss(0, 0.01) for _ in range(3)]}
        for n in (10, 100, 1000, 10000)
    ]
    fit = fit_log_law(rows)
    assert -0.07 < fit["b"] < -0.03
    assert all("seeds only" in p["method"] for p in fit["points"])


def test_shipped_studies_load():
    assert {"data-scaling", "generalisation", "axes"} <= set(study_names())
    for name in study_names():
        load_study(name)


def test_tiny_study_end_to_end_and_resume(tmp_path, smoke_data_dir, capsys):
    wide = tmp_path / "smoke-48.yaml"
    wide.write_text(
        "name: smoke-48\nlattice: 48\nseed: 7\nsources: {shape: disk, radius: 3}\n"
        "splits:\n  train: {counts: [1, 5], per_count: 2}\n  val: {counts: [1, 5], per_count: 2}\n  test: {counts: [1, 5], per_count: 4}\n"
    )
    study = tmp_path / "tiny.yaml"
    study.write_text(
        "name: tiny\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0, 1]\ntrain_fractions: [0.25, 1.0]\nsteps: 6\n"
        f"analysis: [scaling-law]\nevaluate_on: {{smoke: [{wide}]}}\n"
    )
    args = [
        "study",
        str(study),
        "--out",
        str(tmp_path / "out"),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "disabled",
    ]
    assert main(args) == 0
    root = tmp_path / "out" / "tiny"
    summary = json.loads((root / "summary.json").read_text())
    assert [r["n_train"] for r in summary["rows"]] == [80, 320]
    assert summary["scaling_law"]["cnn-small"] is None  # two sizes: the log-law fit needs three
    assert all(len(r["stops"]) == 2 and isinstance(r["intervals"], dict) for r in summary["rows"])
    for r in summary["rows"]:
        assert r["transfer"]["smoke-48"]["status"] == "ok"  # fully convolutional: runs at N = 48
        t = r["transfer"]["smoke-48"]  # over the target's test samples and the seeds, around the seeds' mean
        assert t["interval"]["n_seeds"] == 2 and t["interval"]["n_samples"] == 20
        assert t["interval"]["low"] < t["nmae"]["mean"] < t["interval"]["high"]
        assert t["interval"]["estimate"] == pytest.approx(t["nmae"]["mean"], rel=1e-5)
        assert r["command"].startswith("diffbench run --model cnn-small --task smoke")
    for f in ("table.csv", "table.md", "scaling.png", "per_count.png"):
        assert (root / f).is_file()
    mtimes = {p: p.stat().st_mtime for p in root.glob("runs/*/seed-*/best.ckpt")}
    capsys.readouterr()
    assert main(args) == 0  # resumes: nothing retrained
    assert {p: p.stat().st_mtime for p in root.glob("runs/*/seed-*/best.ckpt")} == mtimes


@pytest.mark.parametrize(
    "text, needle",
    [
        ("name: x\nmodels: [cnn-small]\ntasks: [nope]\nseeds: [0]\n", "unknown task"),
        ("name: x\nmodels: []\ntasks: [smoke]\nseeds: [0]\n", "'models' is required"),
        ("name: x\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0]\ntrain_fractions: [2]\n", "train_fractions"),
        ("name: x\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0]\nbogus: 1\n", "unknown key"),
    ],
)
def test_bad_study_files(tmp_path, capsys, text, needle):
    f = tmp_path / "s.yaml"
    f.write_text(text)
    assert main(["study", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err
    assert main(["study", "no-such-study"]) == 2


def _holder(lock):
    """A live process holding a run's lock, as another `diffbench study` process does."""
    import subprocess
    import sys

    code = (
        "import sys, time\nfrom filelock import FileLock\nheld = FileLock(sys.argv[1])\nheld.acquire()\n"
        "print('held', flush=True)\ntime.sleep(60)\n"
    )
    lock.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_run_locks(tmp_path):
    from diffbench.studies.runner import claim, release

    lock = tmp_path / "locks" / "a.lock"
    assert claim(lock) and claim(lock)  # ours, and again ours
    release(lock)
    holder = _holder(lock)  # free again after our release: another process takes it
    try:
        assert not claim(lock)  # a live process holds it
        release(lock)  # not ours to drop
        assert not claim(lock)
    finally:
        holder.kill()
        holder.wait()
    assert claim(lock)  # its holder died: the OS dropped its lock, the run is taken over
    release(lock)
    lock.write_text("another-host 1")  # what a lock file holds is no claim (an old hand-written lock, say)
    assert claim(lock)
    release(lock)


def test_two_processes_share_a_study(tmp_path, smoke_data_dir, monkeypatch):
    """A run another live process holds is skipped, the rest is done, and the held run is taken
    up when its holder goes away; the table keeps the study's order and no lock is left."""
    from diffbench.studies import runner as study_mod

    study = tmp_path / "pair.yaml"
    study.write_text(
        "name: pair\nmodels: [cnn-small]\ntasks: [smoke]\nseeds: [0]\ntrain_fractions: [0.25, 1.0]\nsteps: 3\n"
    )
    held = tmp_path / "out" / "pair" / "locks" / "smoke--cnn-small--0.25.lock"
    holder = _holder(held)
    monkeypatch.setattr(study_mod, "LOCK_POLL_S", 0.05)
    logs = []

    def log(message):
        logs.append(message)
        if "another process holds it" in message:
            return
        if message.startswith("[2/2]"):  # the free run started: let the holder go
            holder.kill()
            holder.wait()

    try:
        summary = study_mod.run_study(
            str(study),
            out=str(tmp_path / "out"),
            data_dir=str(smoke_data_dir),
            progress=False,
            wandb_mode="disabled",
            log=log,
        )
    finally:
        holder.kill()
    assert [m[:5] for m in logs] == ["[1/2]", "[2/2]", "[1/2]"] and "another process holds it" in logs[0]
    assert [r["train_fraction"] for r in summary["rows"]] == [0.25, 1.0]
    from filelock import FileLock

    for lock in held.parent.iterdir():  # no lock is left held: each is free to take at once
        FileLock(str(lock), timeout=0).acquire().lock.release()


def test_tables_print_a_transfer_evaluation_with_its_interval(tmp_path, monkeypatch):
    """table.md and table.csv show a transfer evaluation that kept per-sample errors as
    "estimate [low, high]" (its two-level interval), like every other cell, not as mean ± std;
    one without them (an older study) keeps mean ± std, and one that cannot run says so."""
    from diffbench.studies import analysis
    from diffbench.studies.spec import StudySpec

    monkeypatch.setattr(analysis, "plots", lambda root, summary: None)
    row = {
        "model": "m",
        "task": "t",
        "train_fraction": 1.0,
        "n_train": 10,
        "parameters": 5,
        "per_seed_nmae": [0.1, 0.12],
        "test": {"nmae": {"mean": 0.11, "std": 0.014, "n": 2}},
        "stops": [],
        "command": "diffbench run ...",
        "transfer": {
            "a": {
                "status": "ok",
                "nmae": {"mean": 0.3456, "std": 0.02, "n": 2},
                "interval": {"estimate": 0.3456, "low": 0.3012, "high": 0.3899, "method": "two-level", "n_seeds": 2},
            },
            "b": {"status": "ok", "nmae": {"mean": 0.25, "std": 0.01, "n": 2}},
            "c": {"status": "cannot run", "reason": "fixed size"},
        },
    }
    spec = StudySpec(name="x", models=["m"], tasks=["t"], seeds=[0, 1])
    analysis.write_outputs(tmp_path, spec, {"rows": [row], "study": {}})
    md = (tmp_path / "table.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith("| m |"))
    assert line.endswith("| 0.35 [0.30, 0.39] | 0.25 ± 0.01 | cannot run |"), line
    csv_text = (tmp_path / "table.csv").read_text()
    assert "0.35 [0.30, 0.39]" in csv_text and "0.25 ± 0.01" in csv_text
