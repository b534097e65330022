"""The built-in model presets: stable names, each a class path and its frozen arguments.

Torch-free (the classes are imported only when a model is built), so the command line can tell a
built-in name from a plugin without importing torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

BUILT_IN = "built-in"
PLUGIN = "plugin"
CLASS_PATH = "class path"


@dataclass(frozen=True)
class Preset:
    """A named, frozen model configuration.

    Attributes
    ----------
    name : str
        The stable name (``"unet-small"``).
    class_path : str
        ``"module:ClassName"`` of the constructor, imported only when the model is built.
    kwargs : Mapping
        Constructor arguments beyond ``in_channels``/``out_channels`` (``lattice`` is added when
        the constructor takes it).
    description : str
        One line for ``diffbench models``.
    """

    name: str
    class_path: str
    kwargs: Mapping[str, Any]
    description: str


def _preset(name: str, class_path: str, description: str, **kwargs: Any) -> tuple[str, Preset]:
    return name, Preset(name, class_path, MappingProxyType(kwargs), description)


_CNN = "diffbench.models.cnn:EncoderDecoderCNN"
_UNET = "diffbench.models.unet:UNet"
_RESNET = "diffbench.models.resnet:DilatedResNet"
_FNO = "diffbench.models.fno:FourierNeuralOperator"

PRESETS: Mapping[str, Preset] = MappingProxyType(
    dict(
        [
            _preset(
                "cnn",
                _CNN,
                "The paper's encoder-decoder CNN (P23 SimpleCNN): 3x3 convs 64..2048, no skips, "
                "50.3 M params; ceil(log2(N/16)) poolings (16x16 bottleneck at N=512)",
                channels=(64, 128, 256, 512, 1024, 2048),
                bottleneck=16,
            ),
            _preset(
                "cnn-small",
                _CNN,
                "A CPU-sized ED-CNN: channels 16..128, poolings down to a 4x4 bottleneck",
                channels=(16, 32, 64, 128),
                bottleneck=4,
            ),
            _preset(
                "unet",
                _UNET,
                "U-Net with skip connections: 64..1024 channels, 4 levels, GroupNorm, GELU",
                base_channels=64,
                depth=4,
            ),
            _preset(
                "unet-small",
                _UNET,
                "A CPU-sized U-Net: 16..128 channels, 3 levels",
                base_channels=16,
                depth=3,
            ),
            _preset(
                "resnet",
                _RESNET,
                "Full-resolution dilated ResNet (PDEArena DilResNet-128): 4 blocks of dilations 1,2,4,8,4,2,1",
                hidden_channels=128,
                n_blocks=4,
            ),
            _preset(
                "resnet-small",
                _RESNET,
                "A CPU-sized dilated ResNet: 16 channels, 3 blocks",
                hidden_channels=16,
                n_blocks=3,
            ),
            _preset(
                "fno",
                _FNO,
                "neuraloperator FNO: 32x32 modes, width 64, 4 layers, grid embedding, 25% domain padding",
                n_modes=(32, 32),
                hidden_channels=64,
                n_layers=4,
                domain_padding=0.25,
            ),
            _preset(
                "fno-small",
                _FNO,
                "A CPU-sized neuraloperator FNO: 12x12 modes, width 24, 4 layers, 25% domain padding",
                n_modes=(12, 12),
                hidden_channels=24,
                n_layers=4,
                domain_padding=0.25,
            ),
        ]
    )
)
"""The built-in presets by name. Each has a full and a CPU-sized ``-small`` variant."""
