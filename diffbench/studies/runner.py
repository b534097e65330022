"""``diffbench study NAME``: a whole study (models x tasks x seeds) with its table and plots.

A study is a YAML in ``diffbench/studies/`` (or a path)::

    name: data-scaling
    description: ...
    models: [cnn-small, unet-small]
    tasks: [standard-64]
    seeds: [0, 1]
    train_fractions: [0.0125, 0.025, 0.05, 0.125, 0.25, 0.5, 1.0]   # optional (default [1.0])
    steps: 800                # optional: the same optimisation-step budget for every run
    evaluate_on: {standard-64: [transfer-128, shapes-64]}   # optional transfer evaluations
    analysis: [scaling-law]   # optional: fit error = a + b log10(n_train) with a 95 % band

Every run goes through ``diffbench run`` (same protocol, same result.json) into
``<out>/<name>/runs/``; the study resumes after an interruption (finished runs are kept,
unfinished ones continue from their last checkpoint). Several ``diffbench study`` processes may
share one study (one per core, GPU or machine on a shared filesystem): each run is claimed with
a lock file in ``<out>/<name>/locks/`` (``O_EXCL``; a lock whose process died on this host is
taken over), a process skips runs another one holds and comes back to them when it has nothing
else to do (single-device studies; under ``--devices N`` the ranks replay one order, unlocked). It writes ``table.csv``, ``table.md``,
``summary.json`` and plots into ``<out>/<name>/`` and groups its W&B runs as ``study/<name>``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import DiffbenchError

STUDY_KEYS = {"name", "description", "purpose", "models", "tasks", "seeds", "train_fractions", "steps", "max_epochs",
              "evaluate_on", "analysis"}
ANALYSES = ("scaling-law",)
HEADLINE = ("nmae", "mae", "mae_sources", "max_abs_error", "p99_sample_mae")


@dataclass
class StudySpec:
    name: str
    models: list[str]
    tasks: list[str]
    seeds: list[int]
    train_fractions: list[float] = field(default_factory=lambda: [1.0])
    steps: int | None = None
    max_epochs: int | None = None
    evaluate_on: dict[str, list[str]] = field(default_factory=dict)
    analysis: list[str] = field(default_factory=list)
    description: str = ""
    purpose: str = ""


def studies_dir() -> Path:
    return Path(__file__).resolve().parent


def study_names() -> list[str]:
    return sorted(p.stem for p in studies_dir().glob("*.yaml"))


def load_study(name_or_path: str) -> StudySpec:
    """A study by name (``diffbench/studies/NAME.yaml``) or by path."""
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else studies_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise DiffbenchError(f"unknown study {name_or_path!r}; available: {', '.join(study_names())}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise DiffbenchError(f"study file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise DiffbenchError(f"study file {path} must hold a mapping")
    unknown = sorted(set(raw) - STUDY_KEYS)
    if unknown:
        raise DiffbenchError(f"study file {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(STUDY_KEYS))}")
    for key in ("name", "models", "tasks", "seeds"):
        if not raw.get(key):
            raise DiffbenchError(f"study file {path}: {key!r} is required and must not be empty")
    fractions = raw.get("train_fractions", [1.0])
    if not all(isinstance(f, (int, float)) and 0 < f <= 1 for f in fractions):
        raise DiffbenchError(f"study file {path}: train_fractions must lie in (0, 1], got {fractions!r}")
    analysis = raw.get("analysis") or []
    bad = [a for a in analysis if a not in ANALYSES]
    if bad:
        raise DiffbenchError(f"study file {path}: unknown analysis {bad}; allowed: {', '.join(ANALYSES)}")
    spec = StudySpec(name=str(raw["name"]), models=list(raw["models"]), tasks=list(raw["tasks"]), seeds=list(raw["seeds"]),
                     train_fractions=[float(f) for f in fractions], steps=raw.get("steps"), max_epochs=raw.get("max_epochs"),
                     evaluate_on=dict(raw.get("evaluate_on") or {}), analysis=list(analysis),
                     description=str(raw.get("description", "")).strip(), purpose=str(raw.get("purpose", "")).strip())
    from ..data import load_task

    for t in spec.tasks + [x for v in spec.evaluate_on.values() for x in v]:
        load_task(t)  # unknown tasks fail before anything runs
    return spec


def run_study(name: str, *, out: str = "studies", data_dir: str | None = None, devices: int = 1, accelerator: str = "auto",
              wandb_mode: str | None = None, progress: bool = True, log: Any = print) -> dict[str, Any]:
    """Run (or resume) every run of a study, then its evaluations, table, plots and fits."""
    from ..data import load_task
    from ..pipeline.evaluate import evaluate_checkpoint
    from ..pipeline.config import RunConfig, file_safe
    from ..pipeline.run import run
    from ..training.environment import is_ddp_child

    spec = load_study(name)
    # Under DDP (--devices > 1) every rank replays the study in the same order: no locks there.
    locking = devices == 1 and not is_ddp_child()
    root = Path(out) / spec.name
    plan = [(task_name, model, fraction) for task_name in spec.tasks for model in spec.models for fraction in spec.train_fractions]
    total = len(plan)
    rows: dict[int, dict[str, Any]] = {}
    pending = list(range(total))
    waiting_said: set[int] = set()
    while pending:
        progressed = False
        for i in list(pending):
            task_name, model, fraction = plan[i]
            lock = root / "locks" / f"{file_safe(task_name, 60)}--{file_safe(model, 60)}--{fraction:g}.lock"
            if locking and not claim(lock):
                if i not in waiting_said:
                    log(f"[{i + 1}/{total}] {model} on {task_name}, train fraction {fraction:g}: another process holds it ({lock}); later")
                    waiting_said.add(i)
                continue
            try:
                task = load_task(task_name)
                k = i + 1
                cfg = RunConfig(model=model, task=task_name, seeds=list(spec.seeds), devices=devices, accelerator=accelerator,
                                train_fraction=fraction, max_epochs=spec.max_epochs, out=str(root / "runs"), data_dir=data_dir,
                                wandb_mode=wandb_mode, progress=progress, resume=True, wandb_group=f"study/{spec.name}")
                if spec.steps is not None:
                    cfg.max_steps = int(spec.steps)
                    n_train = len(task.splits["train"].indices(None, fraction))
                    batch = int(task.training.get("batch_size", 25))
                    steps_per_epoch = max(1, math.ceil(n_train / batch))
                    cfg.check_val_every_n_epoch = max(1, round(cfg.max_steps / steps_per_epoch / 10))
                log(f"[{k}/{total}] {model} on {task_name}, train fraction {fraction:g}, seeds {spec.seeds}")
                result = run(cfg, argv=None)
                if result is not None:  # None: a DDP worker rank
                    run_dir = root / "runs" / result["run_id"]
                    row = _row(spec, result, fraction)
                    for target in spec.evaluate_on.get(task_name, []):
                        row["transfer"][load_task(target).name] = _transfer(result, run_dir, target, data_dir, progress, evaluate_checkpoint)
                    rows[i] = row
            finally:
                if locking:
                    release(lock)
            pending.remove(i)
            progressed = True
        if pending and not progressed:
            time.sleep(LOCK_POLL_S)
    ordered = [rows[i] for i in sorted(rows)]
    summary = {"study": spec.__dict__, "rows": ordered}
    if "scaling-law" in spec.analysis:
        summary["scaling_law"] = {m: fit_log_law([r for r in ordered if r["model"] == m]) for m in spec.models}
    _write_outputs(root, spec, summary)
    return summary


#: Seconds between looks at runs another process holds.
LOCK_POLL_S = 10.0


def claim(lock: Path) -> bool:
    """Take the run's lock file (atomic ``O_EXCL`` create holding ``host pid``); False while another
    live process holds it. A lock left by a dead process on this host is taken over."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    me = f"{socket.gethostname()} {os.getpid()}"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                host, pid = lock.read_text().split()
            except (OSError, ValueError):
                return False  # being written right now, or unreadable: leave it to its owner
            if f"{host} {pid}" == me:
                return True
            if host != socket.gethostname() or _alive(int(pid)):
                return False
            try:
                lock.unlink()  # its process died: take the run over (it resumes from its checkpoint)
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(me)
        return True
    return False


