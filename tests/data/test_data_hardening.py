"""Hostile inputs to the data stage (issue 16): names that would become paths, resource
bombs in task YAMLs, stale temporary files, concurrent generations, corrupt manifests and a
full disk. Each is a one-line :class:`DiffbenchError`, a bounded refusal or a reported repair."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from data_testlib import BASE_TASK, merge, new_stem, task_from

import diffbench.data.cache as cache_mod
import diffbench.data.generation as generation_mod
from diffbench.data.cache import Cache, shard_plan
from diffbench.data.generation import ensure_cache
from diffbench.data.tasks import SPLITS, load_task, parse_task
from diffbench.errors import DiffbenchError
from diffbench.hashing import sha256_file

#: The stated limits (diffbench.data.tasks.MAX_*), spelled out: the errors must name them.
MAX_LATTICE, MAX_PER_COUNT, MAX_SOURCE_COUNT, MAX_SPLIT_SAMPLES = 4096, 1_000_000, 1000, 10_000_000


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"
    }


# ---------------------------------------------------------------- names that become paths (item 9)
@pytest.mark.parametrize(
    "name", ["../../x", "..", "/tmp/abs-task", "a/b", "a\\b", "", ".hidden", "x" * 200, "tab\tname"]
)
def test_task_name_that_is_not_a_plain_name_is_refused(tmp_path: Path, name: str) -> None:
    path = task_from(tmp_path / "tasks", name=name)
    data = tmp_path / "deep" / "er" / "data"
    with pytest.raises(DiffbenchError) as info:
        ensure_cache(path, data, progress=False)
    message = str(info.value)
    assert "\n" not in message and "task name" in message and path in message, message
    assert not (tmp_path / "deep").exists() and not Path("/tmp/abs-task").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks"]


def test_task_name_of_another_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DiffbenchError, match=r"task name must be a string"):
        load_task(task_from(tmp_path, name=12))


# ---------------------------------------------------------------- bounded sizes (item 7)
BOUNDED = [
    (
        "lattice",
        {"lattice": 60000, "sources": {"radius": 3000}},
        rf"lattice N must be at most {MAX_LATTICE} \(MAX_LATTICE\), got 60000",
    ),
    (
        "per_count",
        {"splits": {"train": {"per_count": 10**12}}},
        rf"splits\.train\.per_count must be at most {MAX_PER_COUNT} \(MAX_PER_COUNT\), got 1000000000000",
    ),
    (
        "count-range",
        {"splits": {"train": {"counts": [1, 10**11]}}},
        rf"splits\.train\.counts .*at most {MAX_SOURCE_COUNT}",
    ),
    (
        "count-values",
        {"splits": {"test": {"counts": {"values": [1, 10**15]}}}},
        rf"splits\.test\.counts .*at most {MAX_SOURCE_COUNT}",
    ),
    (
        "split-size",
        {"splits": {"train": {"counts": {"values": [1] * 50}, "per_count": MAX_PER_COUNT}}},
        rf"splits\.train holds 50000000 samples; at most {MAX_SPLIT_SAMPLES}",
    ),
    ("seed", {"seed": 2**70}, r"seed must be at most 9223372036854775807 \(a signed 64-bit integer\)"),
    ("strength", {"sources": {"strength": [0, 10**400]}}, r"sources\.strength must be \[low, high\] of finite numbers"),
    ("diffusivity", {"physics": {"diffusivity": 10**400}}, r"diffusivity"),
    ("decay", {"physics": {"decay": 10**400}}, r"decay must be finite"),
    ("decay-range", {"physics": {"decay": [0, 10**400]}}, r"physics\.decay"),
    (
        "inclusions",
        {"physics": {"diffusivity": {"kind": "inclusions", "count": [1, 10**9]}}},
        r"diffusivity\.count .*at most",
    ),
    ("mixed-keys", {1: 2}, r"unknown key\(s\) 1"),
    ("newline-key", {"\n": 2}, r"unknown key\(s\) '\\n'; allowed"),
    (
        "boundary-keys",
        {"physics": {"boundary": {"random": [{1: 2, "a": 3}]}}},
        r"physics\.boundary sides must be named top, bottom, left, right",
    ),
    ("training-text", {"training": "fast"}, r"training must be a mapping"),
    ("evaluation-list", {"evaluation": ["x"]}, r"evaluation must be a mapping"),
    ("description-list", {"description": ["x"]}, r"description must be a string"),
    ("axis-mapping", {"axis": {"a": 1}}, r"axis must be a string"),
]


@pytest.mark.parametrize("case_id, overrides, pattern", BOUNDED, ids=[b[0] for b in BOUNDED])
def test_unbounded_task_values_are_refused_with_the_limit(
    tmp_path: Path, case_id: str, overrides: dict, pattern: str
) -> None:
    path = task_from(tmp_path, overrides)
    with pytest.raises(DiffbenchError) as info:
        load_task(path)
    message = str(info.value)
    assert re.search(pattern, message) and "\n" not in message and path in message, message


def test_the_limits_keep_the_paper_task_valid() -> None:
    from diffbench.data import tasks

    assert (tasks.MAX_LATTICE, tasks.MAX_PER_COUNT, tasks.MAX_SOURCE_COUNT, tasks.MAX_SPLIT_SAMPLES) == (
        MAX_LATTICE,
        MAX_PER_COUNT,
        MAX_SOURCE_COUNT,
        MAX_SPLIT_SAMPLES,
    )
    paper = load_task("paper-512")
    assert paper.lattice <= MAX_LATTICE and [paper.splits[s].size for s in SPLITS] == [320000, 20000, 80000]
    assert max(s.size for s in paper.splits.values()) <= MAX_SPLIT_SAMPLES


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        (
            {"splits": {"train": {"per_count": 10**5000}}},
            r"per_count must be at most 1000000 \(MAX_PER_COUNT\), got an integer of about 2\*\*16610",
        ),
        (
            {"sources": {"radius": 10**5000}},
            r"a source of radius an integer of about 2\*\*16610 does not fit in a 16x16 lattice",
        ),
        ({"lattice": 10**5000}, r"lattice N must be at most 4096 \(MAX_LATTICE\), got an integer of about 2\*\*16610"),
    ],
    ids=["per_count", "radius", "lattice"],
)
def test_integers_too_long_to_print_are_shown_by_size(overrides: dict, pattern: str) -> None:
    """Through the Python API (YAML stops at 4300 digits): repr() of such an int raises."""
    with pytest.raises(DiffbenchError, match=pattern):
        parse_task(merge(BASE_TASK, overrides), "api")


def test_split_name_keys_of_mixed_types_are_one_line(tmp_path: Path) -> None:
    path = task_from(tmp_path, {"splits": {1: {"counts": [1, 2], "per_count": 1}}})
    with pytest.raises(DiffbenchError, match=r"splits must define exactly train, val and test"):
        load_task(path)


# ---------------------------------------------------------------- the YAML itself (items 7, 10)
def _raw_task_file(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / f"{new_stem()}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_alias_bomb_in_a_task_yaml_is_refused(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    body = (
        yaml.safe_dump(merge(BASE_TASK, {"name": "bomb"}), sort_keys=False)
        + "training:\n  "
        + "\n  ".join(lines)
        + "\n"
    )
    path = _raw_task_file(tmp_path, body.replace("training:\n  max_epochs: 1\n  batch_size: 4\n  recipe: fast\n", ""))
    with pytest.raises(
        DiffbenchError, match=r"uses YAML anchors or aliases \(&name / \*name\), which task files may not"
    ) as info:
        load_task(path)
    assert path in str(info.value)


def test_non_utf8_task_yaml_is_one_line(tmp_path: Path) -> None:
    body = yaml.safe_dump(merge(BASE_TASK, {"name": "latin"}), sort_keys=False).replace("a tiny test task", "caf\xe9")
    path = _raw_task_file(tmp_path, body.encode("latin-1"))
    with pytest.raises(DiffbenchError, match=r"is not UTF-8 text \(byte 0xe9 at offset \d+\)") as info:
        load_task(path)
    assert path in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("lattice: " + "9" * 5000 + "\n", r"is not valid YAML"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", r"nests deeper than"),
        ("a: !!python/object/apply:os.system ['true']\n", r"is not valid YAML"),
        ("a: !!binary aGVsbG8=\n", r"uses the tag tag:yaml.org,2002:binary, which builds no plain data"),
        ("a: !!set {x}\n", r"uses the tag tag:yaml.org,2002:set, which builds no plain data"),
        ("a: 1\n---\nb: 2\n", r"is not valid YAML"),
    ],
    ids=["huge-int", "deep", "python-tag", "binary", "set", "two-documents"],
)
def test_hostile_yaml_is_one_line(tmp_path: Path, text: str, pattern: str) -> None:
    path = _raw_task_file(tmp_path, text)
    with pytest.raises(DiffbenchError, match=pattern) as info:
        load_task(path)
    assert "\n" not in str(info.value) and len(str(info.value)) < 500


def test_huge_task_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = _raw_task_file(tmp_path, "description: " + "x" * (2 << 20) + "\n")
    with pytest.raises(DiffbenchError, match=r"is \d+ bytes; at most 1048576 bytes are read"):
        load_task(path)


def test_parse_task_refuses_yaml_that_slipped_past_the_loader() -> None:
    shared = {"max_epochs": 1}
    with pytest.raises(DiffbenchError, match=r"task name"):
        parse_task(merge(BASE_TASK, {"name": "../x", "training": shared}))


# ---------------------------------------------------------------- --devices (item 7)
class _NoPool:
    def Pool(self, *a, **kw):
        raise AssertionError(f"spawned a pool of {a} processes")


def test_devices_are_capped_by_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generation_mod.mp, "get_context", lambda *a: _NoPool())
    cores = generation_mod.usable_cpus()
    assert cores >= 1
    with pytest.raises(DiffbenchError) as info:
        ensure_cache("smoke", tmp_path / "d", devices=99999999999, backend="numpy", progress=False)
    message = str(info.value)
    assert (
        message
        == f"--devices 99999999999 asks for more processes than this machine's {cores} usable CPU core(s); use --devices {cores} or fewer"
    )
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- stale temporary files (item 5)
def test_stale_shard_temp_files_are_removed_on_the_next_run(tmp_path: Path, make_task) -> None:
    path = make_task()
    cache = ensure_cache(path, tmp_path, progress=False)
    before = _files(cache.root)
    ours = [cache.root / "train" / ".shard-00000.npz.k1ll3d_.tmp", cache.root / "test" / ".shard-00007.npz.abc123.tmp"]
    theirs = [
        cache.root / "notes.tmp",
        cache.root / "train" / "shard-00000.npz.tmp",
        cache.root / "train" / ".shard-mine.tmp",
        cache.root / ".shard-00000.npz.abc123.tmp",
    ]
    for p in ours + theirs:
        p.write_bytes(b"half a shard")
    ensure_cache(path, tmp_path, progress=False)
    assert [p for p in ours if p.exists()] == []
    assert all(p.exists() for p in theirs)
    for p in theirs:
        p.unlink()
    assert _files(cache.root) == before


# ---------------------------------------------------------------- two generations at once (item 5)
def _generate_split(path: str, root: str, split: str, barrier) -> None:
    """A generation of one split that waits, before its first shard, for the other process."""
    real = generation_mod._generate_shard
    state = {"first": True}

    def synchronised(*args, **kw):
        if state["first"]:
            state["first"] = False
            barrier.wait(timeout=120)
        return real(*args, **kw)

    generation_mod._generate_shard = synchronised
    cache_mod.shard_size = lambda task: 2
    ensure_cache(path, root, splits=(split,), progress=False, log=lambda m: None)


def test_two_processes_generating_different_splits_keep_every_manifest_entry(tmp_path: Path, make_task) -> None:
    path = make_task()
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=_generate_split, args=(path, str(tmp_path), split, barrier)) for split in ("train", "test")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    task = load_task(path)
    cache = Cache(task, tmp_path / task.name)
    m = json.loads(cache.manifest_path.read_text())
    for split in ("train", "test"):
        n = -(-task.splits[split].size // 2)
        assert sorted(m["splits"][split]["shards"]) == [f"{k:05d}" for k in range(n)], split
        for e in m["splits"][split]["shards"].values():
            assert sha256_file(cache.root / e["file"])[0] == e["sha256"]


# ---------------------------------------------------------------- corrupt manifests (item 10)
def _corrupt(manifest: dict, case: str):
    m = json.loads(json.dumps(manifest))
    if case == "list":
        return []
    if case == "no-splits":
        del m["splits"]
    elif case == "splits-list":
        m["splits"] = []
    elif case == "int-entry":
        m["splits"]["train"]["shards"]["00000"] = 5
    elif case == "string-residual":
        m["splits"]["val"]["shards"]["00000"]["max_residual"] = "small"
    elif case == "shards-text":
        m["splits"]["test"]["shards"] = "all"
    elif case == "entry-missing-sha":
        del m["splits"]["test"]["shards"]["00000"]["sha256"]
    elif case == "spec-hash-int":
        m["spec_hash"] = 7
    return m


CORRUPT = [
    "list",
    "no-splits",
    "splits-list",
    "int-entry",
    "string-residual",
    "shards-text",
    "entry-missing-sha",
    "spec-hash-int",
]


@pytest.mark.parametrize("case", CORRUPT)
def test_corrupt_manifest_of_our_cache_is_reported_and_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    cache = ensure_cache("smoke", tmp_path, progress=False)
    before = _files(cache.root)
    cache.manifest_path.write_text(json.dumps(_corrupt(json.loads(cache.manifest_path.read_text()), case)))
    capsys.readouterr()
    repaired = ensure_cache("smoke", tmp_path, progress=False)
    err = capsys.readouterr().err
    assert re.search(r"warning: .*manifest\.json .*(malformed|unreadable)", err), err
    assert "Traceback" not in err
    assert _files(cache.root) == before
    assert repaired.manifest_hash() == Cache(cache.task, cache.root).manifest_hash()


# ---------------------------------------------------------------- disk full (item 10)
@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 200 kB tmpfs (root only; skipped where mounting is not permitted)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)], capture_output=True, text=True, check=False
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)


def test_disk_full_during_generate_is_one_line_and_leaves_nothing_half_written(
    tiny_disk: Path, make_task, small_shards_2: None
) -> None:
    path = make_task({"splits": {"train": {"per_count": 40}}})
    with pytest.raises(DiffbenchError) as info:
        ensure_cache(path, tiny_disk, progress=False)
    message = str(info.value)
    assert (
        re.search(r"no space left on device", message, re.IGNORECASE)
        and "--data-dir" in message
        and "\n" not in message
    ), message
    task = load_task(path)
    cache = Cache(task, tiny_disk / task.name)
    assert [p for p in tiny_disk.rglob("*") if p.name.endswith(".tmp")] == []
    m = cache.read_manifest()
    written = m["splits"]["train"]["shards"] if m else {}
    assert written, "some shards fit before the disk filled"
    for e in written.values():
        assert sha256_file(cache.root / e["file"])[0] == e["sha256"]
    listed = {cache.root / e["file"] for s in SPLITS for e in (m["splits"][s]["shards"].values() if m else [])}
    assert listed <= set(
        cache.root.rglob("shard-*.npz")
    )  # a shard whose entry did not fit is complete, and regenerated
    assert len(written) < len(shard_plan(task, "train"))


@pytest.fixture
def small_shards_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "shard_size", lambda task: 8)
