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

Imports are lazy: the command line (``diffbench tasks``, ``diffbench generate``) and generation
processes do not pay for torch until a model is built.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "SurrogateModel": ".base",
    "CheckReport": ".report",
    "CheckResult": ".report",
    "check_model": ".check",
    "check_output": ".check",
    "count_flops": ".cost",
    "time_training_step": ".check",
    "check_model_isolated": ".isolation",
    "survey_plugins": ".isolation",
    "ENTRY_POINT_GROUP": ".plugins",
    "PRESETS": ".presets",
    "ModelInfo": ".registry",
    "Preset": ".presets",
    "build_from_spec": ".spec",
    "count_parameters": ".registry",
    "create": ".registry",
    "describe_model": ".registry",
    "list_models": ".registry",
    "model_names": ".registry",
    "model_origin": ".spec",
    "model_spec": ".spec",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
