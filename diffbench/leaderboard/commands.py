"""``diffbench leaderboard build|readme|serve``."""

from __future__ import annotations

import argparse
import sys

from ..errors import DiffbenchError


def register(sub: argparse._SubParsersAction) -> None:
    lb = sub.add_parser("leaderboard", help="build, check or serve the static leaderboard site")
    lb.set_defaults(func=lambda args: _help(lb))
    lsub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    b = lsub.add_parser("build", help="generate the static site from the stored submissions")
    b.add_argument(
        "--leaderboard",
        metavar="DIR",
        help="leaderboard folder (default $DIFFBENCH_LEADERBOARD_DIR or the repository's leaderboard/)",
    )
    b.add_argument(
        "--out", metavar="DIR", help="site folder (default <leaderboard>/site); the build replaces its content"
    )
    b.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 2 if the site on disk differs from what would be built",
    )
    b.set_defaults(func=_build)
    r = lsub.add_parser(
        "readme", help="rewrite the README's generated findings blocks from the shipped entries and studies"
    )
    r.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default as for build)")
    r.add_argument(
        "--readme", metavar="FILE", help="the README to update (default: README.md beside the leaderboard folder)"
    )
    r.add_argument(
        "--check", action="store_true", help="write nothing; exit 2 if a block differs from what the data say"
    )
    r.set_defaults(func=_readme)
    v = lsub.add_parser("serve", help="serve the built site on http://127.0.0.1:PORT/")
    v.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default as for build)")
    v.add_argument("--site", metavar="DIR", help="site folder to serve (default <leaderboard>/site)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    v.set_defaults(func=_serve)


def _readme(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..submissions.stored import resolve_leaderboard_dir
    from .claims import readme

    lb = resolve_leaderboard_dir(args.leaderboard)
    path = Path(args.readme) if args.readme else lb.parent / "README.md"
    fresh = readme(path, lb, check=args.check)
    if args.check and not fresh:
        raise DiffbenchError(
            f"{path}: a generated findings block differs from the shipped data; run `diffbench leaderboard readme"
            f"{' --leaderboard ' + str(args.leaderboard) if args.leaderboard else ''}` and commit the result"
        )
    print(f"{path}: generated blocks {'up to date' if fresh else 'rewritten'}")
    return 0


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _build(args: argparse.Namespace) -> int:
    from .site import build_site

    report = build_site(args.leaderboard, args.out, check=args.check)
    if args.check:
        print(f"the site at {report.out} is up to date ({report.files} files, {report.entries} entries)")
    else:
        print(f"built {report.out}/index.html ({report.files} files, {report.entries} entries)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..submissions.stored import resolve_leaderboard_dir
    from .site import make_server

    site = Path(args.site) if args.site else resolve_leaderboard_dir(args.leaderboard) / "site"
    server = make_server(site, args.port)
    host, port = server.server_address[:2]
    print(f"serving {site} at http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


__all__ = ["register", "DiffbenchError"]
