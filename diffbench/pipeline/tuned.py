"""The recipe a ``tune.json`` chose, as ``diffbench run --recipe-from`` reads it: the file's kind,
the options a choice sets and :func:`load_tuned` (which checks it; applying it to a run's
options is :func:`diffbench.pipeline.config.apply_tuned`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError

#: What ``diffbench tune`` writes (``"kind"`` of a tune.json) and the options its choice sets.
TUNE_KIND = "diffbench-tune"
TUNED_OPTIONS = ("lr", "model_args")


def load_tuned(path: str) -> dict[str, Any]:
    """The choice recorded in a ``tune.json`` (see :mod:`diffbench.tuning`): ``{"model",
    "task", "options": {lr, model_args}, "tuning": provenance}``, checked; one-line errors."""
    try:
        raw = Path(path).read_bytes()
        doc = json.loads(raw)
    except FileNotFoundError:
        raise DiffbenchError(
            f"--recipe-from {path} does not exist; pass the tune.json that `diffbench tune` wrote"
        ) from None
    except OSError as exc:
        raise DiffbenchError(f"--recipe-from {path} cannot be read ({exc.strerror})") from None
    except ValueError:
        raise DiffbenchError(
            f"--recipe-from {path} is not JSON; pass the tune.json that `diffbench tune` wrote"
        ) from None
    if not isinstance(doc, dict) or doc.get("kind") != TUNE_KIND:
        raise DiffbenchError(
            f"--recipe-from {path} is not a tune.json written by `diffbench tune` (no kind {TUNE_KIND!r})"
        )
    chosen = doc.get("chosen")
    if not isinstance(chosen, dict) or not isinstance(chosen.get("options"), dict):
        raise DiffbenchError(
            f"--recipe-from {path} records no chosen trial (no trial of its search finished); tune again or pass --lr"
        )
    options = chosen["options"]
    if (
        set(options) - set(TUNED_OPTIONS)
        or not isinstance(options.get("lr"), (int, float))
        or isinstance(options.get("lr"), bool)
        or not isinstance(options.get("model_args", {}), dict)
    ):
        raise DiffbenchError(
            f"--recipe-from {path}: chosen options must be {', '.join(TUNED_OPTIONS)}, got {options!r}"
        )
    provenance = {
        "label": doc.get("label"),
        "study_name": doc.get("study_name"),
        "trials": doc.get("trials_total"),
        "chosen_trial": chosen.get("number"),
        "val_nmae": chosen.get("val_nmae"),
        "budget": doc.get("budget"),
        "objective": doc.get("objective"),
        "tune_command": doc.get("command"),
        "tune_sha256": hashlib.sha256(raw).hexdigest(),
    }
    return {"model": doc.get("model"), "task": doc.get("task"), "options": dict(options), "tuning": provenance}
