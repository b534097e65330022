"""Study pages: ``leaderboard/studies/<name>/`` (what ``diffbench study NAME`` writes) on the site.

A shipped study folder holds ``summary.json`` (required: the study's spec and one row per run,
see :mod:`diffbench.studies.runner`), ``table.md``, ``table.csv`` and PNG plots. The site gets
``studies/<name>/index.html`` with the description and purpose, the spec, the results table
(with transfer evaluations, "cannot run" where a model cannot run on the target, and a link to
the run's leaderboard entry when it was submitted), the log-law fit with its confidence band
when the summary has one, and the plots, which are copied next to the page together with the
table and summary files. Any folder in that format works; a study without a fit has no fit
section. A folder without a readable ``summary.json`` stops the build, naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError
from ..stats import format_interval, format_p
from ..studies.scaling import stops_text
from ..submissions.submit import MAX_IMAGE_BYTES, MAX_IMAGES, MAX_RESULT_BYTES, read_json_strict
from .claim_text import recipe_text
from .filters import pm_text
from .markup import esc, header, page
from .rows import Row
from .scales import fmt_count, fmt_number
from .templates import Markup, macro

SUMMARY = "summary.json"
#: Files of a study folder copied into the site besides its PNG plots.
DOWNLOADS = ("table.md", "table.csv", SUMMARY)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Test metrics of a study row, in table order (diffbench.studies.analysis.HEADLINE).
METRICS = (
    ("nmae", "test nMAE"),
    ("mae", "test MAE"),
    ("mae_sources", "MAE sources"),
    ("max_abs_error", "max |error|"),
    ("p99_sample_mae", "p99 sample MAE"),
)
PLOT_CAPTIONS = {
    "scaling.png": (
        "Error against data-set size",
        "every seed's test nMAE, the log-law fit and its 95 % confidence band",
    ),
    "per_count.png": ("Error against the number of sources", "test nMAE per source count, one line per run"),
}


@dataclass
class Study:
    name: str
    path: Path
    summary: dict[str, Any]
    plots: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # copied into studies/<name>/

    @property
    def spec(self) -> dict[str, Any]:
        return self.summary["study"]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.summary["rows"]

    @property
    def fits(self) -> dict[str, Any] | None:
        fits = self.summary.get("scaling_law")
        return fits if isinstance(fits, dict) else None

    @property
    def tasks(self) -> list[str]:
        return sorted({r["task"] for r in self.rows})


def _fail(source: Path, msg: str) -> None:
    raise DiffbenchError(f"{source}: {msg}")


def _check_summary(summary: Any, source: Path) -> None:
    """The shape the page relies on; everything else is rendered defensively."""
    if not isinstance(summary, dict):
        _fail(
            source,
            "a study summary is a JSON object {\"study\": {...}, \"rows\": [...]}, as `diffbench study` writes it",
        )
    if not isinstance(summary.get("study"), dict):
        _fail(source, "study must be an object (the study's spec)")
    for key in ("name", "description", "purpose"):
        if key in summary["study"] and not isinstance(summary["study"][key], str):
            _fail(source, f"study.{key} must be a string")
    rows = summary.get("rows")
    if not isinstance(rows, list):
        _fail(source, "rows must be a list (one object per run)")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            _fail(source, f"rows[{i}] must be an object")
        for key in ("model", "task"):
            if not isinstance(row.get(key), str) or not row[key]:
                _fail(source, f"rows[{i}].{key} must be a non-empty string")
        for key in ("test", "transfer"):
            if key in row and not isinstance(row[key], dict):
                _fail(source, f"rows[{i}].{key} must be an object")
        for target, t in (row.get("transfer") or {}).items():
            if not isinstance(t, dict) or not isinstance(t.get("status"), str):
                _fail(source, f"rows[{i}].transfer.{target} must be an object with a status")
    fits = summary.get("scaling_law")
    if fits is not None:
        if not isinstance(fits, dict):
            _fail(source, "scaling_law must be an object {model: fit or null}")
        for model, fit in fits.items():
            if fit is None:
                continue
            if not isinstance(fit, dict) or not all(isinstance(fit.get(k), (int, float)) for k in ("a", "b")):
                _fail(source, f"scaling_law.{model} must be a fit with numbers a and b, or null")
            if not isinstance(fit.get("band", []), list) or not all(isinstance(b, dict) for b in fit.get("band", [])):
                _fail(source, f"scaling_law.{model}.band must be a list of objects")


def load_studies(leaderboard: Path) -> list[Study]:
    """Every study folder under ``<leaderboard>/studies/``, sorted by name (dot-folders and loose files are ignored)."""
    root = Path(leaderboard) / "studies"
    if not root.exists():
        return []
    if not root.is_dir():
        raise DiffbenchError(f"{root} is not a folder; shipped studies live in <leaderboard>/studies/<name>/")
    out = []
    for d in sorted(root.iterdir()):
        if d.name.startswith(".") or d.is_symlink() or not d.is_dir():
            continue
        if not _NAME.match(d.name):
            _fail(d, "a study folder is named like a study (lower-case letters, digits, '.', '_', '-')")
        summary_path = d / SUMMARY
        if not summary_path.is_file():
            _fail(
                d,
                f"no {SUMMARY}; a study folder holds what `diffbench study NAME` writes "
                "(summary.json, table.md, table.csv and the plots)",
            )
        summary = read_json_strict(summary_path, "study summary")
        _check_summary(summary, summary_path)
        study = Study(name=d.name, path=d, summary=summary)
        for f in sorted(d.iterdir()):
            if f.is_symlink() or not f.is_file():
                continue
            if f.suffix.lower() == ".png" and _NAME.match(f.name.lower()):
                if f.stat().st_size > MAX_IMAGE_BYTES:
                    _fail(f, f"a plot is at most {MAX_IMAGE_BYTES} bytes")
                data = f.read_bytes()
                if not data.startswith(_PNG_MAGIC):
                    _fail(f, "is not a PNG file")
                study.plots.append(f.name)
                study.files[f.name] = data
            elif f.name in DOWNLOADS:
                if f.stat().st_size > MAX_RESULT_BYTES:
                    _fail(f, f"is larger than {MAX_RESULT_BYTES} bytes")
                study.files[f.name] = f.read_bytes()
        if len(study.plots) > MAX_IMAGES:
            _fail(d, f"has {len(study.plots)} plots; at most {MAX_IMAGES} are shown")
        study.plots.sort(
            key=lambda p: (p not in PLOT_CAPTIONS, list(PLOT_CAPTIONS).index(p) if p in PLOT_CAPTIONS else 0, p)
        )
        out.append(study)
    return out


# --------------------------------------------------------------------------- rendering


def _num(x: Any, fmt=fmt_number) -> str:
    return esc(fmt(x)) if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def _list(x: Any) -> str:
    if isinstance(x, list):
        return esc(", ".join(fmt_number(v) if isinstance(v, float) else str(v) for v in x)) or "—"
    return esc(x) if x not in (None, "") else "—"


def _transfer_targets(study: Study) -> list[str]:
    return sorted({t for r in study.rows for t in (r.get("transfer") or {})})


def study_blurb(study: Study) -> str:
    """One line for the index: what the study is, how many runs, its fit."""
    desc = study.spec.get("description") or ""
    fits = [
        f"{esc(m)}: {esc(f['law'])}"
        for m, f in sorted((study.fits or {}).items())
        if isinstance(f, dict) and f.get("law")
    ]
    n = len(study.rows)
    return (
        f'<li><a href="studies/{esc(study.name)}/index.html"><strong>{esc(study.name)}</strong></a> · {n} run{"s" if n != 1 else ""} on '
        f'{esc(", ".join(study.tasks)) or "—"}<span class="blurb">{esc(desc)}</span>'
        + (f'<span class="blurb">fit: {"; ".join(fits)}</span>' if fits else "")
        + "</li>"
    )


def render_study(study: Study, entries: dict[str, list[Row]]) -> str:
    """``studies/<name>/index.html`` (template ``study.html``); ``entries`` maps a run id to the leaderboard rows holding that run."""
    spec, rows = study.spec, study.rows
    back = '<a class="back" href="../../index.html#studies">← studies</a>'
    site_header = header(f"study · {esc(study.name)}", back=back, depth="../../")
    facts = []
    if spec.get("purpose"):
        facts.append(("Purpose", esc(spec["purpose"])))
    facts += [
        ("Models", _list(spec.get("models"))),
        ("Tasks", _list(spec.get("tasks"))),
        ("Seeds", _list(spec.get("seeds"))),
        ("Training fractions", _list(spec.get("train_fractions"))),
    ]
    if spec.get("steps") is not None:
        facts.append(("Optimisation steps", _num(spec["steps"], lambda v: f"{v:g}")))
    if spec.get("max_epochs") is not None:
        facts.append(("Epochs", _num(spec["max_epochs"], lambda v: f"{v:g}")))
    facts.append(
        (
            "Stopping",
            "early, when validation stops improving (the recipe's patience), within that budget"
            if spec.get("early_stopping") is True
            else "at the end of that budget (no early stopping)",
        )
    )
    facts.append(("Learning rate", esc(recipe_text(spec.get("recipe_from"))).replace("`", "")))
    ev = spec.get("evaluate_on")
    if isinstance(ev, dict) and ev:
        facts.append(
            (
                "Transfer evaluations",
                esc(
                    "; ".join(
                        f"{src} → {', '.join(map(str, t)) if isinstance(t, list) else t}"
                        for src, t in sorted(ev.items())
                    )
                ),
            )
        )
    analysis = spec.get("analysis")
    facts.append(("Analysis", _list(analysis) if analysis else "none"))
    facts.append(("Runs", str(len(rows))))
    facts.append(("Reproduce", f"<code>diffbench study {esc(spec.get('name') or study.name)}</code>"))
    files = [
        f'<a href="{esc(f)}">{esc(f)}</a>'
        for f in sorted(study.files)
        if f in ("table.md", "table.csv", "summary.json")
    ]
    if files:
        facts.append(("Files", " · ".join(files)))
    md = study.files.get("table.md")
    return page(
        f"study {study.name} · diffbench leaderboard",
        "",
        header=site_header,
        template="study.html",
        name=study.name,
        description=spec.get("description") or "",
        study_facts=[(k, Markup(v)) for k, v in facts],
        results=Markup(_results(study, entries)),
        fit=Markup(_fit_section(study)),
        plots=[(p, *PLOT_CAPTIONS.get(p, (p, ""))) for p in study.plots],
        table_md=md.decode("utf-8", "replace") if md is not None else None,
    )


def _text(x: Any, fmt: Any = fmt_number) -> str:
    """A number as text (escaped by the template), or an em dash."""
    return fmt(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else "—"


def _results(study: Study, entries: dict[str, list[Row]]) -> str:
    rows = study.rows
    metrics = [(k, label) for k, label in METRICS if any(k in (r.get("test") or {}) for r in rows)]
    targets = _transfer_targets(study)
    views, notes = [], []
    for r in rows:
        transfer = []
        for t in targets:
            tr = (r.get("transfer") or {}).get(t)
            if tr is None:
                transfer.append(("none", None, None, None))
            elif tr.get("status") == "ok" and _interval_text(tr.get("interval")) is not None:  # over samples and seeds
                transfer.append(("iv", _interval_text(tr.get("interval")), None, None))
            elif tr.get("status") == "ok":
                transfer.append(("ok", tr.get("nmae"), None, None))
            else:
                reason = tr.get("reason") or ""
                notes.append(
                    f"{r['model']} ({r['task']}) on {t}: {tr.get('status')}" + (f" — {reason}" if reason else "")
                )
                transfer.append(("na", reason, tr.get("status"), len(notes)))
        seeds = r.get("per_seed_nmae")
        matches = (
            [e for e in entries.get(r.get("run_id"), []) if e.sub.task == r["task"]]
            if isinstance(r.get("run_id"), str)
            else []
        )
        views.append(
            {
                "model": r["model"],
                "task": r["task"],
                "train_fraction": _text(r.get("train_fraction"), lambda v: f"{v:g}"),
                "n_train": _text(r.get("n_train"), lambda v: f"{v:g}"),
                "params": _text(r.get("parameters"), fmt_count),
                "metrics": [_metric_text(r, k) for k, _ in metrics],
                "transfer": transfer,
                "stops": stops_text(r),
                "seeds": len(seeds) if isinstance(seeds, list) else "—",
                "entries": [e.id for e in matches],
                "run_id": r.get("run_id"),
                "command": r.get("command"),
            }
        )
    return str(macro("results", "study_parts.html")(metrics, targets, views, notes))


def _interval_text(iv: Any) -> str | None:
    """``estimate [low, high]`` of an interval block, or None when it is not one."""
    if isinstance(iv, dict) and all(
        isinstance(iv.get(k), (int, float)) and not isinstance(iv.get(k), bool) for k in ("estimate", "low", "high")
    ):
        try:
            return format_interval(iv["estimate"], iv["low"], iv["high"])
        except DiffbenchError:
            return None
    return None


def _metric_text(row: dict[str, Any], metric: str) -> str:
    """A row's test metric as ``estimate [low, high]`` when its run kept per-sample errors
    (``intervals``), else mean ± std over seeds, else an em dash."""
    iv = (
        ((row.get("intervals") or {}).get("metrics") or {}).get(metric)
        if isinstance(row.get("intervals"), dict)
        else None
    )
    if isinstance(iv, dict):
        return _interval_text(iv) or "—"
    return pm_text((row.get("test") or {}).get(metric))


def _fit_section(study: Study) -> str:
    fits = study.fits
    if not fits:
        return ""
    blocks = []
    for model, fit in sorted(fits.items()):
        if not isinstance(fit, dict):
            blocks.append({"model": model, "facts": None})
            continue
        level = fit.get("level")
        lvl = f"{100 * level:g} %" if isinstance(level, (int, float)) else "confidence"
        b, se = fit.get("b"), fit.get("b_stderr")
        slope = _num(b) + (f" ± {_num(se, lambda v: f'{v:.2g}')}" if isinstance(se, (int, float)) else "")
        facts = [
            ("Law", f"<code>{esc(fit.get('law') or '')}</code>"),
            ("Intercept a", _num(fit.get("a"))),
            ("Slope b ± s.e.", slope),
            ("R²", _num(fit.get("r2"), lambda v: f"{v:.3f}")),
            ("Points", _num(fit.get("n_points"), lambda v: f"{v:g}")),
            ("Band", esc(f"{lvl} confidence band of the fitted line")),
        ]
        if isinstance(fit.get("method"), str):
            facts.insert(0, ("Method", esc(fit["method"])))
        lof = fit.get("lack_of_fit")
        if isinstance(lof, dict) and all(
            isinstance(lof.get(k), (int, float)) for k in ("f", "df_lack", "df_pure", "p")
        ):
            facts.append(
                (
                    "Lack of fit",
                    esc(f"F({lof['df_lack']:g}, {lof['df_pure']:g}) = {lof['f']:.3g}, p = {format_p(lof['p'])}"),
                )
            )
        held = fit.get("holds_for")
        if isinstance(held, dict) and all(isinstance(held.get(k), (int, float)) for k in ("n_low", "n_high")):
            facts.append(("Law holds for", esc(f"n_train {held['n_low']:g}–{held['n_high']:g}")))
        if isinstance(fit.get("verdict"), str):
            facts.append(("Verdict", f"<strong>{esc(fit['verdict'])}</strong>"))
        band = [
            [_text(x.get("n_train"), lambda v: f"{v:.4g}"), _text(x.get("fit")), _text(_sub(x, -1)), _text(_sub(x, 1))]
            for x in fit.get("band") or []
            if isinstance(x, dict)
        ]
        blocks.append({"model": model, "facts": [(k, Markup(v)) for k, v in facts], "level": lvl, "band": band})
    return str(macro("fits", "study_parts.html")(blocks))


def _sub(x: dict[str, Any], sign: int) -> float | None:
    f, h = x.get("fit"), x.get("half_width")
    if isinstance(f, (int, float)) and isinstance(h, (int, float)):
        return f + sign * h
    return None
