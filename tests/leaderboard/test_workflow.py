"""The pull-request workflow (issue #15 item 2): every step of .github/workflows/leaderboard.yml
is an install line, a diffbench command or a repo script that this module runs here; and the
script (leaderboard/ci/pr_check.py) passes a good submission and fails a bad one with its
one-line reason."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from lb_factory import copy_run

from diffbench.cli import build_parser
from diffbench.leaderboard.site import build_site
from diffbench.results import aggregate_metrics, write_result
from diffbench.submissions.submit import submit

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "leaderboard.yml"
PR_CHECK = ROOT / "leaderboard" / "ci" / "pr_check.py"
#: The repo scripts the workflow may run: each is executed by a test of this module.
TESTED_SCRIPTS = {"leaderboard/ci/pr_check.py"}
#: Installation, as the project's CI does it (the CPU torch wheel first).
INSTALL = {"pip install torch==2.13.0", "pip install -e ."}


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _commands(run: str) -> list[str]:
    return [ln.strip() for ln in run.replace("\\\n", " ").splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_every_run_step_is_a_diffbench_command_or_a_tested_repo_script():
    wf = _workflow()
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "leaderboard/submissions/**" in triggers["pull_request"]["paths"]
    assert triggers["push"]["branches"] == ["main"]
    parser = build_parser()
    seen_scripts, seen = set(), []
    for job in wf["jobs"].values():
        for step in job["steps"]:
            for cmd in _commands(step.get("run", "")):
                seen.append(cmd)
                words = shlex.split(re.sub(r"\$\{\{[^}]*\}\}", "X", cmd))
                if cmd in INSTALL:
                    continue
                if words[0] == "diffbench":
                    parser.parse_args(words[1:])  # a real diffbench command line (raises otherwise)
                    continue
                assert words[0] == "python" and words[1] in TESTED_SCRIPTS, (
                    f"workflow runs {cmd!r}: not diffbench, not a tested script"
                )
                assert (ROOT / words[1]).is_file()
                seen_scripts.add(words[1])
    assert seen_scripts == TESTED_SCRIPTS and any(c.startswith("diffbench leaderboard build") for c in seen)


def test_main_publishes_the_site_to_github_pages():
    publish = _workflow()["jobs"]["publish"]
    assert publish["permissions"]["pages"] == "write" and publish["permissions"]["id-token"] == "write"
    uses = {s["uses"].split("@")[0]: s for s in publish["steps"] if "uses" in s}
    assert uses["actions/upload-pages-artifact"]["with"]["path"] == "leaderboard/site"
    assert "actions/deploy-pages" in uses and publish["environment"]["name"] == "github-pages"
    assert "main" in publish["if"]
    assert 0 < _workflow()["jobs"]["check"]["timeout-minutes"] <= 60  # the time budget of the re-scoring


def _pr_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, str(PR_CHECK), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=repo, check=True, capture_output=True
    )


def test_pr_check_passes_a_new_verified_bundle_and_fails_a_tampered_one(run_dir, smoke_data_dir, tmp_path, monkeypatch):
    """The script as CI runs it: in a git repository whose pull request adds submissions."""
    repo = tmp_path / "repo"
    lb = repo / "leaderboard"
    monkeypatch.setenv("DIFFBENCH_LEADERBOARD_DIR", str(lb))
    lb.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    build_site(lb)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "empty leaderboard")
    _git(repo, "checkout", "-q", "-b", "pr")
    good = submit(copy_run(run_dir, tmp_path / "a"), lb, title="good", today="2025-06-01", with_checkpoints=True)
    build_site(lb)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "add a submission")

    done = _pr_check("--base", "main", "--leaderboard", str(lb), "--data-dir", str(smoke_data_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 submission(s) to check" in done.stdout and f"$ diffbench submit --check {good.path}" in done.stdout
    assert "verified:" in done.stdout and "the site is current" in done.stdout

    # a tampered number (aggregate and digest recomputed): submit accepts it, the PR check does not
    path = copy_run(run_dir, tmp_path / "b")
    r = json.loads(path.read_text())
    r.pop("digest")
    r["per_seed"][2]["val"]["nmae"] *= 1.01
    r["aggregate"]["val"] = aggregate_metrics([s["val"] for s in r["per_seed"]])
    write_result(path, r)
    bad = submit(path, lb, title="bad", today="2025-06-01", with_checkpoints=True)
    build_site(lb)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "add a tampered submission")
    done = _pr_check("--base", "main", "--leaderboard", str(lb), "--data-dir", str(smoke_data_dir))
    assert done.returncode == 1
    assert f"::error::{bad.path}: seed 2 claims val.nmae" in done.stdout
    assert done.stderr.rstrip().splitlines()[-1].startswith("error: ") and "Traceback" not in done.stderr


def test_pr_check_fails_a_stale_site_and_skips_checkpoints_over_the_budget(run_dir, tmp_path, monkeypatch):
    lb = tmp_path / "leaderboard"
    monkeypatch.setenv("DIFFBENCH_LEADERBOARD_DIR", str(lb))
    sub = submit(copy_run(run_dir, tmp_path), lb, title="big", today="2025-06-01", with_checkpoints=True)
    done = _pr_check("--leaderboard", str(lb), "--max-bytes", "1000", str(sub.path))
    assert done.returncode == 1 and "skipped:" in done.stdout and "over the budget of 1000" in done.stdout
    assert "::error::" in done.stdout and "no site at" in done.stdout  # nobody ran `diffbench leaderboard build`
    build_site(lb)
    assert _pr_check("--leaderboard", str(lb), "--max-bytes", "1000", str(sub.path)).returncode == 0


@pytest.mark.parametrize(
    "text",
    [
        "Settings -> Pages",
        "GitHub Actions",
        "diffbench verify",
        "--with-checkpoints",
        "diffbench submit --check",
        "leaderboard/ci/pr_check.py",
    ],
)
def test_the_readme_explains_the_flow(text):
    assert text in (ROOT / "leaderboard" / "README.md").read_text()
