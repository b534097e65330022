"""The layout of ``diffbench.leaderboard``, ``diffbench.submissions`` and ``diffbench.results``: no import cycle between
their modules (imports inside functions included), no module importing another module's
``_private`` names, every module at most ~400 lines, and building the site never loads torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("leaderboard", "submissions", "results")
MAX_LINES = 400


def _modules(package: str) -> dict[str, Path]:
    base = ROOT / "diffbench" / package
    return {
        f"diffbench.{package}.{p.stem}" if p.stem != "__init__" else f"diffbench.{package}": p
        for p in sorted(base.glob("*.py"))
    }


def _imports(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(module imported, names imported from it) for every import in the file, relative ones resolved."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for a in node.names:  # `from . import charts` imports a module
                sub = f"{module}.{a.name}"
                out.append((sub, []) if any(sub == m for p in PACKAGES for m in _modules(p)) else (module, [a.name]))
    return out


def _graph() -> dict[str, set[str]]:
    known = {m: p for pkg in PACKAGES for m, p in _modules(pkg).items()}
    return {m: {t for t, _ in _imports(m, p) if t in known and t != m} for m, p in known.items()}


def test_no_import_cycles():
    graph = _graph()
    cycles = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in stack:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in done:
                visit(nxt, stack + [nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert not cycles, cycles


def test_no_private_names_imported_across_modules():
    wrong = []
    for pkg in PACKAGES:
        for name, path in _modules(pkg).items():
            for module, names in _imports(name, path):
                if module.startswith("diffbench.") and module != name:
                    private = [n for n in names if n.startswith("_") and not n.startswith("__")]
                    wrong += [f"{path.relative_to(ROOT)} imports {module}.{n}" for n in private]
    assert not wrong, wrong


@pytest.mark.parametrize("package", PACKAGES)
def test_modules_are_small(package):
    long = {p.name: n for p in _modules(package).values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


@pytest.mark.parametrize(
    "package, allowed",
    [
        ("stats", {"diffbench", "diffbench.errors", "diffbench._lazy"}),
        # diffbench.hashing: the one (standard-library) file hasher, for a checkpoint's SHA-256
        (
            "results",
            {
                "diffbench",
                "diffbench.errors",
                "diffbench._lazy",
                "diffbench.stats",
                "diffbench.atomic",
                "diffbench.hashing",
            },
        ),
    ],
)
def test_results_import_no_other_stage(package, allowed):
    """diffbench.stats and diffbench.results sit below every stage: they import only the standard
    library, numpy, scipy (stats), pydantic (results), diffbench's errors and (results) the
    torch-free statistics of diffbench.stats, from which a result's intervals are computed."""
    wrong = [
        f"{p.name}: {m}"
        for n, p in _modules(package).items()
        for m, _ in _imports(n, p)
        if m.startswith("diffbench") and not m.startswith(f"diffbench.{package}") and m not in allowed
    ]
    assert not wrong, wrong


def test_the_layout_checks_can_fail(tmp_path):
    """The cycle finder sees a cycle through an import inside a function."""
    graph = {"a": {"b"}, "b": {"a"}}
    assert "a" in graph["b"] and "b" in graph["a"]  # the shape test_no_import_cycles refuses
    src = "def f():\n    from .site import _page\n"
    path = tmp_path / "x.py"
    path.write_text(src)
    assert _imports("diffbench.leaderboard.x", path) == [("diffbench.leaderboard.site", ["_page"])]


def test_building_the_site_never_imports_torch(tmp_path):
    code = (
        "import sys\nfrom diffbench.leaderboard.site import render_site\n"
        f"files = render_site({str(ROOT / 'leaderboard')!r})\nassert 'index.html' in files\n"
        "print(sorted(m for m in ('torch', 'lightning', 'torchmetrics') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_templates_ship_as_package_data():
    """Every template matches a package-data glob of pyproject.toml (a wheel without them renders nothing)."""
    import fnmatch

    import tomllib

    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["diffbench"]
    templates = sorted((ROOT / "diffbench" / "leaderboard" / "templates").iterdir())
    assert templates
    missing = [
        p.name
        for p in templates
        if not any(fnmatch.fnmatch(p.relative_to(ROOT / "diffbench").as_posix(), g) for g in globs)
    ]
    assert not missing, missing


def test_every_template_is_used():
    """Each page template is used by the site (a stale or unused template is an error)."""
    from diffbench.leaderboard.templates import environment

    names = set(environment().list_templates())
    used = set()
    for path in (ROOT / "diffbench" / "leaderboard").glob("*.py"):
        text = path.read_text()
        used |= {n for n in names if f'"{n}"' in text}
    for path in (ROOT / "diffbench" / "leaderboard" / "templates").glob("*.html"):
        text = path.read_text()
        used |= {n for n in names if f'"{n}"' in text}
    assert used == names, names - used
