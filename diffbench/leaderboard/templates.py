"""The site's Jinja2 environment: the templates in ``templates/`` (shipped as package data),
autoescape on for every template, the filters of :mod:`diffbench.leaderboard.filters`,
undefined names an error. Rendering is a pure function of its arguments.

``base.html`` is the one layout (head, Content-Security-Policy, header, scripts); each page
kind extends it: ``index.html`` (the boards), ``entry.html`` (one submission) and
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

from .filters import FILTERS

__all__ = ["Markup", "environment", "render"]


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja2 environment of the site (autoescape on, strict undefined, the filters)."""
    env = Environment(loader=PackageLoader("diffbench.leaderboard", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(FILTERS)
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` with ``context``; strings are escaped unless they are :class:`Markup`."""
    return environment().get_template(template).render(**context)