def release(lock: Path) -> None:
    """Drop the lock if this process holds it."""
    try:
        if lock.read_text().split() == [socket.gethostname(), str(os.getpid())]:
            lock.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _row(spec: StudySpec, result: dict[str, Any], fraction: float) -> dict[str, Any]:
    agg = result["aggregate"]["test"]
    return {
        "model": result["model"]["name"],
        "task": result["task"]["name"],
        "train_fraction": fraction,
        "n_train": result["data"]["n_train"],
        "run_id": result["run_id"],
        "parameters": result["model"]["parameters"],
        "test": {k: agg[k] for k in HEADLINE if k in agg},
        "per_seed_nmae": [s["test"]["nmae"] for s in result["per_seed"]],
        "per_count_nmae": {c: v["nmae"]["mean"] for c, v in agg.get("per_count", {}).items()},
        "command": result["command"],
        "transfer": {},
    }


def _transfer(result: dict[str, Any], run_dir: Path, target: str, data_dir: str | None, progress: bool, evaluate: Any) -> dict[str, Any]:
    """Evaluate every seed's best checkpoint on another task; a model that cannot run there is reported."""
    values, errors = [], []
    for seed in result["per_seed"]:
        ckpt = run_dir / seed["best_checkpoint"]
        out_dir = ckpt.parent
        from ..data import load_task

        cached = out_dir / f"metrics-{load_task(target).name}-test.json"
        try:
            m = json.loads(cached.read_text())["metrics"] if cached.exists() else evaluate(str(ckpt), task=target, data_dir=data_dir, out=str(out_dir), progress=progress)["metrics"]
            values.append(m["nmae"])
        except DiffbenchError as exc:
            errors.append(str(exc))
        except RuntimeError as exc:  # the network itself cannot process this input size
            errors.append(f"cannot run on {target}: {str(exc).splitlines()[0][:200]}")
    if errors:
        return {"status": "cannot run", "reason": errors[0]}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return {"status": "ok", "nmae": {"mean": mean, "std": std, "n": len(values)}}


