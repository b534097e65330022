"""The README's findings, generated from the shipped data so that a claim cannot drift from it.

Every number the README states about the shipped entries and studies lives in a block between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; ``diffbench leaderboard readme``
rewrites those blocks from ``leaderboard/submissions/`` and ``leaderboard/studies/*/summary.json``,
and ``--check`` (run by the test suite) fails when the README differs from what the data say.
Prose outside the blocks states no shipped number.

Each block gives the command that produced its data and an interval on every number:

* entries and studies that recorded per-sample errors get the two-level bootstrap of
  :mod:`diffbench.stats` (test samples stratified by source count, and the training seeds); a
  study row without them gets the t interval over training seeds
  (:func:`diffbench.stats.seed_interval`), which leaves out the test-set part, and its block says so;
* a sentence comparing two numbers calls a difference only when their intervals do not overlap
  (a conservative rule), otherwise it says that the data cannot tell them apart;
* a score computed on fewer positives than :data:`diffbench.stats.MIN_POSITIVES_AUROC` is
  printed "underpowered", not as a number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..stats import (
    MIN_POSITIVES_AUROC,
    Interval,
)
from ..submissions.stored import Submission, load_submissions
from .board import headline_task
from .claim_text import BOTH, apart, show
from .rows import board_rows
from .study_claims import axes_block, generalisation_block, scaling_block

#: The marker pair around a generated block.
BEGIN = "<!-- generated:{name} -->"
END = "<!-- /generated:{name} -->"
BLOCK = re.compile(r"<!-- generated:(?P<name>[a-z0-9-]+) -->\n(?P<body>.*?)<!-- /generated:(?P=name) -->", re.S)


# ------------------------------------------------------------------------------- blocks


def _entry_name(r: Any) -> str:
    """An entry's model, marked when it was trained for the uncertainty board (with dropout, ``--uq``)."""
    return f"`{r.model}`" + (" (`--uq`: trained with dropout)" if isinstance(r.r.get("uq"), dict) else "")


