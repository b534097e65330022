"""A base class for models that record their own constructor arguments, and shape helpers.

A model that subclasses :class:`SurrogateModel` keeps the arguments it was built with (defaults
filled in), so a checkpoint can rebuild it from ``model_spec(model)`` alone, the way
neuraloperator's ``BaseModel`` does. The record lives on the instance, not in the state dict, so
state dicts stay plain tensors that any tool can load.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F


class SurrogateModel(nn.Module):
    """An ``nn.Module`` mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)`` that records its init args.

    Subclasses define ``__init__(self, in_channels, out_channels=1, *, ...)`` as usual; the
    arguments of each instance, with defaults filled in and ``**kwargs`` flattened, are
    available as :attr:`init_args`. ``*args`` parameters are not supported (an instance must be
    rebuildable from keyword arguments).

    Examples
    --------
    >>> class Scale(SurrogateModel):
    ...     def __init__(self, in_channels, out_channels=1, *, factor=2.0):
    ...         super().__init__()
    ...         self.conv = nn.Conv2d(in_channels, out_channels, 1)
    ...         self.factor = factor
    ...     def forward(self, x):
    ...         return self.factor * self.conv(x)
    >>> Scale(3, factor=0.5).init_args
    {'in_channels': 3, 'out_channels': 1, 'factor': 0.5}
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> SurrogateModel:
        instance = super().__new__(cls)
        instance._recorded_init_args = _bind_init_args(cls, args, kwargs)
        return instance

    @property
    def init_args(self) -> dict[str, Any]:
        """The keyword arguments that rebuild this model: ``type(self)(**model.init_args)``."""
        recorded = self.__dict__.get("_recorded_init_args")
        if recorded is None:
            raise TypeError(f"{type(self).__name__} was built with arguments its signature cannot bind")
        return copy.deepcopy(recorded)


def _bind_init_args(cls: type, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """Bind constructor arguments to ``cls.__init__``'s signature, defaults applied.

    Returns None when they do not bind; ``__init__`` then raises the usual ``TypeError``.
    """
    signature = inspect.signature(cls.__init__)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    recorded: dict[str, Any] = {}
    for index, (name, value) in enumerate(bound.arguments.items()):
        if index == 0:  # self
            continue
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None
        elif kind is inspect.Parameter.VAR_KEYWORD:
            recorded.update(value)
        else:
            recorded[name] = value
    return copy.deepcopy(recorded)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """Zero-pad the last two dimensions of ``x`` up to a multiple of ``multiple``.

    The padding is split evenly between the two sides (the extra pixel, if any, goes to the end),
    and zero matches the Dirichlet boundary value of the field.

    Parameters
    ----------
    x : torch.Tensor
        A ``(B, C, H, W)`` tensor.
    multiple : int
        What ``H`` and ``W`` must be divisible by, e.g. ``2 ** n_pools``.

    Returns
    -------
    padded : torch.Tensor
        ``x`` padded to ``(B, C, H', W')``.
    crop : tuple of slice
        Index the last two dimensions of a same-size output with ``out[..., crop[0], crop[1]]``
        to get back to ``H, W``.

    Examples
    --------
    >>> padded, crop = pad_to_multiple(torch.ones(1, 1, 5, 8), 4)
    >>> padded.shape, padded[..., crop[0], crop[1]].shape
    (torch.Size([1, 1, 8, 8]), torch.Size([1, 1, 5, 8]))
    """
    height, width = x.shape[-2:]
    pad_h = math.ceil(height / multiple) * multiple - height
    pad_w = math.ceil(width / multiple) * multiple - width
    if pad_h == 0 and pad_w == 0:
        return x, (slice(None), slice(None))
    top, left = pad_h // 2, pad_w // 2
    padded = F.pad(x, (left, pad_w - left, top, pad_h - top))
    return padded, (slice(top, top + height), slice(left, left + width))


def group_norm_groups(channels: int, max_groups: int = 8) -> int:
    """The largest group count ``<= max_groups`` that divides ``channels`` (for ``nn.GroupNorm``).

    Examples
    --------
    >>> group_norm_groups(64), group_norm_groups(12), group_norm_groups(7)
    (8, 6, 7)
    """
    for groups in range(min(max_groups, channels), 0, -1):
        if channels % groups == 0:
            return groups
    return 1


def make_norm(kind: str, channels: int) -> nn.Module:
    """A 2-D normalisation layer: ``"group"`` (GroupNorm), ``"batch"`` (BatchNorm2d) or ``"none"``.

    Examples
    --------
    >>> make_norm("group", 32).num_groups
    8
    """
    if kind == "group":
        return nn.GroupNorm(group_norm_groups(channels), channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'group', 'batch' or 'none', got {kind!r}")


def check_dropout(dropout: float) -> float:
    """Validate a dropout probability in ``[0, 1)`` and return it as a float."""
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)
