"""A study's plots: error against data-set size — the per-size means with their 95 % intervals,
every seed, the log-law fit and its confidence band (``scaling.png``, when fitted) — and error
against the number of sources, with each run's 95 % band where its run kept per-sample errors
(``per_count.png``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend


def _scaling(root: Path, rows: list[dict[str, Any]], fits: dict[str, Any]) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for m, fit in fits.items():
        seeds = [(r["n_train"], v) for r in rows if r["model"] == m for v in r["per_seed_nmae"] if v is not None]
        dots = ax.plot([p[0] for p in seeds], [p[1] for p in seeds], ".", alpha=0.35, label=f"{m}: every seed")[0]
        color = dots.get_color()
        if fit:
            pts = fit["points"]
            ax.errorbar(
                [p["n_train"] for p in pts],
                [p["estimate"] for p in pts],
                yerr=[[p["estimate"] - p["low"] for p in pts], [p["high"] - p["estimate"] for p in pts]],
                fmt="o",
                color=color,
                capsize=3,
                label=f"{m}: mean, 95 % interval (samples and seeds)",
            )
            xs = [b["n_train"] for b in fit["band"]]
            ax.plot(xs, [b["fit"] for b in fit["band"]], "-", color=color, label=fit["law"])
            ax.fill_between(
                xs,
                [b["fit"] - b["half_width"] for b in fit["band"]],
                [b["fit"] + b["half_width"] for b in fit["band"]],
                color=color,
                alpha=0.15,
            )
    ax.set_xscale("log")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test nmae")
    ax.set_title("error against data-set size (95 % band of the log-law fit)")
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(root / "scaling.png")
    plt.close(fig)


def _per_count(root: Path, rows: list[dict[str, Any]]) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    banded = False
    for r in rows:
        bands = (r.get("intervals") or {}).get("per_count") or {}
        pc = sorted((int(c), v) for c, v in r["per_count_nmae"].items() if v is not None)
        if not pc:
            continue
        label = f"{r['model']} {r['task']} f={r['train_fraction']:g}"
        if bands and all(str(c) in bands for c, _ in pc):
            iv = [bands[str(c)]["nmae"] for c, _ in pc]
            line = ax.plot([c for c, _ in pc], [x["estimate"] for x in iv], marker=".", label=label)[0]
            ax.fill_between(
                [c for c, _ in pc], [x["low"] for x in iv], [x["high"] for x in iv], color=line.get_color(), alpha=0.15
            )
            banded = True
        else:
            ax.plot([c for c, _ in pc], [v for _, v in pc], marker=".", label=label)
    ax.set_xlabel("number of sources")
    ax.set_ylabel("test nmae")
    ax.set_title(
        "error against the number of sources" + ("\n(95 % bands over test samples and seeds)" if banded else ""),
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    if len(rows) <= 12:
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(root / "per_count.png")
    plt.close(fig)


def plots(root: Path, summary: dict[str, Any]) -> None:
    """Write the study's PNG plots into ``root``."""
    fits = summary.get("scaling_law") or {}
    if fits:
        _scaling(root, summary["rows"], fits)
    _per_count(root, summary["rows"])
