"""The training options' allowed values and checks, torch-free (the run parser reads them at
every CLI start): accelerators, precisions, positive integers.

>>> check_choice("--precision", "bf16-mixed", PRECISIONS)
>>> check_positive_int("--devices", 0)
Traceback (most recent call last):
...
diffbench.errors.DiffbenchError: --devices must be a positive integer, got 0
"""

from __future__ import annotations

import os
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


def check_cpu_devices(devices: int, *, no_gpu: bool, cores: int | None = None) -> None:
    """Refuse more CPU processes than cores; ``no_gpu``: the CPU was chosen because no GPU was
    found, and the message says so.

    >>> check_cpu_devices(4, no_gpu=True, cores=2)
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: --devices 4 asks for more CPU processes than there are cores (2), and no GPU was found (torch sees no CUDA device); use --devices 2 or fewer here, or a machine with GPUs
    """
    have = cores if cores is not None else (os.cpu_count() or 1)
    if devices <= have:
        return
    if no_gpu:
        raise DiffbenchError(
            f"--devices {devices} asks for more CPU processes than there are cores ({have}), and no GPU was "
            f"found (torch sees no CUDA device); use --devices {have} or fewer here, or a machine with GPUs"
        )
    raise DiffbenchError(f"--devices {devices} asks for more CPU processes than there are cores ({have})")


def check_devices_early(accelerator: str, devices: Any) -> None:
    """The device count checked before the training stack is imported (``diffbench run`` calls
    it first): only a CPU request beyond the cores needs torch, to learn whether a GPU exists."""
    if accelerator == "gpu" or not isinstance(devices, int) or devices <= (os.cpu_count() or 1):
        return
    if accelerator == "auto":
        import torch

        if torch.cuda.is_available():
            return
    check_cpu_devices(devices, no_gpu=accelerator == "auto")
