"""Property-based fuzzing of task YAML (issue 16): random mappings of the task keys with values
of random types, malformed YAML text and random bytes go through the YAML loader, the task
validator and ``diffbench generate``'s checks. The only exception allowed is a one-line
:class:`DiffbenchError`; a task that validates has a legal name and sizes within the limits.

Bounded: derandomized, no deadline, a few hundred examples per property (seconds).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diffbench.data.generation as generation_mod
from diffbench.cli import main
from diffbench.data.tasks import (
    CHANNELS,
    MAX_LATTICE,
    MAX_PER_COUNT,
    MAX_SEED,
    MAX_SOURCE_COUNT,
    MAX_SPLIT_SAMPLES,
    SPLITS,
    TaskSpec,
    parse_task,
)
from diffbench.errors import DiffbenchError
from diffbench.names import is_name
from diffbench.yamlio import MAX_YAML_BYTES, loads_yaml

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

VALID: dict[str, Any] = {
    "name": "fuzz",
    "lattice": 16,
    "seed": 3,
    "sources": {"shape": "disk", "radius": 2, "strength": [0.0, 1.0], "mode": "flux"},
    "physics": {"diffusivity": 1.0, "decay": 0.0, "boundary": "dirichlet"},
    "splits": {s: {"counts": [1, 3], "per_count": 2} for s in SPLITS},
    "serve": "cache",
    "training": {"max_epochs": 1},
}

# ---------------------------------------------------------------- strategies
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, 1, 2, 7, 8, 16, 4096, 4097, 60000, 10**12, 2**63, 10**400, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.5, 1e-320, 1e300, 1e12]),
    st.text(max_size=20),
    st.sampled_from(
        [
            "../../x",
            "/abs",
            "..",
            "smoke",
            "a/b",
            "",
            "disk",
            "mix",
            "flux",
            "clamped",
            "dirichlet",
            "neumann",
            "periodic",
            "per-sample",
            "inclusions",
            "lognormal",
            "constant",
            "cache",
            "stream",
            *CHANNELS,
        ]
    ),
)
keys = st.one_of(
    st.text(max_size=8), st.integers(), st.sampled_from(["top", "bottom", "left", "right", "random", "kind", "values"])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12,
)

KEYS = [
    "name",
    "description",
    "purpose",
    "axis",
    "lattice",
    "seed",
    "sources",
    "physics",
    "splits",
    "serve",
    "training",
    "evaluation",
    "channels",
]
PATHS = [
    ("sources", "shape"),
    ("sources", "radius"),
    ("sources", "strength"),
    ("sources", "mode"),
    ("physics", "diffusivity"),
    ("physics", "decay"),
    ("physics", "boundary"),
    ("physics", "boundary", "random"),
    ("physics", "boundary", "top"),
    ("physics", "diffusivity", "kind"),
    ("physics", "diffusivity", "range"),
    ("physics", "diffusivity", "count"),
    ("physics", "diffusivity", "sigma"),
    ("splits", "train", "counts", "values"),
    *[("splits", s, k) for s in SPLITS for k in ("counts", "per_count")],
]


@st.composite
def task_mappings(draw: st.DrawFn) -> dict[str, Any]:
    """The valid task with a few keys (top-level or nested) replaced, removed or added."""
    raw = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["top", "nested", "drop", "extra"]))
        if kind == "top":
            raw[draw(st.sampled_from(KEYS))] = draw(values)
        elif kind == "nested":
            path = draw(st.sampled_from(PATHS))
            node = raw
            for key in path[:-1]:
                if not isinstance(node.get(key), dict):
                    node[key] = {}
                node = node[key]
            node[path[-1]] = draw(values)
        elif kind == "drop" and raw:
            raw.pop(draw(st.sampled_from(sorted(raw, key=repr))), None)
        else:
            raw[draw(st.one_of(st.text(max_size=6), st.integers()))] = draw(values)
    return raw


def _check_valid(task: TaskSpec) -> None:
    """What a validated task promises: a legal name, every size within its limit."""
    assert is_name(task.name)
    assert isinstance(task.lattice, int) and 8 <= task.lattice <= MAX_LATTICE
    assert isinstance(task.seed, int) and 0 <= task.seed <= MAX_SEED
    for split in SPLITS:
        s = task.splits[split]
        assert 1 <= s.per_count <= MAX_PER_COUNT and 1 <= s.size <= MAX_SPLIT_SAMPLES
        assert all(isinstance(c, int) and 1 <= c <= MAX_SOURCE_COUNT for c in s.counts)
    low, high = task.sources.strength
    assert math.isfinite(low) and math.isfinite(high) and 0 <= low < high
    assert isinstance(task.description, str) and isinstance(task.axis, str)
    assert isinstance(task.training, dict) and isinstance(task.evaluation, dict)
    assert len(task.spec_hash) == 64
    json.dumps(task.to_dict())
    assert task.in_channels == len(task.input_channels) >= 1


def _one_line(exc: DiffbenchError) -> None:
    message = str(exc)
    assert message and "\n" not in message and "\r" not in message, message
    assert len(message) < 2000, message[:300]


def _validate(raw: Any, where: str = "fuzz.yaml") -> None:
    try:
        task = parse_task(raw, where)
    except DiffbenchError as exc:
        _one_line(exc)
    else:
        _check_valid(task)


# ---------------------------------------------------------------- properties
@FUZZ
@given(task_mappings())
def test_random_task_mappings_validate_or_fail_in_one_line(raw: dict[str, Any]) -> None:
    _validate(raw)


@FUZZ
@given(task_mappings())
def test_random_task_mappings_through_yaml_text(raw: dict[str, Any]) -> None:
    try:
        text = yaml.safe_dump(raw, allow_unicode=True)
    except (yaml.YAMLError, ValueError):  # e.g. an integer beyond Python's digit limit
        return
    try:
        data = loads_yaml(text, "task file fuzz.yaml")
    except DiffbenchError as exc:
        _one_line(exc)
        return
    _validate(data)


YAML_BITS = st.sampled_from(
    [
        "name: x\n",
        "lattice: 16\n",
        "&a [1]\n",
        "*a\n",
        "<<: *a\n",
        "a: &b {x: 1}\n",
        "b: *b\n",
        "[",
        "]",
        "{",
        "}",
        "- ",
        ": ",
        "? ",
        "!!python/object:os.system\n",
        "!!binary aGk=\n",
        "!!set {a}\n",
        "!!omap [a: 1]\n",
        "!!timestamp 2020-01-01\n",
        "!!float x\n",
        "!!int 0x\n",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
        "!x y\n",
        "'",
        '"',
        "\\",
        "\t",
        "\x00",
        "\ufeff",
        "#",
        "|\n  text\n",
        ">-\n  t\n",
        "1e400\n",
        "0x1F\n",
        "0o17\n",
        "9" * 5000 + "\n",
        ".nan\n",
        "-.inf\n",
        "~\n",
        "@",
        "`",
        "%",
    ]
)


@FUZZ
@given(st.lists(st.one_of(YAML_BITS, st.text(max_size=12)), max_size=30))
def test_malformed_yaml_text_is_one_line(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        data = loads_yaml(text, "task file fuzz.yaml")
    except DiffbenchError as exc:
        _one_line(exc)
        return
    _validate(data)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_one_line(blob: bytes) -> None:
    try:
        data = loads_yaml(blob, "task file fuzz.yaml")
    except DiffbenchError as exc:
        _one_line(exc)
        return
    _validate(data)


@FUZZ
@given(st.integers(1, 200), st.integers(1, 12))
def test_deep_nesting_and_alias_chains_are_bounded(depth: int, fan: int) -> None:
    texts = [
        "a: " + "[" * depth + "]" * depth,
        "a: " + "{b: " * depth + "1" + "}" * depth,
        "a0: &a0 [1]\n"
        + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]\n" for i in range(1, depth % 20 + 2)),
    ]
    for text in texts:
        try:
            data = loads_yaml(text, "task file fuzz.yaml")
        except DiffbenchError as exc:
            _one_line(exc)
        else:
            _validate(data)


def test_the_size_bound_holds_for_text_and_bytes() -> None:
    for blob in (b"a" * (MAX_YAML_BYTES + 1), "a" * (MAX_YAML_BYTES + 1)):
        with pytest.raises(DiffbenchError, match=r"at most 1048576"):
            loads_yaml(blob, "task file big.yaml")


# ---------------------------------------------------------------- through `diffbench generate`
class _Validated(Exception):
    """Raised where generation would start: the inputs passed every check."""


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    task_mappings(),
    st.sampled_from(["train", "val,test", "", "x", ",", "train,train"]),
    st.sampled_from(["1", "2", "0", "-1", "99999999999", "x"]),
)
def test_generate_checks_random_tasks_and_arguments(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raw: dict[str, Any], splits: str, devices: str
) -> None:
    def refuse_to_generate(*a: Any, **kw: Any) -> None:
        raise _Validated

    monkeypatch.setattr(generation_mod, "_generate_shard", refuse_to_generate)
    monkeypatch.setattr(generation_mod.mp, "get_context", lambda *a: pytest.fail("a pool was started in the fuzz"))
    monkeypatch.setattr(generation_mod, "usable_cpus", lambda: 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "task.yaml"
        try:
            path.write_text(yaml.safe_dump(raw, allow_unicode=True))
        except (yaml.YAMLError, ValueError):
            return
        data = Path(tmp) / "data"
        try:
            code = main(
                [
                    "generate",
                    "--task",
                    str(path),
                    "--data-dir",
                    str(data),
                    "--splits",
                    splits,
                    "--devices",
                    devices,
                    "--backend",
                    "numpy",
                    "--no-progress",
                ]
            )
        except _Validated:
            task = parse_task(loads_yaml(path.read_bytes(), "task file"), str(path))
            _check_valid(task)
            assert (data / task.name).resolve().parent == data.resolve()
            return
        out, err = capsys.readouterr()
        assert code == 2, (code, out, err)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
        assert sorted(p.name for p in Path(tmp).iterdir()) == ["task.yaml"] or not (
            data.exists() and any(data.rglob("*.npz"))
        )
