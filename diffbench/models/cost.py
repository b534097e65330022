"""Hardware-independent cost of a model: forward FLOPs per sample, counted by torch.

``count_flops`` runs one forward pass under :class:`torch.utils.flop_counter.FlopCounterMode`,
which counts the matrix products and convolutions (``2 * C_in * C_out * k * k * H * W`` for a
convolution: one multiply and one add per weight and output pixel). Element-wise work
(activations, norms, additions) is not counted, as in the literature's FLOP tables. FFTs, which
torch does not count, are added here at the usual ``2.5 * n * log2(n)`` per real transform of n
points and ``5 * n * log2(n)`` per complex one, so the FNO's spectral layers are not free. A
complex matrix product is counted as torch counts it, like a real one of the same shape.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from diffbench.errors import DiffbenchError
from diffbench.models.classpath import one_line, reraise_interrupt


def count_flops(model: nn.Module, in_channels: int, lattice: int, batch: int = 1) -> int:
    """Forward FLOPs per sample of ``model`` on a ``(batch, in_channels, lattice, lattice)`` input.

    The model runs once in eval mode without gradients on zeros (its mode is restored); the count
    does not depend on the hardware, the threads or the input values.

    Parameters
    ----------
    model : torch.nn.Module
        Any model; diffbench's presets, plugins and class paths alike.
    in_channels, lattice : int
        The task's input channels and lattice size N.
    batch : int
        Samples in the pass; the total is divided by it (a per-sample count).

    Returns
    -------
    int
        Floating-point operations of one forward pass per sample.

    Raises
    ------
    DiffbenchError
        A bad argument, or a forward pass that raises.

    Examples
    --------
    Two convolutions on an 8x8 lattice, ``2 * C_in * C_out * k * k * H * W`` each:

    >>> net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))
    >>> count_flops(net, 2, 8) == 2 * 2 * 4 * 9 * 64 + 2 * 4 * 1 * 1 * 64
    True
    """
    for name, value in (("in_channels", in_channels), ("lattice", lattice), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DiffbenchError(f"{name} must be a positive integer, got {value!r}")
    training = model.training
    x = torch.zeros(batch, in_channels, lattice, lattice)
    counter = FlopCounterMode(display=False, custom_mapping=_FFT_FLOPS)
    try:
        model.eval()
        with torch.no_grad(), counter:
            model(x)
    except BaseException as exc:  # SystemExit included: a model must not end diffbench
        reraise_interrupt(exc)
        raise DiffbenchError(
            f"counting the FLOPs of {type(model).__name__} on input {tuple(x.shape)} failed: {one_line(exc)}"
        ) from exc
    finally:
        model.train(training)
    return int(counter.get_total_flops()) // batch


def _fft_flops(points: int, transforms: int, real: bool) -> int:
    """FLOPs of ``transforms`` FFTs of ``points`` points each (``5 n log2 n`` complex, half that real)."""
    if points < 2:
        return 0
    per = 5 * points * math.log2(points) * (0.5 if real else 1.0)
    return round(per * transforms)


def _fft_shape_flops(shape: Any, dim: Any, real: bool) -> int:
    dims = [d % len(shape) for d in dim]
    points = math.prod(shape[d] for d in dims)
    return _fft_flops(points, math.prod(shape) // max(points, 1), real)


def _r2c(input_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_shape_flops(input_shape, dim, real=True)


def _c2r(input_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_shape_flops(out_shape, dim, real=True)  # the real output has the full length


def _c2c(input_shape: Any, dim: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return _fft_shape_flops(input_shape, dim, real=False)


_FFT_FLOPS = {
    torch.ops.aten._fft_r2c: _r2c,
    torch.ops.aten._fft_c2r: _c2r,
    torch.ops.aten._fft_c2c: _c2c,
}
