"""The paper's encoder-decoder CNN (ED-CNN, ``SimpleCNN`` in P23), with its depth adapted to N.

At 512 x 512 with the default arguments this is the network of paper.md section 4.1:

* encoder: 3x3 convolutions 1->64->128->256->512->1024->2048, BatchNorm after the first one,
  LeakyReLU(0.02) after each, 2x2 average pooling after the first five (512^2 -> 16^2);
* decoder: 3x3 transposed convolutions 2048->1024->512->256->128->64->32->out, LeakyReLU(0.02)
  after each (the output included), and x2 nearest upsampling after the five before the output;
* no skip connections, about 50.31 M parameters for one input channel.

The channel ladder is fixed; what adapts to the lattice N is the number of pooling stages
(and the same number of upsampling stages): ``n_pools = ceil(log2(N / bottleneck))``, clamped to
``[1, len(channels) - 1]``, so the bottleneck is ``bottleneck x bottleneck`` (16 x 16) or smaller
whenever N <= 512. N = 512 gives 5 pools (the paper), 256 gives 4, 64 gives 2, 32 and 16 give 1.
Inputs whose size is not divisible by ``2 ** n_pools`` are zero-padded and the output cropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from diffbench.models.base import SurrogateModel, check_dropout, pad_to_multiple

PAPER_CHANNELS = (64, 128, 256, 512, 1024, 2048)


def pools_for_lattice(lattice: int, bottleneck: int = 16, max_pools: int = 5) -> int:
    """The number of 2x poolings that bring an N x N lattice to ``bottleneck`` or below.

    Parameters
    ----------
    lattice : int
        The lattice size N.
    bottleneck : int
        The largest bottleneck side wanted.
    max_pools : int
        The most poolings the network has room for.

    Returns
    -------
    int
        ``ceil(log2(lattice / bottleneck))`` clamped to ``[1, max_pools]``.

    Examples
    --------
    >>> [pools_for_lattice(n) for n in (16, 32, 64, 100, 512, 1024)]
    [1, 1, 2, 3, 5, 5]
    """
    if lattice < 1 or bottleneck < 1:
        raise ValueError(f"lattice and bottleneck must be positive, got {lattice} and {bottleneck}")
    wanted = math.ceil(math.log2(lattice / bottleneck) - 1e-9)
    return max(1, min(max_pools, wanted))


class EncoderDecoderCNN(SurrogateModel):
    """The P23 encoder-decoder CNN (no skips), mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``.

    Parameters
    ----------
    in_channels : int
        Input channels (1 for a source map).
    out_channels : int
        Output channels (1 for the stationary field).
    channels : sequence of int
        The encoder's channel ladder; the decoder mirrors it and ends with ``channels[0] // 2``
        channels before the output layer. The paper's ladder is (64, ..., 2048).
    n_pools : int, optional
        How many pooling (and upsampling) stages, ``0 <= n_pools < len(channels)``. By default it
        comes from ``lattice`` (see :func:`pools_for_lattice`), or is ``len(channels) - 1`` (the
        paper's 5) when no lattice is given.
    lattice : int, optional
        The lattice size N the model is built for; only used to choose ``n_pools``.
    bottleneck : int
        The largest bottleneck side wanted when ``n_pools`` comes from ``lattice``.
    negative_slope : float
        LeakyReLU slope (0.02 in the paper), also used on the output.
    dropout : float
        Dropout probability after every hidden activation (0 = the paper's network; for MC-dropout).

    Examples
    --------
    >>> model = EncoderDecoderCNN(1, channels=(8, 16, 32), lattice=32, bottleneck=8)
    >>> model.n_pools, model(torch.zeros(2, 1, 32, 32)).shape
    (2, torch.Size([2, 1, 32, 32]))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        *,
        channels: Sequence[int] = PAPER_CHANNELS,
        n_pools: int | None = None,
        lattice: int | None = None,
        bottleneck: int = 16,
        negative_slope: float = 0.02,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 2 or min(channels) < 2:
            raise ValueError(f"channels must list at least two widths >= 2, got {channels}")
        max_pools = len(channels) - 1
        if n_pools is None:
            n_pools = max_pools if lattice is None else pools_for_lattice(lattice, bottleneck, max_pools)
        if not 0 <= n_pools <= max_pools:
            raise ValueError(f"n_pools must be in [0, {max_pools}] for {len(channels)} channel levels, got {n_pools}")
        dropout = check_dropout(dropout)
        self.n_pools = n_pools

        encoder: list[nn.Module] = []
        previous = in_channels
        for level, width in enumerate(channels):
            encoder.append(nn.Conv2d(previous, width, kernel_size=3, padding=1))
            if level == 0:
                encoder.append(nn.BatchNorm2d(width))
            encoder.append(nn.LeakyReLU(negative_slope))
            if dropout:
                encoder.append(nn.Dropout(dropout))
            if level < n_pools:
                encoder.append(nn.AvgPool2d(2))
            previous = width
        self.encoder = nn.Sequential(*encoder)

        widths = list(reversed(channels)) + [channels[0] // 2]
        stages = list(zip(widths[:-1], widths[1:]))
        decoder: list[nn.Module] = []
        for stage, (width_in, width_out) in enumerate(stages):
            decoder.append(nn.ConvTranspose2d(width_in, width_out, kernel_size=3, padding=1))
            decoder.append(nn.LeakyReLU(negative_slope))
            if dropout:
                decoder.append(nn.Dropout(dropout))
            if stage >= len(stages) - n_pools:
                decoder.append(nn.Upsample(scale_factor=2, mode="nearest"))
        decoder.append(nn.ConvTranspose2d(widths[-1], out_channels, kernel_size=3, padding=1))
        decoder.append(nn.LeakyReLU(negative_slope))
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``."""
        padded, crop = pad_to_multiple(x, 2**self.n_pools)
        return self.decoder(self.encoder(padded))[..., crop[0], crop[1]]
