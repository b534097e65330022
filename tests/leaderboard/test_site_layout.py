"""The site's layout: the index leads with the headline board, the other boards grouped by
axis, board columns that fit (the column chooser), plugin packages and their install command,
the task chart pages, and the wording of tooltips and hints."""

from __future__ import annotations

import re

from lb_factory import populate

from diffbench.cli import main
from diffbench.data import load_task, task_names
from diffbench.leaderboard.board import (
    AXES,
    COLUMNS,
    DEMO_TASKS,
    DEMOS,
    HIDDEN_BY_DEFAULT,
    headline_task,
)
from diffbench.leaderboard.charts import Band, bands_chart, interval_scatter
from diffbench.leaderboard.overview import (
    count_band,
    forward_flops,
    headline_bar,
    overview_figures,
)
from diffbench.leaderboard.rows import board_rows
from diffbench.leaderboard.site import build_site
from diffbench.pipeline.config import RunConfig
from diffbench.submissions.submit import submit


def test_validation_nmae_tooltip_does_not_claim_checkpoint_selection(lb, make):
    populate(lb, make)
    index = (build_site(lb).out / "index.html").read_text()
    tip = re.search(r'<th[^>]*data-key="val_nmae"[^>]*title="([^"]*)"', index).group(1)
    assert "checkpoint" not in tip or "validation MAE" in tip, tip
    assert "used for checkpoint selection" not in tip


def test_submit_hint_names_the_leaderboard_it_used(lb, make, capsys):
    other = lb.parent / "my board"
    assert main(["submit", str(make()), "--leaderboard", str(other)]) == 0
    out = capsys.readouterr().out
    assert f"diffbench leaderboard build --leaderboard '{other}'" in out, out
    assert main(["submit", str(make(base=0.02))]) == 0  # the default folder: nothing to add
    assert "run `diffbench leaderboard build` to update the site" in capsys.readouterr().out


# --------------------------------------------------------------------------- the index


def _sections(index: str) -> list[str]:
    return re.findall(r'<(?:section|details) class="[^"]*" id="([^"]+)"', index)


def test_index_leads_with_the_headline_board_then_groups_by_axis(lb, make):
    headline = RunConfig().task  # the default task of `diffbench run`
    assert headline_task() == headline == "standard-64"
    head = submit(make(task=headline, images=False), lb, title="headline entry", today="2025-03-01")
    submit(make(task="decay-64", images=False), lb, today="2025-03-01")
    submit(make(task="boundary-neumann-64", images=False), lb, today="2025-03-01")
    populate(lb, make)  # four smoke entries
    index = (build_site(lb).out / "index.html").read_text()
    order = _sections(index)
    # the headline board first, then what this is / how to submit, the studies, then the groups
    assert order[:4] == [f"task-{headline}", "about", "studies", "boards"], order
    assert index.index(f'data-task="{headline}"') < index.index('data-task="smoke"')
    assert f'href="entries/{head.id}.html"' in index[: index.index('id="about"')]
    assert index.count('<svg class="chart"') == 3  # the headline's charts, on the index
    # the other boards, grouped by their YAML's axis, in the stated order, all collapsed
    groups = re.findall(r'<details class="axis" id="axis-([a-z]+)"(?: open)?>', index)
    assert groups == [
        a
        for a in AXES
        if any(t.axis == a and t.name not in (headline, *DEMO_TASKS) for t in map(load_task, task_names()))
    ] + [DEMOS]
    assert not re.search(r'<details class="axis"[^>]* open', index)
    for task in task_names():
        if task == headline:
            continue
        group = DEMOS if task in DEMO_TASKS else load_task(task).axis
        block = index[index.index(f'id="axis-{group}"') :]
        end = min(block.find(m, 1) for m in ('<details class="axis"', 'id="uncertainty"') if block.find(m, 1) > 0)
        assert f'id="task-{task}"' in block[:end], (task, group)
    assert "<strong>tests and demos</strong>" in index and "<strong>decay and clamping</strong>" in index
    # the nav: the headline first, then the groups
    nav = re.search(r'<nav class="tasks">(.*?)</nav>', index).group(1)
    assert (
        nav.startswith(f'<a href="#task-{headline}"><strong>{headline}</strong> (1)</a>')
        and 'href="#axis-demos">tests and demos (4)' in nav
    )


