"""``diffbench compare``: the paired difference of two results (see :mod:`diffbench.results.compare`)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "compare", help="paired difference of every headline metric of two results, with intervals and p-values"
    )
    c.add_argument(
        "result_a", metavar="RESULT_A", help="a result.json written by `diffbench run`, or a stored submission"
    )
    c.add_argument("result_b", metavar="RESULT_B", help="another, scored on the same task and test samples")
    c.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from .compare import report

    print(report(args.result_a, args.result_b))
    return 0
