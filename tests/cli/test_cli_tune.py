"""`diffbench tune` and `diffbench study --launcher` on the command line: help and usage errors
(the searches themselves: tests/tuning/; the launchers: tests/protocol/test_study_launch.py)."""

from __future__ import annotations

import pytest

from diffbench.cli import main


def test_tune_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["tune", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--model",
        "--task",
        "--trials",
        "--budget-steps",
        "--max-epochs",
        "--seed",
        "--storage",
        "--study-name",
        "--space",
        "--out",
    ):
        assert flag in out


def test_study_help_lists_the_launchers(capsys):
    with pytest.raises(SystemExit):
        main(["study", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--launcher",
        "--partition",
        "--time",
        "--gpus-per-node",
        "--cpus-per-task",
        "--array-parallelism",
        "--wait",
    ):
        assert flag in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["tune"], "the following arguments are required: --model"),
        (["tune", "--model", "cnn-small", "--trials", "many"], "invalid int value: 'many'"),
        (["tune", "--model", "cnn-small", "--bogus"], "unrecognized arguments: --bogus"),
        (["run", "--recipe-from"], "expected one argument"),
    ],
)
def test_usage_errors_are_one_line(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err, err
