"""``diffbench submit``: what is accepted, what is refused (with a clear one-line reason), and
that a refusal leaves nothing behind."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from lb_factory import load, redigest, tamper

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.evaluation.functional import METRIC_KEYS
from diffbench.results import canonical_json
from diffbench.submissions.submit import (
    MIN_RANKED_SEEDS,
    check_result,
    default_leaderboard_dir,
    load_submissions,
    read_json_strict,
    safe_url,
    submit,
)


def _refused(path: Path, lb: Path, match: str, **kw) -> None:
    with pytest.raises(DiffbenchError, match=match) as info:
        submit(path, lb, today="2025-01-01", **kw)
    assert "\n" not in str(info.value)
    assert _stored(lb) == []


def _stored(lb: Path) -> list[str]:
    root = lb / "submissions"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) if root.exists() else []


# --------------------------------------------------------------------------- accepted


def test_valid_result_is_stored_content_addressed_with_the_original_intact(lb, make):
    path = make(seeds=(0, 1, 2))
    original = load(path)
    sub = submit(
        path,
        lb,
        title="U-Net <b>bold</b>",
        authors="A. Author",
        url="https://example.org/code",
        official=True,
        today="2025-02-03",
    )
    assert sub.ranked and sub.task == "smoke"
    assert sub.path == lb / "submissions" / "smoke" / f"{sub.id}.json"
    doc = json.loads(sub.path.read_text())
    assert set(doc) == {"submission", "result"}
    assert doc["result"] == original  # the result is kept as written, digest included
    meta = doc["submission"]
    assert meta["title"] == "U-Net <b>bold</b>"  # stored as given; escaped when rendered
    assert (meta["authors"], meta["url"], meta["official"], meta["submitted"]) == (
        "A. Author",
        "https://example.org/code",
        True,
        "2025-02-03",
    )
    assert sub.id == hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:16]
    # the run's example images travel with it, each with its hash
    assert len(meta["images"]) == 9 and sub.images[0] == "seed-0/sample-0-1src.png"
    for rel, sha in meta["images"].items():
        copied = sub.path.parent / sub.id / rel
        assert (
            hashlib.sha256(copied.read_bytes()).hexdigest()
            == sha
            == hashlib.sha256((path.parent / rel).read_bytes()).hexdigest()
        )
    # nothing else (no temp files) next to it
    assert [p for p in _stored(lb) if p.count("/") == 1] == [f"smoke/{sub.id}", f"smoke/{sub.id}.json"]
    (loaded,) = load_submissions(lb)
    assert loaded.id == sub.id and loaded.ranked and loaded.images == sub.images


def test_fewer_than_three_seeds_is_accepted_but_unranked(lb, make):
    assert MIN_RANKED_SEEDS == 3
    for seeds in ((0,), (0, 1)):
        sub = submit(make(seeds=seeds), lb, today="2025-01-01")
        assert not sub.ranked
    assert submit(make(seeds=(4, 5, 6), base=0.3), lb, today="2025-01-01").ranked


def test_empty_region_may_be_null_in_pairs(lb, make):
    sub = submit(make(empty=("r3",)), lb, today="2025-01-01")
    assert sub.result["per_seed"][0]["test"]["mae_r3"] is None
    assert sub.result["aggregate"]["test"]["mae_r3"] == {"mean": None, "std": None, "n": 0}


def test_missing_images_are_skipped_not_refused(lb, make):
    path = make()
    os.remove(path.parent / "seed-1" / "sample-7-3src.png")
    sub = submit(path, lb, today="2025-01-01")
    assert sub.missing_images == ["seed-1/sample-7-3src.png"]
    assert len(sub.images) == 8
    no_images = submit(make(images=False, base=0.2), lb, today="2025-01-01")
    assert no_images.images == [] and not (no_images.path.parent / no_images.id).exists()


def test_dry_run_checks_without_storing(lb, make):
    sub = submit(make(), lb, dry_run=True)
    assert not sub.path.exists() and _stored(lb) == []


def test_default_leaderboard_dir(monkeypatch):
    import diffbench

    monkeypatch.delenv("DIFFBENCH_LEADERBOARD_DIR", raising=False)
    assert default_leaderboard_dir() == Path(diffbench.__file__).resolve().parents[1] / "leaderboard"
    monkeypatch.setenv("DIFFBENCH_LEADERBOARD_DIR", "/some/where")
    assert default_leaderboard_dir() == Path("/some/where")


# --------------------------------------------------------------------------- refused: the file


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"schema_version": 1,', "not valid JSON"),
        ('{"a": NaN}', "NaN is not JSON"),
        ('{"a": Infinity}', "Infinity is not JSON"),
        ('{"a": -Infinity}', "Infinity is not JSON"),
        ('{"a": 1e999}', "overflows to infinity"),
        ("[" * 100_000 + "]" * 100_000, "refused"),
        ('{"a": 1, "a": 2}', "appears twice"),
        ("[1, 2]", "must hold a JSON object"),
        ("{}", "schema_version is missing"),
    ],
)
def test_malformed_json_is_refused(lb, tmp_path, text, match):
    path = tmp_path / "result.json"
    path.write_text(text)
    _refused(path, lb, match)


def test_nan_literal_inside_a_real_result_is_refused(lb, make):
    path = make()
    path.write_text(path.read_text().replace('"nmae": {', '"bogus": NaN, "nmae": {', 1))
    _refused(path, lb, "NaN")


def test_not_utf8_and_missing_file(lb, tmp_path):
    bad = tmp_path / "result.json"
    bad.write_bytes(b'{"a": "\xff"}')
    _refused(bad, lb, "not UTF-8")
    _refused(tmp_path / "nope.json", lb, "does not exist")
    _refused(tmp_path, lb, "is a folder; give the result file itself")


# --------------------------------------------------------------------------- refused: the schema and the protocol


def _drop(*keys):
    def change(r):
        obj = r
        for k in keys[:-1]:
            obj = obj[k]
        del obj[keys[-1]]

    return change


def _set(value, *keys):
    def change(r):
        obj = r
        for k in keys[:-1]:
            obj = obj[k]
        obj[keys[-1]] = value

    return change


@pytest.mark.parametrize(
    "change, match",
    [
        (_set(2, "schema_version"), "schema_version is 2"),
        (_set(True, "schema_version"), "schema_version is true"),
        (_set(99, "protocol_version"), "protocol_version is 99"),
        (_set("no-such-task", "task", "name"), "not a task of this diffbench"),
        (_set("../../etc/passwd", "task", "name"), "is not a task name"),
        (_set("0" * 64, "task", "spec_hash"), "made on different data"),
        (_drop("per_seed", 0, "test", "nmae"), r"per_seed\[0\].test.nmae is missing"),
        (_drop("per_seed", 2, "val", "mae_sources"), r"per_seed\[2\].val.mae_sources is missing"),
        (_drop("per_seed", 1, "test", "residual"), r"per_seed\[1\].test.residual is missing"),
        (_drop("per_seed", 0, "test", "per_count", "3", "p99_sample_mae"), r"per_count.3.p99_sample_mae is missing"),
        (_set(None, "per_seed", 0, "test", "nmae"), r"test.nmae must be a finite number >= 0, got null"),
        (_set(None, "per_seed", 0, "test", "residual"), r"test.residual must be a finite number"),
        (_set(None, "per_seed", 0, "test", "mae_r2"), "an empty region makes both null"),
        (_set(-0.5, "per_seed", 0, "val", "mae"), r"val.mae must be a finite number >= 0"),
        (_set("0.1", "per_seed", 0, "test", "rel_l2"), r"test.rel_l2 must be a finite number"),
        (_set(True, "per_seed", 0, "test", "mae"), r"test.mae must be a finite number"),
        (_drop("per_seed", 0, "val"), r"per_seed\[0\].val must be an object and is missing"),
        (_drop("seeds"), "seeds must be a non-empty list"),
        (_set([], "seeds"), "seeds must be a non-empty list"),
        (_set([0, 1, -2], "seeds"), "non-negative integers"),
        (_set([0, 1], "seeds"), r"per_seed holds seeds \[0, 1, 2\] but seeds is \[0, 1\]"),
        (_set([0, 2, 1], "seeds"), "every seed needs its own results"),
        (_drop("command"), "command must be a non-empty string"),
        (_set("python train.py", "command"), "must be the reproducing `diffbench run"),
        (_set(-1, "model", "parameters"), r"model.parameters must be an integer in 0\.\.10000000000000"),
        (_set(1.5, "model", "parameters"), r"model.parameters must be an integer in 0\.\.10000000000000"),
        (_set("", "model", "name"), "model.name must be a non-empty string"),
        (_drop("hardware", "label"), "hardware.label must be a non-empty string"),
        (_set(0.0, "per_seed", 0, "inference", "s_per_sample"), r"inference.s_per_sample must be a finite number > 0"),
        (_set(1.0, "cost", "inference_s_per_sample"), "the per-seed timings average"),
        (
            _set({"mean": 0.5, "std": 0.01, "n": 3}, "aggregate", "test", "nmae"),
            r"aggregate.test.nmae.mean is 0.5, the per-seed values give 0.0428",
        ),
        (_drop("aggregate", "val", "per_count"), "aggregate.val.per_count is missing"),
        (_drop("per_seed", 1, "test", "per_count", "5"), "same source counts in every seed"),
        (_set({"x": {}}, "per_seed", 0, "test", "per_count"), "keys are source counts"),
    ],
)
def test_schema_and_protocol_violations_are_refused(lb, make, change, match):
    """Each violation is re-digested, so it is the named check (not the digest) that refuses it."""
    path = redigest(make(), change)
    _refused(path, lb, match)


def test_repeated_seeds_are_refused(lb, make):
    def twice(r):
        r["seeds"] = [0, 0]
        r["per_seed"] = [r["per_seed"][0], r["per_seed"][0]]

    _refused(redigest(make(seeds=(0, 1)), twice), lb, "repeats a seed")


def test_aggregate_std_must_match_to_1e9(lb, make):
    path = make()
    good = load(path)["aggregate"]["test"]["mae"]["std"]
    _refused(
        redigest(
            make(),
            _set(
                {"mean": load(path)["aggregate"]["test"]["mae"]["mean"], "std": good * (1 + 1e-7), "n": 3},
                "aggregate",
                "test",
                "mae",
            ),
        ),
        lb,
        "aggregate.test.mae",
    )
    # a difference below 1e-9 relative is JSON round-off, accepted
    ok = redigest(
        make(base=0.02),
        _set(
            {"mean": load(path)["aggregate"]["test"]["mae"]["mean"] * 2, "std": good * 2 * (1 + 1e-12), "n": 3},
            "aggregate",
            "test",
            "mae",
        ),
    )
    assert submit(ok, lb, today="2025-01-01").ranked


@pytest.mark.parametrize(
    "change",
    [
        _set(0.001, "per_seed", 0, "test", "nmae"),
        _set(0.001, "aggregate", "test", "nmae", "mean"),
        _set("my-model", "model", "name"),
        _set([0, 1, 2, 3], "seeds"),
        _drop("digest"),
        _set("not-a-digest", "digest"),
    ],
)
def test_tampered_result_is_refused(lb, make, change):
    path = tamper(make(), change)
    _refused(path, lb, "digest")


def test_duplicate_is_refused_with_the_reason(lb, make):
    path = make()
    first = submit(path, lb, title="first", today="2025-01-01")
    before = _stored(lb)
    with pytest.raises(DiffbenchError, match=f"already on the leaderboard as submissions/smoke/{first.id}.json"):
        submit(path, lb, title="another title", today="2025-06-01")
    assert _stored(lb) == before


# --------------------------------------------------------------------------- refused: the submission fields


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>x</script>",
        "ftp://example.org/x",
        "//example.org/x",
        "example.org",
        "https://",
        "http://exa mple.org",
        "https://example.org/\nx",
        "http://example.org:99999/",
    ],
)
def test_bad_urls_are_refused(lb, make, url):
    _refused(make(), lb, "--url must be an http:// or https:// link", url=url)


def test_good_urls_pass():
    for url in ("https://github.com/a/b", "http://example.org/paper?x=1&y=2#s", "https://arxiv.org/abs/2101.00001"):
        assert safe_url(url) == url


def test_text_fields(lb, make):
    _refused(make(), lb, "control character", title="two\nlines")
    _refused(make(), lb, "at most 200", title="x" * 201)
    _refused(make(), lb, "at most 500", authors="y" * 501)
    sub = submit(
        make(),
        lb,
        title="<script>alert(1)</script>",
        authors="Mallory <img src=x onerror=alert(2)>",
        today="2025-01-01",
    )
    assert sub.meta["title"] == "<script>alert(1)</script>"


def test_unwritable_leaderboard_is_refused_cleanly(make, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DiffbenchError, match="is not writable"):
        submit(make(), blocker / "leaderboard", today="2025-01-01")


def test_bad_image_paths_and_files_are_refused(lb, make):
    _refused(redigest(make(), _set(["../../secret.png"], "per_seed", 0, "images")), lb, "relative path of plain names")
    _refused(redigest(make(), _set(["/etc/passwd"], "per_seed", 0, "images")), lb, "relative path of plain names")
    _refused(redigest(make(), _set(["seed-0/notes.txt"], "per_seed", 0, "images")), lb, "ending in .png")
    path = make()
    (path.parent / "seed-0" / "sample-0-1src.png").write_bytes(b"<html>not a png</html>")
    _refused(path, lb, "is not a PNG file")


def test_a_failed_write_leaves_nothing(lb, make, monkeypatch):
    import diffbench.data.cache as cache

    def boom(path, obj):
        raise OSError(28, "No space left on device")

    path = make()
    monkeypatch.setattr(cache, "atomic_write_json", boom)
    with pytest.raises(DiffbenchError, match="No space left on device.*nothing was stored"):
        submit(path, lb, today="2025-01-01")
    assert [p for p in _stored(lb) if p != "smoke"] == []


# --------------------------------------------------------------------------- stored files are re-checked


def test_load_submissions_rechecks_the_stored_files(lb, make):
    sub = submit(make(), lb, today="2025-01-01")
    doc = json.loads(sub.path.read_text())
    doc["submission"]["title"] = "edited"
    sub.path.write_text(json.dumps(doc))
    with pytest.raises(DiffbenchError, match="does not hash to its file name"):
        load_submissions(lb)
    doc["submission"]["title"] = ""
    sub.path.write_text(json.dumps(doc))
    load_submissions(lb)  # restored
    (sub.path.parent / sub.id / sub.images[0]).write_bytes(b"\x89PNG\r\n\x1a\nother")
    with pytest.raises(DiffbenchError, match="differs from the one submitted"):
        load_submissions(lb)


def test_check_result_reports_what_the_board_needs(make):
    assert "residual" in METRIC_KEYS and "nmae" in METRIC_KEYS
    result = load(make(seeds=(3, 1)))
    checked = check_result(result, "r")
    assert (checked.task, checked.model, checked.seeds, checked.ranked) == ("smoke", "unet-small", [3, 1], False)
    assert checked.digest == result["digest"]


def test_read_json_strict_limit(tmp_path):
    p = tmp_path / "big.json"
    p.write_text("[" + "1," * 100 + "1]")
    with pytest.raises(DiffbenchError, match="at most 50 are accepted"):
        read_json_strict(p, limit=50)
    with pytest.raises(DiffbenchError, match="must hold a JSON object"):
        check_result([1], "x")


# --------------------------------------------------------------------------- the command line


def test_cli_submit_and_one_line_errors(lb, make, capsys):
    path = make(seeds=(0, 1))
    assert (
        main(["submit", str(path), "--title", "t", "--authors", "a", "--url", "https://example.org", "--official"]) == 0
    )
    out = capsys.readouterr().out
    assert "submitted unet-small on smoke (unranked: 2 seeds, ranking needs >= 3" in out
    assert (lb / "submissions" / "smoke").is_dir()  # $DIFFBENCH_LEADERBOARD_DIR was used
    assert main(["submit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "already on the leaderboard" in err
    assert main(["submit", str(make()), "--url", "javascript:alert(1)"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the scheme 'javascript' is not allowed" in err
    other = lb.parent / "other-lb"
    assert main(["submit", str(make(base=0.5)), "--leaderboard", str(other), "--dry-run"]) == 0
    assert "would be stored" in capsys.readouterr().out and not other.exists()
