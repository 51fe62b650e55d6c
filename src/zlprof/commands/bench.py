"""``zlprof bench``: benchmark the workload (warmups, runs, sweeps; the runner is zlprof.bench)."""

from __future__ import annotations

import argparse
from typing import Any

from .common import _add_workload

NAME = "bench"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmark the workload: warmups, runs, sweeps")
    _add_workload(p, sweep=True)
    p.add_argument("--warmup", type=int, default=5, metavar="N")
    p.add_argument("--runs", type=int, default=100, metavar="N")
    p.add_argument("--timeout-ms", type=int, default=10_000, metavar="N")
    p.add_argument("--memory-limit", metavar="SIZE", help="e.g. 2G, 512M")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--out", metavar="PATH")
    p.add_argument("--compare", metavar="OLD.json")
    from ..bench import add_fail_on_argument

    add_fail_on_argument(p)
    p.add_argument("--no-progress", action="store_true")


def cmd_bench(args: argparse.Namespace, command: list[str]) -> int:
    from ..bench import bench_main

    return bench_main(args, command)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_bench(args, command)
