"""The size of diffbench's code: no module over MODULE_LIMIT lines, no package over PACKAGE_LIMIT
lines in all, each exception named with its reason (an exception no longer needed fails too, so
the lists stay true). tests/leaderboard/test_layout.py holds the same module limit for the
leaderboard and results packages."""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "diffbench"

#: Lines a module may have: past it, split it by concern.
MODULE_LIMIT = 400
#: Modules over MODULE_LIMIT, as ``{path relative to diffbench/: reason}``.
MODULE_EXCEPTIONS: dict[str, str] = {}

#: Lines a package (every module under its folder) may have in all.
PACKAGE_LIMIT = 1500
#: Packages over PACKAGE_LIMIT, as ``{package: reason}``.
PACKAGE_EXCEPTIONS: dict[str, str] = {
    "leaderboard": "the static site and the README's generated claims, torch-free, built from one typed row model "
    "(ranking, pages, deterministic SVG charts, filters, Jinja2 templates) with its local server; the "
    "submission checks moved to `submissions`, and the page kinds share the row model and the markup.",
    "results": "the torch-free result format that `diffbench submit` recomputes without torch (schema, validation, "
    "digests, per-sample intervals, UQ and verification records, comparisons); one package because the "
    "layout test holds its imports below every stage, a boundary a second package would have to duplicate.",
    "models": "the registry (presets, plugins, class paths, specs), the model checks and the four built-in networks "
    "(cnn, unet, resnet, fno: ~485 lines), which cannot move to a `nets` package without changing the class "
    "paths (`diffbench.models.unet:UNet`) that recorded model specs, checkpoints and result rows name.",
    "training": "one run's training lifecycle around Lightning (module, losses, callbacks, checkpoint I/O and resume, "
    "timing, recipes and options, W&B logging, rescoring), in small modules that share the run's state.",
    "trust": "the trust stage's three analyses of a trained model (label-free error indicators and their scores, "
    "physical consistency checks, the certified solve warm-started by the surrogate) and its command.",
    "data": "one pipeline from a task's YAML spec to batches: tasks, seeded sampling and fields, the disk cache and "
    "its generation, the batch contract and the DataModule.",
    "stats": "the statistics behind every published number, NumPy and SciPy only: intervals of one entry, paired "
    "comparisons and tied ranks, and uncertainty-score power all run on the two-level resampling engine of "
    "core.py, and the package docstring (~85 lines) is the methods' specification; the scaling-law fit, the one "
    "part off that engine, is ~230 lines, so moving it to a package of its own would still leave ~1,550 here.",
}


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _modules() -> dict[str, int]:
    return {p.relative_to(PACKAGE).as_posix(): _lines(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _packages() -> dict[str, int]:
    return {
        d.name: sum(_lines(p) for p in d.rglob("*.py"))
        for d in sorted(PACKAGE.iterdir())
        if (d / "__init__.py").is_file()
    }


def test_no_module_is_over_the_limit():
    long = {m: n for m, n in _modules().items() if n > MODULE_LIMIT and m not in MODULE_EXCEPTIONS}
    assert not long, (
        f"modules over {MODULE_LIMIT} lines (split them by concern, or add an exception with its reason): {long}"
    )


def test_every_module_exception_is_still_needed():
    modules = _modules()
    stale = [m for m in MODULE_EXCEPTIONS if modules.get(m, 0) <= MODULE_LIMIT]
    assert not stale, f"no longer over {MODULE_LIMIT} lines (or gone): drop their exceptions: {stale}"


def test_package_totals(capsys):
    totals = _packages()
    with capsys.disabled():
        print(
            "\n"
            + "\n".join(
                f"  {name:<14}{n:>6} lines{'  (exception)' if name in PACKAGE_EXCEPTIONS else ''}"
                for name, n in sorted(totals.items(), key=lambda kv: -kv[1])
            )
        )
    over = {name: n for name, n in totals.items() if n > PACKAGE_LIMIT and name not in PACKAGE_EXCEPTIONS}
    assert not over, f"packages over {PACKAGE_LIMIT} lines (split them, or add an exception with its reason): {over}"
    stale = [name for name in PACKAGE_EXCEPTIONS if totals.get(name, 0) <= PACKAGE_LIMIT]
    assert not stale, f"no longer over {PACKAGE_LIMIT} lines (or gone): drop their exceptions: {stale}"


@pytest.mark.parametrize("reason", [*MODULE_EXCEPTIONS.values(), *PACKAGE_EXCEPTIONS.values()])
def test_every_exception_says_why(reason):
    assert len(reason.split()) >= 8, reason


def test_the_size_checks_see_every_module():
    """The walk reaches nested folders and top-level modules alike (a check that sees nothing passes)."""
    modules = _modules()
    assert "atomic.py" in modules and "evaluation/functional.py" in modules
    assert set(_packages()) >= {"physics", "solver", "data", "models", "results", "leaderboard"}
