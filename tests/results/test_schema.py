"""``diffbench.results``: a result.json written before the schema existed validates and
digests as before, every shipped submission does, the published JSON Schema is fresh, and
the package (and ``diffbench submit``) never loads torch."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.results import (
    Result,
    StoredSubmission,
    aggregate_consistency,
    aggregate_metrics,
    aggregate_uq_indicators,
    canonical_json,
    check_result,
    compute_digest,
    read_json_strict,
)
from diffbench.submissions.commands import schema_text
from diffbench.submissions.submit import default_leaderboard_dir

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).parent / "fixtures" / "result-v1-smoke-uq.json"
#: The digest this result.json was written with (by `diffbench run`, before diffbench.results existed).
# re-digested (diffbench.results.compute_digest) after its absolute W&B run folders were made relative (issue #15)
FIXTURE_DIGEST = "e089227b9265cb2ee6efaf157ff7406597905b22643aef764e61a0bf57996d82"
SHIPPED = sorted((ROOT / "leaderboard" / "submissions").glob("*/*.json"))


def _fixture() -> dict:
    return read_json_strict(FIXTURE)


def test_a_result_written_before_the_move_validates_and_digests_the_same():
    raw = _fixture()
    assert raw["digest"] == FIXTURE_DIGEST == compute_digest(raw)
    checked = check_result(raw, "result.json")
    assert checked.digest == FIXTURE_DIGEST and checked.ranked and checked.task == "smoke"
    typed = checked.result
    assert isinstance(typed, Result)
    assert typed.per_seed[0].test.nmae == raw["per_seed"][0]["test"]["nmae"]
    assert typed.uq is not None and set(typed.uq.indicators) == set(raw["uq"]["requested"])
    assert typed.consistency is not None and typed.consistency.n_seeds == 3
    # the aggregation of diffbench.results reproduces what the run wrote
    for split in ("test", "val"):
        assert aggregate_metrics([s[split] for s in raw["per_seed"]]) == raw["aggregate"][split]
    assert aggregate_uq_indicators(raw["per_seed"], raw["uq"]["requested"]) == raw["uq"]["indicators"]
    assert aggregate_consistency([s["consistency"] for s in raw["per_seed"]]) == raw["consistency"]
    # and the bytes on disk are what the run writes (sorted keys, indent 1)
    assert FIXTURE.read_text() == json.dumps(raw, indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.stem}" for p in SHIPPED])
def test_every_shipped_submission_validates_and_digests_the_same(path):
    doc = read_json_strict(path, "submission")
    StoredSubmission.model_validate(doc)
    result = doc["result"]
    assert compute_digest(result) == result["digest"]
    assert check_result(result, str(path)).digest == result["digest"]
    assert path.stem == __import__("hashlib").sha256(canonical_json(doc).encode()).hexdigest()[:16]


def test_the_shipped_submissions_are_all_tested():
    """The parametrised check above sees every entry the leaderboard loads (and at least one per
    task folder), not a glob that silently matches fewer."""
    from diffbench.submissions.stored import load_submissions

    assert default_leaderboard_dir() == ROOT / "leaderboard"
    loaded = load_submissions(default_leaderboard_dir())
    assert SHIPPED and len(SHIPPED) == len(loaded)
    assert {p.parent.name for p in SHIPPED} == {s.task for s in loaded}
    folders = {d.name for d in (ROOT / "leaderboard" / "submissions").iterdir() if d.is_dir() and any(d.glob("*.json"))}
    assert {p.parent.name for p in SHIPPED} == folders


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda r: r["per_seed"][0]["test"].__setitem__("nmae", "abc"),
            "result.json refused: per_seed[0].test.nmae must be a finite number >= 0, got 'abc'",
        ),
        (
            lambda r: r["per_seed"][1].__setitem__("epochs", 3),
            "result.json refused: per_seed[1] has unknown key(s) epochs",
        ),
        (lambda r: r.__setitem__("extra", 1), "result.json refused: the result has unknown key(s) extra"),
        (
            lambda r: r["uq"]["indicators"]["residual"].__setitem__("status", "n/a"),
            "result.json refused: uq.indicators.residual.status must be 'ok' or 'not applicable', got 'n/a'",
        ),
        (
            lambda r: r["per_seed"][0]["consistency"]["superposition"].__setitem__("n_pairs", 2.5),
            "result.json refused: per_seed[0].consistency.superposition.n_pairs must be an integer >= 0, got 2.5",
        ),
        (
            lambda r: r["cost"].__setitem__("solver_s_per_sample", True),
            "result.json refused: cost.solver_s_per_sample must be a finite number > 0, got true",
        ),
    ],
)
def test_a_violation_is_one_line_naming_the_field(change, message):
    result = _fixture()
    change(result)
    result["digest"] = compute_digest(result)
    with pytest.raises(DiffbenchError) as info:
        check_result(result, "result.json")
    assert str(info.value) == message


def test_the_typed_result_is_read_only():
    typed = check_result(_fixture(), "r").result
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        typed.seeds = [9]  # type: ignore[misc]


def test_key_order_does_not_matter():
    raw = _fixture()
    shuffled = copy.deepcopy(raw)
    shuffled["per_seed"][0] = dict(reversed(list(shuffled["per_seed"][0].items())))
    assert check_result(shuffled, "a").digest == check_result(raw, "b").digest


def test_the_committed_json_schema_is_fresh(capsys):
    committed = (ROOT / "leaderboard" / "result.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "leaderboard/result.schema.json is stale: run `diffbench schema > leaderboard/result.schema.json`"
    )
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == committed
    schema = json.loads(printed)
    assert schema["additionalProperties"] is False and "per_seed" in schema["required"]
    nmae = schema["$defs"]["MetricRow"]["properties"]["nmae"]
    assert (nmae["type"], nmae["minimum"]) == ("number", 0)


def _fresh_python(code: str) -> str:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "DIFFBENCH_LEADERBOARD_DIR": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_the_results_package_never_imports_torch():
    code = (
        "import sys, diffbench.results as r\n"
        "for n in r.__all__: getattr(r, n)\n"
        f"r.check_result(r.read_json_strict({str(FIXTURE)!r}), 'x')\n"
        "print(sorted(m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules))"
    )
    assert _fresh_python(code).strip() == "[]"


def test_submit_never_imports_torch(tmp_path):
    """``diffbench submit`` (check, store, and the next build's reload) without torch."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "result.json").write_text(FIXTURE.read_text())
    lb = tmp_path / "lb"
    code = (
        "import sys\nfrom diffbench.cli import main\n"
        f"assert main(['submit', {str(run_dir / 'result.json')!r}, '--leaderboard', {str(lb)!r}]) == 0\n"
        "from diffbench.submissions.submit import load_submissions\n"
        f"assert len(load_submissions({str(lb)!r})) == 1\n"
        "print('torch' in sys.modules, 'torchmetrics' in sys.modules, 'lightning' in sys.modules)"
    )
    assert _fresh_python(code).strip().splitlines()[-1] == "False False False"


def test_the_uq_settings_are_the_protocols():
    """diffbench.results.names.uq_settings (what the site shows) equals the protocol's until the protocol imports it."""
    from diffbench.results.names import uq_settings
    from diffbench.trust.indicators import settings

    assert uq_settings() == settings()


def test_the_names_are_the_protocols():
    """The torch modules compute what diffbench.results names (they may import the names from here)."""
    from diffbench.evaluation import functional as metrics
    from diffbench.evaluation import regions
    from diffbench.results import names
    from diffbench.trust import consistency, options, scores

    assert names.METRIC_KEYS == metrics.METRIC_KEYS and names.REGIONS == regions.REGIONS
    assert (
        names.INDICATORS == options.INDICATORS
        and names.SCORE_KEYS == scores.SCORE_KEYS
        and names.NOT_APPLICABLE == scores.NOT_APPLICABLE
    )
    assert names.CONSISTENCY_SCORES == consistency.SCORES
