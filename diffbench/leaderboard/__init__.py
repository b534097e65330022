"""The last stage — the leaderboard: the generated static site and the README's findings.

Submissions are checked and stored by :mod:`diffbench.submissions`.
``diffbench leaderboard build`` turns the stored submissions into a self-contained static
site (works from ``file://``, offline, byte-for-byte deterministic) and ``--check`` tells
whether the site on disk is stale. ``diffbench leaderboard serve`` serves it on 127.0.0.1.

Modules, one concern each (no import cycles, no private names across modules, checked by
``tests/leaderboard/test_layout.py``): ``rows`` (the row model and ranking), ``filters`` (all number
formatting), ``templates`` + ``templates/*.html`` (Jinja2, autoescape on: ``base.html`` is the
one layout; ``index.html``, ``entry.html``, ``trust.html``, ``study.html`` the page kinds;
``macros.html`` the shared pieces), ``markup`` (page assembly, CSP, escaping helpers for the
hand-built parts), ``charts`` (deterministic inline SVG; its axes and number formats in ``scales``),
``board`` (the index), ``overview`` (a task's chart page), ``entry``, ``trust_pages`` (its cells in
``trust_cells``), ``studies`` (one page kind each), ``site`` (render, build, ``--check``),
``server`` (``serve``), ``claims`` (the README's generated findings) and ``commands`` (the CLI). Nothing
here imports torch.

Imports are lazy: importing this package costs nothing.
"""

from __future__ import annotations

from .._lazy import lazy_getattr

_EXPORTS = {
    "build_site": ".site",
    "check_site": ".site",
    "render_site": ".site",
    "make_server": ".server",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
