"""``diffbench submit`` on results with ``uq`` and ``consistency`` blocks: well-formed ones are
accepted, malformed ones refused with one line naming the field (nothing is stored)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from lb_factory import ALL_UQ, NA_DROPOUT, NA_ENSEMBLE, load, redigest, with_cost

from diffbench.cli import main
from diffbench.errors import DiffbenchError
from diffbench.submissions.submit import check_result, load_submissions, submit
from diffbench.trust.scores import BASELINES


def _refused(path: Path, lb: Path, match: str) -> str:
    with pytest.raises(DiffbenchError, match=match) as info:
        submit(path, lb, today="2025-01-01")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{path} refused: ")
    assert not (lb / "submissions").exists() or not list((lb / "submissions").rglob("*.json"))
    return msg


def test_uq_and_consistency_blocks_are_accepted(lb, make):
    sub = submit(make(uq=ALL_UQ, consistency=True), lb, today="2025-01-01")
    uq = sub.result["uq"]
    assert (
        uq["requested"] == list(ALL_UQ)
        and set(uq["indicators"]) == set(ALL_UQ)
        and set(uq["baselines"]) == set(BASELINES)
    )
    assert uq["indicators"]["inverse"]["auroc"]["n_seeds"] == 3 and "superposition" in sub.result["consistency"]
    assert uq["indicators"]["inverse"]["catch_rate"] == {"underpowered": True, "positives": 4, "required": 20}
    one = submit(
        make(
            seeds=(0,),
            uq=ALL_UQ,
            uq_na={"mc-dropout": NA_DROPOUT, "ensemble": NA_ENSEMBLE},
            consistency=True,
            consistency_na={"flux_balance": "clamped sources"},
        ),
        lb,
        today="2025-01-01",
    )
    assert one.result["uq"]["indicators"]["ensemble"] == {
        "status": "not applicable",
        "reason": NA_ENSEMBLE,
        "n_seeds": 0,
    }
    assert one.result["consistency"]["flux_balance"]["status"] == "not applicable"
    subset = submit(make(uq=("residual",)), lb, today="2025-01-01")  # a subset of the indicators, no consistency
    assert list(subset.result["uq"]["indicators"]) == ["residual"]
    legacy = submit(
        make(model="fno", uq=ALL_UQ, uq_legacy=True), lb, today="2025-01-01"
    )  # written before the intervals
    assert legacy.result["uq"]["indicators"]["inverse"]["auroc"]["n"] == 3
    assert len(load_submissions(lb)) == 4


def test_a_seed_whose_consistency_failed_is_accepted(lb, make):
    def fail_seed_1(r):
        from diffbench.trust.consistency import aggregate_consistency

        r["per_seed"][1]["consistency"] = {"status": "error", "error": "RuntimeError: out of memory"}
        r["consistency"] = aggregate_consistency([s["consistency"] for s in r["per_seed"]])

    sub = submit(make(consistency=True, mutate=fail_seed_1), lb, today="2025-01-01")
    assert sub.result["consistency"]["n_seeds"] == 2


def _ind(name):
    return lambda r: r["uq"]["indicators"][name]


def _seed_ind(i, name):
    return lambda r: r["per_seed"][i]["uq"]["indicators"][name]


def _set(getter, key, value):
    def change(r):
        getter(r)[key] = value

    return change


def _drop(getter, key):
    def change(r):
        getter(r).pop(key)

    return change


LEGACY_UQ_CASES = {
    "not an object": (lambda r: r.__setitem__("uq", ["residual"]), r"uq must be an object"),
    "null": (lambda r: r.__setitem__("uq", None), r"uq must be an object .*got null"),
    "unknown indicator": (
        lambda r: r["uq"]["requested"].append("bayes"),
        r"uq\.requested names unknown indicator\(s\) 'bayes'",
    ),
    "repeated indicator": (
        lambda r: r["uq"]["requested"].append("residual"),
        r"uq\.requested must be a non-empty list of distinct",
    ),
    "indicator missing": (
        _drop(lambda r: r["uq"]["indicators"], "inverse"),
        r"uq\.indicators must hold exactly the requested",
    ),
    "bad status": (
        _set(_ind("residual"), "status", "maybe"),
        r"uq\.indicators\.residual\.status must be 'ok' or 'not applicable'",
    ),
    "auroc above 1": (
        lambda r: _ind("inverse")(r)["auroc"].__setitem__("mean", 1.5),
        r"uq\.indicators\.inverse\.auroc\.mean must lie in \[0, 1\], got 1\.5",
    ),
    "spearman below -1": (
        lambda r: _ind("residual")(r)["spearman"].__setitem__("mean", -1.2),
        r"uq\.indicators\.residual\.spearman\.mean must lie in \[-1, 1\]",
    ),
    "negative std": (
        lambda r: _ind("residual")(r)["catch_rate"].__setitem__("std", -0.1),
        r"catch_rate\.std must lie in >= 0",
    ),
    "stat without n": (
        lambda r: _ind("residual")(r)["auroc"].pop("n"),
        r"uq\.indicators\.residual\.auroc must be \{\"mean\", \"std\", \"n\"\}",
    ),
    "score missing": (_drop(_ind("ensemble"), "catch_rate"), r"uq\.indicators\.ensemble\.catch_rate is missing"),
    "too many seeds": (
        _set(_ind("residual"), "n_seeds", 7),
        r"uq\.indicators\.residual\.n_seeds must be an integer in 1\.\.3",
    ),
    "not applicable without reason": (
        lambda r: r["uq"]["indicators"].__setitem__("ensemble", {"status": "not applicable", "n_seeds": 0}),
        r"uq\.indicators\.ensemble\.reason must say why it is not applicable",
    ),
    "aggregate disagrees": (
        lambda r: _ind("inverse")(r)["auroc"].__setitem__("mean", _ind("inverse")(r)["auroc"]["mean"] * 0.9),
        r"uq\.indicators does not agree with the per-seed scores: uq\.indicators\.inverse\.auroc\.mean",
    ),
    "seed score a string": (
        _set(_seed_ind(0, "residual"), "spearman", "high"),
        r"per_seed\[0\]\.uq\.indicators\.residual\.spearman must be a finite number or null, got 'high'",
    ),
    "seed catch rate above 1": (
        _set(_seed_ind(2, "inverse"), "catch_rate", 2.0),
        r"per_seed\[2\]\.uq\.indicators\.inverse\.catch_rate must lie in \[0, 1\]",
    ),
    "seed not applicable with scores": (
        lambda r: r["per_seed"][1]["uq"]["indicators"].__setitem__(
            "mc-dropout", {"status": "not applicable", "reason": "no dropout", "auroc": 0.5}
        ),
        r"per_seed\[1\]\.uq\.indicators\.mc-dropout is not applicable and must carry no scores, got auroc",
    ),
    "seed not applicable, empty reason": (
        lambda r: r["per_seed"][1]["uq"]["indicators"].__setitem__(
            "mc-dropout", {"status": "not applicable", "reason": " "}
        ),
        r"per_seed\[1\]\.uq\.indicators\.mc-dropout\.reason must say why",
    ),
    "seed block missing": (
        lambda r: r["per_seed"][1].pop("uq"),
        r"per_seed\[1\]\.uq must be an object: the run-level uq block needs one per seed",
    ),
    "seed indicators differ": (
        _drop(lambda r: r["per_seed"][0]["uq"]["indicators"], "ensemble"),
        r"per_seed\[0\]\.uq\.indicators must hold exactly the requested",
    ),
    "seed n_samples": (
        lambda r: r["per_seed"][0]["uq"].__setitem__("n_samples", 0),
        r"per_seed\[0\]\.uq\.n_samples must be an integer >= 1",
    ),
    "run-level block missing": (
        lambda r: r.pop("uq"),
        r"per_seed\[0\]\.uq is present but the run-level uq block is missing",
    ),
}


@pytest.mark.parametrize("case", sorted(LEGACY_UQ_CASES))
def test_bad_legacy_uq_blocks_are_refused_with_one_line(lb, make, case):
    change, match = LEGACY_UQ_CASES[case]
    path = redigest(make(uq=ALL_UQ, images=False, uq_legacy=True), change)
    _refused(path, lb, match)


def _base(name):
    return lambda r: r["uq"]["baselines"][name]


def _samples(i):
    return lambda r: r["per_seed"][i]["uq"]["samples"]


UQ_CASES = {
    "estimate outside its range": (
        lambda r: _ind("residual")(r)["auroc"].__setitem__("estimate", 1.5),
        r"uq\.indicators\.residual\.auroc\.estimate must lie in \[0, 1\], got 1\.5",
    ),
    "low above the estimate": (
        lambda r: _ind("residual")(r)["spearman"].__setitem__(
            "low", _ind("residual")(r)["spearman"]["estimate"] + 0.01
        ),
        r"uq\.indicators\.residual\.spearman must have low <= estimate <= high",
    ),
    "a bare number": (
        _set(_base("input-sum"), "spearman", 0.5),
        r"uq\.baselines\.input-sum\.spearman must be an interval",
    ),
    "underpowered with enough positives": (
        _set(_ind("inverse"), "catch_rate", {"underpowered": True, "positives": 25, "required": 20}),
        r"uq\.indicators\.inverse\.catch_rate must be .*fewer positives than required",
    ),
    "a powered score hidden as underpowered": (
        _set(_ind("residual"), "auroc", {"underpowered": True, "positives": 5, "required": 20}),
        r"uq\.indicators does not agree with the per-seed scores: uq\.indicators\.residual\.auroc",
    ),
    "baseline missing": (
        _drop(lambda r: r["uq"]["baselines"], "input-sum"),
        r"uq\.baselines must hold exactly the baselines",
    ),
    "run-level score not from the samples": (
        lambda r: _ind("residual")(r)["auroc"].__setitem__("estimate", _ind("residual")(r)["auroc"]["low"]),
        r"uq\.indicators does not agree with the per-seed scores: uq\.indicators\.residual\.auroc\.estimate",
    ),
    "seed errors short": (
        lambda r: _samples(0)(r)["error"].pop(),
        r"per_seed\[0\]\.uq\.samples\.error must be a list of 400 values",
    ),
    "seed values missing": (
        _drop(lambda r: _samples(1)(r)["values"], "residual"),
        r"per_seed\[1\]\.uq\.samples\.values must hold exactly",
    ),
    "seed score not from its samples": (
        lambda r: _samples(2)(r)["values"]["residual"].reverse(),
        r"per_seed\[2\]\.uq\.indicators\.residual does not agree with the per-seed samples",
    ),
    "seeds on different samples": (
        lambda r: _samples(1)(r)["count"].reverse(),
        r"per_seed\[1\]\.uq\.samples\.count differs from seed 0's",
    ),
    "seed error mean": (
        lambda r: r["per_seed"][0]["uq"].__setitem__("error_mean", 9.0),
        r"per_seed\[0\]\.uq\.error_mean is 9\.0, but",
    ),
    "seed baselines missing": (lambda r: r["per_seed"][0]["uq"].pop("baselines"), r"per_seed\[0\]\.uq\.baselines"),
}


@pytest.mark.parametrize("case", sorted(UQ_CASES))
def test_bad_uq_blocks_are_refused_with_one_line(lb, make, case):
    change, match = UQ_CASES[case]
    path = redigest(make(uq=ALL_UQ, images=False), change)
    _refused(path, lb, match)


def _score(i, name):
    return lambda r: (r["per_seed"][i]["consistency"] if i is not None else r["consistency"])[name]


CONSISTENCY_CASES = {
    "null": (lambda r: r.__setitem__("consistency", None), r"consistency must be an object .*got null"),
    "negative error": (
        lambda r: _score(None, "superposition")(r)["mean"].__setitem__("mean", -0.1),
        r"consistency\.superposition\.mean\.mean must lie in >= 0",
    ),
    "unknown run-level key": (
        lambda r: r["consistency"].__setitem__("smoothness", {"status": "ok"}),
        r"consistency has unknown key\(s\) smoothness",
    ),
    "bad status": (
        _set(_score(None, "flux_balance"), "status", "skipped"),
        r"consistency\.flux_balance\.status must be",
    ),
    "aggregate disagrees": (
        lambda r: _score(None, "equivariance")(r)["max"].__setitem__("mean", 0.5),
        r"consistency does not agree with the per-seed scores: consistency\.equivariance\.max\.mean",
    ),
    "run-level block missing": (
        lambda r: r.pop("consistency"),
        r"consistency is missing, but the seeds have consistency scores",
    ),
    "seed positive most_negative": (
        _set(_score(0, "maximum_principle"), "most_negative", 0.5),
        r"per_seed\[0\]\.consistency\.maximum_principle\.most_negative must lie in <= 0",
    ),
    "seed share above 1": (
        _set(_score(1, "maximum_principle"), "negative_share", 1.5),
        r"per_seed\[1\]\.consistency\.maximum_principle\.negative_share must lie in \[0, 1\]",
    ),
    "seed score missing": (
        lambda r: r["per_seed"][2]["consistency"].pop("equivariance"),
        r"per_seed\[2\]\.consistency\.equivariance is missing",
    ),
    "seed field missing": (
        _drop(_score(0, "superposition"), "max"),
        r"per_seed\[0\]\.consistency\.superposition\.max is missing",
    ),
    "seed unknown key": (
        lambda r: r["per_seed"][0]["consistency"].__setitem__("energy", 1.0),
        r"per_seed\[0\]\.consistency has unknown key\(s\) energy",
    ),
    "seed text value": (
        _set(_score(0, "flux_balance"), "mean", "small"),
        r"per_seed\[0\]\.consistency\.flux_balance\.mean is not a consistency field",
    ),
    "seed transforms": (
        _set(_score(0, "equivariance"), "transforms", "rot90"),
        r"transforms must be a list of symmetry names",
    ),
    "seed count": (_set(_score(0, "superposition"), "n_pairs", -3), r"superposition\.n_pairs must be an integer >= 0"),
    "seed not applicable without reason": (
        lambda r: r["per_seed"][0]["consistency"].__setitem__("equivariance", {"status": "not applicable"}),
        r"per_seed\[0\]\.consistency\.equivariance\.reason must say why",
    ),
    "seed error block malformed": (
        lambda r: r["per_seed"][0].__setitem__("consistency", {"status": "error"}),
        r"per_seed\[0\]\.consistency is a failed block and must be",
    ),
    "missing in one seed": (
        lambda r: r["per_seed"][1].pop("consistency"),
        r"per_seed\[1\]\.consistency is missing; the consistency scores are in every seed or in none",
    ),
}


@pytest.mark.parametrize("case", sorted(CONSISTENCY_CASES))
def test_bad_consistency_blocks_are_refused_with_one_line(lb, make, case):
    change, match = CONSISTENCY_CASES[case]
    path = redigest(make(consistency=True, images=False), change)
    _refused(path, lb, match)


def test_a_bad_uq_block_is_refused_by_the_cli_in_one_line(lb, make, capsys):
    path = redigest(
        make(uq=ALL_UQ, images=False), lambda r: r["uq"]["indicators"]["residual"]["auroc"].__setitem__("estimate", 7.0)
    )
    assert main(["submit", str(path), "--leaderboard", str(lb)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: ")
        and err.count("\n") == 1
        and "uq.indicators.residual.auroc.estimate must lie in [0, 1]" in err
    )


def test_check_result_is_independent_of_key_order(make):
    result = load(make(uq=ALL_UQ, consistency=True, images=False))
    shuffled = copy.deepcopy(result)
    shuffled["uq"]["indicators"] = dict(reversed(list(shuffled["uq"]["indicators"].items())))
    assert check_result(shuffled, "x").digest == check_result(result, "y").digest


# --------------------------------------------------------------------------- cost


def test_cost_fields_are_accepted_and_recomputed(lb, make):
    sub = submit(make(mutate=with_cost, images=False), lb, today="2025-01-01")
    cost = sub.result["cost"]
    assert cost["flops_per_sample"] == 11_649_024 and cost["parameters"] == sub.result["model"]["parameters"]
    assert cost["speedup_at_equal_accuracy"] == pytest.approx(0.01 / (2.4e-3 * 1.01)) and cost["speedup_digits"] == 2


def _seed(i, key):
    return lambda r: r["per_seed"][i][key]


def _then_cost(change):
    def both(r):
        change(r)
        from diffbench.results.cost import run_cost

        r["cost"] = run_cost(r["per_seed"])  # a consistent run-level block: the per-seed check must catch it

    return both


COST_CASES = {
    "FLOPs differ between seeds": (
        _then_cost(_set(_seed(1, "inference"), "flops_per_sample", 12)),
        r"per_seed\[1\]\.inference\.flops_per_sample differs from seed 0's",
    ),
    "FLOPs missing in one seed": (
        lambda r: r["per_seed"][2]["inference"].pop("flops_per_sample"),
        r"per_seed\[2\]\.inference\.flops_per_sample is missing; the cost fields are in every seed or in none",
    ),
    "minimum above the median": (
        _then_cost(_set(_seed(0, "solver"), "s_per_sample", 1.0)),
        r"per_seed\[0\]\.solver must have s_per_sample \(the minimum\) <= median_s_per_sample",
    ),
    "parameters not the model's": (
        _set(_seed(0, "inference"), "parameters", 7),
        r"per_seed\[0\]\.inference\.parameters is 7, but model\.parameters",
    ),
    "matched solver less accurate than the network": (
        _then_cost(lambda r: r["per_seed"][1]["solver_matched"].__setitem__("nmae", 0.5)),
        r"per_seed\[1\]\.solver_matched\.nmae must lie in \[0, ",
    ),
    "matched to another target": (
        _then_cost(_set(_seed(0, "solver_matched"), "target_nmae", 0.5)),
        r"per_seed\[0\]\.solver_matched\.target_nmae is 0\.5, but the seed's test nmae",
    ),
    "tolerance off the ladder": (
        _then_cost(_set(_seed(0, "solver_matched"), "tol", 0.2)),
        r"per_seed\[0\]\.solver_matched\.tol must be one of",
    ),
    "speed-up not from the timings": (
        lambda r: r["cost"].__setitem__("speedup_at_equal_accuracy", 9.0),
        r"cost\.speedup_at_equal_accuracy is 9\.0, but the per-seed timings give",
    ),
    "load average": (
        _then_cost(_set(_seed(0, "inference"), "load_average", [1.0])),
        r"per_seed\[0\]\.inference\.load_average must be",
    ),
}


@pytest.mark.parametrize("case", sorted(COST_CASES))
def test_bad_cost_fields_are_refused_with_one_line(lb, make, case):
    change, match = COST_CASES[case]
    path = redigest(make(mutate=with_cost, images=False), change)
    _refused(path, lb, match)


FORM_CASES = {
    "an interval with an unknown key": (
        lambda r: r["uq"]["indicators"]["residual"]["spearman"].update(extra=1),
        r"uq\.indicators\.residual\.spearman has unknown key\(s\) extra",
    ),
    "a point score in a seed with samples": (
        lambda r: r["per_seed"][0]["uq"]["indicators"]["residual"].update(auroc=0.5),
        r"per_seed\[0\]\.uq\.indicators\.residual\.auroc must be an interval, an underpowered",
    ),
    "a mean ± std in a run with baselines": (
        lambda r: r["uq"]["baselines"]["input-sum"].update(catch_rate={"mean": 0.5, "std": 0.1, "n": 3}),
        r"uq\.baselines\.input-sum\.catch_rate must be an interval, an underpowered",
    ),
    "samples without baselines": (
        lambda r: r["per_seed"][1]["uq"].pop("baselines"),
        r"per_seed\[1\]\.uq\.baselines is missing",
    ),
    "a matched solver with an unknown key": (
        lambda r: r["per_seed"][0]["solver_matched"].update(speedup=9.0),
        r"per_seed\[0\]\.solver_matched has unknown key\(s\) speedup",
    ),
}


@pytest.mark.parametrize("case", sorted(FORM_CASES))
def test_the_new_blocks_are_closed_and_of_one_form(lb, make, case):
    """The interval and matched-solver blocks are closed; a uq block is all intervals (with samples) or all points (without)."""
    change, match = FORM_CASES[case]
    path = redigest(make(uq=ALL_UQ, mutate=with_cost, images=False), change)
    _refused(path, lb, match)


def test_a_result_with_intervals_and_cost_is_checked_without_torch(tmp_path, make):
    """diffbench submit recomputes every uq score from the samples and the cost from the timings
    with the torch-free diffbench.results (on diffbench.stats), never loading torch."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    path = make(uq=ALL_UQ, consistency=True, mutate=with_cost, images=False)
    code = (
        "import sys\nfrom diffbench.submissions.submit import submit\n"
        f"sub = submit({str(path)!r}, {str(tmp_path / 'lb2')!r}, today='2025-01-01')\n"
        "assert sub.result['cost']['speedup_at_equal_accuracy'] > 0 and sub.result['uq']['baselines']\n"
        "print(sorted(m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "DIFFBENCH_LEADERBOARD_DIR": "/nonexistent"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
