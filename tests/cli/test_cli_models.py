"""`diffbench models` and `diffbench check-model` from the command line."""

from __future__ import annotations

import json
import sys
import textwrap
import time
import uuid

import pytest

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


PLUGIN_SOURCES = {
    "cli_good": """
        from torch import nn


        class Net(nn.Module):
            '''A working plugin.'''

            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

            def forward(self, x):
                return self.conv(x)
    """,
    "cli_exits": """
        import sys

        sys.exit(3)
    """,
    "cli_hangs": """
        import os

        from torch import nn


        class Loops(nn.Module):
            '''Loops forever in __init__.'''

            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                while True:
                    pass


        class Dies(nn.Module):
            '''Kills its own process in __init__.'''

            def __init__(self, in_channels, out_channels=1):
                super().__init__()
                print("noise on stdout")
                os._exit(5)
    """,
}


@pytest.fixture
def hostile_plugins(tmp_path, monkeypatch):
    """A fake installed distribution: one working plugin and plugins that exit, hang or kill their process."""
    site = tmp_path / "site"
    site.mkdir()
    token = uuid.uuid4().hex[:8]
    modules = {stem: f"{stem}_{token}" for stem in PLUGIN_SOURCES}
    for stem, source in PLUGIN_SOURCES.items():
        (site / f"{modules[stem]}.py").write_text(textwrap.dedent(source))
    dist_info = site / "hostile_plugins-0.9.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugins\nVersion: 0.9\n")
    (dist_info / "entry_points.txt").write_text(
        "[diffbench.models]\n"
        f"cli-good = {modules['cli_good']}:Net\n"
        f"cli-exits = {modules['cli_exits']}:Net\n"
        f"cli-hangs = {modules['cli_hangs']}:Loops\n"
        f"cli-dies = {modules['cli_hangs']}:Dies\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield modules
    for module in modules.values():
        sys.modules.pop(module, None)


def test_models_lists_everything_beside_plugins_that_exit_hang_or_die(hostile_plugins, capsys):
    start = time.monotonic()
    assert main(["models", "--task", "smoke", "--timeout", "5"]) == 0
    assert time.monotonic() - start < 90
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "BROKEN" not in lines["cnn-small"] and "BROKEN" not in lines["cli-good"]
    assert "hostile-plugins 0.9" in lines["cli-good"] and "A working plugin." in lines["cli-good"]
    assert "BROKEN" in lines["cli-exits"] and "SystemExit: 3" in lines["cli-exits"]
    assert "BROKEN" in lines["cli-hangs"] and "did not finish within 5 s (--timeout)" in lines["cli-hangs"]
    assert "BROKEN" in lines["cli-dies"] and "exited with status 5" in lines["cli-dies"]
    assert "noise on stdout" not in [line.strip() for line in out.splitlines()]  # a plugin's print is no row
    # a built-in listing never needed a plugin: none was imported into this process
    assert not any(module in sys.modules for module in hostile_plugins.values())


def test_check_model_bounds_the_time_a_plugin_gets(hostile_plugins, capsys):
    assert main(["check-model", "cli-hangs", "--task", "smoke", "--timeout", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "plugin model 'cli-hangs' (package hostile-plugins 0.9)" in err
    assert "did not finish within 5 s (--timeout)" in err
    assert main(["check-model", "cli-exits", "--task", "smoke", "--timeout", "60"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SystemExit: 3" in err and "package hostile-plugins 0.9" in err
    assert main(["check-model", "cli-good", "--task", "smoke", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "ok   training step" in out and "ready for task smoke" in out
    assert main(["check-model", "cli-good", "--timeout", "0"]) == 2
    assert "--timeout must be a positive number of seconds" in capsys.readouterr().err
