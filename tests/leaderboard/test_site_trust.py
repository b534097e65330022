"""The uncertainty board and physics-consistency table (``uq/<task>.html``) and the entry pages' uq
and consistency sections."""

from __future__ import annotations

import json
import re

import pytest
from lb_factory import NA_DROPOUT, NA_ENSEMBLE, NA_EQUIVARIANCE, XSS_TITLE, populate, populate_trust

from diffbench.leaderboard.charts import fmt_number
from diffbench.leaderboard.site import build_site, esc, render_site
from diffbench.stats import format_interval


def _data(page: str) -> dict:
    m = re.search(r"<script>window\.DIFFBENCH_DATA = (.*?);</script>", page, re.S)
    assert m, "embedded data missing"
    return json.loads(m.group(1))


def _table(page: str, board: str) -> str:
    m = re.search(rf'<table class="board" data-board="{board}">(.*?)</table>', page, re.S)
    assert m, f"no board {board}"
    return m.group(1)


def test_uncertainty_board_has_one_row_per_entry_and_indicator(lb, make):
    subs = populate_trust(lb, make)
    site = build_site(lb).out
    page = (site / "uq" / "smoke.html").read_text()
    board = _table(page, "uq-smoke")
    ids = re.findall(r'<tr data-id="([0-9a-f]{16}/[a-z-]+)"', board)
    full, single = subs["full"], subs["single"]
    # entries in main-board order (test nMAE ascending), indicators in reporting order; no row for entries without --uq
    indicators = ["mc-dropout", "residual", "inverse", "ensemble"]
    baselines = ["source-count", "input-sum", "prediction-mean"]
    assert ids == [f"{full.id}/{n}" for n in indicators + baselines] + [f"{single.id}/{n}" for n in indicators]
    assert subs["plain"].id not in board and subs["old"].id not in board
    assert "2 of 4 entries ran with --uq; the 2 without it are not on this board" in page
    assert "underpowered" in page and "standard-64" in page
    # full (intervals): every score as estimate [interval]; the caught share has 4 worst samples per seed
    r = full.result["uq"]
    for group in ("indicators", "baselines"):
        for name, ind in r[group].items():
            row = re.search(rf'<tr data-id="{full.id}/{name}"[^>]*>(.*?)</tr>', board, re.S).group(1)
            for key in ("spearman", "auroc"):
                iv = ind[key]
                assert esc(format_interval(iv["estimate"], iv["low"], iv["high"])) in row, (name, key)
            assert ind["catch_rate"]["underpowered"] and row.count(">underpowered<") == 1
            assert fmt_number(ind["indicator_mean"]["mean"]) in row and f"{ind['n_seeds']}/3" in row
    # single (written before the intervals, 120 test samples): the power rule from its size, no interval otherwise
    for name, ind in single.result["uq"]["indicators"].items():
        row = re.search(rf'<tr data-id="{single.id}/{name}"[^>]*>(.*?)</tr>', board, re.S).group(1)
        if ind["status"] == "ok":
            assert fmt_number(ind["spearman"]["mean"]) in row and "(no interval)" in row
            assert row.count(">underpowered<") == 2 and fmt_number(ind["auroc"]["mean"]) not in row
        else:
            assert row.count(">n/a<") == 4 and f"n/a: {esc(ind['reason'])}" in row
    assert esc(NA_DROPOUT) in board and esc(NA_ENSEMBLE) in board and "<no dropout>" not in page
    # the sort data: estimates of applicable, powered scores; null for n/a and underpowered (sorted last)
    auroc = r["indicators"]["inverse"]["auroc"]
    data = _data(page)["boards"]["uq-smoke"]
    assert data["order"] == ids
    assert data["rows"][f"{full.id}/inverse"]["auroc"] == auroc["estimate"]
    assert data["rows"][f"{full.id}/inverse"]["catch_rate"] is None
    assert (
        data["rows"][f"{single.id}/ensemble"]["auroc"] is None
        and data["rows"][f"{single.id}/residual"]["auroc"] is None
    )
    assert (
        data["rows"][f"{single.id}/residual"]["spearman"]
        == single.result["uq"]["indicators"]["residual"]["spearman"]["mean"]
    )
    assert 'data-key="auroc" data-first="descending"' in page
    # linked from the index (the task's section and the uncertainty section) and from the entries
    index = (site / "index.html").read_text()
    assert index.count('href="uq/smoke.html"') == 2 and 'href="#uncertainty"' in index
    assert "(2 of 4 entries ran with --uq)" in index
    assert 'href="../uq/smoke.html"' in (site / "entries" / f"{full.id}.html").read_text()
    assert 'href="../entries/' + full.id + '.html"' in board


