"""``zlprof roofline``: the machine's peaks and a recording's roofline (zlprof.roofline_cmd)."""

from __future__ import annotations

import argparse
from typing import Any

NAME = "roofline"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("roofline", help="machine peaks and the roofline of a recording")
    p.add_argument("path", metavar="PATH", nargs="?")
    p.add_argument("--calibrate", action="store_true", help="measure the machine peaks again")
    p.add_argument("--peak-gflops", type=float, metavar="X", help="override peak GFLOP/s")
    p.add_argument("--peak-gbps", type=float, metavar="Y", help="override peak GB/s")
    p.add_argument("--width", type=int, default=0, help="chart width (default: terminal)")
    p.add_argument("--format", choices=["text", "json"], default="text")


def cmd_roofline(args: argparse.Namespace) -> int:
    from ..roofline_cmd import roofline_main

    return roofline_main(args)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_roofline(args)
