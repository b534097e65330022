"""Small, deterministic inline-SVG charts for the static site (no JavaScript, no matplotlib).

Every coordinate is printed with one decimal and every text goes through ``html.escape``,
so the same data always gives the same bytes and no submitted string can become markup.
The axes (:class:`Scale`) and the number formats are :mod:`diffbench.leaderboard.scales`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from .scales import Formatter, Scale, fmt_count, fmt_number, fmt_seconds  # noqa: F401 (importable from here, as before)

#: Tableau 10: distinguishable, colour-blind-aware; cycled with marker shapes beyond 10.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
SHAPES = ("circle", "square", "triangle", "diamond")

WIDTH, HEIGHT = 480, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 18, 18, 50


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def style_for(i: int) -> tuple[str, str]:
    """Colour and marker shape of the i-th entry of a board."""
    return PALETTE[i % len(PALETTE)], SHAPES[(i // len(PALETTE)) % len(SHAPES)]


def _f(v: float) -> str:
    return f"{v:.1f}"


def marker(shape: str, x: float, y: float, color: str, *, hollow: bool = False, r: float = 4.0, tip: str = "") -> str:
    fill = "#ffffff" if hollow else color
    common = f'fill="{fill}" stroke="{color}" stroke-width="1.6"'
    if shape == "square":
        body = f'<rect x="{_f(x - r)}" y="{_f(y - r)}" width="{_f(2 * r)}" height="{_f(2 * r)}" {common}'
    elif shape == "triangle":
        pts = f"{_f(x)},{_f(y - r * 1.2)} {_f(x - r * 1.1)},{_f(y + r * 0.8)} {_f(x + r * 1.1)},{_f(y + r * 0.8)}"
        body = f'<polygon points="{pts}" {common}'
    elif shape == "diamond":
        pts = f"{_f(x)},{_f(y - r * 1.25)} {_f(x + r * 1.25)},{_f(y)} {_f(x)},{_f(y + r * 1.25)} {_f(x - r * 1.25)},{_f(y)}"
        body = f'<polygon points="{pts}" {common}'
    else:
        body = f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" {common}'
    return body + (f"><title>{esc(tip)}</title></{body.split()[0][1:]}>" if tip else "/>")


@dataclass
class Series:
    label: str
    color: str
    shape: str
    points: list[tuple[float, float, float | None]] = field(default_factory=list)  # x, y, ± error
    hollow: bool = False


@dataclass
class Ref:
    x: float
    label: str


def _frame(title: str, xs: Scale, ys: Scale, xlabel: str, ylabel: str) -> list[str]:
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{esc(title)}" font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" font-size="11">',
        f"<title>{esc(title)}</title>",
        f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="#ffffff" stroke="#c9ced6"/>',
    ]
    for v, label in ys.ticks():
        y = ys(v)
        out.append(f'<line x1="{x0}" y1="{_f(y)}" x2="{x1}" y2="{_f(y)}" stroke="#e6e9ee"/>')
        out.append(f'<text x="{x0 - 6}" y="{_f(y + 3.5)}" text-anchor="end" fill="#4a5160">{esc(label)}</text>')
    for v, label in xs.ticks():
        x = xs(v)
        out.append(f'<line x1="{_f(x)}" y1="{y1}" x2="{_f(x)}" y2="{y0}" stroke="#eef0f3"/>')
        out.append(f'<line x1="{_f(x)}" y1="{y0}" x2="{_f(x)}" y2="{y0 + 4}" stroke="#7a8190"/>')
        out.append(f'<text x="{_f(x)}" y="{y0 + 16}" text-anchor="middle" fill="#4a5160">{esc(label)}</text>')
    out.append(
        f'<text x="{_f((x0 + x1) / 2)}" y="{HEIGHT - 10}" text-anchor="middle" fill="#1f2430" font-size="12">{esc(xlabel)}</text>'
    )
    out.append(
        f'<text transform="translate(14 {_f((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle" fill="#1f2430" '
        f'font-size="12">{esc(ylabel)}</text>'
    )
    return out


def empty_chart(title: str, message: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}" '
        f'font-family="system-ui, sans-serif" font-size="12"><title>{esc(title)}</title>'
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" fill="#fafbfc" stroke="#c9ced6"/>'
        f'<text x="{WIDTH / 2:.1f}" y="{HEIGHT / 2:.1f}" text-anchor="middle" fill="#7a8190">{esc(message)}</text></svg>'
    )


def _lower(ys: Scale, v: float) -> float:
    """Pixel of the lower end of an error bar, clipped to the axis."""
    return ys(max(v, ys.lo)) if (v > 0 or not ys.log) else ys(ys.lo)


def _auto_log(values: list[float]) -> bool:
    pos = [v for v in values if v is not None and v > 0]
    return bool(pos) and max(pos) / min(pos) > 30


# --------------------------------------------------------------------------- many entries with intervals and bands


@dataclass
class Band:
    """One entry's curve with its band: ``points`` are ``(x, y, low, high)`` (``low``/``high`` None: no band at that x)."""

    label: str
    color: str
    shape: str
    points: list[tuple[float, float, float | None, float | None]] = field(default_factory=list)
    hollow: bool = False


