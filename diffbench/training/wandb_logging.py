"""Weights & Biases, never at the cost of the local result.

Mode: ``online`` when an API key is configured (``WANDB_API_KEY`` or a ``~/.netrc`` entry
for api.wandb.ai), else ``offline`` (runs land in ``<out>/wandb/offline-run-*`` for a later
``wandb sync``); ``disabled`` turns it off. Any W&B failure becomes a warning. The run's
folder is recorded relative to the run's output folder (``wandb/offline-run-*``).
"""

from __future__ import annotations

import netrc
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiffbenchError

MODES = ("online", "offline", "disabled")


def default_mode() -> str:
    if os.environ.get("WANDB_MODE") in MODES:
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        rc = netrc.netrc()
        if rc.authenticators("api.wandb.ai"):
            return "online"
    except (OSError, netrc.NetrcParseError):
        pass
    return "offline"


def check_mode(mode: str | None) -> str:
    mode = mode or default_mode()
    if mode not in MODES:
        raise DiffbenchError(f"unknown W&B mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


def warn(msg: str) -> None:
    print(f"warning: W&B: {msg}; the local result is unaffected", file=sys.stderr)


def make_logger(
    mode: str, save_dir: Path, *, project: str, group: str, name: str, config: dict[str, Any], tags: list[str]
) -> Any:
    """A Lightning ``WandbLogger`` whose run already started, or None when W&B is off or fails."""
    if mode == "disabled":
        return None
    try:
        from lightning.pytorch.loggers import WandbLogger

        os.environ.setdefault("WANDB_SILENT", "true")
        logger = WandbLogger(
            project=project,
            group=group,
            name=name,
            save_dir=str(save_dir),
            mode=mode,
            config=config,
            tags=tags,
            job_type="train",
            reinit="create_new",
        )
        # Lightning always passes ``anonymous`` to wandb.init, which then warns that the setting has
        # no effect; diffbench never sets it, so it is not passed at all.
        getattr(logger, "_wandb_init", {}).pop("anonymous", None)
        _ = logger.experiment  # start now, so failures surface here and not mid-training
        return logger
    except Exception as exc:  # noqa: BLE001 - W&B must never break a run
        warn(f"could not start a run ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})")
        return None


def run_relative(path: Path, run_dir: str | None) -> str:
    """``path`` relative to the run folder ``run_dir`` (no local absolute path goes into a
    result), else its last two parts."""
    from ..results.paths import relative_to_run

    try:
        if run_dir is not None:
            return Path(path).absolute().relative_to(Path(run_dir).absolute()).as_posix()
    except ValueError:
        pass
    return relative_to_run(str(path), Path(run_dir).name if run_dir else "")


def log_results(logger: Any, results: dict[str, Any], images: list[tuple[str, np.ndarray]]) -> dict[str, Any] | None:
    """Log test metrics, the per-source-count table and images; return where the run lives."""
    if logger is None:
        return None
    try:
        import wandb

        run = logger.experiment
        run.summary.update(
            {f"test/{k}": v for k, v in results.items() if isinstance(v, (int, float)) and v is not None}
        )
        per_count = results.get("per_count") or {}
        if per_count:
            cols = ["count"] + sorted({k for v in per_count.values() for k in v})
            table = wandb.Table(columns=cols)
            for c, row in sorted(per_count.items(), key=lambda kv: int(kv[0])):
                table.add_data(int(c), *[row.get(k) for k in cols[1:]])
            run.log({"test/per_count": table})
        if images:
            run.log({"test/examples": [wandb.Image(img, caption=cap) for cap, img in images]})
        info = {
            "mode": run.settings.mode if hasattr(run.settings, "mode") else None,
            "id": run.id,
            "dir": run_relative(Path(run.dir).parent, getattr(logger, "save_dir", None)),
        }
        url = getattr(run, "url", None)
        if url:
            info["url"] = url
        run.finish()
        return info
    except Exception as exc:  # noqa: BLE001
        warn(f"could not log results ({type(exc).__name__}: {exc})")
        return None
