"""Fixtures for the leaderboard tests: a fresh leaderboard folder and a result factory."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from lb_factory import copy_run, make_result  # noqa: F401 (copy_run: tests import it from lb_factory)


@pytest.fixture
def lb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty leaderboard folder; $DIFFBENCH_LEADERBOARD_DIR points at it so no test touches the repo's."""
    path = tmp_path / "leaderboard"
    monkeypatch.setenv("DIFFBENCH_LEADERBOARD_DIR", str(path))
    return path


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Path]:
    """``make(**kw)`` writes a valid result.json (see lb_factory.make_result) in a new run folder."""
    counter = itertools.count()

    def _make(**kw) -> Path:
        return make_result(tmp_path / "runs" / f"run-{next(counter)}", **kw)

    return _make


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, smoke_data_dir) -> Path:
    """A finished 3-seed run of cnn-small on smoke (a few steps: what is scored is what was
    trained), for ``diffbench verify`` and the pull-request check; about 20 s once per session."""
    from diffbench.cli import main

    out = tmp_path_factory.mktemp("runs")
    args = [
        "run",
        "--model",
        "cnn-small",
        "--task",
        "smoke",
        "--seeds",
        "0,1,2",
        "--max-steps",
        "3",
        "--out",
        str(out),
        "--data-dir",
        str(smoke_data_dir),
        "--no-progress",
        "--wandb-mode",
        "disabled",
    ]
    assert main(args) == 0
    (result,) = out.glob("*/result.json")
    return result.parent
