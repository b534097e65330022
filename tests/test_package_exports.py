"""The stage packages: every public name resolves (the lazy export tables included: a typo
there would otherwise only surface on first use); imports follow the data flow in one
direction only, physics -> solver -> data -> models -> stats -> results -> evaluation ->
training -> trust -> pipeline -> studies -> tuning -> benchmarking -> submissions -> leaderboard; no stage's modules
import each other in a cycle; and no module imports another module's ``_private`` names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

STAGES = (
    "physics",
    "solver",
    "data",
    "models",
    "stats",
    "results",
    "evaluation",
    "training",
    "trust",
    "pipeline",
    "studies",
    "tuning",
    "benchmarking",
    "submissions",
    "leaderboard",
)
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


def _module(path: Path) -> str:
    """``diffbench/training/run.py`` -> ``diffbench.training.run`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import of a module as ``(absolute module, imported names)``, absolute
    (``diffbench.x``) or relative (``..x``), lazy imports inside functions included; a
    ``from . import x`` of a submodule counts as importing ``diffbench.<package>.x``."""
    own = path.relative_to(PACKAGE).parts
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [a.name for a in node.names]
            if node.level == 0:
                found.append((node.module or "", names))
                continue
            base = ".".join(["diffbench", *list(own[:-1])[: len(own) - node.level]])
            target = f"{base}.{node.module}" if node.module else base
            found.append((target, names))
            if node.module is None:
                found += [
                    (f"{base}.{n}", [])
                    for n in names
                    if (PACKAGE.parent / f"{base}.{n}".replace(".", "/")).with_suffix(".py").exists()
                ]
    return found


def _imported_stages(path: Path) -> set[str]:
    """The stages a module imports (see :func:`_imports`)."""
    found: set[str] = set()
    for target, _ in _imports(path):
        parts = target.split(".")
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


#: Stages still being untangled on another branch (the mark is dropped when it merges).
_UNTANGLING: dict[str, str] = {}


def _stage_params() -> list:
    return [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=_UNTANGLING[s])) if s in _UNTANGLING else s
        for s in STAGES
    ]


def _module_graph(stage: str) -> dict[str, set[str]]:
    """``{module: modules of the same stage it imports}``, package faces (``__init__``) left out:
    they only name where their lazy exports live."""
    modules = {_module(p): p for p in sorted((PACKAGE / stage).rglob("*.py")) if p.name != "__init__.py"}
    return {name: {t for t, _ in _imports(path) if t in modules and t != name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as ``[a, b, ..., a]``, or None.

    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    True
    >>> find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [node])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return None


def test_find_cycle_reports_a_cycle_of_three():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    assert find_cycle({"x": {"x"}}) == ["x", "x"]


@pytest.mark.parametrize("stage", _stage_params())
def test_no_import_cycle_inside_a_stage(stage: str) -> None:
    """No module of a stage imports itself back through others, not even lazily inside a
    function (an import inside a function is not a way around a cycle)."""
    cycle = find_cycle(_module_graph(stage))
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("stage", _stage_params())
def test_no_module_imports_another_modules_private_names(stage: str) -> None:
    """``from .x import _y``: a name with a leading underscore is its module's own business;
    share it under a public name instead."""
    wrong = []
    for path in sorted((PACKAGE / stage).rglob("*.py")):
        for target, names in _imports(path):
            if target.startswith("diffbench") and target != _module(path):
                wrong += [
                    f"{path.relative_to(PACKAGE)} imports {target}.{n}"
                    for n in names
                    if n.startswith("_") and not n.startswith("__")
                ]
    assert not wrong, "\n".join(wrong)
