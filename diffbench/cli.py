"""The ``diffbench`` command line. Each stage registers its own subcommands.

Every user error ends as one line ``error: <what was wrong and what is allowed>`` on stderr
and exit status 2, without a traceback (set ``DIFFBENCH_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from .errors import DiffbenchError

#: Modules that define ``register(subparsers)``; each subcommand sets ``func`` on its parser.
COMMAND_MODULES = (
    "diffbench.data.commands",
    "diffbench.models.commands",
    "diffbench.pipeline.commands",
    "diffbench.studies.commands",
    "diffbench.tuning.commands",
    "diffbench.trust.commands",
    "diffbench.benchmarking.bench",
    "diffbench.results.commands",
    "diffbench.submissions.commands",
    "diffbench.leaderboard.commands",
)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and the problem."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise DiffbenchError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = OneLineParser(
        prog="diffbench", description="A reproducible benchmark for neural surrogates of steady-state diffusion."
    )
    parser.add_argument("--version", action="version", version=f"diffbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    debug = os.environ.get("DIFFBENCH_DEBUG") == "1"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int | None] | None = getattr(args, "func", None)
        if func is None:
            parser.print_help()
            return 2
        return int(func(args) or 0)
    except DiffbenchError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: completed work is kept; rerun the same command (with --resume for `run`) to continue",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