def test_column_chooser_hides_exactly_the_optional_columns(lb, make):
    populate(lb, make)
    index = (build_site(lb).out / "index.html").read_text()
    smoke = index[index.index('id="task-smoke"') :]
    thead = re.search(r"<thead><tr>(.*?)</tr></thead>", smoke).group(1)
    heads = re.findall(r"<th [^>]*>", thead)
    assert len(heads) == len(COLUMNS)
    keys = [c[0] for c in COLUMNS]
    boxes = re.findall(r'<input type="checkbox" data-col="([a-z0-9_]+)">', smoke[: smoke.index("</table>")])
    assert sorted(boxes) == sorted(HIDDEN_BY_DEFAULT) and set(HIDDEN_BY_DEFAULT) < set(keys)
    style = re.search(r"<style>(.*?)</style>", index, re.DOTALL).group(1)
    for key in keys:
        rule = f'.board-box:not(:has(input[data-col="{key}"]:checked)) table.board tr > :nth-child({keys.index(key) + 1}) {{ display: none; }}'
        assert (rule in style) == (key in HIDDEN_BY_DEFAULT), key
        if key in HIDDEN_BY_DEFAULT and 'data-key' in heads[keys.index(key)]:
            assert f'data-key="{key}"' in heads[keys.index(key)]  # the rule's column is that key's
    # the headline metric, the method and the reproduce command are always shown
    assert {"rank", "method", "test_nmae", "test_mae", "params", "inference", "command"}.isdisjoint(HIDDEN_BY_DEFAULT)


# --------------------------------------------------------------------------- plugins


def _plugin(package: str, version: str | None):
    return lambda r: r["model"].update(kind="plugin", package=package, package_version=version)


def test_plugin_row_shows_its_package_and_the_install_it_needs(lb, make):
    plug = submit(
        make(model="acme-net", mutate=_plugin("acme-surrogates", "2.1.0"), images=False), lb, today="2025-03-01"
    )
    hostile = submit(
        make(model="evil-net", base=0.02, mutate=_plugin("x'; rm -rf ~ #<b>", "1.0 && curl"), images=False),
        lb,
        today="2025-03-01",
    )
    builtin = submit(make(base=0.03, images=False), lb, today="2025-03-01")
    site = build_site(lb).out
    index = (site / "index.html").read_text()
    row = re.search(rf'<tr data-id="{plug.id}".*?</tr>', index, re.DOTALL).group(0)
    assert '<span class="package"' in row and "acme-surrogates==2.1.0</code>" in row
    assert "<code>pip install acme-surrogates==2.1.0 &amp;&amp; diffbench run --model acme-net " in row
    entry = (site / "entries" / f"{plug.id}.html").read_text()
    assert '<pre class="block">pip install acme-surrogates==2.1.0 &amp;&amp; diffbench run --model acme-net' in entry
    assert "<dt>Plugin package</dt>" in entry
    # a hostile package name is one quoted shell word and escaped markup
    row = re.search(rf'<tr data-id="{hostile.id}".*?</tr>', index, re.DOTALL).group(0)
    assert (
        "pip install &#x27;x&#x27;&quot;&#x27;&quot;&#x27;; rm -rf ~ #&lt;b&gt;==1.0 &amp;&amp; curl&#x27; &amp;&amp; diffbench run"
        in row
    )
    assert "<b>" not in row
    # a built-in model: no package line, the command as recorded
    row = re.search(rf'<tr data-id="{builtin.id}".*?</tr>', index, re.DOTALL).group(0)
    assert 'class="package"' not in row and "pip install" not in row and "<code>diffbench run --model unet-small" in row


# --------------------------------------------------------------------------- the chart pages


def test_chart_page_plots_every_entry_with_cost_and_bands(lb, make):
    subs = populate(lb, make)
    site = build_site(lb).out
    page = (site / "charts" / "smoke.html").read_text()
    assert page.count('<svg class="chart"') == 3
    assert "trainable parameters (log scale)" in page  # no result records FLOPs
    assert "bars: mean ± std over seeds (no interval recorded)" in page
    assert "bands: the seeds&#x27; minimum to maximum" in page
    # one band per entry with more than one seed, one marker per entry on the cost chart
    multi = [s for s in subs if len(s.result["seeds"]) > 1]
    assert page.count('fill-opacity="0.14"') == len(multi)
    for s in subs:
        assert f'href="../entries/{s.id}.html"' in page  # the legend
    assert (site / "index.html").read_text().count('href="charts/smoke.html"') == 1


