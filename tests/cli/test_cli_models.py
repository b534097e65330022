"""`diffbench models` and `diffbench check-model` from the command line."""

from __future__ import annotations

import json

from diffbench.cli import main


def test_models_lists_presets_with_sizes(capsys):
    assert main(["models", "--task", "smoke", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    for name in ("cnn", "cnn-small", "unet", "unet-small", "resnet", "resnet-small", "fno", "fno-small"):
        assert rows[name]["kind"] == "built-in" and rows[name]["parameters"] > 0 and rows[name]["error"] is None
    assert abs(rows["cnn"]["parameters"] - 50.3e6) < 0.1e6  # the paper's ED-CNN


def test_check_model_passes_and_fails_clearly(capsys, tmp_path):
    assert main(["check-model", "cnn-small", "--task", "smoke"]) == 0
    assert "ready for task smoke" in capsys.readouterr().out
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import torch\n"
        "class Half(torch.nn.Module):\n"
        "    def __init__(self, in_channels, out_channels=1):\n"
        "        super().__init__(); self.c = torch.nn.Conv2d(in_channels, out_channels, 2, stride=2)\n"
        "    def forward(self, x):\n"
        "        return self.c(x)\n"
    )
    assert main(["check-model", f"{bad}:Half", "--task", "smoke"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(2, 1, 16, 16)" in err and "(2, 1, 32, 32)" in err
    assert main(["check-model", "nope"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["check-model", "cnn-small", "--model-args", "[]"]) == 2
