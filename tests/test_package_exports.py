"""The stage packages: every public name resolves (the lazy export tables included: a typo
there would otherwise only surface on first use), and imports follow the data flow in one
direction only, physics -> solver -> data -> models -> protocol (results) -> evaluation -> training
-> trust -> pipeline -> studies -> benchmarking -> leaderboard."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

STAGES = ("physics", "solver", "data", "models", "protocol", "evaluation", "training", "trust", "pipeline", "studies",
          "benchmarking", "leaderboard")
PACKAGE = Path(__file__).resolve().parents[1] / "diffbench"


@pytest.mark.parametrize("stage", STAGES)
def test_every_exported_name_resolves(stage: str) -> None:
    package = importlib.import_module(f"diffbench.{stage}")
    names = getattr(package, "__all__", [])
    assert names, stage
    for name in names:
        assert getattr(package, name) is not None, f"diffbench.{stage}.{name}"
    with pytest.raises(AttributeError):
        getattr(package, "no_such_name")


def _imported_stages(path: Path) -> set[str]:
    """The stages a module imports, absolute (``diffbench.x``) or relative (``..x``), lazy
    imports inside functions and ``_EXPORTS`` tables of relative module names included."""
    own = path.relative_to(PACKAGE).parts
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                targets = [node.module or ""]
            else:
                base = list(own[:-1])[: len(own) - node.level]
                targets = [".".join(["diffbench", *base, *(node.module.split(".") if node.module else [])])]
        for t in targets:
            parts = t.split(".")
            if parts[0] == "diffbench" and len(parts) > 1 and parts[1] in STAGES:
                found.add(parts[1])
    return found


def test_stages_import_only_upstream() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        stage = path.relative_to(PACKAGE).parts[0]
        if stage not in STAGES:
            continue
        for other in _imported_stages(path):
            if STAGES.index(other) > STAGES.index(stage):
                wrong.append(f"{path.relative_to(PACKAGE)} imports diffbench.{other}")
    assert not wrong, "\n".join(wrong)
