"""Synthetic but schema-true results, as ``diffbench run`` writes them (real metric keys,
the real aggregation and digest), for the leaderboard tests."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from diffbench import PROTOCOL_VERSION, __version__
from diffbench.data import load_task
from diffbench.evaluation.functional import METRIC_KEYS
from diffbench.results import RESULT_SCHEMA_VERSION, aggregate_metrics, write_result

_SCALE = {
    "mae_sources": 3.0,
    "mae_field": 0.8,
    "mae_r1": 1.5,
    "mae_r2": 0.9,
    "mae_r3": 0.6,
    "nmae": 4.0,
    "rel_l2": 5.0,
    "max_abs_error": 9.0,
    "p99_sample_mae": 2.2,
    "residual": 0.3,
}


def metrics(base: float, seed: int, *, empty: tuple[str, ...] = ()) -> dict[str, Any]:
    """One split's results: every METRIC_KEY, n_samples and per_count rows for counts 1-5."""

    def row(mult: float, n: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k in METRIC_KEYS:
            region = k.split("_")[-1]
            if region in empty and (k.startswith("mae_") or k.startswith("max_abs_error_")):
                out[k] = None
            else:
                scale = _SCALE.get(k, 10.0 if k.startswith("max_abs_error_") else 1.0)
                out[k] = round(base * scale * mult * (1 + 0.07 * seed), 12)
        out["n_samples"] = n
        return out

    top = row(1.0, 120)
    top["per_count"] = {str(c): row(0.6 + 0.2 * c, 24) for c in range(1, 6)}
    return top


def uq_seed(i: int, requested: tuple[str, ...], base: float, na: dict[str, str]) -> dict[str, Any]:
    """One seed's ``uq`` block as diffbench.trust.indicators writes it (scores vary with the indicator and seed)."""
    from diffbench.trust.indicators import not_applicable, settings

    indicators: dict[str, Any] = {}
    for k, name in enumerate(requested):
        if name in na:
            indicators[name] = not_applicable(na[name])
            continue
        indicators[name] = {
            "status": "ok",
            "spearman": round(0.81 - 0.17 * k + 0.013 * i, 12),
            "auroc": round(0.93 - 0.09 * k + 0.011 * i, 12),
            "catch_rate": [1.0, 0.5, 0.0, 0.5][(k + i) % 4],
            "indicator_mean": round(base * (k + 1.5) * (1 + 0.1 * i), 12),
            "indicator_median": round(base * (k + 1.4) * (1 + 0.1 * i), 12),
        }
    block = {
        "n_samples": 120,
        "error_mean": round(base * (1 + 0.07 * i), 12),
        "settings": settings(),
        "indicators": indicators,
        "time_s": 1.25,
    }
    if "inverse" in requested and "inverse" not in na:
        block["inverse_model"] = {"preset": "unet-small", "epochs": 6, "val_mae": 0.0173, "train_time_s": 27.6}
    return block


UQ_SAMPLES = 400  # 20 worst 5 %: the AUROC is powered; 4 worst 1 %: the caught share is not


def uq_seed_intervals(i: int, requested: tuple[str, ...], base: float, na: dict[str, str]) -> dict[str, Any]:
    """One seed's ``uq`` block as diffbench.trust.indicators writes it now: per-sample values of
    made-up indicators (better for earlier names) and baselines, scored by the real code."""
    import numpy as np

    from diffbench.results.uq import score_indicator
    from diffbench.trust.indicators import not_applicable, settings
    from diffbench.trust.scores import BASELINES

    rng = np.random.default_rng(100 + i)
    count = np.repeat(np.arange(1, 6), UQ_SAMPLES // 5)
    error = base * rng.gamma(3.0, 1.0, size=UQ_SAMPLES) * (1 + 0.1 * count)
    values: dict[str, list[float]] = {}
    rows: dict[str, dict[str, Any]] = {"indicators": {}, "baselines": {}}
    for group, names in (("indicators", requested), ("baselines", BASELINES)):
        for k, name in enumerate(names):
            if name in na:
                rows[group][name] = not_applicable(na[name])
                continue
            if name == "source-count":
                v = count.astype(float)
            else:
                v = error + rng.normal(0.0, base * (0.5 + k) * (3.0 if group == "baselines" else 1.0), size=UQ_SAMPLES)
            values[name] = [round(float(x), 9) for x in v]
            rows[group][name] = score_indicator(values[name], error, count)
    return {
        "n_samples": UQ_SAMPLES,
        "error_mean": float(np.mean(error)),
        "settings": settings(),
        **rows,
        "samples": {"error": error.tolist(), "count": count.tolist(), "values": values},
        "time_s": 1.25,
        **(
            {"inverse_model": {"preset": "unet-small", "epochs": 6, "val_mae": 0.0173, "train_time_s": 27.6}}
            if "inverse" in requested and "inverse" not in na
            else {}
        ),
    }


def consistency_seed(i: int, base: float, na: dict[str, str]) -> dict[str, Any]:
    """One seed's ``consistency`` block as diffbench.trust.consistency writes it."""
    f = 1 + 0.05 * i
    scores = {
        "superposition": {
            "status": "ok",
            "mean": round(base * 6.1 * f, 12),
            "max": round(base * 12.7 * f, 12),
            "n_pairs": 32,
        },
        "equivariance": {
            "status": "ok",
            "mean": round(base * 9.4 * f, 12),
            "max": round(base * 20.6 * f, 12),
            "n_samples": 64,
            "transforms": ["rot90", "rot180", "rot270", "flip_lr", "flip_ud", "transpose", "anti_transpose"],
        },
        "maximum_principle": {
            "status": "ok",
            "negative_share": round(0.0165 * f, 12),
            "most_negative": round(-0.00115 * f, 12),
            "n_samples": 64,
        },
        "flux_balance": {
            "status": "ok",
            "mean": round(base * 30.7 * f, 12),
            "max": round(base * 77.8 * f, 12),
            "n_samples": 64,
        },
    }
    for name, reason in na.items():
        scores[name] = {"status": "not applicable", "reason": reason}
    return {"n_samples": 64, **scores, "time_s": 7.9}


def per_sample_seed(base: float, i: int, n: int = 120, shift: float = 0.0, rng_seed: int = 7) -> dict[str, Any]:
    """One seed's per-sample errors (the evaluator's ``per_sample_errors``) for ``n`` test samples
    in counts 1-5: a shared per-sample difficulty (the same test samples for every entry of a
    board, from ``rng_seed``), a seed effect ``i`` and an entry effect ``base`` (+ ``shift``)."""
    import numpy as np

    shared = np.random.default_rng(rng_seed).gamma(3.0, 1.0 / 3.0, n)
    noise = np.random.default_rng(1000 * rng_seed + 17 * i + int(base * 1e6)).normal(0.0, 0.05, n)
    count = np.repeat(np.arange(1, 6), n // 5)
    npix = 64.0 * 64.0
    mae = np.abs((base + shift) * (1 + 0.07 * i) * shared * (1 + noise)) + 1e-6
    mae = mae.astype(np.float32).astype(np.float64)  # what the float32 block stores
    abs_sum = (mae * npix).astype(np.float32).astype(np.float64)
    return {
        "index": np.arange(n),
        "count": count,
        "abs_sum": abs_sum,
        "tgt_sum": np.full(n, 0.25 * npix) * (1 + 0.1 * count),
        "mae": mae,
        "max_abs": (mae * 9.0).astype(np.float32).astype(np.float64),
        "abs_sum_sources": (abs_sum * 0.01).astype(np.float32).astype(np.float64),
        "npix_sources": (4.0 * count).astype(np.float64),
    }


def metrics_from_per_sample(arrays: dict[str, Any]) -> dict[str, float]:
    """The headline test metrics of one seed, from its per-sample errors (as the validator recomputes them)."""
    import numpy as np

    from diffbench.results.per_sample import decode, encode

    d = decode(encode(arrays), "seed")
    return {
        "nmae": float(d["abs_sum"].sum() / d["tgt_sum"].sum()),
        "mae": float(d["mae"].mean()),
        "max_abs_error": float(d["max_abs"].max()),
        "p99_sample_mae": float(np.quantile(d["mae"], 0.99)),
        "mae_sources": float(d["abs_sum_sources"].sum() / d["npix_sources"].sum()),
    }


def make_result(
    directory: Path,
    *,
    task: str = "smoke",
    model: str = "unet-small",
    seeds: tuple[int, ...] = (0, 1, 2),
    base: float = 0.01,
    params: int = 123_456,
    inference: float = 2e-4,
    solver: float = 5e-3,
    hardware: str = "CPU Test Processor (16 cores, 1 process)",
    images: bool = True,
    wandb_url: str | None = None,
    empty: tuple[str, ...] = (),
    uq: tuple[str, ...] | None = None,
    uq_na: dict[str, str] | None = None,
    consistency: bool = False,
    consistency_na: dict[str, str] | None = None,
    mutate: Callable[[dict], None] | None = None,
    per_sample: bool = False,
    shift: float = 0.0,
    stop: str | None = None,
    uq_legacy: bool = False,
) -> Path:
    """Write ``directory/result.json`` (and the seeds' example PNGs) and return its path.

    ``uq`` (indicator names) adds the ``uq`` blocks of ``--uq`` (``uq_na``: indicator -> reason for
    "not applicable"; ``uq_legacy``: the blocks of results written before the intervals, with
    point scores and no per-sample values); ``consistency`` adds the consistency blocks
    (``consistency_na`` likewise).
    The run-level blocks are the protocol's own aggregation of the per-seed ones. ``per_sample``
    adds each seed's per-sample errors (``shift`` added to the entry's per-sample MAE; the
    headline test metrics then come from them) and ``aggregate.intervals``; ``stop`` each
    seed's ``stop`` block with that reason."""
    spec = load_task(task)
    directory.mkdir(parents=True, exist_ok=True)
    per_seed = []
    for i, seed in enumerate(seeds):
        image_paths = []
        if images:
            from PIL import Image

            (directory / f"seed-{seed}").mkdir(exist_ok=True)
            for j, count in enumerate((1, 3, 5)):
                rel = f"seed-{seed}/sample-{j * 7}-{count}src.png"
                Image.new("RGB", (96, 24), ((40 * i) % 255, 90 + 30 * j, 160)).save(directory / rel)
                image_paths.append(rel)
        per_seed.append(
            {
                "seed": seed,
                "test": metrics(base, i, empty=empty),
                "val": metrics(base * 0.95, i, empty=empty),
                "best_checkpoint": f"seed-{seed}/best.ckpt",
                "best_epoch": 3 + i,
                "epochs_run": 6,
                "train_time_s": 12.5 + i,
                "inference": {
                    "s_per_sample": inference * (1 + 0.01 * i),
                    "batch_size": 24,
                    "device": "cpu",
                    "repeats": 5,
                },
                "solver": {
                    "s_per_sample": solver * (1 + 0.02 * i),
                    "batch_size": 24,
                    "backend": "numpy",
                    "method": "dst",
                    "repeats": 3,
                },
                "images": image_paths,
                "wandb": (
                    {"mode": "online", "id": f"run{seed}", "dir": f"wandb/run-{seed}", "url": f"{wandb_url}-{seed}"}
                    if wandb_url
                    else None
                ),
            }
        )
        if per_sample:
            from diffbench.results.per_sample import encode

            arrays = per_sample_seed(base, i, shift=shift)
            per_seed[-1]["test"].update(metrics_from_per_sample(arrays))
            per_seed[-1]["per_sample"] = encode(arrays)
        if stop:
            per_seed[-1]["stop"] = {
                "reason": stop,
                "step": 60 + 5 * i,
                "epoch": 6,
                "patience": 3,
                "max_steps": None,
                "max_epochs": 6,
            }
    inf = sum(s["inference"]["s_per_sample"] for s in per_seed) / len(per_seed)
    sol = sum(s["solver"]["s_per_sample"] for s in per_seed) / len(per_seed)
    result: dict[str, Any] = {
        "schema_version": RESULT_SCHEMA_VERSION,
        "protocol_version": PROTOCOL_VERSION,
        "diffbench_version": __version__,
        "run_id": f"{task}--{model}--0123456789",
        "created": "2025-01-02T03:04:05+00:00",
        "model": {
            "name": model,
            "kind": "builtin",
            "package": "diffbench",
            "package_version": __version__,
            "spec": {"name": model, "kwargs": {"width": 8}},
            "parameters": params,
        },
        "task": {
            "name": spec.name,
            "spec_hash": spec.spec_hash,
            "lattice": spec.lattice,
            "input_channels": spec.input_channels,
            "spec": spec.to_dict(),
        },
        "data": {
            "manifest_hash": "f" * 64,
            "serve": "cache",
            "train_counts": None,
            "test_counts": None,
            "train_fraction": 1.0,
            "n_train": 320,
            "n_val": 60,
            "n_test": 120,
        },
        "training": {
            "recipe": {"name": "fast", "lr": 1e-3},
            "loss": "mae",
            "batch_size": 16,
            "max_epochs": 6,
            "precision": "32-true",
            "accelerator": "cpu",
            "devices": 1,
            "num_nodes": 1,
            "selection": "best val/mae checkpoint",
        },
        "seeds": list(seeds),
        "per_seed": per_seed,
        "aggregate": {
            "test": aggregate_metrics([s["test"] for s in per_seed]),
            "val": aggregate_metrics([s["val"] for s in per_seed]),
        },
        "cost": {
            "train_time_s": sum(s["train_time_s"] for s in per_seed) / len(per_seed),
            "inference_s_per_sample": inf,
            "solver_s_per_sample": sol,
            "speedup_vs_solver": sol / inf,
            "solver_method": "dst",
            "batch_size": 24,
        },
        "hardware": {
            "accelerator": "cpu",
            "devices": 1,
            "num_nodes": 1,
            "cpu": "Test Processor",
            "cpu_count": 16,
            "label": hardware,
        },
        "packages": {"diffbench": __version__, "torch": "2.5.0", "numpy": "2.0.0"},
        "git": {"commit": "a" * 40, "dirty": False},
        "command": f"diffbench run --model {model} --task {task} --seeds {','.join(map(str, seeds))} --devices 1 "
        "--accelerator cpu --precision 32-true --loss mae",
        "argv": f"diffbench run --model {model} --task {task}",
    }
    if consistency:
        from diffbench.trust.consistency import aggregate_consistency

        for i, s in enumerate(per_seed):
            s["consistency"] = consistency_seed(i, base, consistency_na or {})
        result["consistency"] = aggregate_consistency([s["consistency"] for s in per_seed])
    if uq and uq_legacy:
        from diffbench.results.aggregate import aggregate_uq_indicators
        from diffbench.trust.indicators import settings

        for i, s in enumerate(per_seed):
            s["uq"] = uq_seed(i, tuple(uq), base, uq_na or {})
        result["uq"] = {
            "requested": list(uq),
            "settings": settings(),
            "indicators": aggregate_uq_indicators(per_seed, list(uq)),
        }
        inverse = next((s["uq"]["inverse_model"] for s in per_seed if "inverse_model" in s["uq"]), None)
        if inverse is not None:
            result["uq"]["inverse_model"] = inverse
    elif uq:
        from diffbench.trust.indicators import aggregate_uq

        for i, s in enumerate(per_seed):
            s["uq"] = uq_seed_intervals(i, tuple(uq), base, uq_na or {})
        result["uq"] = aggregate_uq(per_seed, list(uq))
    if per_sample:
        from diffbench.results.per_sample import headline_intervals

        result["aggregate"]["intervals"] = headline_intervals([s["per_sample"] for s in per_seed])
    if mutate is not None:
        mutate(result)
    path = directory / "result.json"
    write_result(path, result)
    return path


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def redigest(path: Path, change: Callable[[dict], None]) -> Path:
    """Apply ``change`` and re-digest (a schema violation that the digest does not catch)."""
    result = load(path)
    result.pop("digest", None)
    change(result)
    write_result(path, result)
    return path


def tamper(path: Path, change: Callable[[dict], None]) -> Path:
    """Apply ``change`` and keep the old digest (a hand edit)."""
    result = load(path)
    change(result)
    Path(path).write_text(json.dumps(result, indent=1, sort_keys=True))
    return path


XSS_TITLE = "<script>window.__xss = 1; alert(1)</script>"
XSS_MODEL = '<img src=x onerror="window.__xss=2">'


def populate(lb: Path, make: Callable[..., Path], order: tuple[int, ...] = (0, 1, 2, 3)) -> list:
    """Submit four entries to ``lb`` (in ``order``): ranked, unranked, official, and hostile strings."""
    from diffbench.submissions.submit import submit

    specs = [
        dict(
            kw=dict(
                model="unet-small",
                base=0.010,
                params=480_000,
                inference=3e-4,
                seeds=(0, 1, 2, 3, 4),
                wandb_url="https://wandb.ai/team/diffbench/runs/abc",
            ),
            title="U-Net (paper)",
            url="https://github.com/example/unet",
            official=True,
        ),
        dict(
            kw=dict(
                model="fno",
                base=0.014,
                params=1_200_000,
                inference=9e-4,
                seeds=(0, 1, 2),
                wandb_url="javascript:alert(3)",
            ),
            title=XSS_TITLE,
            url=None,
            official=False,
        ),
        dict(
            kw=dict(model="cnn-tiny", base=0.035, params=12_000, inference=4e-5, seeds=(0,), images=False),
            title="",
            url=None,
            official=False,
        ),
        dict(
            kw=dict(
                model=XSS_MODEL,
                base=0.02,
                params=95_000,
                inference=1.5e-4,
                seeds=(0, 1, 2),
                hardware="1x NVIDIA H100 <b>80GB</b>",
                solver=4e-4,
            ),
            title="ResNet & co",
            url="http://example.org/p?a=1&b=2",
            official=False,
        ),
    ]
    paths = [make(**s["kw"]) for s in specs]
    subs = [None] * len(specs)
    for i in order:
        s = specs[i]
        subs[i] = submit(
            paths[i],
            lb,
            title=s["title"],
            authors="A. Author",
            url=s["url"],
            official=s["official"],
            today="2025-03-01",
        )
    return subs


ALL_UQ = ("mc-dropout", "residual", "inverse", "ensemble")
NA_DROPOUT = "the model has no active dropout layer <no dropout>"
NA_ENSEMBLE = "needs at least 2 seeds (this run has 1)"
NA_EQUIVARIANCE = "no sample has a uniform boundary & a spatially constant D"


def populate_trust(lb: Path, make: Callable[..., Path]) -> dict[str, Any]:
    """Submit four smoke entries for the uncertainty board: full ``--uq`` with consistency (scores
    with intervals and baselines); ``--uq`` with one seed, written before the intervals (ensemble
    and MC-dropout not applicable) and a hostile title; consistency only
    (equivariance not applicable); neither (an older result)."""
    from diffbench.submissions.submit import submit

    full = submit(
        make(model="unet-small", base=0.010, seeds=(0, 1, 2), uq=ALL_UQ, consistency=True, images=False),
        lb,
        title="U-Net with dropout",
        authors="A. Author",
        today="2025-03-01",
    )
    single = submit(
        make(
            model="fno",
            base=0.02,
            seeds=(0,),
            uq=ALL_UQ,
            uq_na={"mc-dropout": NA_DROPOUT, "ensemble": NA_ENSEMBLE},
            uq_legacy=True,
            consistency=True,
            images=False,
        ),
        lb,
        title=XSS_TITLE,
        authors="B. Author",
        today="2025-03-02",
    )
    plain = submit(
        make(
            model="cnn-small",
            base=0.03,
            seeds=(0, 1, 2),
            consistency=True,
            consistency_na={"equivariance": NA_EQUIVARIANCE},
            images=False,
        ),
        lb,
        title="no uq",
        authors="C. Author",
        today="2025-03-03",
    )
    old = submit(
        make(model="resnet-small", base=0.04, seeds=(0, 1, 2), images=False),
        lb,
        title="older result",
        today="2025-03-04",
    )
    return {"full": full, "single": single, "plain": plain, "old": old}


def write_study(
    lb: Path,
    name: str,
    *,
    rows: list[dict[str, Any]],
    description: str = "",
    purpose: str = "",
    scaling_law: dict[str, Any] | None = None,
    evaluate_on: dict[str, list[str]] | None = None,
    plots: tuple[str, ...] = ("per_count.png",),
) -> Path:
    """A study folder as ``diffbench study`` writes it (summary.json, table.md, table.csv, plots)."""
    from PIL import Image

    d = Path(lb) / "studies" / name
    d.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {
        "study": {
            "name": name,
            "description": description,
            "purpose": purpose,
            "models": sorted({r["model"] for r in rows}),
            "tasks": sorted({r["task"] for r in rows}),
            "seeds": [0, 1],
            "train_fractions": [1.0],
            "steps": 800,
            "max_epochs": None,
            "evaluate_on": evaluate_on or {},
            "analysis": ["scaling-law"] if scaling_law else [],
        },
        "rows": rows,
    }
    if scaling_law is not None:
        summary["scaling_law"] = scaling_law
    (d / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    (d / "table.md").write_text(
        f"# Study {name}\n\n{description}\n\n| model | task |\n|---|---|\n"
        + "".join(f"| {r['model']} | {r['task']} |\n" for r in rows)
    )
    (d / "table.csv").write_text("model,task\n" + "".join(f"{r['model']},{r['task']}\n" for r in rows))
    for i, p in enumerate(plots):
        Image.new("RGB", (120, 80), (30 * i, 120, 200)).save(d / p)
    return d


def study_row(
    model: str,
    task: str,
    nmae: float,
    *,
    transfer: dict[str, Any] | None = None,
    run_id: str | None = None,
    n_train: int = 2000,
    fraction: float = 1.0,
) -> dict[str, Any]:
    """One row of a study's summary.json (diffbench.studies.runner.study_row)."""
    stat = lambda m: {"mean": m, "std": m * 0.05, "n": 2}  # noqa: E731
    return {
        "model": model,
        "task": task,
        "train_fraction": fraction,
        "n_train": n_train,
        "run_id": run_id or f"{task}--{model}--abc",
        "parameters": 483_153,
        "test": {
            "nmae": stat(nmae),
            "mae": stat(nmae * 0.3),
            "mae_sources": stat(nmae * 0.6),
            "max_abs_error": stat(nmae * 6),
            "p99_sample_mae": stat(nmae * 0.9),
        },
        "per_seed_nmae": [nmae * 0.95, nmae * 1.05],
        "per_count_nmae": {"1": nmae * 1.4, "2": nmae},
        "command": f"diffbench run --model {model} --task {task} --seeds 0,1 --max-steps 800",
        "transfer": transfer or {},
    }


def with_cost(r: dict[str, Any]) -> None:
    """The cost fields of diffbench.results.cost, as a run writes them now."""
    from diffbench.results.cost import run_cost, summarise

    for i, s in enumerate(r["per_seed"]):
        s["inference"] = {
            **summarise([2.4e-3 * (1 + 0.1 * k + 0.01 * i) for k in range(5)], 24, [1.5, 1.2, 1.0]),
            "device": "cpu",
            "flops_per_sample": 11_649_024,
            "parameters": r["model"]["parameters"],
        }
        s["solver"] = {
            **summarise([0.12 * (1 + 0.05 * k) for k in range(5)], 24, [1.5, 1.2, 1.0]),
            "backend": "numpy",
            "method": "dst",
        }
        mg = summarise([0.01 * (1 + 0.02 * k) for k in range(5)], 24, [1.5, 1.2, 1.0])
        s["solver_matched"] = {
            "target_nmae": s["test"]["nmae"],
            "reference_tol": 1e-10,
            "backend": "numpy",
            "ladder": [{"tol": 0.1, "nmae": s["test"]["nmae"] / 3}],
            "multigrid": {**mg, "tol": 0.1, "nmae": s["test"]["nmae"] / 3},
            "transform": None,
            "s_per_sample": mg["s_per_sample"],
            "spread": mg["spread"],
            "method": "mgcg",
            "tol": 0.1,
            "nmae": s["test"]["nmae"] / 3,
            "kind": "multigrid",
        }
    r["cost"] = run_cost(r["per_seed"])


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of the run folder under ``tmp_path``; returns its result.json. (Here, not in conftest.py:
    a test imports it by module name, and ``conftest`` may name another folder's conftest in a full run.)"""
    dest = tmp_path / run_dir.name
    shutil.copytree(run_dir, dest)
    return dest / "result.json"
