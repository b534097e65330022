"""The checks of a pull request that adds submissions (run by .github/workflows/leaderboard.yml,
and by tests/leaderboard/test_workflow.py here): each step is a diffbench command.

For every submission the pull request adds or changes (``git diff --diff-filter=AM BASE...HEAD``
under ``<leaderboard>/submissions/``, or the files given):

1. ``diffbench submit --check FILE``: the checks of ``submit`` and of the build (content hash,
   schema, digest, limits, images, bundled checkpoints hashed);
2. ``diffbench verify FILE --max-bytes BUDGET --no-record`` when it carries checkpoints: the
   checkpoints are re-scored and every metric compared with the claim. Over the size budget it
   is skipped (the entry stays "claimed"), unless the pull request brings a verification record
   for it: a record is only accepted when CI confirms it, so then it is re-scored whatever its
   size, within the job's time budget (``timeout-minutes``; running over fails the check).

then ``diffbench leaderboard build --check`` (the committed site is what the submissions give).
The first failure ends the check with its one-line reason (exit status 1).

Usage: ``python leaderboard/ci/pr_check.py [--base REF] [--leaderboard DIR] [--data-dir DIR]
[--max-bytes N] [FILE ...]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

#: The size budget of CI's re-scoring: the checkpoints of one submission, all seeds together.
DEFAULT_MAX_BYTES = 200 * 2**20
_STORED = re.compile(r"^[0-9a-f]{16}\.json$")
_RECORD = re.compile(r"^([0-9a-f]{16})/verification\.json$")


def changed_submissions(leaderboard: Path, base: str) -> tuple[list[Path], set[Path]]:
    """(stored submission files, submission files whose verification record) the pull request adds or changes."""
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=leaderboard, check=True, capture_output=True,
                               text=True).stdout.strip())
    subs = (leaderboard / "submissions").resolve()
    out = subprocess.run(["git", "diff", "--name-only", "--diff-filter=AM", f"{base}...HEAD", "--", str(subs)], cwd=root,
                         check=True, capture_output=True, text=True).stdout
    files: set[Path] = set()
    records: set[Path] = set()
    for line in out.splitlines():
        path = (root / line).resolve()
        rel = path.relative_to(subs).as_posix().split("/", 1)
        if len(rel) != 2:
            continue
        task, rest = rel
        m = _RECORD.match(rest)
        if _STORED.match(rest):
            files.add(path)
        elif m:
            stored = subs / task / f"{m.group(1)}.json"
            files.add(stored)
            records.add(stored)
    return sorted(files), records


def diffbench(*args: str) -> tuple[int, str]:
    """Run one diffbench command in this process, echoing it; (exit status, its last error line)."""
    from diffbench.cli import main

    print("$ diffbench " + " ".join(shlex.quote(a) for a in args), flush=True)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(args))
    text = err.getvalue()
    sys.stderr.write(text)
    lines = [ln for ln in text.splitlines() if ln.startswith("error: ")]
    return code, (lines[-1][len("error: "):] if lines else f"diffbench {args[0]} exited with status {code}")


def check(files: list[Path], leaderboard: Path, *, records: set[Path], max_bytes: int, data_dir: str | None) -> str | None:
    """Run the checks; the first failure's one-line reason, or None."""
    lb = ["--leaderboard", str(leaderboard)]
    for f in files:
        if not f.is_file():
            return f"{f} is not a stored submission file"
        code, reason = diffbench("submit", "--check", str(f), *lb)
        if code != 0:
            return reason
        if not json.loads(f.read_text(encoding="utf-8"))["submission"].get("checkpoints"):
            print(f"{f.name}: no checkpoints; shown as claimed")
            continue
        extra = ["--data-dir", data_dir] if data_dir else []
        budget = [] if f in records else ["--max-bytes", str(max_bytes)]
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code, reason = diffbench("verify", str(f), "--no-record", "--no-progress", *budget, *extra)
        sys.stdout.write(out.getvalue())
        if code != 0:
            return reason
    code, reason = diffbench("leaderboard", "build", "--check", *lb)
    return None if code == 0 else reason


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path, help="stored submissions to check (default: those the pull request adds)")
    p.add_argument("--base", default="origin/main", help="the pull request's base (default origin/main)")
    p.add_argument("--leaderboard", type=Path, default=Path(__file__).resolve().parents[1], help="leaderboard folder")
    p.add_argument("--data-dir", help="data cache root for the re-scoring")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="CI's size budget for re-scoring one submission")
    args = p.parse_args(argv)
    if args.files:
        files, records = [f.resolve() for f in args.files], set()
        for f in files:
            if (f.parent / f.stem / "verification.json").is_file():
                records.add(f)
    else:
        files, records = changed_submissions(args.leaderboard, args.base)
    print(f"{len(files)} submission(s) to check")
    reason = check(files, args.leaderboard, records=records, max_bytes=args.max_bytes, data_dir=args.data_dir)
    if reason is not None:
        print(f"::error::{reason}")
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print("ok: every new submission passes and the site is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
