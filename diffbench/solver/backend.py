"""Array backends: NumPy/SciPy on the CPU, CuPy on a CUDA GPU, chosen by trying the GPU.

``import cupy`` succeeds on machines without a GPU and only the first kernel fails, so the
GPU counts as available only when a device exists, a small operation runs, and the modules
the solver needs import.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..errors import DiffbenchError

BACKENDS = ("auto", "numpy", "cupy")


@functools.lru_cache(maxsize=1)
def cupy_available() -> bool:
    """True when CuPy can really run kernels here (device present, FFT and linalg import)."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False
        x = cupy.arange(8, dtype=cupy.float64)
        float((x * 2).sum())
        import cupyx.scipy.fft  # noqa: F401

        cupy.fft.rfft(x)
        cupy.linalg.inv(cupy.eye(2))
        return True
    except Exception:
        return False


def get_backend(name: str = "auto") -> Any:
    """The array module for a backend name: ``auto`` (CuPy if usable, else NumPy), ``numpy``, ``cupy``."""
    if name not in BACKENDS:
        raise DiffbenchError(f"unknown backend {name!r}; allowed: {', '.join(BACKENDS)}")
    if name == "numpy" or (name == "auto" and not cupy_available()):
        return np
    if not cupy_available():
        raise DiffbenchError("backend 'cupy' needs a CUDA GPU and `pip install -e \".[gpu]\"`; none is usable here")
    import cupy

    return cupy


def array_module(x: Any) -> Any:
    """NumPy or CuPy, whichever ``x`` belongs to."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np
    mod = type(x).__module__.split(".")[0]
    if mod == "cupy":
        import cupy

        return cupy
    raise DiffbenchError(f"expected a NumPy or CuPy array, got {type(x).__name__}")


def fft_module(xp: Any) -> Any:
    """``scipy.fft`` for NumPy, ``cupyx.scipy.fft`` for CuPy (same DCT signatures)."""
    if xp is np:
        import scipy.fft

        return scipy.fft
    import cupyx.scipy.fft

    return cupyx.scipy.fft


def to_numpy(x: Any) -> np.ndarray:
    """A NumPy copy of a NumPy or CuPy array."""
    return x.get() if hasattr(x, "get") and not isinstance(x, np.ndarray) else np.asarray(x)


def backend_name(xp: Any) -> str:
    return "numpy" if xp is np else "cupy"


def synchronize(xp: Any) -> None:
    """Wait for queued GPU work (for honest timings); a no-op on NumPy."""
    if xp is not np:
        xp.cuda.Stream.null.synchronize()
