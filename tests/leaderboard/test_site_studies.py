"""Study pages: any ``leaderboard/studies/<name>/`` in the format ``diffbench study`` writes, with or
without a fit, with transfer evaluations and "cannot run" entries."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from lb_factory import XSS_TITLE, study_row, write_study

from diffbench.errors import DiffbenchError
from diffbench.leaderboard.charts import fmt_number
from diffbench.leaderboard.site import build_site, esc, render_site
from diffbench.stats import format_interval
from diffbench.submissions.submit import submit

REPO_STUDIES = Path(__file__).resolve().parents[2] / "leaderboard" / "studies"
CANNOT = "cannot run on transfer-128: the FNO's modes are fixed at N = 64"


def _generalisation(lb: Path) -> Path:
    rows = [
        study_row(
            "unet-small",
            "standard-64",
            0.05,
            transfer={
                "transfer-128": {"status": "ok", "nmae": {"mean": 0.0731, "std": 0.004, "n": 2}},
                "shapes-64": {"status": "ok", "nmae": {"mean": 0.1234, "std": None, "n": 1}},
            },
        ),
        study_row(
            "fno-small",
            "standard-64",
            0.11,
            transfer={
                "transfer-128": {"status": "cannot run", "reason": CANNOT},
                "shapes-64": {
                    "status": "ok",
                    "nmae": {"mean": 0.2468, "std": 0.01, "n": 2},
                    "interval": {
                        "estimate": 0.2468,
                        "low": 0.2311,
                        "high": 0.2625,
                        "method": "bootstrap-t",
                        "n_seeds": 2,
                        "n_samples": 800,
                    },
                },
            },
        ),
        study_row("unet-small", "extrapolate-sources-64", 0.0777),
    ]
    return write_study(
        lb,
        "generalisation",
        rows=rows,
        description="Does it <b>generalise</b>?",
        purpose=XSS_TITLE,
        evaluate_on={"standard-64": ["transfer-128", "shapes-64"]},
    )


def test_a_study_without_a_fit_with_transfer_and_cannot_run(lb):
    d = _generalisation(lb)
    site = build_site(lb).out
    page = (site / "studies" / "generalisation" / "index.html").read_text()
    summary = json.loads((d / "summary.json").read_text())
    for row in summary["rows"]:
        assert fmt_number(row["test"]["nmae"]["mean"]) in page
        assert fmt_number(row["test"]["max_abs_error"]["mean"]) in page
        assert esc(row["command"]) in page
    assert fmt_number(0.0731) in page and ">on transfer-128<" in page
    assert esc(format_interval(0.2468, 0.2311, 0.2625)) in page  # a transfer with per-sample errors: its interval
    assert "Stopping</dt><dd>at the end of that budget (no early stopping)" in page
    assert "Learning rate</dt><dd>the task&#x27;s recipe, untuned" in page
    assert ">cannot run<sup>1</sup>" in page and esc(CANNOT) in page
    assert "Does it &lt;b&gt;generalise&lt;/b&gt;?" in page and esc(XSS_TITLE) in page and XSS_TITLE not in page
    assert "standard-64 → transfer-128, shapes-64" in page
    assert 'id="fit"' not in page and "Analysis</dt><dd>none" in page  # no fit: no fit section
    assert "<code>diffbench study generalisation</code>" in page
    # the plots and the table files are copied next to the page, byte for byte
    for name in ("per_count.png", "table.csv", "table.md", "summary.json"):
        assert (site / "studies" / "generalisation" / name).read_bytes() == (d / name).read_bytes()
    assert '<img src="per_count.png"' in page and 'href="table.csv"' in page
    assert "<script" not in page and 'href="../../index.html"' in page
    # listed on the index, and linked from the tasks it ran on (when they have a board)
    index = (site / "index.html").read_text()
    assert 'href="#studies"' in index and 'href="studies/generalisation/index.html"' in index
    assert "3 runs on extrapolate-sources-64, standard-64" in index


def test_the_shipped_data_scaling_study_with_its_fit(lb):
    shutil.copytree(REPO_STUDIES / "data-scaling", lb / "studies" / "data-scaling")
    site = build_site(lb).out
    page = (site / "studies" / "data-scaling" / "index.html").read_text()
    summary = json.loads((REPO_STUDIES / "data-scaling" / "summary.json").read_text())
    fit = summary["scaling_law"]["cnn-small"]
    assert 'id="fit"' in page and esc(fit["law"]) in page
    for value in (fit["a"], fit["b"]):
        assert fmt_number(value) in page
    assert f"{fit['r2']:.3f}" in page and f"± {fit['b_stderr']:.2g}" in page
    for band in fit["band"]:
        assert fmt_number(band["fit"]) in page and fmt_number(band["fit"] - band["half_width"]) in page
    for row in summary["rows"]:
        iv = (row.get("intervals") or {}).get("metrics", {}).get("nmae")
        # a run that kept per-sample errors shows its interval over test samples and seeds, else mean ± std over seeds
        assert (
            esc(format_interval(iv["estimate"], iv["low"], iv["high"]))
            if iv
            else fmt_number(row["test"]["nmae"]["mean"])
        ) in page
    if fit.get("verdict"):
        assert esc(fit["verdict"]) in page and "Lack of fit" in page
    for png in ("scaling.png", "per_count.png"):
        assert (site / "studies" / "data-scaling" / png).read_bytes() == (
            REPO_STUDIES / "data-scaling" / png
        ).read_bytes()
        assert f'<img src="{png}"' in page
    assert "fit: cnn-small: " + esc(fit["law"]) in (site / "index.html").read_text()


def test_a_study_row_links_to_its_leaderboard_entry(lb, make):
    result = make(task="smoke", model="unet-small", images=False)
    run_id = json.loads(result.read_text())["run_id"]
    sub = submit(result, lb, today="2025-01-01")
    write_study(
        lb, "tiny", rows=[study_row("unet-small", "smoke", 0.05, run_id=run_id), study_row("fno", "smoke", 0.09)]
    )
    site = build_site(lb).out
    page = (site / "studies" / "tiny" / "index.html").read_text()
    assert f'href="../../entries/{sub.id}.html"' in page
    assert page.count("../../entries/") == 1  # the other run was not submitted
    index = (site / "index.html").read_text()
    assert 'studies: <a href="studies/tiny/index.html">tiny</a>' in index  # from the smoke board
    assert 'href="../studies/tiny/index.html"' in (site / "uq" / "smoke.html").read_text()


def test_studies_are_deterministic_and_optional(lb, tmp_path):
    assert "No studies shipped yet." in render_site(lb)["index.html"].decode()
    _generalisation(lb)
    (lb / "studies" / ".scratch").mkdir()  # hidden folders and loose files are ignored
    (lb / "studies" / "README.md").write_text("notes")
    a = render_site(lb)
    assert a == render_site(lb)
    assert sorted(k for k in a if k.startswith("studies/")) == [
        "studies/generalisation/index.html",
        "studies/generalisation/per_count.png",
        "studies/generalisation/summary.json",
        "studies/generalisation/table.csv",
        "studies/generalisation/table.md",
    ]


@pytest.mark.parametrize(
    "breakage, match",
    [
        (lambda d: (d / "summary.json").unlink(), r"generalisation: no summary\.json"),
        (lambda d: (d / "summary.json").write_text("{not json"), r"summary\.json is not valid JSON"),
        (lambda d: (d / "summary.json").write_text(json.dumps({"study": {}, "rows": {}})), r"rows must be a list"),
        (lambda d: (d / "summary.json").write_text(json.dumps({"rows": []})), r"study must be an object"),
        (
            lambda d: (d / "summary.json").write_text(json.dumps({"study": {}, "rows": [{"model": "m"}]})),
            r"rows\[0\]\.task must be",
        ),
        (
            lambda d: (d / "summary.json").write_text(
                json.dumps({"study": {}, "rows": [], "scaling_law": {"m": {"a": 1}}})
            ),
            r"scaling_law\.m must be a fit",
        ),
        (lambda d: (d / "plot.png").write_bytes(b"GIF89a"), r"plot\.png: is not a PNG file"),
    ],
)
def test_a_broken_study_folder_stops_the_build_naming_it(lb, breakage, match):
    breakage(_generalisation(lb))
    with pytest.raises(DiffbenchError, match=match) as info:
        build_site(lb)
    assert "\n" not in str(info.value)
    assert not (lb / "site").exists()


def test_study_folder_names_are_checked(lb):
    write_study(lb, "Bad Name", rows=[study_row("m", "smoke", 0.1)])
    with pytest.raises(DiffbenchError, match="a study folder is named like a study"):
        render_site(lb)


def test_page_tolerates_sparse_rows(lb):
    """Only model and task are required of a row; everything missing shows as a dash."""
    write_study(lb, "sparse", rows=[{"model": "m", "task": "smoke"}])
    page = render_site(lb)["studies/sparse/index.html"].decode()
    assert re.search(r"<td><strong>m</strong></td><td>smoke</td>", page) and "—" in page
