"""The trust stage of a run: what it adds to each seed's result after testing, and to the
run's result after the last seed (``consistency`` always, ``uq`` with ``--uq``).

:func:`seed_trust` scores one trained seed, :func:`run_ensemble` adds the ensemble indicator
once every seed is trained, :func:`trust_aggregate` builds the run-level blocks and
:func:`log_to_wandb` puts the scores into a seed's W&B run. It is called by
:mod:`diffbench.pipeline.run` and knows nothing of what comes after it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..training.module import SurrogateModule
from ..training.wandb_logging import warn
from .consistency import aggregate_consistency, consistency_scores, spread_subset
from .indicators import aggregate_uq, ensemble_indicators, seed_indicators
from .inverse import INVERSE_FILE, load_or_train_inverse
from .scores import SCORE_KEYS, not_applicable
from .tensors import seeded


def log_to_wandb(logger: Any, blocks: Mapping[str, Any]) -> None:
    """Put the ``uq`` and ``consistency`` scores into the W&B run's summary; never raises."""
    if logger is None:
        return
    try:
        summary: dict[str, Any] = {}
        uq = blocks.get("uq") or {}
        for name, row in [*(uq.get("indicators") or {}).items(), *(uq.get("baselines") or {}).items()]:
            for key in SCORE_KEYS:
                value = row.get(key)
                if isinstance(value, dict) and value.get("estimate") is not None:
                    summary[f"uq/{name}/{key}"] = value["estimate"]
        for name, row in (blocks.get("consistency") or {}).items():
            if isinstance(row, dict):
                for key, value in row.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "n_samples":
                        summary[f"consistency/{name}/{key}"] = value
        if summary:
            logger.experiment.summary.update(summary)
    except Exception as exc:  # noqa: BLE001 - W&B must never break a run
        warn(f"could not log uq/consistency scores ({type(exc).__name__}: {exc})")


def seed_trust(
    model: torch.nn.Module,
    task: Any,
    dm: Any,
    device: torch.device,
    *,
    uq: Sequence[str],
    out_dir: Path,
    max_epochs: int,
    seed: int = 0,
    inverse_seed: int = 0,
) -> dict[str, Any]:
    """Everything :func:`diffbench.pipeline.run.run` adds to a seed's result after testing (on
    rank 0): ``consistency`` always, ``uq`` when indicators are asked for (``uq``). The inverse
    network is trained once per run (kept in ``out_dir``, seeded with ``inverse_seed``, for the
    run's ``max_epochs``). A failure in the consistency block is recorded in it
    (``status: "error"``) and never loses the seed."""
    blocks: dict[str, Any] = {}
    try:
        blocks["consistency"] = consistency_scores(
            model, spread_subset(dm.datasets["test"]), task, device, batch_size=dm.eval_batch_size
        )
    except Exception as exc:  # noqa: BLE001 - a consistency failure is recorded, the seed is kept
        print(
            f"warning: consistency scores failed ({type(exc).__name__}: {exc}); recorded in result.json",
            file=sys.stderr,
        )
        blocks["consistency"] = {"status": "error", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    uq = list(uq or [])
    if not uq:
        return blocks
    inverse = inverse_info = None
    if "inverse" in uq:
        # the run's epoch budget (a step-budgeted run, max_epochs -1, uses the task's default epochs)
        epochs = max_epochs if max_epochs >= 1 else int(task.training.get("max_epochs", 20))
        inverse, inverse_info = load_or_train_inverse(
            out_dir / INVERSE_FILE,
            dm.datasets["train"],
            dm.datasets["val"],
            task,
            epochs=epochs,
            batch_size=dm.batch_size,
            seed=inverse_seed,
            device=device,
        )
    with seeded(seed, device):  # the MC-dropout masks
        block = seed_indicators(
            model, dm.datasets["test"], uq, batch_size=dm.eval_batch_size, device=device, inverse=inverse
        )
    if inverse_info is not None:
        block["inverse_model"] = inverse_info
    blocks["uq"] = block
    return blocks


def run_ensemble(
    per_seed: list[dict[str, Any]], task: Any, dm: Any, out_dir: Path, accelerator: str, *, uq: Sequence[str]
) -> None:
    """After the last seed: the ensemble indicator (when ``uq`` asks for it), written into each
    seed's ``uq`` block."""
    if "ensemble" not in (uq or []):
        return
    device = torch.device("cuda" if accelerator == "gpu" else "cpu")
    models, seeds = [], []
    for s in per_seed:
        ckpt = s.get("best_checkpoint")
        if ckpt:
            models.append(
                SurrogateModule.load(str(out_dir / ckpt), expect_task_hash=task.spec_hash).model.to(device).eval()
            )
            seeds.append(s["seed"])
    spread, scores = ensemble_indicators(
        models, seeds, dm.datasets["test"], batch_size=dm.eval_batch_size, device=device
    )
    for s in per_seed:
        if s.get("uq") is not None:
            row = scores.get(s["seed"], not_applicable("no best checkpoint"))
            s["uq"].setdefault("indicators", {})["ensemble"] = row
            if row.get("status") == "ok" and spread is not None:
                s["uq"].setdefault("samples", {}).setdefault("values", {})["ensemble"] = spread


def trust_aggregate(per_seed: Sequence[Mapping[str, Any]], *, uq: Sequence[str]) -> dict[str, Any]:
    """The run-level ``consistency`` block and, when indicators were asked for, ``uq``."""
    out: dict[str, Any] = {}
    cons = aggregate_consistency([s.get("consistency") for s in per_seed])
    if cons:
        out["consistency"] = cons
    if uq:
        out["uq"] = aggregate_uq(per_seed, list(uq))
    return out
