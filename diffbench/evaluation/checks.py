"""The batch contract the evaluator holds predictions to: :func:`validate_prediction` refuses a
prediction or batch of the wrong type, shape, device or dtype with one line naming the key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..errors import DiffbenchError

#: Batch keys every evaluation needs; the residual needs RESIDUAL_KEYS too.
REQUIRED_KEYS = ("input", "target", "count", "index")
RESIDUAL_KEYS = ("rhs", "diffusivity", "decay", "boundary")


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(int(s) for s in t.shape)


def validate_prediction(pred: Any, batch: Any, *, residual: bool = True, check_finite: bool = True) -> None:
    """Check a prediction and its batch against the batch contract.

    Parameters
    ----------
    pred : Tensor (B, 1, N, N), floating point
    batch : mapping
        Needs ``input (B, C, N, N)``, ``target (B, 1, N, N)``, ``count (B,)``, ``index (B,)``;
        with ``residual=True`` also ``rhs``, ``diffusivity`` (B, N, N), ``decay`` (B,) and
        ``boundary`` (B, 4) (``fixed``/``fixed_values`` (B, N, N) are optional).
    check_finite : bool
        Also refuse NaN or infinite predictions (one device sync).

    Raises
    ------
    DiffbenchError
        With one line naming the offending key, the expected and the actual shape or type.

    Examples
    --------
    >>> import torch
    >>> b = {"input": torch.zeros(1, 1, 8, 8), "target": torch.zeros(1, 1, 8, 8),
    ...      "count": torch.tensor([1]), "index": torch.tensor([0])}
    >>> validate_prediction(torch.zeros(1, 8, 8), b, residual=False)
    Traceback (most recent call last):
    ...
    diffbench.errors.DiffbenchError: pred has shape (1, 8, 8) but the target expects (B, 1, N, N) = (1, 1, 8, 8)
    """
    if not isinstance(pred, Tensor):
        raise DiffbenchError(f"pred must be a torch.Tensor of shape (B, 1, N, N), got {type(pred).__name__}")
    if not pred.is_floating_point():
        raise DiffbenchError(f"pred must have a floating-point dtype, got {pred.dtype}")
    if not isinstance(batch, Mapping):
        raise DiffbenchError(f"batch must be a mapping of names to tensors, got {type(batch).__name__}")
    needed = REQUIRED_KEYS + (RESIDUAL_KEYS if residual else ())
    missing = [k for k in needed if k not in batch]
    if missing:
        hint = " (or build the metric with residual=False)" if any(k in RESIDUAL_KEYS for k in missing) else ""
        raise DiffbenchError(f"batch lacks key(s) {', '.join(missing)}{hint}")
    for k in needed + tuple(k for k in ("fixed", "fixed_values") if k in batch):
        if not isinstance(batch[k], Tensor):
            raise DiffbenchError(f"batch[{k!r}] must be a torch.Tensor, got {type(batch[k]).__name__}")
        if batch[k].device != pred.device:
            raise DiffbenchError(f"batch[{k!r}] is on {batch[k].device} but pred is on {pred.device}")
    target = batch["target"]
    if target.dim() != 4 or target.shape[1] != 1 or target.shape[2] != target.shape[3]:
        raise DiffbenchError(f"batch['target'] must have shape (B, 1, N, N), got {_shape(target)}")
    if _shape(pred) != _shape(target):
        raise DiffbenchError(f"pred has shape {_shape(pred)} but the target expects (B, 1, N, N) = {_shape(target)}")
    B, _, N, _ = _shape(target)
    x = batch["input"]
    if x.dim() != 4 or x.shape[0] != B or x.shape[2:] != (N, N) or x.shape[1] < 1:
        raise DiffbenchError(f"batch['input'] must have shape (B, C, N, N) = ({B}, C, {N}, {N}), got {_shape(x)}")
    expected = {"count": (B,), "index": (B,)}
    if residual:
        expected.update(rhs=(B, N, N), diffusivity=(B, N, N), decay=(B,), boundary=(B, 4))
    if "fixed" in batch:
        expected.update(fixed=(B, N, N), fixed_values=(B, N, N))
        if "fixed_values" not in batch:
            raise DiffbenchError("batch has 'fixed' but lacks 'fixed_values'")
    for k, shape in expected.items():
        if _shape(batch[k]) != shape:
            raise DiffbenchError(f"batch[{k!r}] must have shape {shape}, got {_shape(batch[k])}")
    for k in ("count", "index") + (("boundary",) if residual else ()):
        if batch[k].is_floating_point() or batch[k].is_complex() or batch[k].dtype == torch.bool:
            raise DiffbenchError(f"batch[{k!r}] must hold integers, got {batch[k].dtype}")
    if check_finite and not bool(torch.isfinite(pred).all()):
        raise DiffbenchError("pred contains NaN or infinite values")
