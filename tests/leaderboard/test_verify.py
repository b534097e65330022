"""``diffbench verify`` end to end (issue #15 item 1): a real run on the smoke task is bundled
with its checkpoints, re-scored through the run's evaluator and shown as verified; a tampered
number whose digest was recomputed, a swapped checkpoint, a wrong download and a pickled
payload are each caught in one line."""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest
from lb_factory import copy_run as _copy_run

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.leaderboard.site import build_site
from diffbench.results import aggregate_metrics, write_result
from diffbench.results.verification import ABS_TOL, RECORD_NAME, REL_TOL
from diffbench.submissions.submit import load_submissions, submit


def _verify(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["verify", *args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_run_records_each_checkpoint_relative_with_its_hash(run_dir):
    r = json.loads((run_dir / "result.json").read_text())
    for s in r["per_seed"]:
        ref = s["checkpoint"]
        assert ref["path"] == s["best_checkpoint"] and not ref["path"].startswith("/")
        assert ref["bytes"] == (run_dir / ref["path"]).stat().st_size
    assert len({s["checkpoint"]["sha256"] for s in r["per_seed"]}) == 3


def test_rescore_seed_reproduces_the_run(run_dir, smoke_data_dir):
    from diffbench.training.rescore import rescore_seed

    r = json.loads((run_dir / "result.json").read_text())
    s = r["per_seed"][1]
    got = rescore_seed(
        run_dir / s["best_checkpoint"],
        "smoke",
        smoke_data_dir,
        test_counts=r["data"]["test_counts"],
        batch_size=r["training"]["batch_size"],
    )
    assert got["test"] == s["test"] and got["val"] == s["val"]  # same machine, same batches: bit for bit


def test_a_bundle_verifies_and_the_site_shows_it(run_dir, smoke_data_dir, lb, make, tmp_path, capsys):
    sub = submit(_copy_run(run_dir, tmp_path), lb, title="bundled", today="2025-05-01", with_checkpoints=True)
    refs = sub.meta["checkpoints"]
    assert sorted(refs) == ["0", "1", "2"] and all(
        ref["path"] == f"checkpoints/seed-{k}.ckpt" for k, ref in refs.items()
    )
    assert all((sub.image_dir / ref["path"]).stat().st_size == ref["bytes"] for ref in refs.values())
    other = submit(make(base=0.5, images=False), lb, title="claimed one", today="2025-05-01")
    assert main(["submit", "--check", str(sub.path)]) == 0
    assert "claimed, 3 checkpoint(s)" in capsys.readouterr().out

    code, out, err = _verify(capsys, str(sub.path), "--data-dir", str(smoke_data_dir))
    assert code == 0, err
    assert "verified:" in out and "3 seed(s)" in out
    record = json.loads((sub.image_dir / RECORD_NAME).read_text())
    assert record["status"] == "verified" and record["result_digest"] == sub.result["digest"]
    assert (
        record["tolerance"] == {"rel": REL_TOL, "abs": ABS_TOL} and record["hardware"] and record["diffbench_version"]
    )
    assert record["checkpoints"] == {k: ref["sha256"] for k, ref in refs.items()} and record["metrics_compared"] > 100

    loaded = {s.id: s for s in load_submissions(lb)}
    assert loaded[sub.id].verification is not None and loaded[other.id].verification is None
    build_site(lb)
    index = (lb / "site" / "index.html").read_text()
    row = index.split(f'<tr data-id="{sub.id}"')[1].split("</tr>")[0]
    assert 'class="badge verified"' in row and "verified" in row.split(">")[0]
    other_row = index.split(f'<tr data-id="{other.id}"')[1].split("</tr>")[0]
    assert 'class="badge claimed"' in other_row and 'badge verified' not in other_row
    assert 'class="verified-only" data-task="smoke"' in index
    entry = (lb / "site" / "entries" / f"{sub.id}.html").read_text()
    assert "Verified on" in entry and record["verified"] in entry and "Metrics compared" in entry
    claimed = (lb / "site" / "entries" / f"{other.id}.html").read_text()
    assert "Claimed: the numbers are as submitted" in claimed and "cannot be re-scored" in claimed

    # a record copied onto another submission does not make it verified
    shutil.copy(sub.image_dir / RECORD_NAME, (other.image_dir.mkdir(parents=True) or other.image_dir) / RECORD_NAME)
    assert {s.id: s for s in load_submissions(lb)}[other.id].verification is None


def _tampered(run_dir: Path, tmp_path: Path, key: str = "rel_l2") -> Path:
    """The run's result with seed 0's test ``key`` lowered by 10 %, re-aggregated and re-digested.
    For a metric the per-sample errors do not determine (``rel_l2``) every check of ``submit``
    passes and only re-scoring the checkpoint can tell; the headline metrics are also tied to the
    per-sample errors, which ``submit`` checks."""
    path = _copy_run(run_dir, tmp_path)
    r = json.loads(path.read_text())
    r.pop("digest")
    r["per_seed"][0]["test"][key] *= 0.9
    r["aggregate"]["test"] = aggregate_metrics([s["test"] for s in r["per_seed"]])
    write_result(path, r)
    return path


def test_a_tampered_number_with_a_recomputed_digest_is_caught(run_dir, smoke_data_dir, lb, tmp_path, capsys):
    sub = submit(_tampered(run_dir, tmp_path), lb, today="2025-05-01", with_checkpoints=True)  # submit cannot tell
    code, _, err = _verify(capsys, str(sub.path), "--data-dir", str(smoke_data_dir))
    last = err.rstrip("\n").splitlines()[-1]  # after the progress lines, the one-line error
    assert code == 2 and last.startswith("error: ") and err.count("error:") == 1 and "Traceback" not in err
    assert "seed 0 claims test.rel_l2" in last and "its checkpoint scores" in err and "not verified" in err
    assert not (sub.image_dir / RECORD_NAME).exists()
    # the same tampered result.json, verified in its run folder
    code, _, err = _verify(capsys, str(tmp_path / run_dir.name / "result.json"), "--data-dir", str(smoke_data_dir))
    assert code == 2 and "seed 0 claims test.rel_l2" in err


def test_a_tampered_headline_number_is_caught_by_submit_already(run_dir, lb, tmp_path):
    """A lowered test MAE no longer matches the seed's per-sample errors: submit refuses it."""
    with pytest.raises(DiffbenchError, match="per-sample errors must be the ones the metrics were computed from"):
        submit(_tampered(run_dir, tmp_path, "mae"), lb, today="2025-05-01", with_checkpoints=True)


def test_a_swapped_checkpoint_is_refused(run_dir, smoke_data_dir, lb, tmp_path, capsys):
    sub = submit(_copy_run(run_dir, tmp_path), lb, today="2025-05-01", with_checkpoints=True)
    bundle = sub.image_dir / "checkpoints"
    shutil.copy(
        run_dir
        / "seed-2"
        / Path(json.loads((run_dir / "result.json").read_text())["per_seed"][2]["best_checkpoint"]).name,
        bundle / "seed-0.ckpt",
    )
    code, _, err = _verify(capsys, str(sub.path), "--data-dir", str(smoke_data_dir))
    assert code == 2 and "seed 0's checkpoint seed-0.ckpt is not the recorded one" in err
    with pytest.raises(DiffbenchError, match="differs from the one submitted"):
        main_check = __import__("diffbench.submissions.submit", fromlist=["check_stored"]).check_stored
        main_check(sub.path, lb)


def test_over_the_budget_is_skipped_and_stays_claimed(run_dir, lb, tmp_path, capsys):
    sub = submit(_copy_run(run_dir, tmp_path), lb, today="2025-05-01", with_checkpoints=True)
    code, out, _ = _verify(capsys, str(sub.path), "--max-bytes", "1000")
    assert code == 0 and out.startswith("skipped:") and "over the budget of 1000" in out
    assert not (sub.image_dir / RECORD_NAME).exists()


@pytest.fixture
def http_root(tmp_path):
    """A local http.server on 127.0.0.1 serving ``tmp_path / 'www'``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_checkpoints_by_url_are_fetched_and_hash_checked(run_dir, smoke_data_dir, lb, tmp_path, http_root, capsys):
    root, base = http_root
    path = _copy_run(run_dir, tmp_path)
    r = json.loads(path.read_text())
    urls = {}
    for s in r["per_seed"]:
        shutil.copy(path.parent / s["best_checkpoint"], root / f"seed-{s['seed']}.ckpt")
        urls[s["seed"]] = f"{base}/seed-{s['seed']}.ckpt"
    sub = submit(path, lb, today="2025-05-01", checkpoint_urls=urls)
    assert sub.meta["checkpoints"]["1"]["url"] == urls[1] and not (sub.image_dir / "checkpoints").exists()
    cache = tmp_path / "fetched"
    code, _, err = _verify(capsys, str(sub.path), "--data-dir", str(smoke_data_dir), "--checkpoint-dir", str(cache))
    assert code == 0, err
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        f"{ref['sha256']}.ckpt" for ref in sub.meta["checkpoints"].values()
    )
    # the server now sends another file for seed 1: refused before anything is scored
    shutil.copy(root / "seed-0.ckpt", root / "seed-1.ckpt")
    code, _, err = _verify(
        capsys, str(sub.path), "--data-dir", str(smoke_data_dir), "--checkpoint-dir", str(tmp_path / "again")
    )
    assert code == 2 and "is not the recorded checkpoint" in err and "Traceback" not in err
    (root / "seed-0.ckpt").unlink()
    code, _, err = _verify(capsys, str(sub.path), "--checkpoint-dir", str(tmp_path / "third"))
    assert code == 2 and "cannot fetch checkpoint" in err and ("404" in err or "Not Found" in err)


def test_a_missing_plugin_package_says_what_to_install(tmp_path):
    import torch

    from diffbench import PROTOCOL_VERSION
    from diffbench.data import load_task
    from diffbench.training.rescore import module_from_checkpoint

    task = load_task("smoke")
    path = tmp_path / "plugin.ckpt"
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": {
                "model_spec": {
                    "name": "nope-net",
                    "class_path": "diffbench_plugin_nope.models:NopeNet",
                    "init_args": {},
                    "package": {"name": "diffbench-plugin-nope", "version": "1.2.3"},
                },
                "task": {"name": "smoke", "spec_hash": task.spec_hash, "lattice": 32, "input_channels": ["source"]},
                "protocol_version": PROTOCOL_VERSION,
            },
        },
        path,
    )
    with pytest.raises(DiffbenchError, match=r"pip install 'diffbench-plugin-nope==1\.2\.3'") as info:
        module_from_checkpoint(path)
    assert "\n" not in str(info.value)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.marker),))


def test_a_checkpoint_with_a_pickled_payload_is_refused_without_running_it(tmp_path):
    import torch

    from diffbench.training.rescore import load_checkpoint

    _Payload.marker = str(tmp_path / "pwned")
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"x": _Payload()}}, path)
    with pytest.raises(DiffbenchError, match="refused: it needs .*nothing in it was run") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and not (tmp_path / "pwned").exists()


def test_verify_bad_input_is_one_line(lb, make, tmp_path, capsys):
    claimed = submit(make(images=False), lb, today="2025-05-01")
    for args, needle in (
        ([str(tmp_path / "nope.json")], "does not exist"),
        ([str(claimed.path)], "has no checkpoints; submit it with `diffbench submit RESULT --with-checkpoints`"),
        ([str(claimed.path), "--max-bytes", "-1"], "--max-bytes must be >= 0"),
        ([str(make(images=False))], "seed 0's checkpoint"),
    ):
        code, _, err = _verify(capsys, *args)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and needle in err, (args, err)
