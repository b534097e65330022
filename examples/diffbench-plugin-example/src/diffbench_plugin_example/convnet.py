"""``TinyConvNet``: a stack of dilated 3x3 convolutions at full resolution."""

from __future__ import annotations

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """A small full-resolution CNN mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``.

    Dilations 1, 2, 4, 8, 4, 2, 1 give a 45-pixel receptive field with few parameters.

    Parameters
    ----------
    in_channels : int
        Input channels (diffbench passes the task's).
    out_channels : int
        Output channels (diffbench passes 1).
    hidden_channels : int
        Width of the hidden layers.
    dropout : float
        Dropout probability after each hidden activation (0 disables it).

    Examples
    --------
    >>> net = TinyConvNet(in_channels=1, out_channels=1, hidden_channels=8)
    >>> net(torch.zeros(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(self, in_channels: int, out_channels: int = 1, hidden_channels: int = 16, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_channels
        for dilation in (1, 2, 4, 8, 4, 2, 1):
            layers += [nn.Conv2d(width, hidden_channels, 3, padding=dilation, dilation=dilation), nn.GELU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = hidden_channels
        layers.append(nn.Conv2d(hidden_channels, out_channels, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def wide_convnet(in_channels: int, out_channels: int = 1, dropout: float = 0.0) -> TinyConvNet:
    """A factory entry point: ``TinyConvNet`` with 32 hidden channels.

    Examples
    --------
    >>> wide_convnet(1).layers[0].out_channels
    32
    """
    return TinyConvNet(in_channels, out_channels, hidden_channels=32, dropout=dropout)
