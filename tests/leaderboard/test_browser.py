"""The built site in a real browser (Chromium through Playwright), opened from file://: the
board, an entry, the uncertainty board and a study page.

Skipped when /usr/bin/chromium or the playwright package is missing. Set
``DIFFBENCH_SCREENSHOTS=DIR`` to keep screenshots of the index and an entry page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lb_factory import XSS_TITLE, populate, populate_trust, study_row, write_study

from diffbench.leaderboard.charts import fmt_number
from diffbench.leaderboard.site import build_site
from diffbench.stats import format_interval

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _ids(page) -> list[str]:
    return page.eval_on_selector_all('table.board[data-task="smoke"] tbody tr', "rows => rows.map(r => r.dataset.id)")


def test_site_in_a_browser(browser, lb, make):
    subs = populate(lb, make)
    site = build_site(lb).out
    shots = os.environ.get("DIFFBENCH_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on(
        "request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith(("file:", "data:")) else None
    )

    page.goto((site / "index.html").as_uri() + "#task-smoke")  # the link opens smoke's group ("tests and demos")
    assert page.evaluate("document.getElementById('axis-demos').open")
    if shots:
        page.screenshot(path=str(Path(shots) / "index.png"), full_page=True)
    by = {s.id: s for s in subs}
    nmae = {i: s.result["aggregate"]["test"]["nmae"]["mean"] for i, s in by.items()}
    default = _ids(page)
    assert default == sorted(nmae, key=nmae.get)  # test nMAE ascending

    # sort by a column: the order changes, and follows the numbers
    page.click('th[data-key="test_nmae"] button')
    assert _ids(page) == default[::-1]
    assert page.get_attribute('th[data-key="test_nmae"]', "aria-sort") == "descending"
    page.click('th[data-key="params"] button')
    params = {i: s.result["model"]["parameters"] for i, s in by.items()}
    assert _ids(page) == sorted(params, key=params.get, reverse=True) != default
    page.click('th[data-key="params"] button')
    assert _ids(page) == sorted(params, key=params.get)
    page.click('th[data-key="rank"] button')
    ranked = _ids(page)
    assert by[ranked[0]].ranked and not by[ranked[-1]].ranked  # unranked (no rank) sorts last

    # the hostile title is shown as text, and nothing from it ran
    assert page.evaluate("typeof window.__xss") == "undefined"
    xss_row = next(s for s in subs if s.meta["title"] == XSS_TITLE)
    assert XSS_TITLE in page.inner_text(f'tr[data-id="{xss_row.id}"] td.method')
    unranked = next(s for s in subs if not s.ranked)
    assert "unranked" in (page.get_attribute(f'tr[data-id="{unranked.id}"]', "class") or "")

    # the numbers of the submissions are on the board (validation nMAE once its column is chosen)
    assert fmt_number(subs[0].result["aggregate"]["val"]["nmae"]["mean"]) not in page.inner_text(
        'table.board[data-task="smoke"]'
    )
    page.check('section#task-smoke input[data-col="val_nmae"]')
    table_text = page.inner_text('table.board[data-task="smoke"]')
    for s in subs:
        assert fmt_number(s.result["aggregate"]["test"]["nmae"]["mean"]) in table_text
        assert fmt_number(s.result["aggregate"]["val"]["nmae"]["mean"]) in table_text
    page.goto((site / "charts" / "smoke.html").as_uri())
    assert page.locator("svg.chart").count() == 3
    page.goto((site / "index.html").as_uri() + "#task-smoke")

    # open an entry from the board
    best = by[default[0]]
    page.click(f'tr[data-id="{best.id}"] td.method a.model')
    page.wait_for_load_state("load")
    assert page.url.endswith(f"entries/{best.id}.html")
    if shots:
        page.screenshot(path=str(Path(shots) / "entry.png"), full_page=True)
    text = page.inner_text("main")
    for split in ("test", "val"):
        for key in ("nmae", "mae", "max_abs_error", "p99_sample_mae", "residual"):
            assert fmt_number(best.result["aggregate"][split][key]["mean"]) in text
    for seed in best.result["per_seed"]:
        assert fmt_number(seed["test"]["nmae"]) in text
    assert best.result["command"] in text
    widths = page.eval_on_selector_all("details[open] img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)

    page.goto((site / "entries" / f"{xss_row.id}.html").as_uri())
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert XSS_TITLE in page.inner_text("main")
    assert problems == []
    page.close()


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on(
        "request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith(("file:", "data:")) else None
    )
    return problems


def test_uncertainty_board_and_study_page_in_a_browser(browser, lb, make):
    subs = populate_trust(lb, make)
    full = subs["full"]
    write_study(
        lb,
        "generalisation",
        description="transfer and extrapolation",
        plots=("per_count.png", "scaling.png"),
        rows=[
            study_row(
                "unet-small",
                "smoke",
                0.0521,
                run_id=full.result["run_id"],
                transfer={"transfer-128": {"status": "cannot run", "reason": "fixed modes"}},
            ),
            study_row("fno", "smoke", 0.0987),
        ],
        scaling_law={
            "unet-small": {
                "a": 0.156,
                "b": -0.026,
                "b_stderr": 0.0034,
                "r2": 0.83,
                "n_points": 14,
                "level": 0.95,
                "law": "nmae = 0.156 - 0.026 log10(n_train)",
                "band": [{"n_train": 20.0, "fit": 0.1224, "half_width": 0.009}],
            }
        },
    )
    site = build_site(lb).out
    shots = os.environ.get("DIFFBENCH_SCREENSHOTS")
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    problems = _watch(page)

    # from the index to the task's uncertainty board
    page.goto((site / "index.html").as_uri())
    page.click("details#axis-demos > summary")  # open the "tests and demos" group
    page.click('section#task-smoke p.more a[href="uq/smoke.html"]')
    page.wait_for_load_state("load")
    assert page.url.endswith("uq/smoke.html")
    if shots:
        page.screenshot(path=str(Path(shots) / "uq.png"), full_page=True)
    board = 'table.board[data-board="uq-smoke"]'
    text = page.inner_text(board)
    rows = {
        f"{s.id}/{n}": i
        for s in (full, subs["single"])
        for g in ("indicators", "baselines")
        for n, i in (s.result["uq"].get(g) or {}).items()
    }
    for rid, ind in rows.items():
        if ind["status"] != "ok":
            continue
        for key in ("spearman", "auroc", "catch_rate"):
            v = ind[key]
            if "estimate" in v:  # an interval (the full entry, with samples)
                assert format_interval(v["estimate"], v["low"], v["high"]) in text
            elif key == "spearman":  # a result written before the intervals: mean ± std, marked
                assert fmt_number(v["mean"]) in text
    assert "underpowered" in text and "(no interval)" in text and "baseline" in text
    assert "n/a: " + subs["single"].result["uq"]["indicators"]["ensemble"]["reason"] in text
    assert XSS_TITLE in text and page.evaluate("typeof window.__xss") == "undefined"

    # sort by AUROC: best first; underpowered (every legacy smoke row: 6 worst samples per seed) and n/a rows last
    page.click(f'{board} th[data-key="auroc"] button')
    ids = page.eval_on_selector_all(f"{board} tbody tr", "rows => rows.map(r => r.dataset.id)")
    auroc = {
        rid: (i["auroc"]["estimate"] if i["status"] == "ok" and "estimate" in (i["auroc"] or {}) else None)
        for rid, i in rows.items()
    }
    scored = [i for i in ids if auroc[i] is not None]
    assert scored == sorted(scored, key=lambda i: -auroc[i]) and ids[len(scored) :] == [
        i for i in ids if auroc[i] is None
    ]
    assert len(ids) == 11 and len(scored) == 7  # full: 4 indicators + 3 baselines; single (legacy): 4 indicators
    page.click(f'{board} th[data-key="auroc"] button')
    assert [
        i
        for i in page.eval_on_selector_all(f"{board} tbody tr", "rows => rows.map(r => r.dataset.id)")
        if auroc[i] is not None
    ] == scored[::-1]

    # the consistency table, sortable too
    table = 'table.board[data-board="consistency-smoke"]'
    text = page.inner_text(table)
    for key in ("full", "single", "plain"):
        assert fmt_number(subs[key].result["consistency"]["superposition"]["mean"]["mean"]) in text
    page.click(f'{table} th[data-key="flux_balance.mean"] button')
    order = page.eval_on_selector_all(f"{table} tbody tr", "rows => rows.map(r => r.dataset.id)")
    flux = {
        subs[k].id: subs[k].result["consistency"]["flux_balance"]["mean"]["mean"] for k in ("full", "single", "plain")
    }
    assert order == sorted(flux, key=flux.get)

    # the study page, from the index
    page.goto((site / "index.html").as_uri())
    page.click('section#studies a[href="studies/generalisation/index.html"]')
    page.wait_for_load_state("load")
    assert page.url.endswith("studies/generalisation/index.html")
    if shots:
        page.screenshot(path=str(Path(shots) / "study.png"), full_page=True)
    text = page.inner_text("main")
    for value in (0.0521, 0.0987, 0.1224, 0.1224 - 0.009, 0.156):
        assert fmt_number(value) in text
    assert "nmae = 0.156 - 0.026 log10(n_train)" in text and "cannot run" in text
    widths = page.eval_on_selector_all("section#plots img", "imgs => imgs.map(i => i.naturalWidth)")
    assert widths == [120, 120]
    page.click(f'a[href="../../entries/{full.id}.html"]')
    page.wait_for_load_state("load")
    text = page.inner_text("main")
    auroc = full.result["uq"]["indicators"]["inverse"]["auroc"]
    assert format_interval(auroc["estimate"], auroc["low"], auroc["high"]) in text
    assert fmt_number(full.result["consistency"]["flux_balance"]["mean"]["mean"]) in text
    assert problems == []
    page.close()


def test_verified_filter_in_a_browser(browser, lb, make, run_dir, smoke_data_dir, tmp_path):
    """From file://, without network: the verified badge only on the verified entry, and the
    "verified entries only" checkbox hides the claimed rows and shows them again."""
    from lb_factory import copy_run

    from diffbench.cli import main
    from diffbench.submissions.submit import submit

    subs = populate(lb, make)
    bundle = submit(copy_run(run_dir, tmp_path), lb, title="re-scored", today="2025-05-01", with_checkpoints=True)
    assert main(["verify", str(bundle.path), "--data-dir", str(smoke_data_dir), "--no-progress"]) == 0
    site = build_site(lb).out
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    problems = _watch(page)
    page.goto((site / "index.html").as_uri() + "#task-smoke")  # the link opens smoke's group ("tests and demos")
    verified = page.eval_on_selector_all("span.badge.verified", "els => els.map(e => e.closest('tr').dataset.id)")
    assert verified == [bundle.id]
    assert page.locator("span.badge.claimed").count() == len(subs)
    assert "diffbench" in page.get_attribute("span.badge.verified", "title")

    def visible() -> list[str]:
        return page.eval_on_selector_all(
            'table.board[data-task="smoke"] tbody tr',
            "rows => rows.filter(r => r.offsetParent !== null).map(r => r.dataset.id)",
        )

    assert len(visible()) == len(subs) + 1
    page.check('input.verified-only[data-task="smoke"]')
    assert visible() == [bundle.id]
    page.click('th[data-key="params"] button')  # sorting keeps the filter
    assert visible() == [bundle.id]
    page.uncheck('input.verified-only[data-task="smoke"]')
    assert len(visible()) == len(subs) + 1
    page.goto((site / "entries" / f"{bundle.id}.html").as_uri())
    assert "Verified on" in page.inner_text("#verification")
    assert problems == []
