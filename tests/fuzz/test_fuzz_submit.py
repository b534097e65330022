"""Property-based fuzzing of ``diffbench submit``'s JSON (issue 16): a valid result.json is
mutated (a value anywhere replaced by one of random type: huge, tiny, NaN, infinite, negative
numbers, long or unicode strings, objects, lists; a key removed; an unknown key added), written
with its digest recomputed or left stale, and submitted. The only exception allowed is a one-line
:class:`DiffbenchError`; a submission that is accepted renders on the site, entry page included
(one entry never breaks the board), and the site stays small.

Bounded: derandomized, no deadline, about a hundred examples per property (well under a minute).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from diffbench.errors import DiffbenchError
from diffbench.leaderboard.site import render_site
from diffbench.results import aggregate_metrics
from diffbench.results.digest import compute_digest
from diffbench.submissions.submit import submit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from lb_factory import make_result

#: Each accepted example submits and renders a whole site (with its uq recomputation and chart
#: pages, ~2-4 s on this CPU): 15 derandomized examples per property keep the suite bounded
#: (100 took 12 minutes once the site and the checks grew). Raise it locally to search harder.
FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
#: A site of one entry stays below this (a 30 MB label once made a 430 MB site).
MAX_SITE_BYTES = 3_000_000


@pytest.fixture(scope="module")
def valid() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        path = make_result(
            Path(d) / "run",
            seeds=(0, 1, 2),
            images=False,
            consistency=True,
            uq=("residual", "ensemble"),
            wandb_url="https://wandb.ai/team/p/runs/x",
        )
        return json.loads(path.read_text())


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            0,
            -1,
            10**13 + 1,
            2**53,
            10**400,
            -(10**400),
            0.0,
            -0.0,
            5e-324,
            1e-300,
            1e-38,
            1e12,
            1e300,
            1.7e308,
            float("nan"),
            float("inf"),
        ]
    ),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "x" * 20_000,
            "\u202e" * 300,
            "<script>alert(1)</script>",
            "/home/alice/run",
            "C:\\Users\\x",
            "seed-0/../../etc/passwd",
            "javascript:alert(1)",
            "\ud7ff\U0010ffff" * 50,
            "diffbench run --x",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=8,
)


@st.composite
def mutations(draw: Any, base: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    result = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(result) if p]
        where = draw(st.sampled_from(paths))
        parent = result
        for k in where[:-1]:
            parent = parent[k]
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "extra"]))
        if kind == "replace":
            parent[where[-1]] = draw(values)
        elif kind == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif kind == "extra" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=12))] = draw(values)
    return result, draw(st.booleans())


def _reaggregate(result: dict[str, Any]) -> None:
    """Make the aggregate and cost means follow mutated per-seed values, where they still can, so that
    the value checks (not only the aggregation check) see them."""
    try:
        per_seed = result["per_seed"]
        result["aggregate"] = {split: aggregate_metrics([s[split] for s in per_seed]) for split in ("test", "val")}
        for key, timing in (("inference_s_per_sample", "inference"), ("solver_s_per_sample", "solver")):
            result["cost"][key] = sum(s[timing]["s_per_sample"] for s in per_seed) / len(per_seed)
    except Exception:  # noqa: BLE001 - a mutation the aggregation cannot follow; the checks refuse it
        return


def _write(path: Path, result: dict[str, Any], redigest: bool) -> None:
    if redigest:
        _reaggregate(result)
        result.pop("digest", None)
        try:
            result["digest"] = compute_digest(result)
        except (ValueError, TypeError):
            pass  # NaN or a non-JSON value: written as is, the strict reader refuses it
    path.write_text(json.dumps(result, allow_nan=True, ensure_ascii=False), encoding="utf-8", errors="surrogatepass")


def _check(result: dict[str, Any], redigest: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        run, lb = Path(d) / "run", Path(d) / "lb"
        run.mkdir()
        _write(run / "result.json", result, redigest)
        try:
            sub = submit(run / "result.json", lb, today="2025-01-01")
        except DiffbenchError as exc:
            assert "\n" not in str(exc), str(exc)
            event("refused: " + str(exc).split(" refused: ")[-1].split(" ")[0][:40])
            return
        event("accepted")
        files = render_site(lb)
        assert f"entries/{sub.id}.html" in files, "an accepted submission must render"
        assert sum(len(b) for b in files.values()) < MAX_SITE_BYTES


@FUZZ
@given(data=st.data())
def test_mutated_results_are_refused_in_one_line_or_render(valid, data):
    result, redigest = data.draw(mutations(valid))
    _check(result, redigest)


@FUZZ
@given(path_and_value=st.data())
def test_a_number_anywhere_set_to_an_extreme_is_refused_or_renders(valid, path_and_value):
    result = json.loads(json.dumps(valid))
    numbers = [
        p
        for p in _paths(result)
        if p and isinstance(_get(result, p), (int, float)) and not isinstance(_get(result, p), bool)
    ]
    where = path_and_value.draw(st.sampled_from(numbers))
    value = path_and_value.draw(
        st.sampled_from([10**400, -(10**400), 2**63, 5e-324, 1e-320, 1e308, -1e308, 0, -0.0, -1, 1e13])
    )
    parent = result
    for k in where[:-1]:
        parent = parent[k]
    parent[where[-1]] = value
    _check(result, True)


def _get(obj: Any, path: tuple) -> Any:
    for k in path:
        obj = obj[k]
    return obj


#: The provenance blocks, recorded as written: where an accepted value is most likely.
PROVENANCE = (
    ("data",),
    ("training",),
    ("packages",),
    ("hardware",),
    ("model", "spec"),
    ("task", "spec"),
    ("git",),
    ("per_seed", 0, "inference"),
    ("per_seed", 1, "solver"),
    ("per_seed", 2, "wandb"),
)


@FUZZ
@given(data=st.data())
def test_provenance_mutations_are_refused_in_one_line_or_render(valid, data):
    result = json.loads(json.dumps(valid))
    block = data.draw(st.sampled_from(PROVENANCE))
    target = _get(result, block)
    key = data.draw(st.one_of(st.sampled_from(sorted(target)), st.text(min_size=1, max_size=12)))
    target[key] = data.draw(values)
    _check(result, True)