def _headline(subs: list[Submission], studies: Path) -> list[str]:
    """The ranked baselines of the default task: paired tied ranks, intervals, how each was tuned and stopped, cost."""
    task = headline_task()
    rows = [r for r in board_rows([s for s in subs if s.task == task]) if r.sub.ranked]
    if not rows:
        return [f"No ranked entry is shipped on `{task}`."]
    out = [
        "| rank | model | tuned learning rate | test nMAE | MAE at sources | worst pixel | stopped early / at the cap | "
        "FLOPs / sample | speed-up at equal accuracy | command |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        training = r.r.get("training") or {}
        tuning = training.get("tuning") or {}
        lr = (training.get("recipe") or {}).get("lr")
        tuned = (
            f"{lr:.2g} ({tuning['label']})"
            if tuning.get("label") and isinstance(lr, (int, float))
            else (f"{lr:.2g} (untuned)" if isinstance(lr, (int, float)) else "n/a")
        )
        stops = [s.get("stop") or {} for s in r.r["per_seed"]]
        capped = sum(s.get("reason") == "budget_capped" for s in stops)
        flops = f"{r.cost['flops']:.2g}" if isinstance(r.cost.get("flops"), (int, float)) else "n/a"
        speed = r.cost.get("speedup_text") or "n/a"
        out.append(
            f"| {r.rank_text} | {_entry_name(r)} | {tuned} | {r.interval_text('nmae') or 'n/a'} | "
            f"{r.interval_text('mae_sources') or 'n/a'} | {r.interval_text('max_abs_error') or 'n/a'} | "
            f"{len(stops) - capped} / {capped} | {flops} | {speed} | `{r.res.command}` |"
        )
    at_sources = [
        _entry_name(r)
        for r in rows
        if apart(_score_iv(r.interval("mae_sources")), _score_iv(r.interval("mae")))
        and r.interval("mae_sources")["low"] > r.interval("mae")["high"]
    ]
    out += [
        "",
        "The MAE on source cells lies wholly above the lattice-wide MAE (test MAE "
        + ", ".join(f"{_entry_name(r)} {r.interval_text('mae')}" for r in rows)
        + f") for {len(at_sources)} of {len(rows)} entries"
        + (
            ": the largest errors sit at the sources, as the paper found."
            if at_sources and len(at_sources) == len(rows)
            else f" ({', '.join(at_sources) or 'none'}); for the others the data cannot tell."
        ),
    ]
    leaders = [_entry_name(r) for r in rows if r.rank == 1]
    out += [
        "",
        f"Rank 1 ({'tied: ' if len(leaders) > 1 else ''}{', '.join(leaders)}): the leader and every entry whose paired "
        "difference in test nMAE from it is not significant (Holm-corrected, 5 %); lower ranks the same way below them "
        "(`diffbench.stats.tied_ranks`).",
        "",
        BOTH,
    ]
    return out


def _score_iv(score: Any) -> Interval | None:
    """A run-level uq score ``{"estimate", "low", "high"}`` as an interval (None: underpowered or absent)."""
    if (
        not isinstance(score, dict)
        or score.get("underpowered")
        or not all(isinstance(score.get(k), (int, float)) for k in ("estimate", "low", "high"))
    ):
        return None
    return Interval(float(score["estimate"]), float(score["low"]), float(score["high"]), "", 0, 0)


def _score_text(score: Any) -> str:
    if isinstance(score, dict) and score.get("underpowered"):
        return f"underpowered ({score.get('positives')} < {score.get('required')})"
    return show(_score_iv(score))


def _headline_uq(subs: list[Submission], studies: Path) -> list[str]:
    """The uncertainty board of the default task: every indicator and trivial baseline, scored alike, with intervals."""
    task = headline_task()
    rows = [
        s
        for s in subs
        if s.task == task and isinstance(s.result.get("uq"), dict) and isinstance(s.result["uq"].get("baselines"), dict)
    ]
    if not rows:
        return [f"No entry with indicators is shipped on `{task}`."]
    out: list[str] = []
    for s in sorted(rows, key=lambda s: s.result["model"]["name"]):
        r, uq = s.result, s.result["uq"]
        out += [
            f"`{r['model']['name']}`, {len(r['seeds'])} seeds, {r['data']['n_test']} test samples (`{r['command']}`):",
            "",
            "| signal | kind | Spearman with the error | AUROC, worst 5 % | worst 1 % caught in the top 10 % |",
            "|---|---|---|---|---|",
        ]
        best_baseline: Interval | None = None
        scored: list[tuple[str, Interval | None]] = []
        for kind, group in (("indicator", "indicators"), ("trivial baseline", "baselines")):
            for name, block in sorted((uq.get(group) or {}).items()):
                if not isinstance(block, dict) or block.get("status") != "ok":
                    reason = block.get("reason", "not computed") if isinstance(block, dict) else "not computed"
                    out.append(f"| {name} | {kind} | n/a: {reason} | n/a | n/a |")
                    continue
                auroc = _score_iv(block.get("auroc"))
                out.append(
                    f"| {name} | {kind} | {_score_text(block.get('spearman'))} | {_score_text(block.get('auroc'))} | "
                    f"{_score_text(block.get('catch_rate'))} |"
                )
                if kind == "indicator":
                    scored.append((name, auroc))
                elif auroc is not None and (best_baseline is None or auroc.estimate > best_baseline.estimate):
                    best_baseline = auroc
        beat = [n for n, iv in scored if iv is not None and best_baseline is not None and iv.low > best_baseline.high]
        out += [
            "",
            "Indicators whose AUROC interval lies wholly above the best trivial baseline's: "
            + (
                ", ".join(f"`{n}`" for n in beat)
                if beat
                else "none; no indicator is shown to beat the trivial baselines here"
            )
            + ".",
            "",
        ]
    out.append(
        "Intervals: 95 %, over training seeds and test samples (stratified by source count; `diffbench.stats`). "
        f"An AUROC or caught share needs at least {MIN_POSITIVES_AUROC} positives per seed, else it reads underpowered."
    )
    return out


#: Block name -> generator(submissions, studies folder) -> Markdown lines.
BLOCKS: dict[str, Callable[[list[Submission], Path], list[str]]] = {
    "headline-baselines": _headline,
    "headline-uq": _headline_uq,
    "data-scaling": scaling_block,
    "generalisation": generalisation_block,
    "axes": axes_block,
}


# ------------------------------------------------------------------------------- the README


def render_blocks(leaderboard: Path) -> dict[str, str]:
    """Every block's Markdown from the leaderboard's submissions and studies."""
    subs = load_submissions(leaderboard)
    studies = Path(leaderboard) / "studies"
    return {name: "\n".join(make(subs, studies)).rstrip() + "\n" for name, make in BLOCKS.items()}


def update_readme(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each generated block's body replaced; every block must be present once."""
    found = [m.group("name") for m in BLOCK.finditer(text)]
    for name in blocks:
        if found.count(name) != 1:
            raise DiffbenchError(
                f"the README must hold the block {BEGIN.format(name=name)} ... {END.format(name=name)} "
                f"exactly once (found {found.count(name)})"
            )
    unknown = sorted(set(found) - set(blocks))
    if unknown:
        raise DiffbenchError(
            f"the README holds unknown generated block(s) {', '.join(unknown)}; known: {', '.join(blocks)}"
        )
    return BLOCK.sub(
        lambda m: f"{BEGIN.format(name=m.group('name'))}\n{blocks[m.group('name')]}{END.format(name=m.group('name'))}",
        text,
    )


def readme(path: Path, leaderboard: Path, *, check: bool) -> bool:
    """Rewrite (or with ``check`` only compare) the README's generated blocks; True when up to date."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DiffbenchError(f"cannot read {path}: {exc}") from None
    new = update_readme(text, render_blocks(leaderboard))
    if new == text:
        return True
    if not check:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(new, encoding="utf-8")
        tmp.replace(path)
    return False
