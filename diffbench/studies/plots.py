"""A study's plots: error against data-set size with the log-law band (``scaling.png``, when
fitted) and error against the number of sources (``per_count.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend


def plots(root: Path, summary: dict[str, Any]) -> None:
    """Write the study's PNG plots into ``root``."""
    rows = summary["rows"]
    fits = summary.get("scaling_law") or {}
    if fits:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        for m, fit in fits.items():
            pts = [(r["n_train"], v) for r in rows if r["model"] == m for v in r["per_seed_nmae"] if v is not None]
            line = ax.plot([p[0] for p in pts], [p[1] for p in pts], "o", alpha=0.6, label=f"{m} (seeds)")[0]
            if fit:
                xs = [b["n_train"] for b in fit["band"]]
                ax.plot(xs, [b["fit"] for b in fit["band"]], "-", color=line.get_color(), label=fit["law"])
                ax.fill_between(xs, [b["fit"] - b["half_width"] for b in fit["band"]], [b["fit"] + b["half_width"] for b in fit["band"]],
                                color=line.get_color(), alpha=0.15)
        ax.set_xscale("log")
        ax.set_xlabel("training samples")
        ax.set_ylabel("test nmae")
        ax.set_title("error against data-set size (95 % band of the log-law fit)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(root / "scaling.png")
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for r in rows:
        pc = sorted((int(c), v) for c, v in r["per_count_nmae"].items() if v is not None)
        if pc:
            ax.plot([c for c, _ in pc], [v for _, v in pc], marker=".", label=f"{r['model']} {r['task']} f={r['train_fraction']:g}")
    ax.set_xlabel("number of sources")
    ax.set_ylabel("test nmae")
    ax.set_title("error against the number of sources")
    ax.grid(alpha=0.3)
    if len(rows) <= 12:
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(root / "per_count.png")
    plt.close(fig)
