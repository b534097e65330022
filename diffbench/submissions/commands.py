"""``diffbench submit`` and ``diffbench schema``."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..errors import DiffbenchError


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("submit", help="check a run's result.json against the protocol and add it to the leaderboard")
    s.add_argument("result", help="the result.json that `diffbench run` wrote (OUT/<run-id>/result.json)")
    s.add_argument(
        "--leaderboard",
        metavar="DIR",
        help="leaderboard folder (default $DIFFBENCH_LEADERBOARD_DIR or the repository's leaderboard/)",
    )
    s.add_argument("--title", default="", help="what the entry is called on the board, e.g. the paper's method name")
    s.add_argument("--authors", default="", help="who submits it")
    s.add_argument("--url", default=None, help="http(s) link to the code or paper")
    s.add_argument("--official", action="store_true", help="the authors of the method submit it (OGB's 'official')")
    s.add_argument("--dry-run", action="store_true", help="check only; store nothing")
    s.add_argument(
        "--with-checkpoints",
        action="store_true",
        help="make a submission bundle: copy each seed's best checkpoint next to it (with its SHA-256 and size) "
        "so that `diffbench verify` can re-score it",
    )
    s.add_argument(
        "--checkpoint-url",
        action="append",
        default=[],
        metavar="SEED=URL",
        help="record seed SEED's checkpoint by its http(s) URL instead of copying it (large models; repeatable)",
    )
    s.add_argument(
        "--check",
        action="store_true",
        help="RESULT is a stored submission (submissions/<task>/<id>.json): re-check it as the build does, "
        "bundled checkpoints hashed; store nothing",
    )
    s.set_defaults(func=_submit)

    sc = sub.add_parser(
        "schema", help="print the JSON Schema of result.json (also committed as leaderboard/result.schema.json)"
    )
    sc.set_defaults(func=_schema)


def _checkpoint_urls(items: list[str]) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in items:
        seed, sep, url = item.partition("=")
        if not sep or not seed.strip().isdigit() or not url:
            raise DiffbenchError(
                f"--checkpoint-url must be SEED=URL (e.g. 0=https://example.org/seed-0.ckpt), got {item[:80]!r}"
            )
        if int(seed) in out:
            raise DiffbenchError(f"--checkpoint-url gives seed {int(seed)} twice")
        out[int(seed)] = url
    return out


def _submit(args: argparse.Namespace) -> int:
    from .stored import check_stored, resolve_leaderboard_dir
    from .submit import MIN_RANKED_SEEDS, submit

    if args.check:
        stored = check_stored(args.result, args.leaderboard)
        state = "verified" if stored.verification is not None else "claimed"
        bundle = (
            f", {len(stored.meta['checkpoints'])} checkpoint(s)"
            if stored.meta.get("checkpoints")
            else ", no checkpoints"
        )
        print(
            f"ok: {stored.path} ({stored.result['model']['name']} on {stored.task}, "
            f"{'ranked' if stored.ranked else 'unranked'}, {state}{bundle})"
        )
        return 0
    lb = resolve_leaderboard_dir(args.leaderboard)
    sub = submit(
        args.result,
        lb,
        title=args.title,
        authors=args.authors,
        url=args.url,
        official=args.official,
        dry_run=args.dry_run,
        with_checkpoints=args.with_checkpoints,
        checkpoint_urls=_checkpoint_urls(args.checkpoint_url),
    )
    n = len(sub.result["seeds"])
    standing = (
        "ranked" if sub.ranked else f"unranked: {n} seed{'s' if n != 1 else ''}, ranking needs >= {MIN_RANKED_SEEDS}"
    )
    if sub.missing_images:
        print(
            f"note: {len(sub.missing_images)} example image(s) listed in the result are not next to it; stored without them",
            file=sys.stderr,
        )
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


__all__ = ["register", "schema_text"]
