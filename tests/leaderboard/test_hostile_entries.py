"""One entry never breaks the board (issue #16 items 3 and 4): ``submit`` bounds every number
and string (the limits of :mod:`diffbench.results.fields`), refuses cloned seeds, and
``leaderboard build`` renders, or skips with a visible reason, whatever one entry holds."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from lb_factory import load, redigest

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.leaderboard.site import build_site
from diffbench.results import aggregate_metrics
from diffbench.results.fields import (
    MAX_LABEL,
    MAX_METRIC,
    MAX_PARAMETERS,
    MAX_STRING,
    MIN_NONZERO,
)
from diffbench.submissions.submit import load_submissions, submit


def _reaggregate(r: dict) -> None:
    r["aggregate"] = {split: aggregate_metrics([s[split] for s in r["per_seed"]]) for split in ("test", "val")}


def _every_seed_nmae(value: float):
    def change(r: dict) -> None:
        for s in r["per_seed"]:
            s["test"]["nmae"] = value
            for row in s["test"]["per_count"].values():
                row["nmae"] = value
        _reaggregate(r)

    return change


def _refused(path: Path, lb: Path, match: str) -> str:
    with pytest.raises(DiffbenchError, match=match) as info:
        submit(path, lb, today="2025-01-01")
    assert "\n" not in str(info.value)
    assert not (lb / "submissions").exists() or not any((lb / "submissions").rglob("*.json"))
    return str(info.value)


def _site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- submit bounds numbers and strings


def test_a_parameter_count_of_10_pow_400_is_refused_with_the_limit(lb, make):
    path = redigest(make(images=False), lambda r: r["model"].__setitem__("parameters", 10**400))
    msg = _refused(path, lb, r"model\.parameters must be an integer in 0\.\.")
    assert f"{MAX_PARAMETERS}" in msg.replace(",", "")


def test_an_integer_metric_of_10_pow_400_is_one_line_on_the_command_line(lb, make, capsys):
    def huge(r: dict) -> None:
        r["per_seed"][0]["test"]["nmae"] = 10**400

    path = redigest(make(images=False), huge)
    assert main(["submit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "per_seed[0].test.nmae" in err and f"{MAX_METRIC:g}" in err


def test_a_subnormal_metric_in_every_seed_is_refused(lb, make):
    path = redigest(make(images=False), _every_seed_nmae(5e-324))
    msg = _refused(path, lb, r"test\.nmae")
    assert f"{MIN_NONZERO:g}" in msg


def test_a_30_mb_hardware_label_is_refused_and_so_is_any_long_string(lb, make):
    path = redigest(make(images=False), lambda r: r["hardware"].__setitem__("label", "x" * 30_000_000))
    _refused(path, lb, rf"hardware\.label must be at most {MAX_LABEL} characters")
    path = redigest(make(images=False), lambda r: r["training"].__setitem__("note", "y" * (MAX_STRING + 1)))
    _refused(path, lb, rf"training\.note is a string of {MAX_STRING + 1} characters; at most {MAX_STRING}")


def test_the_limits_are_in_the_published_schema():
    from diffbench.results.schema import result_json_schema

    text = json.dumps(result_json_schema())
    assert f'"maximum": {MAX_PARAMETERS}' in text
    assert f'"maxLength": {MAX_LABEL}' in text


# --------------------------------------------------------------------------- cloned seeds


def test_a_seed_cloned_into_three_is_refused(lb, make):
    def clone(r: dict) -> None:
        first = r["per_seed"][0]
        r["per_seed"] = [dict(copy.deepcopy(first), seed=s) for s in r["seeds"]]
        for s in r["per_seed"]:
            s["images"] = []
        r["cost"]["inference_s_per_sample"] = first["inference"]["s_per_sample"]
        r["cost"]["solver_s_per_sample"] = first["solver"]["s_per_sample"]
        r["cost"]["train_time_s"] = first["train_time_s"]
        _reaggregate(r)

    path = redigest(make(images=False), clone)
    _refused(path, lb, r"per_seed\[1\]\.test is identical to per_seed\[0\]\.test")


def test_two_seeds_with_the_same_checkpoint_hash_are_refused(lb, make):
    def same_checkpoint(r: dict) -> None:
        for s in r["per_seed"]:
            s["checkpoint"] = {"path": f"seed-{s['seed']}/best.ckpt", "sha256": "a" * 64, "bytes": 1000}

    path = redigest(make(images=False), same_checkpoint)
    _refused(path, lb, r"per_seed\[1\]\.checkpoint\.sha256 is the checkpoint of per_seed\[0\]")


# --------------------------------------------------------------------------- the build survives any one entry


def test_zero_nmae_beside_another_entry_builds(lb, make):
    submit(make(base=0.02, images=False), lb, today="2025-01-01")
    submit(redigest(make(images=False), _every_seed_nmae(0.0)), lb, today="2025-01-01")
    report = build_site(lb)
    assert report.entries == 2
    assert "0" in (lb / "site" / "index.html").read_text()


def _store_unchecked(lb: Path, make, change) -> None:
    """Store a submission as an older diffbench (without today's limits) would have: bypassing
    the checks, content-addressed like ``submit`` does."""
    from diffbench.submissions.submit import document_id

    result = load(redigest(make(images=False), change))
    doc = {
        "submission": {
            "title": "old",
            "authors": "",
            "url": None,
            "official": False,
            "submitted": "2024-01-01",
            "images": {},
        },
        "result": result,
    }
    task_dir = lb / "submissions" / "smoke"
    task_dir.mkdir(parents=True, exist_ok=True)
    (task_dir / f"{document_id(doc)}.json").write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["model"].__setitem__("parameters", 10**400),
        _every_seed_nmae(5e-324),
        lambda r: r["hardware"].__setitem__("label", "z" * 3_000_000),
    ],
    ids=["params-10e400", "nmae-5e-324", "label-3MB"],
)
def test_an_entry_stored_before_the_limits_is_skipped_with_a_visible_reason(lb, make, change):
    submit(make(base=0.02, images=False), lb, today="2025-01-01")
    _store_unchecked(lb, make, change)
    report = build_site(lb)
    assert report.entries == 1
    index = (lb / "site" / "index.html").read_text()
    assert "skipped" in index and "refused" in index
    assert _site_bytes(lb / "site") < 2_000_000
    assert len(load_submissions(lb, skipped=[])) == 1


def test_an_entry_that_fails_to_render_is_skipped_with_its_reason(lb, make, monkeypatch):
    """Whatever a future value breaks in the charts or pages, the build leaves that one entry out."""
    import diffbench.leaderboard.site as site_mod

    good = submit(make(base=0.02, images=False), lb, today="2025-01-01")
    bad = submit(make(base=0.03, images=False), lb, today="2025-01-01")
    real = site_mod.render_entry

    def fragile(row, spec, images):
        if row.id == bad.id:
            raise OverflowError("math range error")
        return real(row, spec, images)

    monkeypatch.setattr(site_mod, "render_entry", fragile)
    report = build_site(lb)
    assert report.entries == 1 and (lb / "site" / "entries" / f"{good.id}.html").is_file()
    index = (lb / "site" / "index.html").read_text()
    assert f"<strong>smoke/{bad.id}</strong> · skipped: cannot be rendered (OverflowError: math range error)" in index
    assert f'<tr data-id="{bad.id}"' not in index
