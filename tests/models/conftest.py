"""Fixtures for the model tests: fake plugin distributions that never touch the venv."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


class FakeSite:
    """A directory on ``sys.path`` holding fake installed distributions (``*.dist-info``).

    ``add(package, version, entry_points, modules)`` writes the modules and a dist-info folder
    whose ``entry_points.txt`` declares the ``diffbench.models`` entry points; importlib.metadata
    then finds them exactly as it finds a pip-installed package.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.token = uuid.uuid4().hex[:8]
        self.module_names: list[str] = []

    def module_name(self, stem: str) -> str:
        """A module name unique to this test, so that no import is served from an earlier test."""
        name = f"{stem}_{self.token}"
        self.module_names.append(name)
        return name

    def add(self, package: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        for module, source in modules.items():
            (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        dist_info = self.root / f"{package.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        lines = ["[diffbench.models]"] + [f"{name} = {value}" for name, value in entry_points.items()]
        (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    """A fresh fake site directory prepended to ``sys.path`` for one test."""
    root = tmp_path / "site"
    root.mkdir()
    site = FakeSite(root)
    monkeypatch.syspath_prepend(str(root))
    yield site
    for name in site.module_names:
        sys.modules.pop(name, None)


GOOD_MODEL_SOURCE = """
    import torch
    from torch import nn


    class GoodNet(nn.Module):
        '''A 3x3 convolution: a working plugin model.'''

        def __init__(self, in_channels, out_channels=1, width=4):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, padding=1), nn.GELU(), nn.Conv2d(width, out_channels, 1)
            )

        def forward(self, x):
            return self.body(x)
"""


@pytest.fixture
def good_plugin(fake_site: FakeSite) -> Callable[[str], str]:
    """Register a working plugin model under a given name; returns its module name."""

    def register(name: str, package: str = "good-plugin") -> str:
        module = fake_site.module_name("good_plugin")
        fake_site.add(package, "1.0.0", {name: f"{module}:GoodNet"}, {module: GOOD_MODEL_SOURCE})
        return module

    return register
