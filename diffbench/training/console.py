"""What a run says on the console: none of the libraries' noise that does not concern the user,
and where its W&B runs went.

:func:`quiet_foreign_noise` silences, each by its exact message (every other warning and log
line stays): Lightning's ``isinstance(treespec, LeafSpec)`` deprecation (raised by Lightning's
own code against torch's), its "💡 Tip: ... litlogger" advert, and under DDP its advice to
log epoch-level values with ``sync_dist=True`` (diffbench's metrics are gathered by the
evaluator itself, and ``val/loss`` is synced). :func:`wandb_lines` are the lines the run
prints about W&B: where each run went and, offline, the ``wandb sync`` command.

>>> wandb_lines([{"mode": "offline", "dir": "wandb/offline-run-1"}], "/runs/x")
['W&B: offline run(s) saved in /runs/x/wandb; upload with: wandb sync /runs/x/wandb/offline-run-1']
>>> wandb_lines([{"mode": "online", "url": "https://wandb.ai/me/diffbench/runs/abc"}], "/runs/x")
['W&B: https://wandb.ai/me/diffbench/runs/abc']
>>> wandb_lines([None], "/runs/x")
[]
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

#: Warnings silenced, as regular expressions matched against the start of their message.
FOREIGN_WARNINGS = (
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
    r"It is recommended to use `self\.log\('[^']*', \.\.\., sync_dist=True\)` when logging on epoch level in distributed setting",
)
#: Lightning's informational lines dropped, by the start of their text.
FOREIGN_INFO = ("💡 Tip: For seamless cloud logging and experiment tracking, try installing [litlogger]",)


class _DropMessages(logging.Filter):
    """Drops log records whose message starts with one of ``prefixes``."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.prefixes)


def quiet_foreign_noise() -> None:
    """Install the filters above (idempotent); every other warning and log line is kept."""
    for pattern in FOREIGN_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(FOREIGN_INFO))


def wandb_lines(seeds_wandb: Iterable[dict[str, Any] | None], run_dir: str | PurePath) -> list[str]:
    """One line per W&B mode used: the online runs' URLs, or where the offline runs are kept
    (``dir`` relative to ``run_dir``) and the ``wandb sync`` command that uploads them."""
    seeds = [w for w in seeds_wandb if w]
    online = [w["url"] for w in seeds if w.get("mode") != "offline" and w.get("url")]
    offline = [w["dir"] for w in seeds if w.get("mode") == "offline" and w.get("dir")]
    lines = [f"W&B: {url}" for url in online]
    if offline:
        root = PurePath(run_dir)
        dirs = " ".join(str(root / d) for d in offline)
        lines.append(f"W&B: offline run(s) saved in {root / 'wandb'}; upload with: wandb sync {dirs}")
    return lines
