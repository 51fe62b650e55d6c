"""``zlprof diff``: compare two recordings op by op (the statistics are in zlprof.diff)."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "diff"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diff", help="compare two recordings op by op",
        description="Compare recording B with A op by op: a two-sided Mann-Whitney U test per "
        "op on block medians (each run's samples, in arrival order, cut into 8-24 blocks of "
        "consecutive samples: durations of one run are a time series, not independent "
        "draws), each block less the machine's common level (the other ops over the same "
        "time: on a shared CPU the machine's speed moves every op at once), p-values "
        "adjusted for the number of ops tested (Benjamini-Hochberg false discovery rate); a "
        "change counts only when significant and the median moved, with and without the "
        "adjustment, by at least 5% and by more than the op's noise floor (twice how far "
        "its adjusted block medians spread within either run). Caveats: a change smaller "
        "than twice the op's drift within a run is not reported, and an op that moved only as much as "
        "every op did is 'inconclusive' (a change that slows every op alike cannot be told "
        "from the machine): compare runs made under the same conditions. When the "
        "recordings' CPU readings say the machine slowed one run by more than 10% over the "
        "other (CPU wait, steal, a reference loop's speed), the verdicts the machine "
        "explains are 'inconclusive' too.",
        epilog="Exit status: 0; 3 when a --fail-on rule is violated; 4 (inconclusive) when "
               "none is but one would be by an op whose slowdown the busy machine explains "
               "or that moved only as much as every op did; "
               "1 or 2 for an error.",
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--fail-on", action="append", metavar="RULE",
        help='exit 3 when any op (or OP) got significantly slower by more than a threshold '
             '(4 when only the busy machine, or every op moving alike, stands between it and a violation): '
             '"p95>+5%%", "forward_pass:p99>+10%%" (STAT: p50, p95, p99, mean; repeatable)')


def cmd_diff(args: argparse.Namespace) -> int:
    from ..diff import diff_main

    return diff_main(args)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_diff(args)
