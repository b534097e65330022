"""The charts' axes and numbers: :class:`Scale` maps data values to pixels (linear or log10) and
proposes labelled ticks at round steps; :func:`fmt_number`, :func:`fmt_seconds` and
:func:`fmt_count` print a number, a duration and a count compactly (the charts' ticks and
tooltips, and the site's tables through :mod:`diffbench.leaderboard.filters`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Formatter = Callable[[float], str]


def fmt_number(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e5:
        return f"{v:.4g}"
    m, e = f"{v:.2e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def fmt_seconds(v: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if abs(v) >= scale or unit == "ns":
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} s"  # pragma: no cover


def fmt_count(v: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{unit}"
    return f"{v:.3g}"


class Scale:
    """Maps data values to pixels, linear or log10, and proposes labelled ticks."""

    def __init__(
        self,
        values: Sequence[float],
        px0: float,
        px1: float,
        *,
        log: bool,
        zero: bool = False,
        integer: bool = False,
        fmt: Formatter = fmt_number,
    ) -> None:
        self.log, self.integer, self.fmt, self.px0, self.px1 = log, integer, fmt, px0, px1
        vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)]
        if log:
            lo, hi = (min(vals), max(vals)) if vals else (1.0, 10.0)
            self.lo_e, self.hi_e = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
            if self.hi_e == self.lo_e:
                self.hi_e += 1
            self.lo, self.hi = 10.0**self.lo_e, 10.0**self.hi_e
        else:
            lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
            if zero:
                lo = min(lo, 0.0)
            if hi == lo:
                hi = lo + (1.0 if lo == 0 else abs(lo) * 0.5)
                if not zero:
                    lo = lo - (hi - lo)
            self.step = _nice_step((hi - lo) / 5, integer)
            self.lo = math.floor(lo / self.step + 1e-9) * self.step
            self.hi = math.ceil(hi / self.step - 1e-9) * self.step
            if self.hi <= self.lo:
                self.hi = self.lo + self.step

    def __call__(self, v: float) -> float:
        if self.log:
            t = (math.log10(v) - self.lo_e) / (self.hi_e - self.lo_e)
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return self.px0 + t * (self.px1 - self.px0)

    def ticks(self) -> list[tuple[float, str]]:
        if self.log:
            n = self.hi_e - self.lo_e
            every = 1 if n <= 6 else math.ceil(n / 6)
            out = [
                (10.0**e, self.fmt(10.0**e)) for e in range(self.lo_e, self.hi_e + 1) if (e - self.lo_e) % every == 0
            ]
            if n == 1:
                out += [(m * 10.0**self.lo_e, self.fmt(m * 10.0**self.lo_e)) for m in (2, 5)]
            return sorted(out)
        out = []
        k = 0
        while True:
            v = self.lo + k * self.step
            if v > self.hi + self.step * 1e-6:
                break
            v = round(v, 12)
            out.append((v, self.fmt(v)))
            k += 1
        return out


def _nice_step(raw: float, integer: bool) -> float:
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    exp = math.floor(math.log10(raw))
    base = 10.0**exp
    for m in (1, 2, 2.5, 5, 10):
        step = m * base
        if step >= raw:
            break
    if integer:
        step = max(1.0, float(math.ceil(step)))
    return step
