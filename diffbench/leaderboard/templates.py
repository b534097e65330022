"""The site's Jinja2 environment: the templates in ``templates/`` (shipped as package data),
autoescape on for every template (every ``{{ value }}`` escaped by the same
:func:`~diffbench.leaderboard.filters.esc` as the hand-built markup), the filters of :mod:`diffbench.leaderboard.filters`,
undefined names an error. Rendering is a pure function of its arguments.

``base.html`` is the one layout (head, Content-Security-Policy, header, scripts); each page
kind extends it: ``index.html`` (the boards), ``entry.html`` (one submission), ``charts.html``
(a task's entries on one chart) and
``page.html`` (a page whose body is built by hand: the trust and study pages).

>>> render("page.html", title="<t>", csp="default-src 'none'", css="", scripts=[],
...        header=dict(subtitle="s", nav="", back="", root=""), body="<p>x</p>").count("&lt;t&gt;")
1
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from .filters import FILTERS, esc

__all__ = ["Markup", "environment", "macro", "render"]


def _escape(value: Any) -> Any:
    """Every ``{{ value }}`` is escaped by :func:`~diffbench.leaderboard.filters.esc` (``html.escape``,
    quotes included), the same function as the hand-built markup, so the site has one escaping;
    autoescape then leaves the resulting :class:`Markup` alone (and catches anything else)."""
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return value
    return Markup(esc(value))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja2 environment of the site (autoescape on, strict undefined, the filters)."""
    env = Environment(
        loader=PackageLoader("diffbench.leaderboard", "templates"),
        autoescape=True,
        finalize=_escape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


def macro(name: str, template: str = "macros.html") -> Any:
    """A macro of ``template`` as a function returning :class:`Markup` (for markup built by hand)."""
    return getattr(environment().get_template(template).module, name)


def render(template: str, **context: Any) -> str:
    """Render ``template`` with ``context``; strings are escaped unless they are :class:`Markup`."""
    return environment().get_template(template).render(**context)