def _y_scale(values: list[float], centres: list[float], y_fmt: Formatter) -> Scale:
    log_y = _auto_log(centres)
    vals = [v for v in values if v is not None and (v > 0 or not log_y)]
    return Scale(vals, HEIGHT - BOTTOM, TOP, log=log_y, zero=not log_y, fmt=y_fmt)


def interval_scatter(
    title: str,
    series: list[Band],
    xlabel: str,
    ylabel: str,
    *,
    x_fmt: Formatter = fmt_number,
    y_fmt: Formatter = fmt_number,
    log_x: bool = True,
) -> str:
    """One marker per entry (its first point ``(x, y, low, high)``) with its interval as a
    vertical bar from ``low`` to ``high`` (asymmetric intervals drawn as they are)."""
    pts = [
        (s, s.points[0])
        for s in series
        if s.points and s.points[0][1] is not None and (s.points[0][0] > 0 or not log_x)
    ]
    if not pts:
        return empty_chart(title, "no results yet")
    xs = Scale([p[0] for _, p in pts], LEFT + 10, WIDTH - RIGHT - 10, log=log_x, fmt=x_fmt)
    ys = _y_scale([v for _, p in pts for v in p[1:]], [p[1] for _, p in pts], y_fmt)
    out = _frame(title, xs, ys, xlabel + (" (log scale)" if log_x else ""), ylabel + (" (log scale)" if ys.log else ""))
    for s, (x, y, lo, hi) in pts:
        if lo is not None and hi is not None and hi > lo:
            out.append(
                f'<line x1="{_f(xs(x))}" y1="{_f(_lower(ys, lo))}" x2="{_f(xs(x))}" y2="{_f(ys(hi))}" stroke="{s.color}" '
                f'stroke-width="1.4" opacity="0.75"/>'
            )
        tip = f"{s.label}: {x_fmt(x)}, {y_fmt(y)}" + (
            f" [{y_fmt(lo)}, {y_fmt(hi)}]" if lo is not None and hi is not None else ""
        )
        out.append(marker(s.shape, xs(x), ys(y), s.color, hollow=s.hollow, r=4.5, tip=tip))
    out.append("</svg>")
    return "".join(out)