def test_cost_axis_uses_flops_only_when_every_entry_has_them(lb, make):
    flops = lambda n: lambda r: r["cost"].update(flops_per_sample=n)
    a = submit(make(mutate=flops(2_000_000), images=False), lb, today="2025-03-01")
    b = submit(make(base=0.02, mutate=flops(9_000_000), images=False), lb, today="2025-03-01")
    rows = board_rows([a, b])
    assert [forward_flops(r) for r in rows] == [2e6, 9e6]
    svg, title, caption = overview_figures("smoke", rows)[0]
    assert "forward FLOPs per sample (log scale)" in svg and title == "Accuracy against forward FLOPs per sample"
    c = submit(make(base=0.03, images=False), lb, today="2025-03-01")
    svg, title, caption = overview_figures("smoke", board_rows([a, b, c]))[0]
    assert "trainable parameters (log scale)" in svg and "recorded by 2 of 3 entries, so all use parameters" in caption


def test_intervals_are_drawn_where_recorded_else_seed_spread(lb, make):
    sub = submit(make(seeds=(0, 1, 2), images=False), lb, today="2025-03-01")
    row = board_rows([sub])[0]
    points, kind = count_band(row)
    assert kind == "seeds"
    for x, mean, lo, hi in points:
        vals = [s["test"]["per_count"][str(int(x))]["nmae"] for s in sub.result["per_seed"]]
        assert (lo, hi) == (min(vals), max(vals)) and lo < mean < hi
    mean, lo, hi, kind, _ = headline_bar(row)
    stat = sub.result["aggregate"]["test"]["nmae"]
    assert (kind, lo, hi) == ("std", stat["mean"] - stat["std"], stat["mean"] + stat["std"])
    # with the statistics' aggregate.intervals block: the intervals, asymmetric as recorded
    per_count = {
        c: {"nmae": {"estimate": m, "low": m * 0.8, "high": m * 1.5}}
        for c, m in ((str(int(x)), mean) for x, mean, _, _ in points)
    }
    intervals = {
        "level": 0.9,
        "metrics": {"nmae": {"estimate": stat["mean"], "low": 0.031, "high": 0.052}},
        "per_count": per_count,
    }
    row.sub.typed = row.res.model_copy(
        update={"aggregate": row.res.aggregate.model_copy(update={"intervals": intervals})}
    )
    assert headline_bar(row) == (stat["mean"], 0.031, 0.052, "interval", 0.9)
    points, kind = count_band(row)
    assert kind == "interval" and all((lo, hi) == (m * 0.8, m * 1.5) for _, m, lo, hi in points)
    figs = overview_figures("smoke", [row])
    assert "bars: 90 % interval of the test nMAE" in figs[0][2] and figs[1][2].startswith("bands: per-count interval")
    assert "[0.031, 0.052]" in figs[0][0]  # the marker's tooltip


def test_band_chart_is_deterministic_and_escapes_labels():
    series = [
        Band("<b>x</b>", "#4e79a7", "circle", [(1.0, 0.1, 0.08, 0.12), (2.0, 0.2, 0.15, 0.3), (3.0, 0.25, None, None)])
    ]
    a, b = (
        bands_chart("t <i>", series, "number of sources", "test nMAE"),
        bands_chart("t <i>", series, "number of sources", "test nMAE"),
    )
    assert a == b and "<b>" not in a and "<i>" not in a and a.count("<polygon") == 1
    assert "no per-source-count results yet" in bands_chart("t", [], "x", "y")
    assert "no results yet" in interval_scatter("t", [], "x", "y")


def test_submitting_page_is_the_leaderboard_readme(lb, make):
    populate(lb, make)
    site = build_site(lb).out
    assert (
        not (site / "submitting.html").exists()
        and "<code>leaderboard/README.md</code> in the repository" in (site / "index.html").read_text()
    )
    (lb / "README.md").write_text("# Submitting\n\n1. run <script>x</script>\n")
    site = build_site(lb).out
    page = (site / "submitting.html").read_text()
    assert (
        "1. run &lt;script&gt;x&lt;/script&gt;" in page
        and '<a href="submitting.html">leaderboard/README.md</a>' in (site / "index.html").read_text()
    )


def test_stale_site_hint_names_the_folders_the_build_needs(lb, make, capsys):
    populate(lb, make)
    other = lb.parent / "my site"
    assert main(["leaderboard", "build", "--leaderboard", str(lb), "--out", str(other), "--check"]) == 2
    err = capsys.readouterr().err
    assert f"run `diffbench leaderboard build --leaderboard {lb} --out '{other}'`" in err, err
