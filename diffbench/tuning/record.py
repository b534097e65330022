"""A search's record, ``tune.json``: its format version, the objective trials are scored on and
the pruner's settings (which :func:`diffbench.tuning.search.open_search` uses), and
:func:`summarise`, which reads the search's trials from the storage into the record."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .. import __version__
from ..pipeline.config import RunConfig
from ..pipeline.tuned import TUNE_KIND
from . import storage as storage_mod
from .storage import lost_trials

#: What a trial is scored on (recorded in tune.json and in results trained with its choice).
OBJECTIVE = "val nmae of the best-on-val checkpoint (validation split only; the test split is never read)"
#: tune.json's format version.
TUNE_VERSION = 1
#: Median pruner: trials that always finish before pruning starts, and reports ignored at first.
PRUNER_STARTUP_TRIALS = 2
PRUNER_WARMUP_STEPS = 0


def summarise(study: Any, definition: dict[str, Any], trials: int, command: str, storage: str) -> dict[str, Any]:
    """tune.json: the search's definition, every trial, the chosen one and its run command."""
    from optuna.trial import TrialState
    from sqlalchemy.engine import make_url

    rows = []
    every = study.get_trials(deepcopy=False)
    lost = lost_trials(every)
    for t in every:
        attrs = t.user_attrs
        duration = attrs.get("duration_s")
        error = (
            attrs.get("error")
            if t.number not in lost
            else f"worker lost: no heartbeat for over {storage_mod.GRACE_S} s; retried as trial {lost[t.number]}"
        )
        retry_of = t.system_attrs.get("retry_history")
        rows.append(
            {
                "number": t.number,
                "state": t.state.name,
                "params": dict(t.params),
                "model_args": attrs.get("model_args", {}),
                "val_nmae": t.value if t.state == TrialState.COMPLETE else attrs.get("val_nmae"),
                "val_mae": attrs.get("val_mae"),
                "reports": len(t.intermediate_values),
                "steps_run": attrs.get("steps_run"),
                "epochs_run": attrs.get("epochs_run"),
                "duration_s": round(duration, 3) if isinstance(duration, float) else None,
                "error": error,
                "run_dir": attrs.get("run_dir"),
                "retry_of": int(retry_of[-1]) if isinstance(retry_of, list) and retry_of else None,
            }
        )
    states = {s: sum(r["state"] == s for r in rows) for s in ("COMPLETE", "PRUNED", "FAIL", "RUNNING")}
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    chosen = None
    if complete:
        best = min(complete, key=lambda t: (t.value, t.number))
        options = {"lr": float(best.params["lr"]), "model_args": best.user_attrs.get("model_args", {})}
        run = RunConfig(
            model=definition["model"], task=definition["task"], lr=options["lr"], model_args=options["model_args"]
        )
        chosen = {
            "number": best.number,
            "params": dict(best.params),
            "val_nmae": best.value,
            "options": options,
            "command": run.command(),
            "reproduce": "diffbench run --recipe-from tune.json",
        }
    total = len(rows) - len(lost)
    return {
        "kind": TUNE_KIND,
        "version": TUNE_VERSION,
        "label": f"tuned: best of {total} on val",
        "study_name": study.study_name,
        "storage": make_url(storage).get_backend_name(),
        "model": definition["model"],
        "task": definition["task"],
        "task_spec_hash": definition["task_spec_hash"],
        "objective": definition["objective"],
        "budget": definition["budget"],
        "seed": definition["seed"],
        "space": definition["space"],
        "sampler": {
            "name": "TPESampler",
            "seed": f"{definition['seed']} * 1000003 + trial number",
            "n_startup_trials": max(1, min(10, trials // 2)),
        },
        "pruner": {
            "name": "MedianPruner",
            "n_startup_trials": PRUNER_STARTUP_TRIALS,
            "n_warmup_steps": PRUNER_WARMUP_STEPS,
            "reports": "val nmae at every validation of the fit, by optimiser step",
        },
        "trials_requested": trials,
        "trials_total": total,
        "lost": len(lost),
        "states": states,
        "trials": rows,
        "chosen": chosen,
        "command": command,
        "diffbench_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
