"""A U-Net (Ronneberger et al. 2015) for N x N fields: the ED-CNN plus skip connections.

Each level holds two 3x3 convolutions (each followed by a normalisation and GELU); the encoder
halves the resolution with 2x2 average pooling, the decoder doubles it with a 2x2 transposed
convolution and concatenates the encoder's features of the same level. Widths double per level:
``base_channels * 2 ** level`` for ``level = 0 .. depth``. Inputs whose size is not divisible by
``2 ** depth`` are zero-padded and the output cropped back.
"""

from __future__ import annotations

import torch
from torch import nn

from diffbench.models.base import SurrogateModel, check_dropout, make_norm, pad_to_multiple


class ConvBlock(nn.Sequential):
    """Two (3x3 conv -> norm -> GELU [-> dropout]) layers."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, dropout: float) -> None:
        layers: list[nn.Module] = []
        for width_in in (in_channels, out_channels):
            layers += [
                nn.Conv2d(width_in, out_channels, kernel_size=3, padding=1),
                make_norm(norm, out_channels),
                nn.GELU(),
            ]
            if dropout:
                layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class UNet(SurrogateModel):
    """A U-Net mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``.

    Parameters
    ----------
    in_channels : int
        Input channels.
    out_channels : int
        Output channels.
    base_channels : int
        Width of the first level; level ``k`` has ``base_channels * 2 ** k`` channels.
    depth : int
        Number of down/up-sampling steps (the bottleneck is ``N / 2 ** depth``).
    norm : {"group", "batch", "none"}
        Normalisation after every convolution. GroupNorm (default) does not depend on the batch.
    dropout : float
        Dropout probability after every hidden activation (for MC-dropout); 0 disables it.

    Examples
    --------
    >>> model = UNet(3, base_channels=8, depth=2)
    >>> model(torch.zeros(2, 3, 30, 30)).shape
    torch.Size([2, 1, 30, 30])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        *,
        base_channels: int = 64,
        depth: int = 4,
        norm: str = "group",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 1 or base_channels < 1:
            raise ValueError(f"depth and base_channels must be >= 1, got {depth} and {base_channels}")
        dropout = check_dropout(dropout)
        make_norm(norm, base_channels)  # validates the name before building
        self.depth = depth
        widths = [base_channels * 2**level for level in range(depth + 1)]

        self.stem = ConvBlock(in_channels, widths[0], norm, dropout)
        self.down = nn.ModuleList(ConvBlock(widths[k], widths[k + 1], norm, dropout) for k in range(depth))
        self.pool = nn.AvgPool2d(2)
        self.upsample = nn.ModuleList(
            nn.ConvTranspose2d(widths[k + 1], widths[k], kernel_size=2, stride=2) for k in reversed(range(depth))
        )
        self.up = nn.ModuleList(ConvBlock(2 * widths[k], widths[k], norm, dropout) for k in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``."""
        padded, crop = pad_to_multiple(x, 2**self.depth)
        h = self.stem(padded)
        skips = []
        for block in self.down:
            skips.append(h)
            h = block(self.pool(h))
        for upsample, block in zip(self.upsample, self.up):
            h = block(torch.cat([upsample(h), skips.pop()], dim=1))
        return self.head(h)[..., crop[0], crop[1]]
