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
        "draws), p-values adjusted for the number of ops tested (Benjamini-Hochberg false "
        "discovery rate); a change counts only when significant, the median moved by at "
        "least 5% and by more than the op's noise floor (how far its block medians spread "
        "within either run). Caveat: a change smaller than the op's drift within a run is "
        "not reported, and a whole run shifted by machine load by more than that drift "
        "still is: compare runs made under the same conditions. When the recordings' CPU "
        "readings say the machine slowed one run by more than 10% over the other (CPU wait, "
        "steal, a reference loop's speed), the verdicts the machine explains are "
        "'inconclusive'.",
        epilog="Exit status: 0; 3 when a --fail-on rule is violated; 4 (inconclusive) when "
               "none is but one would be by an op whose slowdown the busy machine explains; "
               "1 or 2 for an error.",
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--fail-on", action="append", metavar="RULE",
        help='exit 3 when any op (or OP) got significantly slower by more than a threshold '
             '(4 when only the busy machine stands between it and a violation): '
             '"p95>+5%%", "forward_pass:p99>+10%%" (STAT: p50, p95, p99, mean; repeatable)')


def cmd_diff(args: argparse.Namespace) -> int:
    from ..diff import diff_main

    return diff_main(args)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_diff(args)
