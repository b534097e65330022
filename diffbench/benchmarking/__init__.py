"""``diffbench bench``: runs the performance suites in the repository's ``benchmarks/`` with
pytest-benchmark and writes one JSON of every figure (see :mod:`diffbench.benchmarking.bench`;
its tables: :mod:`diffbench.benchmarking.summary`).

>>> from diffbench.benchmarking import run_benchmarks

Imports are lazy: registering the command costs the CLI nothing.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "benchmarks_dir": ".bench",
    "parse_suites": ".bench",
    "run_benchmarks": ".bench",
    "summarise": ".summary",
    "render_markdown": ".summary",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
