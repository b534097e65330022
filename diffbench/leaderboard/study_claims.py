"""The README's findings about the shipped studies, generated from their ``summary.json``
(:mod:`diffbench.leaderboard.claims` holds the machinery and the blocks about entries): the
data-scaling fit and its verdict recomputed from the rows, the generalisation ratios, the axes
ranking; each block opens with the study's design (models, tasks, seeds, budget, stopping rule,
where the learning rate came from) and ends with the command of every run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..stats import Interval
from ..studies.scaling import fit_log_law
from ..submissions.stored import Submission
from .claim_text import BOTH, MIXED, SEEDS_ONLY, apart, interval_of, ratio_text, recipe_text, show, summary_interval


def _study(studies: Path, name: str) -> dict[str, Any]:
    path = studies / name / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DiffbenchError(f"cannot read {path}: {exc}") from None


def _commands(rows: list[dict[str, Any]]) -> list[str]:
    return ["Commands (one per run, as recorded in the study's summary.json):", ""] + [
        f"- `{r['command']}`" for r in rows
    ]


def row_iv(row: dict[str, Any]) -> Interval | None:
    """A study row's test nMAE interval: over test samples and seeds when its run kept per-sample
    errors (``intervals``), else over the seeds only (:func:`interval_of`)."""
    iv = (
        ((row.get("intervals") or {}).get("metrics") or {}).get("nmae")
        if isinstance(row.get("intervals"), dict)
        else None
    )
    if isinstance(iv, dict):
        return Interval(
            float(iv["estimate"]),
            float(iv["low"]),
            float(iv["high"]),
            str(row["intervals"].get("method", "")),
            int(row["intervals"].get("n_seeds", 0)),
            int(row["intervals"].get("n_samples", 0)),
        )
    return interval_of(row.get("per_seed_nmae") or [])


def _interval_note(rows: Sequence[dict[str, Any]]) -> str:
    if all(isinstance(r.get("intervals"), dict) for r in rows):
        return BOTH
    return SEEDS_ONLY if not any(isinstance(r.get("intervals"), dict) for r in rows) else BOTH + " " + MIXED


def design(spec: dict[str, Any]) -> str:
    """The study's design in one sentence: models, tasks, seeds, budget, stopping rule and where
    the learning rate came from (``recipe_from``)."""
    budget = (f"at most {spec['steps']} optimisation steps" if spec.get("steps") else "its epoch budget") + (
        ", stopped early when validation stopped improving" if spec.get("early_stopping") else ""
    )
    return (
        f"`{', '.join(spec['models'])}` on `{', '.join(spec['tasks'])}`, {len(spec['seeds'])} seeds, {budget} "
        f"(learning rate: {recipe_text(spec.get('recipe_from'))})."
    )


def stops_cell(row: dict[str, Any]) -> str:
    """``early / capped``: how many of the row's seeds stopped early and how many at the cap."""
    stops = row.get("stops")
    if not stops:
        return "—"
    return f"{sum(x.get('reason') != 'budget_capped' for x in stops)} / {sum(x.get('reason') == 'budget_capped' for x in stops)}"


def transfer_iv(t: dict[str, Any]) -> Interval | None:
    """A transfer evaluation's test nMAE interval: two-level when every seed kept per-sample
    errors (``interval``), else over the seeds."""
    iv = t.get("interval")
    if isinstance(iv, dict):
        return Interval(
            float(iv["estimate"]),
            float(iv["low"]),
            float(iv["high"]),
            str(iv.get("method", "")),
            int(iv.get("n_seeds", 0)),
            int(iv.get("n_samples", 0)),
        )
    return summary_interval(t.get("nmae"))


