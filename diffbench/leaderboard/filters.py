"""The site's formatting, in one place: numbers, times, counts, "mean ± std" and raw values.

Each is a Jinja2 filter of the templates (:mod:`diffbench.leaderboard.templates`) and a
function the hand-built markup (SVG charts, the trust and study pages) calls. The HTML
forms return :class:`markupsafe.Markup` (already escaped); the text forms return ``str``.

>>> mean_pm({"mean": 0.0123, "std": 0.00045, "n": 3})
('0.0123', '4.5e-4')
>>> pm_text({"mean": 0.0123, "std": 0.00045, "n": 3}), pm_text({"mean": None, "std": None, "n": 0})
('0.0123 ± 4.5e-4', '—')
>>> str(pm({"mean": 1.5, "std": None, "n": 1})), str(pm({"mean": 2.0, "std": 0.5, "n": 2}))
('1.5', '2 <span class="pm">± 0.5</span>')
>>> str(value(12345)), str(value(None)), str(value(True)), str(value("<b>"))
('12,345', '—', 'yes', '&lt;b&gt;')
>>> plural(1, "entry", "entries"), plural(3, "entry", "entries")
('1 entry', '3 entries')
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from markupsafe import Markup

from .scales import fmt_count, fmt_number, fmt_seconds

__all__ = ["FILTERS", "esc", "fmt_count", "fmt_number", "fmt_seconds", "mean_pm", "plural", "pm", "pm_text", "value"]

DASH = "—"


def esc(x: Any) -> str:
    """HTML-escape ``x`` (None as empty), quotes included: for markup built by hand."""
    return html.escape("" if x is None else str(x), quote=True)


def _stat(stat: Any) -> tuple[float | None, float | None]:
    if isinstance(stat, dict):
        return stat.get("mean"), stat.get("std")
    return getattr(stat, "mean", None), getattr(stat, "std", None)


def _std(std: float, fmt: Callable[[float], str]) -> str:
    if fmt is fmt_number:
        return f"{std:.2g}" if 1e-3 <= abs(std) < 1e5 or std == 0 else fmt_number(float(f"{std:.2g}"))
    return fmt(std)


def mean_pm(stat: Any, fmt: Callable[[float], str] = fmt_number) -> tuple[str, str | None] | None:
    """The one "mean ± std" formatter: ``(mean, std or None)`` as text, or None without a mean.

    ``stat`` is ``{"mean", "std", "n"}`` (a dict or a typed statistic); the std is shown to
    two significant digits."""
    mean, std = _stat(stat)
    if mean is None:
        return None
    return fmt(mean), (_std(std, fmt) if std is not None else None)


def pm_text(stat: Any, fmt: Callable[[float], str] = fmt_number) -> str:
    """``mean ± std`` as plain text, or an em dash."""
    parts = mean_pm(stat, fmt)
    if parts is None:
        return DASH
    return parts[0] + (f" ± {parts[1]}" if parts[1] is not None else "")


def pm(stat: Any, fmt: Callable[[float], str] = fmt_number) -> Markup:
    """``mean <span class="pm">± std</span>`` (HTML), or an em dash."""
    parts = mean_pm(stat, fmt)
    if parts is None:
        return Markup(DASH)
    return Markup(esc(parts[0]) + (f' <span class="pm">± {esc(parts[1])}</span>' if parts[1] is not None else ""))


def value(v: Any) -> Markup:
    """A recorded value as shown in the fact lists: numbers formatted, JSON as code, None as a dash."""
    if v is None:
        return Markup(DASH)
    if isinstance(v, bool):
        return Markup("yes" if v else "no")
    if isinstance(v, float):
        return Markup(esc(fmt_number(v)))
    if isinstance(v, int) and abs(v) >= 10_000:
        return Markup(f"{v:,}")
    if isinstance(v, (dict, list)):
        return Markup(f"<code>{esc(json.dumps(v, sort_keys=True, ensure_ascii=False))}</code>")
    return Markup(esc(v))


def plural(n: int, one: str, many: str) -> str:
    """``n`` and the word in the right number."""
    return f"{n} {one if n == 1 else many}"


def grouped(n: int) -> str:
    """An integer with thousands separators."""
    return f"{n:,}"


def json_pretty(obj: Any) -> str:
    """``obj`` as indented JSON text (sorted keys, Unicode kept), for a ``<pre>`` block."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False)


#: The Jinja2 filters of the site's templates.
FILTERS: dict[str, Callable[..., Any]] = {
    "number": fmt_number,
    "seconds": fmt_seconds,
    "count": fmt_count,
    "pm": pm,
    "pm_text": pm_text,
    "value": value,
    "plural": plural,
    "grouped": grouped,
    "tojson_pretty": json_pretty,
}
