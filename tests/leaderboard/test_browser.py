"""The built site in a real browser (Chromium through Playwright), opened from file://.

Skipped when /usr/bin/chromium or the playwright package is missing. Set
``DIFFBENCH_SCREENSHOTS=DIR`` to keep screenshots of the index and an entry page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lb_factory import XSS_TITLE, populate

from diffbench.leaderboard.charts import fmt_number
from diffbench.leaderboard.site import build_site

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


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
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith(("file:", "data:")) else None)

    page.goto((site / "index.html").as_uri())
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

    # the numbers of the submissions are on the board
    table_text = page.inner_text('table.board[data-task="smoke"]')
    for s in subs:
        assert fmt_number(s.result["aggregate"]["test"]["nmae"]["mean"]) in table_text
        assert fmt_number(s.result["aggregate"]["val"]["nmae"]["mean"]) in table_text
    assert page.locator("svg.chart").count() == 3

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