def scaling_block(subs: list[Submission], studies: Path) -> list[str]:
    summary = _study(studies, "data-scaling")
    rows = sorted(summary["rows"], key=lambda r: r["n_train"])
    out = [
        design(summary["study"]),
        "",
        "| n_train | " + " | ".join(str(r["n_train"]) for r in rows) + " |",
        "|---|" + "---|" * len(rows),
        "| test nMAE | " + " | ".join(show(row_iv(r)) for r in rows) + " |",
        "| seeds stopped early / at the cap | " + " | ".join(stops_cell(r) for r in rows) + " |",
        "",
    ]
    # recomputed from the rows (not read from the summary's stored fit), so the sentence is what the data say
    fits = {m: fit_log_law([r for r in rows if r["model"] == m]) for m in sorted({r["model"] for r in rows})}
    for model, fit in fits.items():
        if not fit:
            out.append(f"`{model}`: too few sizes with an interval for a fit.")
            continue
        out.append(f"`{model}`: {fit['law']} ({fit['method']}). **{fit['verdict']}**")
    out += ["", _interval_note(rows), ""] + _commands(rows)
    return out


def generalisation_block(subs: list[Submission], studies: Path) -> list[str]:
    summary = _study(studies, "generalisation")
    rows = summary["rows"]
    out = [
        design(summary["study"]),
        "",
        "| model | trained on | tested on | test nMAE | × its own test | seeds stopped early / at the cap |",
        "|---|---|---|---|---|---|",
    ]
    transfers = []
    # A row per run on its own test split, then one per task it was also evaluated on.
    for r in sorted(rows, key=lambda r: (r["model"], r["task"])):
        own = row_iv(r)
        out.append(f"| `{r['model']}` | `{r['task']}` | its own test split | {show(own)} | 1 | {stops_cell(r)} |")
        for task, t in sorted((r.get("transfer") or {}).items()):
            if not isinstance(t, dict) or t.get("status") != "ok":
                reason = t.get("reason", "cannot run") if isinstance(t, dict) else "cannot run"
                out.append(f"| `{r['model']}` | `{r['task']}` | `{task}` | {reason} | n/a | (the same seeds) |")
                continue
            transfers.append(t)
            other = transfer_iv(t)
            note = "" if apart(own, other) else " (intervals overlap)"
            out.append(
                f"| `{r['model']}` | `{r['task']}` | `{task}` | {show(other)} | {ratio_text(other, own)}{note} "
                "| (the same seeds) |"
            )
    how = (
        "the same two-level bootstrap over the target task's test samples and the seeds"
        if transfers and all(isinstance(t.get("interval"), dict) for t in transfers)
        else "t intervals over the seeds"
    )
    out += [
        "",
        _interval_note(rows) + f" Transfer evaluations: {how}. A ratio marked \"intervals overlap\" "
        "is not a demonstrated change.",
        "",
    ] + _commands(rows)
    return out


def axes_block(subs: list[Submission], studies: Path) -> list[str]:
    summary = _study(studies, "axes")
    ivs = {r["task"]: row_iv(r) for r in summary["rows"]}
    rows = sorted(
        summary["rows"],
        key=lambda r: (
            ivs[r["task"]].estimate if ivs[r["task"]] is not None else sum(r["per_seed_nmae"]) / len(r["per_seed_nmae"])
        ),
    )
    out = [
        design(summary["study"]),
        "",
        "| task | model | test nMAE | seeds stopped early / at the cap |",
        "|---|---|---|---|",
    ]
    out += [f"| `{r['task']}` | `{r['model']}` | {show(ivs[r['task']])} | {stops_cell(r)} |" for r in rows]
    easiest, hardest = rows[0]["task"], rows[-1]["task"]
    harder = [t for t in ivs if apart(ivs[t], ivs[easiest]) and ivs[t].estimate > ivs[easiest].estimate]
    out += [
        "",
        f"Hardest: `{hardest}`; easiest: `{easiest}`. Tasks whose interval lies wholly above the easiest's: "
        f"{', '.join(f'`{t}`' for t in harder) or 'none'}; the others cannot be told apart from it with these seeds.",
        "",
        _interval_note(rows),
        "",
    ] + _commands(rows)
    return out