def fit_log_law(rows: list[dict[str, Any]], level: float = 0.95) -> dict[str, Any] | None:
    """Least-squares fit of ``nmae = a + b log10(n_train)`` over every seed's point, with the
    95 % confidence band of the mean (Student t, n - 2 degrees of freedom)."""
    from scipy import stats

    xs, ys = [], []
    for r in rows:
        for v in r["per_seed_nmae"]:
            if v is not None:
                xs.append(math.log10(r["n_train"]))
                ys.append(v)
    n = len(xs)
    if n < 3 or len(set(xs)) < 2:
        return None
    xbar, ybar = sum(xs) / n, sum(ys) / n
    sxx = sum((x - xbar) ** 2 for x in xs)
    b = sum((x - xbar) * (y - ybar) for x, y in zip(xs, ys)) / sxx
    a = ybar - b * xbar
    resid = [y - (a + b * x) for x, y in zip(xs, ys)]
    s = math.sqrt(sum(e * e for e in resid) / (n - 2))
    ss_tot = sum((y - ybar) ** 2 for y in ys)
    t = float(stats.t.ppf(0.5 + level / 2, n - 2))
    grid = sorted(set(xs))
    band = [{"n_train": 10**x, "fit": a + b * x, "half_width": t * s * math.sqrt(1 / n + (x - xbar) ** 2 / sxx)} for x in grid]
    return {"a": a, "b": b, "b_stderr": s / math.sqrt(sxx), "r2": 1 - sum(e * e for e in resid) / ss_tot if ss_tot > 0 else None,
            "n_points": n, "level": level, "band": band,
            "law": f"nmae = {a:.4g} {'+' if b >= 0 else '-'} {abs(b):.4g} log10(n_train)"}


def _write_outputs(root: Path, spec: StudySpec, summary: dict[str, Any]) -> None:
    from ..data.cache import atomic_write_bytes, atomic_write_json

    root.mkdir(parents=True, exist_ok=True)
    rows = summary["rows"]
    transfer_targets = sorted({t for r in rows for t in r["transfer"]})
    header = ["model", "task", "train_fraction", "n_train", "parameters"] + [f"test_{k}_mean" for k in HEADLINE] + \
             [f"test_{k}_std" for k in HEADLINE] + [f"transfer_{t}_nmae" for t in transfer_targets] + ["command"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r["model"], r["task"], r["train_fraction"], r["n_train"], r["parameters"]]
                   + [_num(r["test"].get(k, {}).get("mean")) for k in HEADLINE] + [_num(r["test"].get(k, {}).get("std")) for k in HEADLINE]
                   + [_transfer_text(r["transfer"].get(t)) for t in transfer_targets] + [r["command"]])
    atomic_write_bytes(root / "table.csv", buf.getvalue().encode())
    md = [f"# Study {spec.name}", "", spec.description, "", "| model | task | train fraction | n_train | test nmae | test mae_sources | test max_abs_error |"
          + "".join(f" {t} nmae |" for t in transfer_targets), "|---|---|---|---|---|---|---|" + "---|" * len(transfer_targets)]
    for r in rows:
        md.append(f"| {r['model']} | {r['task']} | {r['train_fraction']:g} | {r['n_train']} | {_pm(r['test'].get('nmae'))} | "
                  f"{_pm(r['test'].get('mae_sources'))} | {_pm(r['test'].get('max_abs_error'))} |"
                  + "".join(f" {_transfer_text(r['transfer'].get(t))} |" for t in transfer_targets))
    for m, fit in (summary.get("scaling_law") or {}).items():
        if fit:
            md += ["", f"**{m}**: {fit['law']} (slope ± s.e. {fit['b']:.3g} ± {fit['b_stderr']:.2g}, R² {fit['r2']:.3f}, {fit['n_points']} points)"]
    atomic_write_bytes(root / "table.md", ("\n".join(md) + "\n").encode())
    atomic_write_json(root / "summary.json", summary)
    _plots(root, summary)


def _num(x: Any) -> str:
    return "" if x is None else f"{x:.6g}"


def _pm(d: dict[str, Any] | None) -> str:
    if not d or d.get("mean") is None:
        return "—"
    return f"{d['mean']:.4g}" + (f" ± {d['std']:.2g}" if d.get("std") is not None else "")


def _transfer_text(t: dict[str, Any] | None) -> str:
    if not t:
        return ""
    return _pm(t["nmae"]) if t["status"] == "ok" else "cannot run"


def _plots(root: Path, summary: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
