"""``diffbench submit``, ``diffbench schema`` and ``diffbench leaderboard build|serve``."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import DiffbenchError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("submit", help="check a run's result.json against the protocol and add it to the leaderboard")
    s.add_argument("result", help="the result.json that `diffbench run` wrote (OUT/<run-id>/result.json)")
    s.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default $DIFFBENCH_LEADERBOARD_DIR or the repository's leaderboard/)")
    s.add_argument("--title", default="", help="what the entry is called on the board, e.g. the paper's method name")
    s.add_argument("--authors", default="", help="who submits it")
    s.add_argument("--url", default=None, help="http(s) link to the code or paper")
    s.add_argument("--official", action="store_true", help="the authors of the method submit it (OGB's 'official')")
    s.add_argument("--dry-run", action="store_true", help="check only; store nothing")
    s.add_argument("--with-checkpoints", action="store_true",
                   help="make a submission bundle: copy each seed's best checkpoint next to it (with its SHA-256 and size) "
                        "so that `diffbench verify` can re-score it")
    s.add_argument("--checkpoint-url", action="append", default=[], metavar="SEED=URL",
                   help="record seed SEED's checkpoint by its http(s) URL instead of copying it (large models; repeatable)")
    s.add_argument("--check", action="store_true",
                   help="RESULT is a stored submission (submissions/<task>/<id>.json): re-check it as the build does, "
                        "bundled checkpoints hashed; store nothing")
    s.set_defaults(func=_submit)

    sc = sub.add_parser("schema", help="print the JSON Schema of result.json (also committed as leaderboard/result.schema.json)")
    sc.set_defaults(func=_schema)

    lb = sub.add_parser("leaderboard", help="build, check or serve the static leaderboard site")
    lb.set_defaults(func=lambda args: _help(lb))
    lsub = lb.add_subparsers(dest="leaderboard_command", metavar="ACTION")
    b = lsub.add_parser("build", help="generate the static site from the stored submissions")
    b.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default $DIFFBENCH_LEADERBOARD_DIR or the repository's leaderboard/)")
    b.add_argument("--out", metavar="DIR", help="site folder (default <leaderboard>/site); the build replaces its content")
    b.add_argument("--check", action="store_true", help="write nothing; exit 2 if the site on disk differs from what would be built")
    b.set_defaults(func=_build)
    r = lsub.add_parser("readme", help="rewrite the README's generated findings blocks from the shipped entries and studies")
    r.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default as for build)")
    r.add_argument("--readme", metavar="FILE", help="the README to update (default: README.md beside the leaderboard folder)")
    r.add_argument("--check", action="store_true", help="write nothing; exit 2 if a block differs from what the data say")
    r.set_defaults(func=_readme)
    v = lsub.add_parser("serve", help="serve the built site on http://127.0.0.1:PORT/")
    v.add_argument("--leaderboard", metavar="DIR", help="leaderboard folder (default as for build)")
    v.add_argument("--site", metavar="DIR", help="site folder to serve (default <leaderboard>/site)")
    v.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    v.set_defaults(func=_serve)


def _readme(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .claims import readme
    from .submit import resolve_leaderboard_dir

    lb = resolve_leaderboard_dir(args.leaderboard)
    path = Path(args.readme) if args.readme else lb.parent / "README.md"
    fresh = readme(path, lb, check=args.check)
    if args.check and not fresh:
        raise DiffbenchError(f"{path}: a generated findings block differs from the shipped data; run `diffbench leaderboard readme"
                             f"{' --leaderboard ' + str(args.leaderboard) if args.leaderboard else ''}` and commit the result")
    print(f"{path}: generated blocks {'up to date' if fresh else 'rewritten'}")
    return 0


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _checkpoint_urls(items: list[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in items:
        seed, sep, url = item.partition("=")
        if not sep or not seed.strip().isdigit() or not url:
            raise DiffbenchError(f"--checkpoint-url must be SEED=URL (e.g. 0=https://example.org/seed-0.ckpt), got {item[:80]!r}")
        if int(seed) in out:
            raise DiffbenchError(f"--checkpoint-url gives seed {int(seed)} twice")
        out[int(seed)] = url
    return out


def _submit(args: argparse.Namespace) -> int:
    from .submit import MIN_RANKED_SEEDS, check_stored, resolve_leaderboard_dir, submit

    if args.check:
        stored = check_stored(args.result, args.leaderboard)
        state = "verified" if stored.verification is not None else "claimed"
        bundle = f", {len(stored.meta['checkpoints'])} checkpoint(s)" if stored.meta.get("checkpoints") else ", no checkpoints"
        print(f"ok: {stored.path} ({stored.result['model']['name']} on {stored.task}, "
              f"{'ranked' if stored.ranked else 'unranked'}, {state}{bundle})")
        return 0
    lb = resolve_leaderboard_dir(args.leaderboard)
    sub = submit(args.result, lb, title=args.title, authors=args.authors, url=args.url, official=args.official,
                 dry_run=args.dry_run, with_checkpoints=args.with_checkpoints, checkpoint_urls=_checkpoint_urls(args.checkpoint_url))
    n = len(sub.result["seeds"])
    standing = "ranked" if sub.ranked else f"unranked: {n} seed{'s' if n != 1 else ''}, ranking needs >= {MIN_RANKED_SEEDS}"
    if sub.missing_images:
        print(f"note: {len(sub.missing_images)} example image(s) listed in the result are not next to it; stored without them",
              file=sys.stderr)
    what = f"{sub.result['model']['name']} on {sub.task} ({standing}; {len(sub.images)} image(s))"
    if args.dry_run:
        print(f"ok: {what} would be stored as {sub.path}")
    else:
        print(f"submitted {what} as {sub.path}")
        where = f" --leaderboard {shlex.quote(args.leaderboard)}" if args.leaderboard else ""
        if sub.meta.get("checkpoints"):
            print(f"verify it with `diffbench verify {sub.path}` (writes {sub.image_dir}/verification.json)")
        print(f"run `diffbench leaderboard build{where}` to update the site")
    return 0


def schema_text() -> str:
    """The JSON Schema of result.json as ``diffbench schema`` prints it (and the committed file holds)."""
    import json

    from ..results.schema import result_json_schema

    return json.dumps(result_json_schema(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return 0


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

    from .site import make_server
    from .submit import resolve_leaderboard_dir

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
