"""The repository's own leaderboard: every committed submission passes the checks, and the
committed site is what `diffbench leaderboard build` would generate from them."""

from __future__ import annotations

import pytest

from diffbench.leaderboard.site import build_site
from diffbench.submissions.submit import default_leaderboard_dir, load_submissions


def test_committed_site_is_current(monkeypatch):
    monkeypatch.delenv("DIFFBENCH_LEADERBOARD_DIR", raising=False)
    lb = default_leaderboard_dir()
    subs = load_submissions(lb)  # raises, naming the file, if a committed submission fails a check
    if not subs and not (lb / "site").exists():
        pytest.skip("no submissions and no site committed yet")
    build_site(lb, check=True)  # raises if stale: run `diffbench leaderboard build` and commit leaderboard/site
