"""Task specs: the shipped YAMLs, the spec hash, and one clear error for every bad input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml
from data_testlib import BASE_TASK, DELETE, merge, task_from, write_yaml

from diffbench.data.tasks import SPLITS, load_task, parse_task, task_names, tasks_dir
from diffbench.errors import DiffbenchError

SHIPPED = ("paper-512", "smoke", "standard-64")


# ---------------------------------------------------------------- shipped tasks
def test_shipped_task_names() -> None:
    assert set(SHIPPED) <= set(task_names())
    assert task_names() == sorted(p.stem for p in tasks_dir().glob("*.yaml"))


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "datamodules").glob("*.yaml"))
)
def test_every_datamodule_yaml_loads(name: str) -> None:
    task = load_task(name)
    assert task.name == name
    assert task.lattice >= 8
    assert set(task.splits) == set(SPLITS)
    for split in task.splits.values():
        assert split.size == len(split.counts) * split.per_count > 0
    assert re.fullmatch(r"[0-9a-f]{64}", task.spec_hash)
    assert task.input_channels[0] == "source" and task.in_channels == len(task.input_channels)
    d = task.to_dict()
    assert d["spec_hash"] == task.spec_hash and d["name"] == name
    # The YAML loaded by path is the same task.
    assert load_task(str(tasks_dir() / f"{name}.yaml")).spec_hash == task.spec_hash


def test_shipped_tasks_match_their_descriptions() -> None:
    smoke, std, paper = load_task("smoke"), load_task("standard-64"), load_task("paper-512")
    assert (smoke.lattice, smoke.splits["train"].size, smoke.splits["val"].size, smoke.splits["test"].size) == (
        32,
        320,
        60,
        120,
    )
    assert (std.lattice, std.splits["train"].counts) == (64, tuple(range(1, 21)))
    # The paper: 1-20 sources, 16k training samples and 4k test samples per count at N = 512.
    assert paper.lattice == 512 and paper.splits["test"].counts == tuple(range(1, 21))
    assert paper.splits["train"].per_count == 16000 and paper.splits["test"].per_count == 4000
    assert paper.serve == "stream"


def test_smoke_spec_hash_is_pinned() -> None:
    """The hash names caches and is recorded in every result: it must not drift silently.

    If smoke.yaml's data fields are changed on purpose, update this value (old results on
    smoke are then no longer comparable, which is the point of the hash).
    """
    assert load_task("smoke").spec_hash == "134a41952418fd8bd95306899ed9dc947cd6dbde16f3f0f11af20a7cfc819b54"


# ---------------------------------------------------------------- spec hash
def test_spec_hash_stable_across_files_and_key_order(tmp_path: Path) -> None:
    a = load_task(task_from(tmp_path, name="same"))
    reordered = dict(reversed(list(merge(BASE_TASK, {"name": "same"}).items())))
    b = load_task(write_yaml(tmp_path, reordered))
    assert a.spec_hash == b.spec_hash
    # Equivalent spellings of the same data hash the same.
    c = load_task(
        task_from(
            tmp_path,
            {"physics": {"diffusivity": 1, "decay": 0}, "splits": {"train": {"counts": {"values": [1, 2, 3]}}}},
        )
    )
    assert c.spec_hash == load_task(task_from(tmp_path)).spec_hash


@pytest.mark.parametrize(
    "change",
    [
        {"lattice": 24},
        {"seed": 6},
        {"sources": {"radius": 3}},
        {"sources": {"shape": "square"}},
        {"sources": {"strength": [0.0, 2.0]}},
        {"sources": {"mode": "clamped"}},
        {"physics": {"diffusivity": 2.0}},
        {"physics": {"decay": 0.5}},
        {"physics": {"boundary": {"top": "dirichlet", "bottom": "neumann", "left": "dirichlet", "right": "dirichlet"}}},
        {"splits": {"train": {"counts": [1, 4]}}},
        {"splits": {"test": {"per_count": 3}}},
    ],
    ids=lambda c: "-".join(f"{k}" for k in c) + ":" + str(c)[:40],
)
def test_spec_hash_changes_with_every_data_field(tmp_path: Path, change: dict) -> None:
    base = load_task(task_from(tmp_path, name="h"))
    other = load_task(task_from(tmp_path, {"name": "h", **change}))
    assert other.spec_hash != base.spec_hash


@pytest.mark.parametrize(
    "change",
    [
        {"name": "renamed"},
        {"description": "another text"},
        {"purpose": "another purpose"},
        {"axis": "physics"},
        {"training": {"max_epochs": 99, "batch_size": 2}},
        {"training": DELETE},
        {"serve": "stream"},
        {"evaluation": {"anything": 1}},
    ],
    ids=str,
)
def test_spec_hash_ignores_non_data_fields(tmp_path: Path, change: dict) -> None:
    base = load_task(task_from(tmp_path, name="h"))
    other = load_task(task_from(tmp_path, {"name": "h", **change}))
    assert other.spec_hash == base.spec_hash


# ---------------------------------------------------------------- bad input
NONSINGULAR_SIDES = {"top": "periodic", "bottom": "dirichlet", "left": "dirichlet", "right": "dirichlet"}

BAD = [
    # (id, overrides, regex the message must match)
    ("N=4", {"lattice": 4}, r"lattice N must be an integer >= 8, got 4"),
    ("N=7.5", {"lattice": 7.5}, r"lattice N must be an integer >= 8, got 7\.5"),
    ("N=str", {"lattice": "16"}, r"lattice N must be an integer >= 8"),
    ("N=true", {"lattice": True}, r"lattice N must be an integer >= 8"),
    ("radius=0", {"sources": {"radius": 0}}, r"radius must be a positive integer.*got 0"),
    ("radius=-2", {"sources": {"radius": -2}}, r"radius must be a positive integer.*got -2"),
    ("radius=1.5", {"sources": {"radius": 1.5}}, r"radius must be a positive integer.*got 1\.5"),
    ("radius-too-big", {"sources": {"radius": 8}}, r"radius 8 .*does not fit in a 16x16 lattice; use radius <= 7"),
    (
        "too-many-sources",
        {"lattice": 8, "sources": {"radius": 3}, "splits": {"train": {"counts": [1, 5]}}},
        r"5 sources of radius 3 do not fit in a 8x8 lattice.*only 4 centre positions",
    ),
    (
        "too-many-sources-test",
        {"splits": {"test": {"counts": [1, 145]}}},
        r"145 sources of radius 2 do not fit in a 16x16 lattice",
    ),
    ("D=0", {"physics": {"diffusivity": 0}}, r"diffusivity must be positive and finite \(D > 0\), got 0"),
    ("D=-1", {"physics": {"diffusivity": -1}}, r"diffusivity must be positive and finite \(D > 0\), got -1"),
    ("D=nan", {"physics": {"diffusivity": math.nan}}, r"diffusivity must be positive and finite \(D > 0\), got nan"),
    ("D=inf", {"physics": {"diffusivity": math.inf}}, r"diffusivity must be positive and finite \(D > 0\), got inf"),
    ("D=constant-mapping-0", {"physics": {"diffusivity": {"kind": "constant", "value": 0}}}, r"D > 0"),
    (
        "D=string",
        {"physics": {"diffusivity": "big"}},
        r"physics\.diffusivity must be a positive number or a mapping with kind in",
    ),
    (
        "D-kind",
        {"physics": {"diffusivity": {"kind": "fractal"}}},
        r"kind in constant, per-sample, inclusions, lognormal.*fractal",
    ),
    (
        "D-range-0",
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [0, 1]}}},
        r"diffusivity\.range must satisfy 0 < low <= high",
    ),
    (
        "D-range-neg",
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [-1, 1]}}},
        r"diffusivity\.range must satisfy 0 < low <= high",
    ),
    (
        "D-range-nan",
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [math.nan, 1]}}},
        r"diffusivity\.range .*finite",
    ),
    (
        "D-range-inf",
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [1, math.inf]}}},
        r"diffusivity\.range .*finite",
    ),
    (
        "D-range-reversed",
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [2, 1]}}},
        r"diffusivity\.range must satisfy 0 < low <= high",
    ),
    (
        "D-range-missing",
        {"physics": {"diffusivity": {"kind": "per-sample"}}},
        r"diffusivity\.range must be \[low, high\]",
    ),
    ("D-range-text", {"physics": {"diffusivity": {"kind": "per-sample", "range": ["low", 2]}}}, r"diffusivity\.range"),
    ("D-constant-text", {"physics": {"diffusivity": {"kind": "constant", "value": "one"}}}, r"diffusivity"),
    (
        "D-lognormal-sigma",
        {"physics": {"diffusivity": {"kind": "lognormal", "sigma": -1}}},
        r"lognormal diffusivity needs sigma >= 0",
    ),
    (
        "D-lognormal-text",
        {"physics": {"diffusivity": {"kind": "lognormal", "sigma": "wide"}}},
        r"lognormal diffusivity",
    ),
    (
        "D-inclusions-contrast",
        {"physics": {"diffusivity": {"kind": "inclusions", "contrast": [0, 10]}}},
        r"diffusivity\.contrast",
    ),
    ("decay=-1", {"physics": {"decay": -1}}, r"decay must be finite and >= 0, got -1"),
    ("decay=nan", {"physics": {"decay": math.nan}}, r"decay must be finite and >= 0, got nan"),
    ("decay-range-neg", {"physics": {"decay": [-1, 1]}}, r"physics\.decay must satisfy 0 <= low <= high"),
    ("decay-text", {"physics": {"decay": "none"}}, r"physics\.decay must be \[low, high\]"),
    (
        "neumann-decay0-flux",
        {"physics": {"boundary": "neumann", "decay": 0}},
        r"boundary 'neumann' with decay 0 and flux sources is singular",
    ),
    (
        "periodic-decay0-flux",
        {"physics": {"boundary": "periodic"}},
        r"boundary 'periodic' with decay 0 and flux sources is singular",
    ),
    ("neumann-decayrange0", {"physics": {"boundary": "neumann", "decay": [0, 1]}}, r"singular"),
    (
        "random-with-singular",
        {"physics": {"boundary": {"random": ["dirichlet", "neumann"]}}},
        r"boundary 'neumann' with decay 0 .*singular",
    ),
    ("robin", {"physics": {"boundary": "robin"}}, r"unknown boundary 'robin'.*allowed: dirichlet, neumann, periodic"),
    (
        "robin-side",
        {"physics": {"boundary": {**NONSINGULAR_SIDES, "top": "robin"}}},
        r"unknown boundary 'robin' on side 'top'",
    ),
    ("robin-random", {"physics": {"boundary": {"random": ["dirichlet", "robin"]}}}, r"unknown boundary 'robin'"),
    ("random-empty", {"physics": {"boundary": {"random": []}}}, r"boundary\.random must be a non-empty list"),
    (
        "periodic-one-side",
        {"physics": {"boundary": NONSINGULAR_SIDES}},
        r"periodic boundary must be set on both top and bottom",
    ),
    (
        "boundary-missing-side",
        {"physics": {"boundary": {"top": "dirichlet"}}},
        r"boundary mapping lacks side\(s\) bottom, left, right",
    ),
    (
        "boundary-bad-side",
        {"physics": {"boundary": {**NONSINGULAR_SIDES, "middle": "dirichlet"}}},
        r"unknown boundary side\(s\) 'middle'",
    ),
    ("unknown-top-key", {"colour": "blue"}, r"unknown key\(s\) colour; allowed: .*lattice"),
    ("unknown-physics-key", {"physics": {"advection": 1}}, r"unknown physics key\(s\) advection"),
    ("unknown-sources-key", {"sources": {"colour": "red"}}, r"unknown sources key\(s\) colour"),
    ("physics-not-mapping", {"physics": "neumann"}, r"physics must be a mapping"),
    ("sources-not-mapping", {"sources": ["disk"]}, r"sources must be a mapping"),
    ("shape", {"sources": {"shape": "hexagon"}}, r"unknown source shape 'hexagon'; allowed: disk, square"),
    ("mode", {"sources": {"mode": "pinned"}}, r"sources\.mode must be 'flux' or 'clamped', got 'pinned'"),
    ("strength-order", {"sources": {"strength": [1.0, 0.5]}}, r"strength range must satisfy 0 <= low < high"),
    ("strength-shape", {"sources": {"strength": 1.0}}, r"sources\.strength must be \[low, high\]"),
    ("strength-text", {"sources": {"strength": ["weak", 1.0]}}, r"sources\.strength"),
    ("missing-splits", {"splits": DELETE}, r"missing required key 'splits'"),
    ("missing-lattice", {"lattice": DELETE}, r"missing required key 'lattice'"),
    (
        "splits-only-train",
        {"splits": {"val": DELETE, "test": DELETE}},
        r"splits must define exactly train, val and test, got \['train'\]",
    ),
    (
        "split-extra-key",
        {"splits": {"val": {"shuffle": True}}},
        r"splits\.val must have exactly 'counts' and 'per_count'",
    ),
    ("counts-reversed", {"splits": {"train": {"counts": [3, 1]}}}, r"splits\.train\.counts must be \[low, high\]"),
    (
        "counts-zero",
        {"splits": {"train": {"counts": {"values": [0, 1]}}}},
        r"splits\.train\.counts must be positive integers",
    ),
    (
        "per_count-0",
        {"splits": {"train": {"per_count": 0}}},
        r"splits\.train\.per_count must be an integer >= 1, got 0",
    ),
    ("seed-negative", {"seed": -1}, r"seed must be an integer >= 0, got -1"),
    ("seed-float", {"seed": 1.5}, r"seed must be an integer >= 0, got 1\.5"),
    ("serve", {"serve": "disk"}, r"serve must be one of cache, stream, got 'disk'"),
]


@pytest.mark.parametrize("case_id, overrides, pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_task_is_one_clear_error(tmp_path: Path, case_id: str, overrides: dict, pattern: str) -> None:
    path = task_from(tmp_path, overrides)
    with pytest.raises(DiffbenchError) as info:
        load_task(path)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "\n" not in message
    assert path in message  # names the file


def test_good_variants_of_the_bad_cases_load(tmp_path: Path) -> None:
    """The checks above refuse only what is wrong: the nearby valid specs load."""
    for overrides in [
        {"lattice": 8, "sources": {"radius": 1}},
        {
            "sources": {"radius": 7},
            "splits": {"train": {"counts": [1, 1]}, "val": {"counts": [1, 1]}, "test": {"counts": [1, 1]}},
        },
        {"physics": {"boundary": "neumann", "decay": 0.1}},
        {"physics": {"boundary": "neumann"}, "sources": {"mode": "clamped"}},
        {"physics": {"boundary": {"top": "periodic", "bottom": "periodic", "left": "dirichlet", "right": "neumann"}}},
        {"physics": {"diffusivity": {"kind": "per-sample", "range": [1, 1]}}},
        {"physics": {"decay": [0.5, 0.5]}},
    ]:
        load_task(task_from(tmp_path, overrides))


def test_unknown_task_names_the_available_ones() -> None:
    with pytest.raises(DiffbenchError) as info:
        load_task("nope")
    assert str(info.value) == f"unknown task 'nope'; available: {', '.join(task_names())}"
    assert re.search(r"available: .*paper-512.*smoke.*standard-64", str(info.value))


def test_missing_task_file(tmp_path: Path) -> None:
    with pytest.raises(DiffbenchError, match=r"task file .*nothing\.yaml does not exist"):
        load_task(str(tmp_path / "nothing.yaml"))


def test_invalid_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\nlattice: 16\n")
    with pytest.raises(DiffbenchError, match=r"is not valid YAML") as info:
        load_task(str(path))
    assert "\n" not in str(info.value)


def test_task_file_must_hold_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(DiffbenchError, match=r"must hold a mapping, got list"):
        load_task(str(path))


def test_task_name_must_match_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = tmp_path / "datamodules"
    tasks.mkdir()
    write_yaml(tasks, merge(BASE_TASK, {"name": "other"}), stem="mine")
    write_yaml(tasks, merge(BASE_TASK, {"name": "good"}), stem="good")
    monkeypatch.setenv("DIFFBENCH_TASKS_DIR", str(tasks))
    assert task_names() == ["good", "mine"]
    assert load_task("good").name == "good"
    with pytest.raises(DiffbenchError, match=r"declares name 'other'; it must match its file name 'mine'"):
        load_task("mine")


def test_parse_task_directly_validates_too() -> None:
    with pytest.raises(DiffbenchError, match=r"lattice N must be an integer >= 8"):
        parse_task(merge(BASE_TASK, {"lattice": 4}))
    raw = yaml.safe_load(yaml.safe_dump(BASE_TASK))
    assert parse_task(raw).lattice == 16
