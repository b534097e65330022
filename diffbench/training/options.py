"""The training options' allowed values and checks, torch-free (the run parser reads them at
every CLI start): accelerators, precisions, positive integers.

>>> check_choice("--precision", "bf16-mixed", PRECISIONS)
>>> check_positive_int("--devices", 0)
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: --devices must be a positive integer, got 0
"""

from __future__ import annotations

from typing import Any

from ..errors import DiffbenchError

ACCELERATORS = ("auto", "cpu", "gpu")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "64-true", "64")
#: What ``check_choice`` calls each option in its message.
_WHAT = {"--accelerator": "accelerator", "--precision": "precision"}


def check_choice(flag: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Refuse ``value`` unless it is one of ``allowed`` (one line naming them)."""
    if value not in allowed:
        raise DiffbenchError(f"unknown {_WHAT.get(flag, flag)} {value!r}; allowed: {', '.join(allowed)}")


def check_positive_int(flag: str, value: Any) -> None:
    """Refuse anything but an int >= 1 (``True`` is not an int here)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DiffbenchError(f"{flag} must be a positive integer, got {value!r}")
