"""``diffbench leaderboard serve``: the built site over HTTP, on 127.0.0.1 only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DiffbenchError


def make_server(site: str | os.PathLike[str], port: int = 8000, *, quiet: bool = False):
    """A :class:`http.server.ThreadingHTTPServer` serving ``site`` on 127.0.0.1 only."""
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    site = Path(site)
    if not (site / "index.html").is_file():
        raise DiffbenchError(f"no site at {site} (no index.html); run `diffbench leaderboard build` first")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise DiffbenchError(f"--port must be an integer in 0..65535 (0 picks a free one), got {port!r}")

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            if not quiet:
                super().log_message(format, *args)

    try:
        return ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(site)))
    except OSError as exc:
        raise DiffbenchError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror or exc}); pick another --port") from None
