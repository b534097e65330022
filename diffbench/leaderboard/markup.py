r"""The markup shared by every page of the site: escaping, the page layout (with its
Content-Security-Policy), the site header, fact lists, JSON blocks, values and sortable heads.

Escaping: every interpolated string goes through :func:`html.escape` (attributes quoted),
the embedded JSON has ``<``, ``>`` and ``&`` written as ``\u003c``-style escapes, and links
are emitted only for http(s) URLs.


>>> embed_json({"t": "</script>"})
'{"t":"\\u003c/script\\u003e"}'
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

from .filters import esc
from .templates import Markup, macro, render


def asset(name: str) -> str:
    return (resources.files("diffbench.leaderboard") / "assets" / name).read_text(encoding="utf-8")


def embed_json(obj: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, ``<!--``, U+2028)."""
    text = json.dumps(obj, sort_keys=True, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page(
    title: str,
    body: str,
    *,
    header: dict[str, Any],
    script: str | None = None,
    data: Any = None,
    template: str = "page.html",
    style: str = "",
    **context: Any,
) -> str:
    """A whole page in the one layout (``base.html``): its head, Content-Security-Policy (only
    the page's own inline style and scripts, by hash, and its own images), header and scripts.
    ``body`` is trusted markup (built with :func:`esc`); ``data`` is embedded as
    ``window.DIFFBENCH_DATA`` (file:// pages cannot fetch JSON); ``template`` and ``context``
    render a page kind other than a hand-built body; ``style`` is CSS of the page's own,
    appended to the site's (one inline style block, hashed like the rest)."""
    css = asset("style.css") + style
    scripts = []
    if data is not None:
        scripts.append("window.DIFFBENCH_DATA = " + embed_json(data) + ";")
    if script is not None:
        scripts.append(script)
    csp = [
        "default-src 'none'",
        f"style-src {csp_hash(css)}",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    csp.insert(1, "script-src " + " ".join(csp_hash(s) for s in scripts) if scripts else "script-src 'none'")
    return render(
        template,
        title=title,
        csp=Markup(esc("; ".join(csp))),
        css=Markup(css),
        scripts=[Markup(s) for s in scripts],
        header=header,
        body=Markup(body),
        **context,
    )


def header(subtitle: str, nav: str = "", back: str = "", depth: str | None = None) -> dict[str, Any]:
    """The site header of a page: ``subtitle``, ``nav`` and ``back`` are trusted markup; links go to ``depth``."""
    root = depth if depth is not None else ("../" if back else "")
    return {"subtitle": Markup(subtitle), "nav": Markup(nav), "back": Markup(back), "root": root}


def short(text: str, n: int = 36) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def sortable_head(
    cols: Sequence[tuple[str, str, str, str]], first: dict[str, str], sorted_key: str | None = None
) -> str:
    """The header cells of a sortable board (``board.js`` sorts on ``data-key``): ``cols`` are
    (key, label, kind, tooltip) with kind ``num``, ``str`` or ``none`` (not sortable); ``first``
    maps keys whose first click sorts descending; ``sorted_key`` is the board's initial order
    (the ``sortable_head`` macro of ``macros.html``)."""
    return str(macro("sortable_head")(cols, [k for k, v in first.items() if v == "descending"], sorted_key))


def dl(items: list[tuple[str, str]]) -> str:
    """A fact list: keys as text, values as trusted markup (the ``facts`` macro)."""
    return str(macro("facts")([(k, Markup(v)) for k, v in items]))


def json_block(obj: Any, summary: str) -> str:
    """A collapsed block of indented JSON (the ``json_block`` macro)."""
    return str(macro("json_block")(obj, summary))
