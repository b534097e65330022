"""The site's layout in a real browser at a 1,280 px window, from file:// and from
``diffbench leaderboard serve``: the index leads with the headline board, no table needs a
sideways scroll, a plugin's row shows its package, verification badges sit only on verified
entries, and no submitted string runs.

Skipped when /usr/bin/chromium or the playwright package is missing. Set
``DIFFBENCH_SCREENSHOTS=DIR`` to keep 1,280 px screenshots of the index, a board and an entry page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lb_factory import make_result, populate, populate_trust
from test_browser import ARGS, CHROMIUM

from diffbench.leaderboard.board import headline_task
from diffbench.leaderboard.site import build_site
from diffbench.submissions.submit import submit

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
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
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


# --------------------------------------------------------------------------- one hostile leaderboard, two ways in

SCRIPT = "<script>window.__xss = 1; alert(1)</script>"
IMG = '<img src=x onerror="window.__xss = 2">'
ATTR = '"><svg onload="window.__xss = 3">'
PACKAGE, VERSION = "acme-surrogates", "2.1.0"


def _hostile(r: dict) -> None:
    """A hostile string in every free-text field of a result."""
    r["model"].update(
        name=f"net{IMG}",
        kind="plugin",
        package=f"pkg{ATTR}",
        package_version=f"1{SCRIPT}",
        spec={"name": SCRIPT, "kwargs": {"act": IMG}},
    )
    r["hardware"].update(label=f"GPU {SCRIPT}", cpu=IMG)
    r["command"] += f" --model-args '{ATTR}'"
    r["argv"] = f"diffbench run {SCRIPT}"
    r["run_id"] = f"run{ATTR}"
    r["created"] = f"2025 {IMG}"
    r["packages"]["evil"] = SCRIPT
    r["git"] = {"commit": IMG, "dirty": True}
    r["training"]["recipe"]["name"] = ATTR
    r["data"]["serve"] = SCRIPT
    for s in r["per_seed"]:
        s["wandb"] = {"mode": "online", "id": IMG, "dir": "wandb", "url": "javascript:window.__xss = 4"}


def _plugin(r: dict) -> None:
    r["model"].update(kind="plugin", package=PACKAGE, package_version=VERSION)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A leaderboard with the headline task, three more axes, a plugin, hostile strings
    everywhere, uncertainty scores and (when the badge exists) verification records."""
    base = tmp_path_factory.mktemp("layout")
    lb, n = base / "leaderboard", iter(range(100))

    def make(**kw):
        return make_result(base / "runs" / f"run-{next(n)}", **kw)

    head = headline_task()
    subs = {
        "best": submit(
            make(task=head, seeds=(0, 1, 2, 3, 4), wandb_url="https://wandb.ai/team/diffbench/runs/abc"),
            lb,
            title="U-Net, tuned",
            authors="A. Author",
            url="https://github.com/example/unet",
            official=True,
            today="2025-03-01",
        ),
        "plugin": submit(
            make(task=head, model="acme-net", base=0.013, mutate=_plugin),
            lb,
            title="ACME operator",
            authors="ACME Labs",
            today="2025-03-02",
        ),
        "hostile": submit(
            make(task=head, base=0.02, mutate=_hostile, images=False),
            lb,
            title=SCRIPT,
            authors=IMG,
            url="https://example.org/?q=%22%3E%3Csvg%20onload%3D1%3E&a='b'",
            today="2025-03-03",
        ),
        "decay": submit(make(task="decay-64", images=False), lb, title=ATTR, today="2025-03-04"),
    }
    smoke = populate(lb, make)
    populate_trust(lb, make)
    out = build_site(lb).out
    return {"site": out, "lb": lb, "subs": subs, "smoke": smoke, "head": head}


