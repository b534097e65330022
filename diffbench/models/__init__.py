"""Neural surrogate models: named presets, plugins, and the records that rebuild a model.

Every model maps a ``(B, C_in, N, N)`` input to a ``(B, 1, N, N)`` stationary field.

Built-in presets (``list_models()`` shows them with the plugins):

========================  ==================================================================
``cnn`` / ``cnn-small``   the paper's encoder-decoder CNN (:mod:`diffbench.models.cnn`)
``unet`` / ``unet-small`` U-Net with skip connections (:mod:`diffbench.models.unet`)
``resnet`` / ``-small``   full-resolution dilated ResNet (:mod:`diffbench.models.resnet`)
``fno`` / ``fno-small``   neuraloperator's FNO (:mod:`diffbench.models.fno`)
========================  ==================================================================

Examples
--------
>>> import torch
>>> from diffbench import models
>>> net = models.create("unet-small", in_channels=1, lattice=32)
>>> net(torch.zeros(2, 1, 32, 32)).shape
torch.Size([2, 1, 32, 32])
>>> twin = models.build_from_spec(models.model_spec(net))
>>> models.count_parameters(twin) == models.count_parameters(net)
True
"""

from diffbench.models.base import SurrogateModel
from diffbench.models.check import CheckReport, CheckResult, check_model, time_training_step
from diffbench.models.plugins import ENTRY_POINT_GROUP
from diffbench.models.registry import (
    PRESETS,
    ModelInfo,
    Preset,
    build_from_spec,
    count_parameters,
    create,
    describe_model,
    list_models,
    model_names,
    model_spec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PRESETS",
    "CheckReport",
    "CheckResult",
    "ModelInfo",
    "Preset",
    "SurrogateModel",
    "build_from_spec",
    "check_model",
    "count_parameters",
    "create",
    "describe_model",
    "list_models",
    "model_names",
    "model_spec",
    "time_training_step",
]
