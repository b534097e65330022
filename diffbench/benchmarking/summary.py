"""The key figures of a ``diffbench bench`` run: :func:`summarise` turns the raw
pytest-benchmark records into small tables per suite (solver, data, training, inference,
equal accuracy, memory, GPU), and :func:`render_markdown` renders the main ones as the tables
the README quotes. Running the suites is :mod:`diffbench.benchmarking.bench`'s."""

from __future__ import annotations

from typing import Any

from ..results.cost import ratio_spread, timing_digits


def figures_of(benches: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """The ``figures`` of every benchmark whose name starts with ``prefix``."""
    return [b["figures"] for b in benches if b["name"] and b["name"].startswith(prefix)]


def summarise(benches: list[dict[str, Any]]) -> dict[str, Any]:
    """The key figures of each suite, as small tables (lists of rows)."""
    s: dict[str, Any] = {}
    solver = []
    for f in figures_of(benches, "test_transform_vs_jacobi"):
        solver.append(
            {
                "problem": "disks, D=1",
                "N": f.get("N"),
                "baseline": "Jacobi",
                "diffbench_s": f.get("diffbench_s"),
                "baseline_s": f.get("jacobi_s"),
                "speedup": f.get("speedup_vs_jacobi"),
            }
        )
    for f in figures_of(benches, "test_transform_vs_spsolve"):
        solver.append(
            {
                "problem": "disks, D=1",
                "N": f.get("N"),
                "baseline": "spsolve",
                "diffbench_s": f.get("diffbench_s"),
                "baseline_s": f.get("spsolve_s"),
                "speedup": f.get("speedup_vs_spsolve"),
            }
        )
    for f in figures_of(benches, "test_mgcg_vs_pyamg_and_spsolve"):
        for base, key in (("pyamg", "pyamg_s"), ("spsolve", "spsolve_s")):
            solver.append(
                {
                    "problem": f"{f.get('case')} (batch {f.get('batch')})",
                    "N": f.get("N"),
                    "baseline": base,
                    "diffbench_s": f.get("diffbench_s_per_sample"),
                    "baseline_s": f.get(key),
                    "speedup": (f.get(key) / f["diffbench_s_per_sample"])
                    if f.get(key) and f.get("diffbench_s_per_sample")
                    else None,
                }
            )
    if solver:
        s["solver"] = solver
    exps = {}
    for name, key in (("test_transform_cost_exponent", "transform"), ("test_mgcg_cost_exponent", "mgcg")):
        for f in figures_of(benches, name):
            exps[key] = {"exponent_vs_cells": f.get("exponent_vs_cells"), "s_per_sample": f.get("s_per_sample")}
    if exps:
        s["solver_cost_vs_N"] = exps
    data = [
        {
            "serve": f.get("serve"),
            "task": f.get("task"),
            "batch_s": f.get("batch_s"),
            "cheapest_model": f.get("cheapest_model"),
            "train_step_s": f.get("train_step_s"),
            "ratio": f.get("ratio_step_over_batch"),
        }
        for f in figures_of(benches, "test_datamodule_outpaces_training")
    ]
    if data:
        s["data"] = data
    for f in figures_of(benches, "test_generation_scales_linearly"):
        s["generation_scaling"] = {
            "N": f.get("N"),
            "samples": f.get("samples"),
            "seconds": f.get("seconds"),
            "exponent_vs_samples": f.get("exponent_vs_samples"),
        }
    training = [
        {
            "model": f.get("model"),
            "task": f.get("task"),
            "batch": f.get("batch_size"),
            "bare_step_s": f.get("bare_step_s"),
            "lightning_step_s": f.get("lightning_step_s"),
            "ratio_pairwise": f.get("median_pairwise_ratio"),
            "ratio_of_medians": f.get("ratio_lightning_over_bare"),
        }
        for f in figures_of(benches, "test_lightning_step_overhead")
    ]
    if training:
        s["training"] = training
    mgcg = {}
    for f in figures_of(benches, "test_variable_d_solver_time"):
        mgcg = {r["N"]: r["solver_s_per_sample"] for r in f.get("rows", [])}
    inference = []
    exponents = {}
    for f in figures_of(benches, "test_inference_vs_exact_solver"):
        exponents[f.get("model")] = {
            "model": f.get("model_exponent_vs_cells"),
            "solver": f.get("solver_exponent_vs_cells"),
        }
        for r in f.get("rows", []):
            m = mgcg.get(r["N"])
            inference.append(
                {
                    "model": r["model"],
                    "N": r["N"],
                    "batch": r["batch"],
                    "model_s": r["model_s_per_sample"],
                    "transform_s": r["solver_s_per_sample"],
                    "speedup_vs_transform": r["speedup"],
                    "mgcg_s": m,
                    "speedup_vs_mgcg": (m / r["model_s_per_sample"]) if m else None,
                }
            )
    if inference:
        s["inference"] = {
            "device": "cpu",
            "rows": inference,
            "exponents_vs_cells": exponents,
            "note": "speedup = solver time / network time per sample (same N, batch, threads); < 1: the solver is faster",
        }
    matched = []
    for f in figures_of(benches, "test_speedup_at_equal_accuracy"):
        for r in f.get("rows", []):
            matched.append(
                {
                    "model": f.get("model"),
                    "problem": r.get("problem"),
                    "N": r.get("N"),
                    "target_nmae": r.get("target_nmae"),
                    "flops_per_sample": r.get("flops_per_sample"),
                    "network_s": (r.get("network") or {}).get("min"),
                    "network_spread": (r.get("network") or {}).get("spread"),
                    "mgcg_tol": (r.get("multigrid") or {}).get("tol"),
                    "mgcg_loosest": (r.get("multigrid") or {}).get("loosest"),
                    "speedup_vs_mgcg": r.get("speedup_vs_multigrid"),
                    "speedup_vs_mgcg_digits": _ratio_digits(r.get("network"), r.get("multigrid")),
                    "speedup_vs_transform": r.get("speedup_vs_transform"),
                    "speedup_vs_transform_digits": _ratio_digits(r.get("network"), r.get("transform")),
                }
            )
    if matched:
        s["equal_accuracy"] = {
            "rows": matched,
            "note": "speedup = solver time at the network's accuracy / network time (minima of "
            "repeats, same batch and process); mgcg_loosest: the loosest tolerance already beat the target, "
            "so the speed-up is an upper bound",
        }
    memory = []
    for f in figures_of(benches, "test_generation_peak_memory"):
        memory.append(
            {
                "what": "generate",
                "N": f.get("n"),
                "batch": f.get("count"),
                "peak_mib": f["increment_bytes"] / 2**20,
                "ratio": f.get("peak_in_float64_fields"),
                "ratio_of": "float64 fields of the chunk",
                "peak_over_returned": f.get("peak_over_returned"),
            }
        )
    for f in figures_of(benches, "test_training_peak_memory"):
        memory.append(
            {
                "what": f"train {f.get('model')}",
                "N": f.get("n"),
                "batch": f.get("batch"),
                "peak_mib": f["increment_bytes"] / 2**20,
                "ratio": f.get("peak_over_estimate"),
                "ratio_of": "saved activations + 12 B/param + batch",
            }
        )
    if memory:
        s["memory"] = memory
    gpu: dict[str, Any] = {}
    for f in figures_of(benches, "test_gpu_solve_and_generate_vs_bandwidth"):
        gpu.setdefault("solve", []).append(
            {
                k: f.get(k)
                for k in (
                    "gpu",
                    "N",
                    "batch",
                    "copy_bandwidth_GBps",
                    "solve_samples_per_s",
                    "generate_samples_per_s",
                    "passes_model",
                    "solve_fraction_of_model_bound",
                    "solve_fraction_of_floor_bound",
                    "generate_pool_over_float64_fields",
                )
            }
        )
    for f in figures_of(benches, "test_gpu_training_step_full_preset"):
        gpu.setdefault("training", []).append(
            {
                k: f.get(k)
                for k in ("gpu", "model", "N", "batch", "params", "step_s", "samples_per_s", "peak_memory_bytes")
            }
        )
    for f in figures_of(benches, "test_gpu_inference_vs_cupy_solver"):
        gpu.setdefault("inference", []).extend(f.get("rows", []))
    for f in figures_of(benches, "test_gpu_variable_d_solver"):
        gpu["mgcg"] = f.get("rows", [])
    for f in figures_of(benches, "test_gpu_stream_datamodule_vs_training_step"):
        gpu["stream"] = {
            k: f.get(k)
            for k in (
                "gpu",
                "task",
                "batch_s",
                "samples_per_s",
                "train_steps_s",
                "cheapest_model",
                "ratio_step_over_batch",
            )
        }
    for f in figures_of(benches, "test_gpu_stream_stages"):
        gpu["stream_stages"] = {
            k: f.get(k)
            for k in (
                "gpu",
                "task",
                "batch_size",
                "batch_s",
                "stages_s",
                "sources",
                "layers",
                "rasterise_speedup_over_stamp_loop",
            )
        }
    for f in figures_of(benches, "test_gpu_training_step_variants"):
        variants = f.get("variants") or {}
        gpu.setdefault("step_variants", []).append(
            {
                "model": f.get("model"),
                "N": f.get("N"),
                "batch": f.get("batch"),
                "fp32_step_s": (variants.get("fp32") or {}).get("step_s"),
                **{f"{v}_speedup": row.get("speedup_over_fp32") for v, row in variants.items() if v != "fp32"},
                "compile_first_step_s": (variants.get("compile") or {}).get("first_step_s"),
            }
        )
    for f in figures_of(benches, "test_gpu_cached_loader_pin_memory"):
        gpu["pin_memory"] = {k: f.get(k) for k in ("gpu", "N", "batch", "batch_bytes", "s_per_batch", "speedup_pinned")}
    if gpu:
        s["gpu"] = gpu
    return s


def _ratio_digits(a: Any, b: Any) -> int:
    """The significant digits a ratio of two timings carries, by the run records' rule:
    ``timing_digits(ratio_spread(...))`` (two when a spread was not recorded).

    >>> _ratio_digits({"spread": 0.2}, {"spread": 0.9}), _ratio_digits({"spread": 0.2}, None)
    (1, 2)
    """
    return timing_digits(ratio_spread(*((t or {}).get("spread") for t in (a, b))))


def fmt_num(x: Any, digits: int = 3) -> str:
    """A figure for a Markdown table: ``digits`` significant digits, none after the point from 100 up, "–" for None."""
    if x is None:
        return "–"
    if isinstance(x, float):
        if x == 0:
            return "0"
        if abs(x) >= 100:
            return f"{x:.0f}"
        return f"{x:.{digits}g}"
    return str(x)


def render_markdown(summary: dict[str, Any]) -> str:
    """The summary's main tables as Markdown (what the README quotes)."""
    lines: list[str] = []
    if "solver" in summary:
        lines += [
            "| problem | N | baseline | diffbench s/sample | baseline s/sample | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['problem']} | {r['N']} | {r['baseline']} | {fmt_num(r['diffbench_s'])} | {fmt_num(r['baseline_s'])} | {fmt_num(r['speedup'])}x |"
            for r in summary["solver"]
        ]
        lines.append("")
    if "inference" in summary:
        lines += [
            "| model | N | batch | network s/sample | transform solve s/sample | speed-up vs transform | mgcg s/sample (log-normal D) | speed-up vs mgcg |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['N']} | {r['batch']} | {fmt_num(r['model_s'])} | {fmt_num(r['transform_s'])} | {fmt_num(r['speedup_vs_transform'])} | "
            f"{fmt_num(r['mgcg_s'])} | {fmt_num(r['speedup_vs_mgcg'])} |"
            for r in summary["inference"]["rows"]
        ]
        lines.append("")
    if "equal_accuracy" in summary:
        lines += [
            "| model | problem | N | target nMAE | FLOPs/sample | network s/sample | mgcg tol | speed-up vs mgcg | speed-up vs transform |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['problem']} | {r['N']} | {fmt_num(r['target_nmae'])} | {fmt_num(r['flops_per_sample'])} | "
            f"{fmt_num(r['network_s'], 2)} | {fmt_num(r['mgcg_tol'])}{' (loosest)' if r['mgcg_loosest'] else ''} | "
            f"{fmt_num(r['speedup_vs_mgcg'], r.get('speedup_vs_mgcg_digits', 2))} | "
            f"{fmt_num(r['speedup_vs_transform'], r.get('speedup_vs_transform_digits', 2))} |"
            for r in summary["equal_accuracy"]["rows"]
        ]
        lines.append("")
    if "gpu" in summary and summary["gpu"].get("inference"):
        lines += [
            "| GPU model | N | batch | network s/sample | CuPy transform s/sample | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['N']} | {r['batch']} | {fmt_num(r['model_s_per_sample'])} | {fmt_num(r['solver_s_per_sample'])} | {fmt_num(r['speedup'])} |"
            for r in summary["gpu"]["inference"]
        ]
        lines.append("")
    if "gpu" in summary and summary["gpu"].get("step_variants"):
        lines += [
            "| GPU training step | N | batch | fp32 s | bf16 autocast | channels-last | torch.compile | compile's first step s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['model']} | {r['N']} | {r['batch']} | {fmt_num(r['fp32_step_s'])} | {fmt_num(r.get('bf16-autocast_speedup'))}x | "
            f"{fmt_num(r.get('channels-last_speedup'))}x | {fmt_num(r.get('compile_speedup'))}x | {fmt_num(r.get('compile_first_step_s'))} |"
            for r in summary["gpu"]["step_variants"]
        ]
        lines.append("")
    stages = summary.get("gpu", {}).get("stream_stages")
    if stages:
        parts = ", ".join(f"{k} {fmt_num(v * 1e3)} ms" for k, v in (stages.get("stages_s") or {}).items())
        lines += [
            f"Streamed {stages['task']} batch of {stages['batch_size']}: {fmt_num(stages['batch_s'] * 1e3)} ms ({parts}); "
            f"rasterise {fmt_num(stages['rasterise_speedup_over_stamp_loop'])}x the stamp loop ({stages['sources']} sources, "
            f"{stages['layers']} layers).",
            "",
        ]
    return "\n".join(lines)
