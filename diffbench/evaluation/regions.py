"""The pixel regions the metrics are reported on (the ``Regions`` table of
:mod:`diffbench.evaluation.functional`): ``all``, ``sources``, ``field`` and the rings r1-r3 of
the normalised target, as masks (:func:`region_masks`) or as disjoint labels whose per-label sums
:func:`regions_from_bins` turns into per-region columns."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["REGIONS", "RING_THRESHOLDS", "PIXEL_LABELS", "region_masks", "pixel_labels", "regions_from_bins"]

#: Pixel regions, in the column order of the per-sample statistics.
REGIONS = ("all", "sources", "field", "r1", "r2", "r3")
#: Lower bounds of the rings r1, r2, r3 on the normalised target (P23 ``tol1..tol3``).
RING_THRESHOLDS = (0.2, 0.1, 0.05)


def region_masks(source_map: Tensor, target: Tensor) -> Tensor:
    """The pixel masks of :data:`REGIONS`, stacked on a new axis 1.

    Parameters
    ----------
    source_map : Tensor (B, N, N)
        ``input[:, 0]``; sources are ``> 0``.
    target : Tensor (B, N, N)
        The normalised target (max 1).

    Returns
    -------
    Tensor (B, 6, N, N) bool
        ``all, sources, field, r1, r2, r3`` (see :mod:`diffbench.evaluation.functional`).

    Examples
    --------
    >>> import torch
    >>> y = torch.tensor([[[1.0, 0.3], [0.15, 0.07]]])
    >>> x = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    >>> region_masks(x, y).sum(dim=(-2, -1)).tolist()
    [[4, 1, 3, 1, 1, 1]]
    """
    label = pixel_labels(source_map, target)
    masks = [torch.ones_like(label, dtype=torch.bool), label == 0, label != 0, label == 1, label == 2, label == 3]
    return torch.stack(masks, dim=1)


#: Disjoint pixel labels; the regions are unions of them (see :func:`regions_from_bins`).
PIXEL_LABELS = ("sources", "r1", "r2", "r3", "rest")


def pixel_labels(source_map: Tensor, target: Tensor) -> Tensor:
    """int64 (B, N, N): 0 source, 1 r1, 2 r2, 3 r3, 4 any other field pixel."""
    t1, t2, t3 = RING_THRESHOLDS
    label = torch.full(target.shape, 4, dtype=torch.int64, device=target.device)
    label = torch.where(target >= t3, torch.full_like(label, 3), label)
    label = torch.where(target >= t2, torch.full_like(label, 2), label)
    label = torch.where(target >= t1, torch.full_like(label, 1), label)
    return torch.where(source_map > 0, torch.zeros_like(label), label)


def regions_from_bins(bins: Tensor, whole: Tensor, how: str) -> Tensor:
    """(B, 5) label bins -> (B, 6) columns of :data:`REGIONS` (``whole`` is the lattice column)."""
    if how == "sum":
        field = bins[:, 1:].sum(dim=1)
    else:
        field = bins[:, 1:].amax(dim=1)
    return torch.stack([whole, bins[:, 0], field, bins[:, 1], bins[:, 2], bins[:, 3]], dim=1)
