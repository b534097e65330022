"""The Fourier neural operator baseline: neuraloperator's ``neuralop.models.FNO`` (pinned 2.0.0).

The wrapper adds nothing to the operator itself; it fixes the choices that matter for this
problem and makes the model behave like the other diffbench models:

* a grid positional embedding (neuraloperator's ``"grid"``: two coordinate channels on [0, 1]),
  because the solution depends on the distance to the boundary;
* ``domain_padding``: the latent field is zero-padded by this fraction on every side before the
  spectral layers and cropped after them, because the boundary is Dirichlet, not periodic;
* ``dropout`` maps to neuraloperator's ``channel_mlp_dropout`` (the dropout inside each block);
* precision: it runs in float32 or float64 (``.double()`` also converts the complex spectral
  weights to complex128); under autocast (``16-mixed``/``bf16-mixed``) it computes in full
  precision, because FFTs in bfloat16 are unsupported and in float16 need power-of-two sizes;
  half-precision inputs (``bf16-true``) are refused with a clear error;
* the state dict holds tensors only. neuraloperator's ``BaseModel.state_dict`` adds a
  ``_metadata`` entry (its init kwargs, including a Python function) that a parent module's
  ``load_state_dict`` rejects as an unexpected key; the constructor arguments are recorded by
  :class:`~diffbench.models.base.SurrogateModel` instead.

The number of Fourier modes does not depend on the lattice: on a grid with fewer frequencies
than ``n_modes``, neuraloperator uses the central part of the weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from neuralop.models import FNO
from torch import nn

from diffbench.errors import DiffbenchError
from diffbench.models.base import SurrogateModel, check_dropout


class PlainStateDictFNO(FNO, name="diffbench-fno"):
    """neuraloperator's FNO with ``torch.nn.Module``'s own ``state_dict``/``load_state_dict``."""

    state_dict = nn.Module.state_dict
    load_state_dict = nn.Module.load_state_dict


class FourierNeuralOperator(SurrogateModel):
    """A 2-D FNO mapping ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``.

    Parameters
    ----------
    in_channels : int
        Input channels (the two coordinate channels are added on top).
    out_channels : int
        Output channels.
    n_modes : pair of int
        Fourier modes kept along each axis (even numbers; the last axis keeps ``m // 2 + 1``).
    hidden_channels : int
        Width of the spectral layers.
    n_layers : int
        Number of FNO blocks.
    lifting_channel_ratio, projection_channel_ratio : float
        Hidden width of the lifting and projection MLPs, relative to ``hidden_channels``.
    domain_padding : float
        Fraction of N zero-padded on each side of the latent field (0 disables it).
    norm : {None, "group_norm", "instance_norm"}
        Normalisation inside the FNO blocks.
    dropout : float
        Dropout probability inside each block's channel MLP (for MC-dropout); 0 disables it.
    **fno_options
        Further keyword arguments of ``neuralop.models.FNO`` (e.g. ``factorization="tucker",
        rank=0.1``); keep them JSON-serialisable so that ``model_spec`` can record them.

    Examples
    --------
    >>> model = FourierNeuralOperator(1, n_modes=(8, 8), hidden_channels=8)
    >>> model(torch.zeros(2, 1, 24, 24)).shape
    torch.Size([2, 1, 24, 24])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        *,
        n_modes: Sequence[int] = (16, 16),
        hidden_channels: int = 32,
        n_layers: int = 4,
        lifting_channel_ratio: float = 2,
        projection_channel_ratio: float = 2,
        domain_padding: float = 0.25,
        norm: str | None = None,
        dropout: float = 0.0,
        **fno_options: Any,
    ) -> None:
        super().__init__()
        n_modes = tuple(int(m) for m in n_modes)
        if len(n_modes) != 2 or min(n_modes) < 1:
            raise ValueError(f"n_modes must be two positive integers, got {n_modes}")
        self.fno = PlainStateDictFNO(
            n_modes=n_modes,
            in_channels=in_channels,
            out_channels=out_channels,
            hidden_channels=hidden_channels,
            n_layers=n_layers,
            lifting_channel_ratio=lifting_channel_ratio,
            projection_channel_ratio=projection_channel_ratio,
            positional_embedding="grid",
            domain_padding=domain_padding or None,
            norm=norm,
            channel_mlp_dropout=check_dropout(dropout),
            **fno_options,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(B, C_in, N, N)`` to ``(B, C_out, N, N)``, in float32 or float64."""
        if x.dtype not in (torch.float32, torch.float64):
            raise DiffbenchError(
                f"the FNO cannot run on {x.dtype} inputs (FFTs in half precision are unsupported or need "
                "power-of-two sizes); use precision 32-true, 64-true, 16-mixed or bf16-mixed"
            )
        if not self._spectral_weights_are_complex():
            raise DiffbenchError(
                "the FNO's complex spectral weights were cast to a real dtype (Module.to(dtype) drops "
                "imaginary parts); convert the model with .float() or .double() instead"
            )
        # Under autocast the spectral layers would get half-precision inputs: run them in full precision.
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.fno(x)

    def _spectral_weights_are_complex(self) -> bool:
        return any(p.is_complex() for p in self.fno.fno_blocks.convs.parameters())

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        # neuraloperator's grid embedding caches its coordinate grid per resolution in a plain
        # attribute, which .to()/.cuda()/.double() do not move; drop it so it is rebuilt.
        embedding = self.fno.positional_embedding
        if embedding is not None and hasattr(embedding, "_grid"):
            embedding._grid = None
            embedding._res = None
        result = super()._apply(fn, recurse)
        # .double() and .float() leave complex parameters alone: keep them at the real parameters' precision.
        real_dtype = self.fno.projection.fcs[-1].weight.dtype
        complex_dtype = {torch.float32: torch.complex64, torch.float64: torch.complex128}.get(real_dtype)
        if complex_dtype is not None:
            for parameter in self.fno.parameters():
                if parameter.is_complex() and parameter.dtype != complex_dtype:
                    parameter.data = parameter.data.to(complex_dtype)
        return result
