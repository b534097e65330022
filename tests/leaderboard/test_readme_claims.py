"""The README's findings are generated from the shipped data (`diffbench leaderboard readme`),
so a claim cannot drift from what the entries and studies say (issue #13 item 8)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.leaderboard import claims

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_readme_says_what_the_shipped_data_say(capsys):
    assert (
        main(
            [
                "leaderboard",
                "readme",
                "--check",
                "--leaderboard",
                str(REPO / "leaderboard"),
                "--readme",
                str(REPO / "README.md"),
            ]
        )
        == 0
    ), capsys.readouterr().err


@pytest.fixture
def copy(tmp_path: Path) -> tuple[Path, Path]:
    lb = tmp_path / "leaderboard"
    shutil.copytree(REPO / "leaderboard" / "submissions", lb / "submissions")
    shutil.copytree(REPO / "leaderboard" / "studies", lb / "studies")
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    return lb, readme


def test_an_edited_number_is_caught_and_regenerated(copy, capsys):
    lb, readme = copy
    text = readme.read_text()
    body = text.split("<!-- generated:axes -->", 1)[1].split("<!-- /generated:axes -->", 1)[0]
    line = next(line for line in body.splitlines() if line.startswith("| `diffusivity-lognormal-64`"))
    edited = re.sub(r"\d\.\d+", "9.999", line, count=1)  # the test nMAE, whatever the shipped value is
    assert edited != line
    readme.write_text(text.replace(line, edited))
    args = ["leaderboard", "readme", "--leaderboard", str(lb), "--readme", str(readme)]
    assert main([*args, "--check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "differs from the shipped data" in err[0]
    assert main(args) == 0 and readme.read_text() == text


def test_a_changed_study_changes_the_claim(copy):
    """The numbers come from summary.json: make one axis clearly the hardest and the block follows."""
    lb, readme = copy
    path = lb / "studies" / "axes" / "summary.json"
    summary = json.loads(path.read_text())
    row = next(r for r in summary["rows"] if r["task"] == "shapes-64")
    row["per_seed_nmae"] = [0.5, 0.51, 0.52]
    row.pop("intervals", None)  # a row without per-sample errors: its interval is the seeds' t interval
    path.write_text(json.dumps(summary))
    axes = claims.render_blocks(lb)["axes"]
    assert "Hardest: `shapes-64`" in axes and "0.510 [0.485, 0.535]" in axes


def test_the_uq_block_refuses_to_score_an_underpowered_board(copy, make, monkeypatch):
    """A score on fewer positives per seed than stats.MIN_POSITIVES_CAUGHT prints "underpowered
    (k < 20)", never a number: the factory's smoke test set has enough worst 5 % samples for the
    AUROC but too few worst 1 % ones for the caught share."""
    from diffbench.stats import MIN_POSITIVES_CAUGHT
    from diffbench.submissions.submit import submit

    lb, _ = copy
    monkeypatch.setattr(claims, "headline_task", lambda: "smoke")
    submit(make(model="cnn-small", uq=("mc-dropout", "residual"), per_sample=True), lb, today="2025-01-01")
    block = claims.render_blocks(lb)["headline-uq"]
    rows = [line for line in block.splitlines() if line.startswith("| ") and "|---" not in line][1:]
    assert len(rows) == 5  # two indicators and three trivial baselines
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert "[" in cells[2] and "[" in cells[3], row  # Spearman and AUROC: numbers with intervals
        caught = re.fullmatch(rf"underpowered \((\d+) < {MIN_POSITIVES_CAUGHT}\)", cells[4])
        assert caught and int(caught.group(1)) < MIN_POSITIVES_CAUGHT, row


def test_no_board_is_shipped_on_smoke():
    """The tests' and demos' task has no shipped board: its old entries (untuned, t intervals over
    seeds only) were withdrawn, and nothing on the site or in the README may quote them."""
    assert not (REPO / "leaderboard" / "submissions" / "smoke").exists()
    assert not (REPO / "leaderboard" / "site" / "uq" / "smoke.html").exists()
    assert "generated:smoke" not in (REPO / "README.md").read_text()


@pytest.mark.parametrize("shape, verdict", [("law", "Reproduced"), ("plateau", "Not reproduced over the whole range")])
def test_the_scaling_verdict_follows_the_study_rows(copy, shape, verdict):
    """The block recomputes the fit, the lack-of-fit test and the verdict from the rows of
    summary.json (not from a stored sentence): rewrite the rows and the claim follows."""
    import math

    lb, _ = copy
    path = lb / "studies" / "data-scaling" / "summary.json"
    summary = json.loads(path.read_text())
    for i, row in enumerate(summary["rows"]):
        x = math.log10(row["n_train"])
        mean = 0.3 - 0.05 * (x if shape == "law" else min(x, 2.0))
        row["per_seed_nmae"] = [mean - 0.001, mean + 0.001, mean + 0.0005 * (-1) ** i]
        row.pop("intervals", None)
    summary["scaling_law"] = {"cnn-small": {"a": 0.0, "b": 0.0, "verdict": "a stale stored sentence"}}
    path.write_text(json.dumps(summary))
    block = claims.render_blocks(lb)["data-scaling"]
    assert f"**{verdict}" in block and "lack-of-fit F(" in block and "stale" not in block


def test_study_blocks_state_their_design_and_how_each_interval_was_made(copy):
    """Each study block opens with its design read from summary.json (a recipe carried over from
    another task is named as such; an untuned one says so), counts the seeds that stopped early
    and at the cap, and a transfer evaluation with its own two-level interval is printed with it."""
    lb, _ = copy
    path = lb / "studies" / "generalisation" / "summary.json"
    summary = json.loads(path.read_text())
    summary["study"].update(recipe_from="tuned:standard-64", early_stopping=True, steps=400)
    row = next(r for r in summary["rows"] if r["transfer"])
    for r in summary["rows"]:
        r["stops"] = [
            {"reason": "budget_capped", "step": 400, "epoch": 4},
            {"reason": "stopped_early", "step": 320, "epoch": 3},
        ]
        for t in r["transfer"].values():
            if t.get("status") == "ok":
                t["interval"] = {
                    "estimate": 0.4321,
                    "low": 0.4012,
                    "high": 0.4634,
                    "method": "bootstrap-t",
                    "n_seeds": 2,
                    "n_samples": 800,
                }
    path.write_text(json.dumps(summary))
    block = claims.render_blocks(lb)["generalisation"]
    assert (
        "stopped early when validation stopped improving (learning rate: each model's shipped tuned recipe on "
        "`standard-64`, carried over unchanged)." in block.splitlines()[0]
    )
    assert f"| `{row['model']}` | `{row['task']}` | its own test split |" in block and "| 1 / 1 |" in block
    assert "0.432 [0.401, 0.463]" in block
    assert (
        "Transfer evaluations: the same two-level bootstrap over the target task's test samples and the seeds." in block
    )
    summary["study"]["recipe_from"] = None
    for r in summary["rows"]:
        for t in r["transfer"].values():
            t.pop("interval", None)
    path.write_text(json.dumps(summary))
    block = claims.render_blocks(lb)["generalisation"]
    assert (
        "(learning rate: the task's recipe, untuned)." in block
        and "Transfer evaluations: t intervals over the seeds." in block
    )


def test_a_readme_without_a_block_is_one_line(copy):
    lb, readme = copy
    readme.write_text(readme.read_text().replace("<!-- generated:axes -->", "").replace("<!-- /generated:axes -->", ""))
    with pytest.raises(DiffbenchError, match="exactly once"):
        claims.readme(readme, lb, check=True)


def test_the_headline_uq_block_scores_indicators_beside_the_trivial_baselines(copy, make, monkeypatch):
    """The default task's uncertainty board lists every indicator and every trivial baseline with
    intervals, and names an indicator as better only when its AUROC interval clears the best baseline's
    (here on `smoke` standing in for the default task: the factory's per-sample blocks are smoke's;
    smoke's shipped entries predate the baselines and are left out)."""
    from diffbench.submissions.submit import submit

    lb, _ = copy
    monkeypatch.setattr(claims, "headline_task", lambda: "smoke")
    assert claims.render_blocks(lb)["headline-uq"] == "No entry with indicators is shipped on `smoke`.\n"
    submit(make(model="cnn-small", uq=("mc-dropout", "residual"), per_sample=True), lb, today="2025-01-01")
    block = claims.render_blocks(lb)["headline-uq"]
    for name in ("mc-dropout", "residual", "source-count", "input-sum", "prediction-mean"):
        assert f"| {name} |" in block
    assert "| source-count | trivial baseline |" in block and "| residual | indicator |" in block
    assert "Indicators whose AUROC interval lies wholly above the best trivial baseline's:" in block
    assert (
        "[" in block.split("| residual | indicator |")[1].splitlines()[0]
    )  # a number with its interval, or underpowered