def _serve(site: Path):
    """``diffbench leaderboard serve --port 0`` in a child process; returns (process, base URL)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from diffbench.cli import main; sys.exit(main())",
            "leaderboard",
            "serve",
            "--site",
            str(site),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    line = proc.stdout.readline()
    m = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"serve printed {line!r}")
    return proc, m.group(1)


def _open_groups(page) -> None:
    page.eval_on_selector_all("details.axis", "ds => ds.forEach(d => { d.open = true; })")


def _verified(sub) -> bool:
    """Whether a stored submission carries a verification record of its own (``diffbench verify``)."""
    return sub.verification is not None


@pytest.mark.parametrize("via", ["file", "serve"])
def test_site_layout_at_1280px(browser, site, via):
    out, subs, head = site["site"], site["subs"], site["head"]
    proc = None
    if via == "serve":
        proc, root = _serve(out)
    else:
        root = out.as_uri() + "/"
    shots = os.environ.get("DIFFBENCH_SCREENSHOTS") if via == "file" else None
    try:
        page = browser.new_page(viewport={"width": WIDTH, "height": 900})
        problems = _watch(page)
        page.on(
            "request", lambda r: problems.append(f"network: {r.url}") if not r.url.startswith((root, "data:")) else None
        )
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

        # the index opens on the headline board: the first board, at the top of the first screen
        page.goto(root + "index.html")
        first = page.eval_on_selector("section.task", "s => s.id")
        assert first == f"task-{head}"
        top = page.eval_on_selector(f'table.board[data-task="{head}"]', "t => t.getBoundingClientRect().top")
        assert 0 < top < 900
        assert page.locator(f'table.board[data-task="{head}"]').is_visible()
        assert not page.locator('table.board[data-task="smoke"]').is_visible()  # in the closed "tests and demos" group
        assert overflowing(page) == []
        if shots:
            page.screenshot(path=str(Path(shots) / "index-1280.png"), full_page=True)
        # every board, with every group open: no sideways scroll
        _open_groups(page)
        boards = page.eval_on_selector_all("table.board", "ts => ts.map(t => t.dataset.task)")
        assert set(boards) == {head, "decay-64", "smoke"}
        assert overflowing(page) == []
        if shots:
            page.locator("section#task-smoke").screenshot(path=str(Path(shots) / "board-1280.png"))

        # a plugin's row names its package; its reproduce command installs it first
        plug = subs["plugin"]
        cell = page.inner_text(f'tr[data-id="{plug.id}"] td.method')
        assert f"{PACKAGE}=={VERSION}" in cell
        page.click(f'tr[data-id="{plug.id}"] details.cmd summary')
        cmd = page.inner_text(f'tr[data-id="{plug.id}"] details.cmd code')
        assert cmd.startswith(f"pip install {PACKAGE}=={VERSION} && diffbench run --model acme-net ")
        assert f"{PACKAGE}==" not in page.inner_text(f'tr[data-id="{subs["best"].id}"]')  # a built-in has none

        # verified badges only on verified entries, and visible where they are
        for sub in [*subs.values(), *site["smoke"]]:
            badge = page.locator(f'tr[data-id="{sub.id}"] .badge.verified')
            assert badge.count() == (1 if _verified(sub) else 0), sub.id
            if _verified(sub):
                assert badge.is_visible()

        # the column chooser: a ticked box shows its column (and the page may then scroll inside the board)
        head_table = f'table.board[data-task="{head}"]'
        assert not page.locator(f'{head_table} th[data-key="val_nmae"]').is_visible()
        page.check(f'section#task-{head} input[data-col="val_nmae"]')
        assert page.locator(f'{head_table} th[data-key="val_nmae"]').is_visible()

        # no submitted string runs, anywhere
        pages = ["index.html", f"charts/{head}.html", "charts/smoke.html", f"uq/{head}.html", "uq/smoke.html"]
        pages += [f"entries/{s.id}.html" for s in [*subs.values(), *site["smoke"]]]
        for rel in pages:
            page.goto(root + rel)
            _open_groups(page)
            assert page.evaluate("typeof window.__xss") == "undefined", rel
            assert overflowing(page) == [], rel
        hostile = subs["hostile"]
        page.goto(root + f"entries/{hostile.id}.html")
        text = page.inner_text("main")
        for payload in (SCRIPT, IMG, ATTR):
            assert payload in text
        assert page.locator("a[href^='javascript']").count() == 0
        if shots:
            page.goto(root + f"entries/{subs['plugin'].id}.html")
            page.screenshot(path=str(Path(shots) / "entry-1280.png"), full_page=True)
            page.goto(root + f"charts/{head}.html")
            page.screenshot(path=str(Path(shots) / "charts-1280.png"), full_page=True)
        assert problems == []
        page.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