def test_consistency_table_has_one_row_per_entry_with_scores(lb, make):
    subs = populate_trust(lb, make)
    site = build_site(lb).out
    page = (site / "uq" / "smoke.html").read_text()
    table = _table(page, "consistency-smoke")
    ids = re.findall(r'<tr data-id="([0-9a-f]{16})"', table)
    assert ids == [subs[k].id for k in ("full", "single", "plain")]  # the older result has no consistency block
    assert "3 of 4 entries with consistency scores; 1 older result without them" in page
    for key in ("full", "single", "plain"):
        c = subs[key].result["consistency"]
        row = re.search(rf'<tr data-id="{subs[key].id}"[^>]*>(.*?)</tr>', table, re.S).group(1)
        assert fmt_number(c["superposition"]["mean"]["mean"]) in row
        assert fmt_number(c["flux_balance"]["max"]["mean"]) in row
        assert fmt_number(c["maximum_principle"]["negative_share"]["mean"]) in row
        assert fmt_number(c["maximum_principle"]["most_negative"]["mean"]) in row
        if key != "plain":
            assert fmt_number(c["equivariance"]["mean"]["mean"]) in row
    plain = re.search(rf'<tr data-id="{subs["plain"].id}"[^>]*>(.*?)</tr>', table, re.S).group(1)
    assert plain.count(">n/a<") == 2 and esc(NA_EQUIVARIANCE) in plain
    rows = _data(page)["boards"]["consistency-smoke"]["rows"]
    assert rows[subs["plain"].id]["equivariance.mean"] is None
    assert (
        rows[subs["full"].id]["superposition.mean"]
        == subs["full"].result["consistency"]["superposition"]["mean"]["mean"]
    )


def test_entry_pages_show_uq_and_consistency(lb, make):
    subs = populate_trust(lb, make)
    site = build_site(lb).out
    full = (site / "entries" / f"{subs['full'].id}.html").read_text()
    r = subs["full"].result
    assert 'id="uq"' in full and 'id="consistency"' in full
    for group in ("indicators", "baselines"):
        for name, ind in r["uq"][group].items():
            iv = ind["auroc"]
            assert esc(format_interval(iv["estimate"], iv["low"], iv["high"])) in full
    for seed in r["per_seed"]:
        for group in ("indicators", "baselines"):
            for name, ind in seed["uq"][group].items():
                for key in ("spearman", "auroc"):
                    iv = ind[key]
                    assert esc(format_interval(iv["estimate"], iv["low"], iv["high"])) in full, (
                        seed["seed"],
                        name,
                        key,
                    )
                assert fmt_number(ind["indicator_median"]) in full
        assert fmt_number(seed["consistency"]["superposition"]["mean"]) in full
    assert fmt_number(r["consistency"]["equivariance"]["max"]["mean"]) in full
    single = (site / "entries" / f"{subs['single'].id}.html").read_text()
    assert f"n/a: {esc(NA_ENSEMBLE)}" in single and XSS_TITLE not in single
    old = (site / "entries" / f"{subs['old'].id}.html").read_text()
    assert 'id="uq"' not in old and 'id="consistency"' not in old  # an older result shows neither


def test_trust_pages_escape_and_are_self_contained(lb, make):
    populate_trust(lb, make)
    files = render_site(lb)
    assert files == render_site(lb)  # deterministic
    page = files["uq/smoke.html"].decode()
    assert XSS_TITLE not in page and esc(XSS_TITLE) in page
    assert page.count("<script") == 2 and "Content-Security-Policy" in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?:", page)
    data = _data(page)
    assert any(v["method"].startswith("fno — <script>") for v in data["boards"]["uq-smoke"]["rows"].values())


def test_a_task_without_uq_says_so_in_one_line(lb, make):
    populate(lb, make)  # four entries, none with uq or consistency
    site = build_site(lb).out
    page = (site / "uq" / "smoke.html").read_text()
    assert page.count("No entry on smoke was run with <code>--uq</code> yet") == 1
    assert "No entry on smoke has physics-consistency scores." in page
    assert "<script" not in page and "script-src &#x27;none&#x27;" in page
    assert not (site / "uq" / "standard-64.html").exists()  # tasks without submissions get no page


def test_board_shows_flops_and_the_speedup_at_equal_accuracy(lb, make):
    from lb_factory import with_cost

    from diffbench.submissions.submit import submit

    new = submit(make(model="unet-small", mutate=with_cost, images=False), lb, title="timed now", today="2025-03-01")
    old = submit(make(model="cnn-small", images=False), lb, title="timed before", today="2025-03-02")
    site = build_site(lb).out
    index = (site / "index.html").read_text()
    new_row = re.search(rf'<tr data-id="{new.id}"[^>]*>(.*?)</tr>', index, re.S).group(1)
    old_row = re.search(rf'<tr data-id="{old.id}"[^>]*>(.*?)</tr>', index, re.S).group(1)
    cost = new.result["cost"]
    assert (
        "11.6M" in new_row and f'{cost["speedup_at_equal_accuracy"]:.2g}×' in new_row and "at equal accuracy" in new_row
    )
    from diffbench.results.cost import fmt_seconds

    assert cost["inference_spread"] == pytest.approx(0.4)
    assert fmt_seconds(cost["inference_s_per_sample"], 2) == "100 µs" and ">100 µs<" in new_row  # 101 µs: two digits
    legacy = old.result["cost"]["solver_s_per_sample"] / old.result["cost"]["inference_s_per_sample"]
    assert f"{legacy:.2g}× (tol 1e-8)" in old_row and "not recorded" in old_row
    entry = (site / "entries" / f"{new.id}.html").read_text()
    assert "minimum of repeats" in entry and "FLOPs / sample" in entry
