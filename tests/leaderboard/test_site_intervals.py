"""Intervals, paired ranks and budgets on the site: board cells show each headline metric's
interval, entries not significantly worse than the leader share its rank ("=1"), the entry
page gives the paired difference with the leader and per-count bands, legacy entries and
budget-capped runs are marked."""

from __future__ import annotations

import html
import re

from diffbench.leaderboard.rows import RANKING_PAIRED, board_rows
from diffbench.leaderboard.site import build_site
from diffbench.stats import format_interval
from diffbench.submissions.submit import load_submissions, submit


def _rank_cells(index: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-id="([0-9a-f]{16})"[^>]*>\s*<td class="num rank"[^>]*>([^<]*)</td>', index))


def _board(lb, make, *, legacy: bool = False, stop: str | None = "stopped_early"):
    a = submit(make(model="unet-small", base=0.010, per_sample=True, stop=stop), lb, title="A")
    b = submit(make(model="fno", base=0.010, shift=0.00002, per_sample=True, stop=stop), lb, title="B")
    c = submit(make(model="cnn-small", base=0.030, per_sample=True, stop="budget_capped"), lb, title="C")
    d = submit(make(model="cnn-tiny", base=0.005, seeds=(0,), per_sample=True, stop=stop), lb, title="D")
    e = submit(make(model="legacy-net", base=0.05), lb, title="E") if legacy else None
    return a, b, c, d, e


def test_paired_ranks_tie_entries_not_significantly_worse(lb, make):
    a, b, c, d, _ = _board(lb, make)
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    ranks = _rank_cells(index)
    assert (ranks[a.id], ranks[b.id], ranks[c.id], ranks[d.id]) == ("=1", "=1", "2", "—")
    assert RANKING_PAIRED in html.unescape(index)
    iv = a.result["aggregate"]["intervals"]["metrics"]["nmae"]
    assert format_interval(iv["estimate"], iv["low"], iv["high"]) in index  # the board cell shows the interval
    for key in ("mae", "mae_sources", "max_abs_error", "p99_sample_mae"):
        m = c.result["aggregate"]["intervals"]["metrics"][key]
        assert format_interval(m["estimate"], m["low"], m["high"]) in index, key
    assert "no interval: legacy entry" not in index


def test_the_entry_page_gives_the_difference_with_the_leader_and_bands(lb, make):
    a, b, c, *_ = _board(lb, make)
    build_site(lb)
    rows = {r.id: r for r in board_rows(load_submissions(lb))}
    tied = b if rows[b.id].leader is not None else a
    leader = a if tied is b else b
    page = (lb / "site" / "entries" / f"{tied.id}.html").read_text()
    assert "Against the leader" in page and "(p = " in page and f'href="{leader.id}.html"' in page
    assert str(rows[tied.id].versus_leader) in page
    assert "leads its rank" in (lb / "site" / "entries" / f"{leader.id}.html").read_text()
    assert "rank =1" in page and "95 % interval" in page
    assert page.count("<polygon") == 2  # the per-count nMAE and MAE curves drawn with bands
    band = c.result["aggregate"]["intervals"]["per_count"]["3"]["nmae"]
    entry_c = (lb / "site" / "entries" / f"{c.id}.html").read_text()
    assert format_interval(band["estimate"], band["low"], band["high"]) in entry_c
    assert "budget-capped at step" in entry_c and "stopped early at step" in page


def test_a_legacy_entry_makes_the_board_rank_by_means_and_says_so(lb, make):
    a, b, _, _, e = _board(lb, make, legacy=True)
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    assert "ranks by mean test nMAE, without intervals: 1 ranked entry has no per-sample errors (legacy)" in index
    assert "no interval: legacy entry" in index
    ranks = _rank_cells(index)
    assert ranks[a.id] != ranks[b.id] and "=" not in "".join(ranks.values())
    assert "no interval: legacy entry" in (lb / "site" / "entries" / f"{e.id}.html").read_text()


def test_entries_on_other_test_samples_are_not_compared(lb, make):
    submit(make(model="unet-small", base=0.010, per_sample=True), lb, title="A")

    def other_samples(r):
        for s in r["per_seed"]:
            s["per_sample"]["index"] = [i + 1000 for i in s["per_sample"]["index"]]

    submit(make(model="fno", base=0.011, per_sample=True, mutate=other_samples), lb, title="B")
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    assert "the entries were scored on different test samples: not comparable" in index


def test_budget_capped_entries_are_marked(lb, make):
    a, _, c, *_ = _board(lb, make)
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    row_c = index.split(f'<tr data-id="{c.id}"')[1].split("</tr>")[0]
    row_a = index.split(f'<tr data-id="{a.id}"')[1].split("</tr>")[0]
    assert "budget-capped</span>" in row_c and "budget-capped" not in row_a


def test_tuned_entries_say_how_they_were_tuned(lb, make):
    """A run trained with --recipe-from records training.tuning; the board and the entry page say
    "tuned: best of K on val" with the chosen rate and the search's command; an untuned entry and a
    block with any other label are not marked tuned."""
    command = "diffbench tune --model unet-small --task smoke --trials 5 --budget-steps 240 --seed 0 --space lr"

    def tuned(label):
        def put(r):
            r["training"]["recipe"]["lr"] = 0.0032
            r["training"]["tuning"] = {"label": label, "tune_command": command, "val_nmae": 0.0714, "trials": 5}

        return put

    a = submit(
        make(model="unet-small", base=0.010, per_sample=True, mutate=tuned("tuned: best of 5 on val")), lb, title="A"
    )
    b = submit(make(model="fno", base=0.020, per_sample=True), lb, title="B")
    c = submit(
        make(model="cnn-small", base=0.030, per_sample=True, mutate=tuned("tuned by hand, trust me")), lb, title="C"
    )
    d = submit(
        make(model="resnet-small", base=0.040, per_sample=True, mutate=tuned("tuned: best of 5 on val of standard-64")),
        lb,
        title="D",
    )
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    rows = {s.id: index.split(f'<tr data-id="{s.id}"')[1].split("</tr>")[0] for s in (a, b, c)}
    assert ">tuned: best of 5 on val</span>" in rows[a.id] and html.escape(command) in rows[a.id]
    assert "tuned: best" not in rows[b.id] and "tuned" not in rows[c.id].replace("tuned by hand", "")
    entry = (lb / "site" / "entries" / f"{a.id}.html").read_text()
    assert "learning rate 0.0032, tuned: best of 5 on val" in entry and html.escape(command) in entry
    assert "untuned: the task's recipe" in (lb / "site" / "entries" / f"{b.id}.html").read_text()
    carried = index.split(f'<tr data-id="{d.id}"')[1].split("</tr>")[0]
    assert (
        ">tuned: best of 5 on val of standard-64</span>" in carried
    )  # a rate carried over from another task says which