def bands_chart(title: str, series: list[Band], xlabel: str, ylabel: str, *, y_fmt: Formatter = fmt_number) -> str:
    """One line per entry over integer x (e.g. the number of sources) inside its band, a
    translucent polygon from ``low`` to ``high`` (drawn only over x values that have both)."""
    pts = [p for s in series for p in s.points if p[1] is not None]
    if not pts:
        return empty_chart(title, "no per-source-count results yet")
    xs = Scale([p[0] for p in pts], LEFT + 12, WIDTH - RIGHT - 12, log=False, integer=True, fmt=lambda v: f"{v:.0f}")
    ys = _y_scale([v for p in pts for v in p[1:]], [p[1] for p in pts], y_fmt)
    out = _frame(title, xs, ys, xlabel, ylabel + (" (log scale)" if ys.log else ""))
    for s in series:
        p = sorted((q for q in s.points if q[1] is not None), key=lambda q: q[0])
        banded = [q for q in p if q[2] is not None and q[3] is not None]
        if len(banded) >= 2:
            edge = [f"{_f(xs(x))},{_f(ys(hi))}" for x, _, _, hi in banded] + [
                f"{_f(xs(x))},{_f(_lower(ys, lo))}" for x, _, lo, _ in banded[::-1]
            ]
            out.append(f'<polygon points="{" ".join(edge)}" fill="{s.color}" fill-opacity="0.14" stroke="none"/>')
    for s in series:
        p = sorted((q for q in s.points if q[1] is not None), key=lambda q: q[0])
        if not p:
            continue
        dash = ' stroke-dasharray="5 3"' if s.hollow else ""
        path = " ".join(f"{'M' if i == 0 else 'L'}{_f(xs(x))},{_f(ys(y))}" for i, (x, y, _, _) in enumerate(p))
        out.append(f'<g><path d="{path}" fill="none" stroke="{s.color}" stroke-width="1.8"{dash}/>')
        for x, y, lo, hi in p:
            tip = f"{s.label} — {x:.0f} sources: {y_fmt(y)}" + (
                f" [{y_fmt(lo)}, {y_fmt(hi)}]" if lo is not None and hi is not None else ""
            )
            out.append(marker(s.shape, xs(x), ys(y), s.color, hollow=s.hollow, r=3.0, tip=tip))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, series: list[Series], xlabel: str, ylabel: str, *, y_fmt: Formatter = fmt_number) -> str:
    """One line per series over integer x (e.g. number of sources), with ± error bars."""
    pts = [p for s in series for p in s.points if p[1] is not None]
    if not pts:
        return empty_chart(title, "no per-source-count results yet")
    ys_all = [p[1] for p in pts] + [p[1] + (p[2] or 0) for p in pts]
    log_y = _auto_log([p[1] for p in pts])
    if log_y:
        ys_all = (
            [p[1] for p in pts]
            + [p[1] + (p[2] or 0) for p in pts]
            + [p[1] - (p[2] or 0) for p in pts if p[1] - (p[2] or 0) > 0]
        )
    xs = Scale([p[0] for p in pts], LEFT + 12, WIDTH - RIGHT - 12, log=False, integer=True, fmt=lambda v: f"{v:.0f}")
    ys = Scale(ys_all, HEIGHT - BOTTOM, TOP, log=log_y, zero=not log_y, fmt=y_fmt)
    out = _frame(title, xs, ys, xlabel + "", ylabel + (" (log scale)" if log_y else ""))
    for s in series:
        p = sorted((q for q in s.points if q[1] is not None), key=lambda q: q[0])
        if not p:
            continue
        out.append('<g>')
        path = " ".join(f"{'M' if i == 0 else 'L'}{_f(xs(x))},{_f(ys(y))}" for i, (x, y, _) in enumerate(p))
        dash = ' stroke-dasharray="5 3"' if s.hollow else ""
        out.append(f'<path d="{path}" fill="none" stroke="{s.color}" stroke-width="1.8"{dash}/>')
        for x, y, err in p:
            if err:
                out.append(
                    f'<line x1="{_f(xs(x))}" y1="{_f(_lower(ys, y - err))}" x2="{_f(xs(x))}" y2="{_f(ys(y + err))}" stroke="{s.color}" '
                    f'stroke-width="1.2" opacity="0.7"/>'
                )
            tip = f"{s.label} — {x:.0f} sources: {y_fmt(y)}" + (f" ± {y_fmt(err)}" if err else "")
            out.append(marker(s.shape, xs(x), ys(y), s.color, hollow=s.hollow, r=3.2, tip=tip))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def scatter_chart(
    title: str,
    series: list[Series],
    xlabel: str,
    ylabel: str,
    *,
    x_fmt: Formatter = fmt_number,
    y_fmt: Formatter = fmt_number,
    refs: Sequence[Ref] = (),
    log_x: bool = True,
) -> str:
    """One marker per series (its first point), on a log x axis, with vertical reference lines."""
    pts = [(s, s.points[0]) for s in series if s.points and s.points[0][0] is not None and s.points[0][1] is not None]
    pts = [(s, p) for s, p in pts if p[0] > 0 or not log_x]
    if not pts:
        return empty_chart(title, "no results yet")
    y_vals = [p[1] for _, p in pts]
    log_y = _auto_log(y_vals)
    y_vals += [p[1] + (p[2] or 0) for _, p in pts]
    xs = Scale([p[0] for _, p in pts] + [r.x for r in refs], LEFT + 10, WIDTH - RIGHT - 10, log=log_x, fmt=x_fmt)
    ys = Scale(y_vals, HEIGHT - BOTTOM, TOP, log=log_y, zero=not log_y, fmt=y_fmt)
    out = _frame(title, xs, ys, xlabel + (" (log scale)" if log_x else ""), ylabel + (" (log scale)" if log_y else ""))
    for r in refs:
        x = xs(r.x)
        out.append(
            f'<line x1="{_f(x)}" y1="{TOP}" x2="{_f(x)}" y2="{HEIGHT - BOTTOM}" stroke="#5b6170" stroke-width="1.3" '
            f'stroke-dasharray="6 4"><title>{esc(r.label)}: {esc(x_fmt(r.x))}</title></line>'
        )
        out.append(
            f'<text transform="translate({_f(x - 4)} {TOP + 6}) rotate(-90)" text-anchor="end" fill="#5b6170" '
            f'font-size="10">{esc(r.label)}</text>'
        )
    for s, (x, y, err) in pts:
        if err:
            out.append(
                f'<line x1="{_f(xs(x))}" y1="{_f(_lower(ys, y - err))}" x2="{_f(xs(x))}" '
                f'y2="{_f(ys(y + err))}" stroke="{s.color}" stroke-width="1.2" opacity="0.7"/>'
            )
        tip = f"{s.label}: {x_fmt(x)}, {y_fmt(y)}" + (f" ± {y_fmt(err)}" if err else "")
        out.append(marker(s.shape, xs(x), ys(y), s.color, hollow=s.hollow, r=4.5, tip=tip))
    out.append("</svg>")
    return "".join(out)


