"""Pictures and tables for people: prediction / target / error images, the summary table."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the file-only backend

from ..results.cost import fmt_sig, timing_digits


@torch.no_grad()
def example_images(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], device: torch.device, k: int
) -> list[tuple[str, np.ndarray]]:
    """Up to ``k`` RGB images (uint8) of input | target | prediction | |error|, for samples
    with the fewest, a middle and the most sources in the batch."""
    if k <= 0:
        return []
    was = model.training
    model.eval()
    counts = batch["count"].tolist()
    order = sorted(range(len(counts)), key=lambda i: (counts[i], i))
    picks = sorted({order[0], order[len(order) // 2], order[-1]}, key=lambda i: counts[i])[:k]
    x = batch["input"][picks].to(device)
    pred = model(x).float().cpu()
    model.train(was)
    out = []
    for j, i in enumerate(picks):
        tgt = batch["target"][i, 0].numpy()
        prd = pred[j, 0].numpy()
        err = np.abs(prd - tgt)
        fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), dpi=80)
        for ax, img, title in zip(
            axes,
            [batch["input"][i, 0].numpy(), tgt, prd, err],
            ["sources (input)", "target", "prediction", f"|error| (max {err.max():.3f})"],
        ):
            im = ax.imshow(img, cmap="magma" if title != "sources (input)" else "viridis")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
            fig.colorbar(im, ax=ax, fraction=0.046)
        fig.suptitle(f"{counts[i]} sources (test sample {int(batch['index'][i])})", fontsize=10)
        fig.canvas.draw()
        rgba = np.asarray(fig.canvas.buffer_rgba())
        plt.close(fig)
        out.append((f"sample-{int(batch['index'][i])}-{counts[i]}src", np.ascontiguousarray(rgba[..., :3])))
    return out


def summary_table(
    result: dict[str, Any],
    keys: tuple[str, ...] = (
        "mae",
        "nmae",
        "mae_sources",
        "mae_field",
        "mae_r1",
        "max_abs_error",
        "p99_sample_mae",
        "residual",
    ),
) -> str:
    """A plain-text table of aggregated test and validation metrics (mean ± std over seeds)."""

    agg = result["aggregate"]
    n = len(result["seeds"])
    table = Table(title=f"{result['model']['name']} on {result['task']['name']} — {n} seed{'s' if n > 1 else ''}")
    table.add_column("metric")
    table.add_column("test", justify="right")
    table.add_column("val", justify="right")

    for k in keys:
        table.add_row(k, mean_std_text(agg["test"].get(k)), mean_std_text(agg["val"].get(k)))
    cost = result["cost"]
    table.add_row("params", f"{result['model']['parameters']:,}", "")
    digits = timing_digits(cost.get("inference_spread"))
    if cost.get("flops_per_sample") is not None:
        table.add_row("forward FLOPs/sample", f"{cost['flops_per_sample']:.3g}", "")
    table.add_row("inference s/sample (min of repeats)", fmt_sig(cost["inference_s_per_sample"], digits), "")
    table.add_row(
        f"solver s/sample ({cost.get('solver_method')}, tol 1e-8)",
        fmt_sig(cost["solver_s_per_sample"], timing_digits(cost.get("solver_spread"))),
        "",
    )
    if cost.get("speedup_at_equal_accuracy") is not None:
        table.add_row(
            "speed-up at equal accuracy", fmt_sig(cost["speedup_at_equal_accuracy"], cost["speedup_digits"]) + "x", ""
        )
    console = Console(width=100, record=True)
    with console.capture() as cap:
        console.print(table)
    return cap.get()


def mean_std_text(d: dict[str, Any] | None) -> str:
    """``{"mean", "std"}`` as ``"mean ± std"`` (4 and 2 significant digits; no std: the mean alone;
    no mean: an em dash), the one formatter of the terminal tables and the study tables.

    >>> mean_std_text({"mean": 0.012345, "std": 0.00067, "n": 3}), mean_std_text({"mean": 2.0, "std": None})
    ('0.01235 ± 0.00067', '2')
    >>> mean_std_text(None)
    '—'
    """
    if not d or d.get("mean") is None:
        return "—"
    return f"{d['mean']:.4g}" + (f" ± {d['std']:.2g}" if d.get("std") is not None else "")
