"""Fixtures for the leaderboard tests: a fresh leaderboard folder and a result factory."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Callable

import pytest
from lb_factory import make_result


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