def band_chart(
    title: str,
    label: str,
    color: str,
    shape: str,
    points: Sequence[tuple[float, float, float, float]],
    xlabel: str,
    ylabel: str,
    *,
    y_fmt: Formatter = fmt_number,
) -> str:
    """One line over integer x with its interval drawn as a shaded band: ``points`` are
    ``(x, estimate, low, high)`` (e.g. a per-count curve with its 95 % intervals)."""
    p = sorted((q for q in points if q[1] is not None), key=lambda q: q[0])
    if not p:
        return empty_chart(title, "no per-source-count intervals (legacy entry)")
    values = [q[1] for q in p] + [q[3] for q in p]
    log_y = _auto_log([q[1] for q in p])
    if log_y:
        values += [q[2] for q in p if q[2] > 0]
    xs = Scale([q[0] for q in p], LEFT + 12, WIDTH - RIGHT - 12, log=False, integer=True, fmt=lambda v: f"{v:.0f}")
    ys = Scale(values, HEIGHT - BOTTOM, TOP, log=log_y, zero=not log_y, fmt=y_fmt)
    out = _frame(title, xs, ys, xlabel, ylabel + (" (log scale)" if log_y else ""))
    upper = [f"{_f(xs(x))},{_f(ys(hi))}" for x, _, _, hi in p]
    lower = [f"{_f(xs(x))},{_f(_lower(ys, lo))}" for x, _, lo, _ in reversed(p)]
    out.append(f'<polygon points="{" ".join(upper + lower)}" fill="{color}" fill-opacity="0.18" stroke="none"/>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{_f(xs(x))},{_f(ys(y))}" for i, (x, y, _, _) in enumerate(p))
    out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
    for x, y, lo, hi in p:
        out.append(
            marker(
                shape,
                xs(x),
                ys(y),
                color,
                r=3.2,
                tip=f"{label} — {x:.0f} sources: {y_fmt(y)} [{y_fmt(lo)}, {y_fmt(hi)}]",
            )
        )
    out.append("</svg>")
    return "".join(out)
