"""No local path leaves the machine (issue #15 item 3): results store paths relative to their
run folder, ``submit`` refuses a result holding an absolute path, and the committed
leaderboard holds none."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from lb_factory import redigest

from diffbench.errors import DiffbenchError
from diffbench.submissions.submit import default_leaderboard_dir, submit

#: What a local path looks like in the committed files.
LOCAL = ("/root/", "/home/", "/work/", "/tmp/", "/Users/", "C:\\")


@pytest.mark.parametrize(
    "where, value",
    [
        (("per_seed", 0, "wandb", "dir"), "/home/alice/runs/smoke--unet/wandb/offline-run-1"),
        (("argv",), "diffbench run --model unet-small --out /work/alice/runs"),
        (("hardware", "cpu"), "C:\\Users\\bob\\cpu.txt"),
        (("data", "cache"), "~/diffbench-data"),
        (("training", "log"), "file:///tmp/log.txt"),
    ],
)
def test_submit_refuses_an_absolute_path_in_any_string(lb, make, where, value):
    def put(r: dict) -> None:
        block = r
        for k in where[:-1]:
            block = block[k] if not (isinstance(k, str) and k not in block) else block.setdefault(k, {})
        if block is None:
            raise AssertionError(where)
        block[where[-1]] = value

    path = redigest(make(images=False, wandb_url="https://wandb.ai/t/p/runs/x"), put)
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else k for k in where).replace(".[", "[")
    with pytest.raises(DiffbenchError, match=rf"{__import__('re').escape(dotted)} holds a local absolute path") as info:
        submit(path, lb, today="2025-01-01")
    assert "\n" not in str(info.value)
    assert not (lb / "submissions").exists()


def test_relative_paths_and_urls_pass(lb, make):
    sub = submit(make(wandb_url="https://wandb.ai/team/p/runs/abc"), lb, today="2025-01-01")
    assert sub.result["per_seed"][0]["wandb"]["dir"] == "wandb/run-0"


def test_wandb_run_dir_is_recorded_relative_to_the_run_folder(tmp_path):
    from diffbench.training.wandb_logging import log_results

    run_dir = tmp_path / "runs" / "smoke--unet--ab12"
    logged = []
    run = SimpleNamespace(
        dir=str(run_dir / "wandb" / "offline-run-2026-x" / "files"),
        id="x1",
        settings=SimpleNamespace(mode="offline"),
        summary={},
        log=logged.append,
        finish=lambda: None,
    )
    logger = SimpleNamespace(experiment=run, save_dir=str(run_dir))
    info = log_results(logger, {"nmae": 0.1}, [])
    assert info["dir"] == "wandb/offline-run-2026-x"


def test_the_committed_leaderboard_holds_no_absolute_path(monkeypatch):
    monkeypatch.delenv("DIFFBENCH_LEADERBOARD_DIR", raising=False)
    root = default_leaderboard_dir()
    found = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix != ".png":  # text: a PNG's compressed bytes may spell anything
            data = p.read_bytes()
            found += [f"{p.relative_to(root)}: {pat}" for pat in LOCAL if pat.encode() in data]
    assert not found, f"{len(found)} local path(s) in leaderboard/, e.g. {found[:3]}"


def test_per_sample_errors_whose_base64_starts_with_a_slash_are_not_a_path():
    """A seed's per-sample errors are float32 in base64, whose alphabet holds '/': a block that
    starts with one (any first float whose low byte is >= 0xFC) is data, not a local path. A real
    ``diffbench run`` of cnn-small on standard-64 was refused by ``submit`` for exactly this."""
    import base64

    import numpy as np

    from diffbench.results.per_sample import ENCODING, QUANTITIES
    from diffbench.results.validate import check_bounds

    values = np.frombuffer(bytes([0xFC, 0x00, 0x00, 0x3F] * 4), dtype="<f4")
    blob = base64.b64encode(values.tobytes()).decode("ascii")
    assert blob.startswith("/")
    block = {
        "n": 4,
        "encoding": ENCODING,
        "index": [0, 1, 2, 3],
        "count": [1, 1, 2, 2],
        **{k: blob for k in QUANTITIES},
    }
    failures = []
    check_bounds({"per_seed": [{"per_sample": block}]}, lambda where, msg: failures.append((where, msg)))
    assert failures == []
    # the same string anywhere else is still refused as a path, and a path is not hidden by the field's name
    check_bounds(
        {"argv": blob, "per_seed": [{"per_sample": {**block, "mae": "/home/alice/errors.npy"}}]},
        lambda where, msg: failures.append(where),
    )
    assert sorted(failures) == ["argv", "per_seed[0].per_sample.mae"]
