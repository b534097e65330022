"""What ``diffbench tune`` searches, per model.

Every model: the learning rate, log-uniform in :data:`LR_RANGE` (the recipe's peak rate: the
one-cycle maximum of ``fast``, the constant rate of ``paper``). A built-in preset also exposes
its width — ``base_channels`` (U-Net), ``hidden_channels`` (dilated ResNet, FNO), every entry of
``channels`` (ED-CNN) — searched over :data:`WIDTH_FACTORS` times the preset's; the FNO also
its Fourier modes, over :data:`MODE_FACTORS` times the preset's, kept at most N/2 (the modes a
lattice of side N holds). Plugins and class paths: the learning rate only (nothing is known
of their constructors). ``space="lr"`` searches the learning rate only for every model.

>>> s = search_space("fno-small", lattice=64)
>>> s.names(), s.choices["modes"]
(['lr', 'modes', 'width'], [6, 12, 24])
>>> s.model_args({"lr": 1e-3, "width": 2.0, "modes": 24})
{'hidden_channels': 48, 'n_modes': [24, 24]}
>>> search_space("cnn-small", lattice=32).model_args({"lr": 1e-3, "width": 0.5})
{'channels': [8, 16, 32, 64]}
>>> search_space("my_pkg.nets:Net", lattice=32).names()
['lr']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import DiffbenchError

#: The learning-rate range searched, log-uniform (covers the paper's 1e-4 and fast's 1e-3).
LR_RANGE = (1e-4, 1e-2)
#: Width multipliers searched where a preset exposes its width.
WIDTH_FACTORS = (0.5, 1.0, 2.0)
#: Fourier-mode multipliers searched for the FNO presets.
MODE_FACTORS = (0.5, 1.0, 2.0)
#: What ``--space`` accepts.
SPACES = ("full", "lr")

#: The constructor argument that holds a preset family's width.
_WIDTH_KEY = {
    "diffbench.models.unet:UNet": "base_channels",
    "diffbench.models.resnet:DilatedResNet": "hidden_channels",
    "diffbench.models.fno:FourierNeuralOperator": "hidden_channels",
    "diffbench.models.cnn:EncoderDecoderCNN": "channels",
}
_FNO = "diffbench.models.fno:FourierNeuralOperator"


@dataclass
class SearchSpace:
    """The searched parameters of one model: ``lr`` (log-uniform in ``lr_range``) and, in
    ``choices``, categorical ones (``width``, ``modes``) with the preset's values they scale."""

    model: str
    lr_range: tuple[float, float] = LR_RANGE
    choices: dict[str, list[Any]] = field(default_factory=dict)
    preset: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        return ["lr", *sorted(self.choices)]

    def describe(self) -> dict[str, Any]:
        """The space as recorded in tune.json."""
        out: dict[str, Any] = {"lr": {"low": self.lr_range[0], "high": self.lr_range[1], "log": True}}
        for name, values in sorted(self.choices.items()):
            out[name] = {"choices": list(values), "of_preset": self.preset.get(name)}
        return out

    def model_args(self, params: dict[str, Any]) -> dict[str, Any]:
        """The constructor overrides (``--model-args``) that a trial's parameters mean."""
        args: dict[str, Any] = {}
        if "width" in params:
            key, base = self.preset["width_key"], self.preset["width"]
            factor = float(params["width"])
            if isinstance(base, (list, tuple)):
                args[key] = [max(1, round(c * factor)) for c in base]
            else:
                args[key] = max(1, round(base * factor))
        if "modes" in params:
            args["n_modes"] = [int(params["modes"])] * len(self.preset["n_modes"])
        return args


def search_space(model: str, lattice: int, space: str = "full") -> SearchSpace:
    """The search space of ``model`` on a lattice of side ``lattice`` (see the module docstring)."""
    if space not in SPACES:
        raise DiffbenchError(f"unknown search space {space!r}; allowed: {', '.join(SPACES)}")
    from ..models.registry import PRESETS

    preset = PRESETS.get(model) if isinstance(model, str) else None
    out = SearchSpace(model=str(model))
    if preset is None or space == "lr" or preset.class_path not in _WIDTH_KEY:
        return out
    key = _WIDTH_KEY[preset.class_path]
    width = preset.kwargs[key]
    out.preset.update(width_key=key, width=list(width) if isinstance(width, (list, tuple)) else width)
    out.choices["width"] = list(WIDTH_FACTORS)
    if preset.class_path == _FNO:
        modes = list(preset.kwargs["n_modes"])
        m = modes[0]
        values = sorted(
            {max(2, round(m * f)) for f in MODE_FACTORS if max(2, round(m * f)) <= lattice // 2}
            | {min(m, lattice // 2)}
        )
        out.preset.update(n_modes=modes, modes=m)
        out.choices["modes"] = values
    return out
