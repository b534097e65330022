"""Stage 6 — the leaderboard: checked submissions and a generated static site.

``diffbench submit RESULT`` checks a run's ``result.json`` against the schema and the
protocol and stores it, content-addressed, under ``leaderboard/submissions/<task>/``.
``diffbench leaderboard build`` turns the stored submissions into a self-contained static
site (works from ``file://``, offline, byte-for-byte deterministic) and ``--check`` tells
whether the site on disk is stale. ``diffbench leaderboard serve`` serves it on 127.0.0.1.

Modules, one concern each (no import cycles, no private names across modules, checked by
``tests/leaderboard/test_layout.py``): ``submit`` (checking and storing; the checks themselves
are :mod:`diffbench.results`), ``rows`` (the row model and ranking), ``filters`` (all number
formatting), ``templates`` + ``templates/*.html`` (Jinja2, autoescape on: ``base.html`` is the
one layout; ``index.html``, ``entry.html``, ``trust.html``, ``study.html`` the page kinds;
``macros.html`` the shared pieces), ``markup`` (page assembly, CSP, escaping helpers for the
hand-built parts), ``charts`` (deterministic inline SVG), ``board`` (the index), ``overview`` (a task's
chart page), ``entry``, ``trust_pages``, ``studies`` (one page kind each), ``site`` (render, build, ``--check``),
``server`` (``serve``) and ``commands`` (the CLI, ``diffbench schema`` included). Nothing
here imports torch.

Imports are lazy: importing this package costs nothing.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "Submission": ".submit",
    "check_result": ".submit",
    "default_leaderboard_dir": ".submit",
    "load_submissions": ".submit",
    "read_json_strict": ".submit",
    "resolve_leaderboard_dir": ".submit",
    "submit": ".submit",
    "build_site": ".site",
    "check_site": ".site",
    "render_site": ".site",
    "make_server": ".server",
    "schema_text": ".commands",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
