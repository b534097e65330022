"""`diffbench run` checks the network's output before training, as `check-model` does, and a run
of a built-in model never imports a plugin (issue #16 item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diffbench.cli import main

NETS = '''
import torch
from torch import nn


class TupleNet(nn.Module):
    def __init__(self, in_channels, out_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        y = self.conv(x)
        return y, y


class DoubleNet(nn.Module):
    def __init__(self, in_channels, out_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x):
        return self.conv(x).double()
'''


def _run(model: str, tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(
        [
            "run",
            "--model",
            model,
            "--task",
            "smoke",
            "--max-steps",
            "1",
            "--out",
            str(tmp_path / "runs"),
            "--data-dir",
            str(data_dir),
            "--no-progress",
            "--wandb-mode",
            "disabled",
        ]
    )
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("cls", "words"), [("TupleNet", "tuple"), ("DoubleNet", "float64")])
def test_a_model_whose_output_cannot_be_trained_is_one_line_before_training(
    tmp_path, smoke_data_dir, capsys, cls, words
):
    nets = tmp_path / "nets.py"
    nets.write_text(NETS)
    code, err = _run(f"{nets}:{cls}", tmp_path, smoke_data_dir, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert "Traceback" not in err
    assert not list((tmp_path / "runs").glob("*/seed-*")), "nothing may be trained or written"


def test_a_run_of_a_built_in_imports_no_plugin(tmp_path, smoke_data_dir, capsys, monkeypatch):
    """An installed plugin that leaves a mark and exits at import (as a broken plugin may) must
    neither run nor silence `diffbench run --model cnn-small`."""
    import os
    import uuid

    site = tmp_path / "site"
    site.mkdir()
    module = f"boom_{uuid.uuid4().hex[:8]}"
    mark = tmp_path / "imported"
    (site / f"{module}.py").write_text(
        f"import pathlib, sys\npathlib.Path({str(mark)!r}).write_text('x')\nsys.exit(3)\n"
    )
    dist = site / "boom_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: boom-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[diffbench.models]\nboom = {module}:Net\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    code, err = _run("cnn-small", tmp_path, smoke_data_dir, capsys)
    assert code == 0, err
    assert not mark.exists(), "a run of a built-in imported an unrelated plugin"
