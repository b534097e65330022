"""A full-resolution dilated residual network (Dil-ResNet), as in PDEArena's ``DilResNet``.

Stachenfeld et al. 2022 ("Learned coarse models for efficient turbulence simulation") and
PDEArena keep the field at full resolution and grow the receptive field with dilation: each
residual block is a stack of 3x3 convolutions with dilation rates (1, 2, 4, 8, 4, 2, 1), each
followed by an optional normalisation and GELU, with a skip connection around the stack. One block
sees a 45 x 45 window; ``n_blocks`` blocks see ``1 + 44 * n_blocks`` pixels across. Convolutions
pad with zeros, the field's Dirichlet boundary value.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from diffbench.models.base import SurrogateModel, check_dropout, make_norm

DILATIONS = (1, 2, 4, 8, 4, 2, 1)


class DilatedBlock(nn.Module):
    """``x + f(x)`` where ``f`` is a stack of dilated (3x3 conv -> norm -> GELU [-> dropout])."""

    def __init__(self, channels: int, dilations: Sequence[int], norm: str, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for dilation in dilations:
            layers += [
                nn.Conv2d(channels, channels, kernel_size=3, padding=dilation, dilation=dilation),
                make_norm(norm, channels),
                nn.GELU(),
            ]
            if dropout:
                layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class DilatedResNet(SurrogateModel):
    """A dilated ResNet mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)`` at full resolution.

    Parameters
    ----------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    hidden_channels : int
        Width of every hidden layer.
    n_blocks : int
        Number of dilated residual blocks.
    dilations : sequence of int
        Dilation rate of each convolution inside a block.
    norm : {"none", "group", "batch"}
        Normalisation after each convolution in the blocks ("none", as in Stachenfeld et al.).
    dropout : float
        Dropout probability after every activation in the blocks (for MC-dropout); 0 disables it.

    Examples
    --------
    >>> model = DilatedResNet(1, hidden_channels=8, n_blocks=1)
    >>> model(torch.zeros(2, 1, 20, 20)).shape
    torch.Size([2, 1, 20, 20])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        *,
        hidden_channels: int = 128,
        n_blocks: int = 4,
        dilations: Sequence[int] = DILATIONS,
        norm: str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        dilations = tuple(int(d) for d in dilations)
        if n_blocks < 1 or hidden_channels < 1 or not dilations or min(dilations) < 1:
            raise ValueError(
                f"need n_blocks >= 1, hidden_channels >= 1 and dilations >= 1, got {n_blocks}, "
                f"{hidden_channels} and {dilations}"
            )
        dropout = check_dropout(dropout)
        self.lift = nn.Sequential(nn.Conv2d(in_channels, hidden_channels, kernel_size=3, padding=1), nn.GELU())
        self.blocks = nn.Sequential(*(DilatedBlock(hidden_channels, dilations, norm, dropout) for _ in range(n_blocks)))
        self.head = nn.Conv2d(hidden_channels, out_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``."""
        return self.head(self.blocks(self.lift(x)))
