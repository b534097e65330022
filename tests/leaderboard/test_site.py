"""``diffbench leaderboard build|serve``: content, determinism, escaping, staleness, serving."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from pathlib import Path

import pytest
from lb_factory import populate as _populate

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.leaderboard import charts
from diffbench.leaderboard.charts import fmt_number
from diffbench.leaderboard.site import MARKER, build_site, embed_json, make_server, render_site
from diffbench.submissions.submit import submit


def _html_files(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): p.read_text() for p in sorted(site.rglob("*.html"))}


def _data(index_html: str) -> dict:
    m = re.search(r"<script>window\.DIFFBENCH_DATA = (.*?);</script>", index_html, re.S)
    assert m, "embedded data missing"
    return json.loads(m.group(1))


def test_build_writes_a_self_contained_site(lb, make):
    subs = _populate(lb, make)
    report = build_site(lb)
    site = lb / "site"
    assert report.out == site and report.entries == 4
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert "index.html" in files and MARKER in files
    assert {f"entries/{s.id}.html" for s in subs} <= set(files)
    for s in subs:
        for rel in s.images:
            assert (site / "images" / s.id / rel).read_bytes() == (s.path.parent / s.id / rel).read_bytes()
    index = (site / "index.html").read_text()
    # nothing from the network: no http(s) src/href for scripts, styles or fetches
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"https?:", index)
    assert "fetch(" not in index and "XMLHttpRequest" not in index
    # one board per task, including tasks without submissions
    for task in ("smoke", "standard-64", "paper-512"):
        assert f'id="task-{task}"' in index
    # the numbers of the submissions are on the board and on the entry pages
    for s in subs:
        agg = s.result["aggregate"]
        assert fmt_number(agg["test"]["nmae"]["mean"]) in index
        assert fmt_number(agg["val"]["nmae"]["mean"]) in index
        entry = (site / "entries" / f"{s.id}.html").read_text()
        for split in ("test", "val"):
            for key in ("nmae", "mae", "residual", "p99_sample_mae"):
                assert fmt_number(agg[split][key]["mean"]) in entry
        for seed in s.result["per_seed"]:
            assert fmt_number(seed["test"]["nmae"]) in entry
        assert s.result["digest"] in entry
        for rel in s.images:
            assert f'src="../images/{s.id}/{rel}"' in entry
    # three charts per task with submissions, on the task's chart page (linked from its board), with axis labels
    assert (
        'href="charts/smoke.html"' in index and '<svg class="chart"' not in index
    )  # the headline board has no entries here
    charts_page = (site / "charts" / "smoke.html").read_text()
    assert charts_page.count('<svg class="chart"') == 3
    for label in ("number of sources", "inference time per sample (log scale)", "parameters (log scale)", "test nMAE"):
        assert label in charts_page


def test_rows_default_order_ranks_and_marks(lb, make):
    subs = _populate(lb, make)
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    order = re.findall(r'<tr data-id="([0-9a-f]{16})"', index)
    by_nmae = sorted(subs, key=lambda s: s.result["aggregate"]["test"]["nmae"]["mean"])
    assert order == [s.id for s in by_nmae]  # default: test nMAE ascending
    data = _data(index)["boards"]["smoke"]
    assert data["order"] == order
    ranks = {i: data["rows"][i]["rank"] for i in order}
    assert (ranks[subs[0].id], ranks[subs[1].id], ranks[subs[3].id]) == (1, 2, 3)
    assert ranks[subs[2].id] is None  # one seed: unranked
    row = re.search(rf'<tr data-id="{subs[2].id}"[^>]*>', index).group(0)
    assert 'class="unranked"' in row and "unranked</span>" in index
    assert re.search(rf'<tr data-id="{subs[0].id}" class="official">', index)
    assert data["rows"][subs[0].id]["test_nmae"] == subs[0].result["aggregate"]["test"]["nmae"]["mean"]
    assert data["rows"][subs[0].id]["params"] == 480_000
    assert 'aria-sort="ascending"' in index and 'data-key="test_nmae"' in index
    assert "diffbench run --model unet-small --task smoke" in index  # the reproduce command


def test_every_submitted_string_is_escaped(lb, make):
    _populate(lb, make)
    build_site(lb)
    site = lb / "site"
    for name, text in _html_files(site).items():
        assert "<script>window.__xss" not in text and "<script>alert" not in text, name
        assert "<img src=x" not in text, name
        assert "<b>80GB</b>" not in text, name
        assert "javascript:" not in text, name  # a javascript: W&B URL is never linked
        # the only script elements are the page's own (data + sorting on the index)
        assert text.count("<script") == (2 if name == "index.html" else 0), name
        assert text.count("</script") == text.count("<script"), name
    index = (site / "index.html").read_text()
    assert "&lt;script&gt;window.__xss = 1; alert(1)&lt;/script&gt;" in index
    assert "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;" in index
    assert 'href="http://example.org/p?a=1&amp;b=2"' in index
    assert 'href="https://wandb.ai/team/diffbench/runs/abc-0"' in index
    data = _data(index)
    assert any(r["method"].startswith("fno — <script>") for r in data["boards"]["smoke"]["rows"].values())
    assert "Content-Security-Policy" in index and "default-src &#x27;none&#x27;" in index


def test_embed_json_cannot_close_the_script():
    text = embed_json({"t": "</script><!-- <script>alert(1)</script> & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text)["t"].startswith("</script>")


def test_build_is_deterministic_and_independent_of_submission_order(tmp_path, make):
    lb1, lb2 = tmp_path / "lb1", tmp_path / "lb2"
    subs1 = _populate(lb1, make)
    # the same results submitted in another order, from copies elsewhere, to another leaderboard
    for i in (3, 1, 0, 2):
        s = subs1[i]
        doc = s.doc
        src = tmp_path / "resubmit" / str(i)
        src.mkdir(parents=True)
        (src / "result.json").write_text(json.dumps(doc["result"]))
        for rel in s.images:
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes((s.path.parent / s.id / rel).read_bytes())
        meta = doc["submission"]
        submit(
            src / "result.json",
            lb2,
            title=meta["title"],
            authors=meta["authors"],
            url=meta["url"],
            official=meta["official"],
            today=meta["submitted"],
        )
    a, b = render_site(lb1), render_site(lb2)
    assert a == b
    build_site(lb1, tmp_path / "site-a")
    build_site(lb1, tmp_path / "site-b")
    build_site(lb1, tmp_path / "site-a")  # rebuilding in place gives the same bytes
    files_a = {
        p.relative_to(tmp_path / "site-a"): p.read_bytes() for p in (tmp_path / "site-a").rglob("*") if p.is_file()
    }
    files_b = {
        p.relative_to(tmp_path / "site-b"): p.read_bytes() for p in (tmp_path / "site-b").rglob("*") if p.is_file()
    }
    assert files_a == files_b and len(files_a) == len(a)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_check_detects_a_stale_site(lb, make, capsys):
    subs = _populate(lb, make, order=(0, 1))
    assert main(["leaderboard", "build", "--check"]) == 2
    assert "no site at" in capsys.readouterr().err
    assert main(["leaderboard", "build"]) == 0
    assert "built" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--check"]) == 0
    assert "is up to date" in capsys.readouterr().out
    site = lb / "site"
    # a new submission makes it stale
    submit(make(model="late-model", base=0.5), lb, today="2025-04-01")
    assert main(["leaderboard", "build", "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the site at") and err.count("\n") == 1 and "stale" in err and "index.html" in err
    assert main(["leaderboard", "build"]) == 0
    capsys.readouterr()
    assert main(["leaderboard", "build", "--check"]) == 0
    # a hand edit, an extra file and a missing file are all stale
    index = site / "index.html"
    index.write_text(index.read_text().replace("diffbench leaderboard", "my leaderboard"))
    with pytest.raises(DiffbenchError, match=r"1 file differ .*\(1 changed: index.html\)"):
        build_site(lb, check=True)
    build_site(lb)
    (site / "extra.html").write_text("x")
    with pytest.raises(DiffbenchError, match="extra.html"):
        build_site(lb, check=True)
    build_site(lb)
    assert not (site / "extra.html").exists()  # the build replaces the folder
    (site / "entries" / f"{subs[0].id}.html").unlink()
    with pytest.raises(DiffbenchError, match=f"entries/{subs[0].id}.html"):
        build_site(lb, check=True)


def test_build_refuses_a_foreign_folder_and_a_broken_leaderboard(lb, make, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "precious.txt").write_text("keep me")
    _populate(lb, make, order=(0,))
    with pytest.raises(DiffbenchError, match="is not a diffbench site"):
        build_site(lb, tmp_path / "home")
    assert (tmp_path / "home" / "precious.txt").read_text() == "keep me"
    # a stored submission edited by hand stops the build, naming the file
    stored = next((lb / "submissions" / "smoke").glob("*.json"))
    stored.write_text(stored.read_text().replace('"official": true', '"official": false'))
    with pytest.raises(DiffbenchError, match=re.escape(stored.name)):
        build_site(lb)
    stored.write_text("{not json")
    assert main(["leaderboard", "build"]) == 2


def test_unwritable_site_folder_is_a_clean_error(lb, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DiffbenchError, match="cannot write the site to"):
        build_site(lb, blocker / "site")
    assert blocker.read_text() == ""


def test_empty_leaderboard_builds(lb):
    report = build_site(lb)
    index = (report.out / "index.html").read_text()
    assert "No submissions yet" in index and report.entries == 0


def test_serve_on_localhost(lb, make):
    _populate(lb, make, order=(0,))
    build_site(lb)
    server = make_server(lb / "site", 0, quiet=True)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1" and port > 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as resp:
            body = resp.read().decode()
        assert resp.status == 200 and "diffbench leaderboard" in body
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_serve_errors(lb, tmp_path):
    with pytest.raises(DiffbenchError, match="run `diffbench leaderboard build` first"):
        make_server(tmp_path / "nothing", 0)
    build_site(lb)
    with pytest.raises(DiffbenchError, match="--port must be"):
        make_server(lb / "site", 70000)
    assert main(["leaderboard", "serve", "--site", str(tmp_path / "nothing")]) == 2


def test_leaderboard_without_action_prints_help(capsys):
    assert main(["leaderboard"]) == 2
    assert "build" in capsys.readouterr().out


def test_chart_scales_and_formatting():
    s = charts.Scale([2e-5, 3e-3], 0, 100, log=True, fmt=charts.fmt_seconds)
    assert [label for _, label in s.ticks()] == ["10 µs", "100 µs", "1 ms", "10 ms"]
    assert s(1e-5) == 0 and s(1e-2) == 100
    lin = charts.Scale([0.013, 0.21], 100, 0, log=False, zero=True)
    ticks = [v for v, _ in lin.ticks()]
    assert ticks[0] == 0 and ticks[-1] >= 0.21 and len(ticks) <= 8
    assert charts.fmt_count(1_234_567) == "1.23M" and charts.fmt_number(1.5e-5) == "1.5e-5"
    svg = charts.scatter_chart(
        "t <b>",
        [charts.Series("<x>", "#000", "circle", [(1e-4, 0.1, 0.01)])],
        "x",
        "y",
        refs=[charts.Ref(1e-3, "solver <s>")],
    )
    assert "<b>" not in svg and "<x>" not in svg and "&lt;x&gt;" in svg and "solver &lt;s&gt;" in svg
    assert charts.line_chart("t", [], "x", "y") == charts.line_chart("t", [], "x", "y")
    assert "no per-source-count results yet" in charts.line_chart("t", [], "x", "y")
