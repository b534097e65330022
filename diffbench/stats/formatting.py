"""The one way an interval or a p-value is printed.

The methods are specified in the package docstring (:mod:`diffbench.stats`)."""

from __future__ import annotations

import math

from ..errors import DiffbenchError

# printing
# --------------------------------------------------------------------------------------


def _decimals(half_width: float) -> int:
    """Decimals that show ``half_width`` with at most two significant digits (the Particle
    Data Group rule: two when its leading three digits are 100-354, one for 355-949, and
    950-999 round up to two digits of the next decade)."""
    mantissa, exponent = f"{half_width:.2e}".split("e")
    lead, e = int(mantissa.replace(".", "")), int(exponent)
    if lead < 355:
        sig = 2
    elif lead < 950:
        sig = 1
    else:
        sig, e = 2, e + 1
    return sig - 1 - e


def _fixed(x: float, decimals: int) -> str:
    if decimals >= 0:
        return f"{round(x, decimals) + 0.0:.{decimals}f}"
    return f"{round(x, decimals) + 0.0:.0f}"


def format_interval(estimate: float, low: float, high: float) -> str:
    """``"estimate [low, high]"`` with the interval's half-width shown to at most two
    significant digits (PDG rule, see :func:`_decimals`) and all three numbers rounded to the
    same decimal. A zero-width interval keeps three significant digits; a missing estimate
    prints ``n/a``, a missing interval only the estimate.

    >>> format_interval(0.0793, 0.0712, 0.0881)
    '0.079 [0.071, 0.088]'
    >>> format_interval(0.0793, 0.0768, 0.0818)     # half-width 0.0025: two digits
    '0.0793 [0.0768, 0.0818]'
    >>> format_interval(-0.0004, -0.0031, 0.0023), format_interval(1234.0, 880.0, 1580.0)
    ('-0.0004 [-0.0031, 0.0023]', '1230 [880, 1580]')
    >>> format_interval(0.25, 0.25, 0.25), format_interval(0.5, float("nan"), 0.6), format_interval(None, 0, 1)
    ('0.250 [0.250, 0.250]', '0.5', 'n/a')
    """
    if estimate is None or not math.isfinite(estimate):
        return "n/a"
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return f"{estimate:.3g}"
    if low > high:
        raise DiffbenchError(f"format_interval: low {low!r} is above high {high!r}")
    half = (high - low) / 2.0
    if half == 0.0:
        d = 2 - math.floor(math.log10(abs(estimate))) if estimate != 0 else 0
    else:
        d = _decimals(half)
    return f"{_fixed(estimate, d)} [{_fixed(low, d)}, {_fixed(high, d)}]"


def format_p(p: float) -> str:
    """A p-value with two significant digits, or ``< 0.0001``.

    >>> format_p(0.04321), format_p(0.5), format_p(2e-5)
    ('0.043', '0.5', '< 0.0001')
    """
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"
