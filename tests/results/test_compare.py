"""``diffbench compare``: the paired difference of every headline metric, one-line errors for
inputs that cannot be compared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from diffbench.cli import main
from diffbench.results.per_sample import HEADLINE_METRICS, paired_differences
from diffbench.stats import format_interval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from lb_factory import load, make_result


def _compare(capsys, a, b):
    code = main(["compare", str(a), str(b)])
    out, err = capsys.readouterr()
    return code, out, err


def test_compare_prints_every_headline_difference(tmp_path, capsys):
    a = make_result(tmp_path / "a", base=0.010, per_sample=True)
    b = make_result(tmp_path / "b", base=0.013, model="fno", per_sample=True)
    code, out, err = _compare(capsys, a, b)
    assert code == 0 and err == ""
    diffs = paired_differences(
        [s["per_sample"] for s in load(a)["per_seed"]], [s["per_sample"] for s in load(b)["per_seed"]]
    )
    for key in HEADLINE_METRICS:
        d = diffs[key]
        line = next(x for x in out.splitlines() if x.startswith(key + " "))
        assert format_interval(d.estimate, d.low, d.high) in line, key
        iv = load(a)["aggregate"]["intervals"]["metrics"][key]
        assert format_interval(iv["estimate"], iv["low"], iv["high"]) in line, key
    assert diffs["nmae"].estimate < 0 and "A lower" in out
    assert "paired on 120 shared test samples" in out


def test_compare_reads_stored_submissions(tmp_path, capsys, monkeypatch):
    from diffbench.submissions.submit import submit

    lb = tmp_path / "lb"
    monkeypatch.setenv("DIFFBENCH_LEADERBOARD_DIR", str(lb))
    sa = submit(make_result(tmp_path / "a", base=0.010, per_sample=True), lb)
    sb = submit(make_result(tmp_path / "b", base=0.010, model="fno", per_sample=True), lb)
    code, out, _ = _compare(capsys, sa.path, sb.path)
    assert code == 0 and "nmae" in out and "A: unet-small" in out and "B: fno" in out


@pytest.mark.parametrize(
    "kind, needle",
    [
        ("legacy", "B (PATH) has no per-sample errors"),
        ("other task", "A is scored on task smoke (spec "),
        ("other samples", "the two entries were scored on different test samples"),
        ("tampered", "B (PATH) refused: digest does not match"),
    ],
)
def test_incomparable_inputs_are_one_line_errors(tmp_path, capsys, kind, needle):
    a = make_result(tmp_path / "a", base=0.010, per_sample=True)
    if kind == "legacy":
        b = make_result(tmp_path / "b", base=0.010)
    elif kind == "other task":

        def other_spec(r):  # the same task name under another spec (e.g. before a task change)
            r["task"]["spec_hash"] = "0" * 64

        b = make_result(tmp_path / "b", base=0.010, per_sample=True, mutate=other_spec)
    elif kind == "other samples":

        def shift(r):
            for s in r["per_seed"]:
                s["per_sample"]["index"] = [i + 1 for i in s["per_sample"]["index"]]

        b = make_result(tmp_path / "b", base=0.010, per_sample=True, mutate=shift)
    else:
        b = make_result(tmp_path / "b", base=0.010, per_sample=True)
        b.write_text(b.read_text().replace('"epochs_run": 6', '"epochs_run": 7', 1))
    code, out, err = _compare(capsys, a, b)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert needle.replace("PATH", str(b)) in err, err
