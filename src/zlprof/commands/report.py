"""``zlprof report``: print the report of a recording (text, JSON, CSV, Markdown)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import LONG_HELP

NAME = "report"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("report", help="print the report of a recording")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--format", choices=["text", "json", "csv", "markdown"], default="text")
    p.add_argument("--long", action="store_true", help=LONG_HELP)
    p.add_argument(
        "--window", type=float, metavar="SECONDS", help="only the last SECONDS of the session"
    )


def cmd_report(args: argparse.Namespace) -> int:
    from ..recording import load_session
    from ..reports import render_report
    from ..textwidth import terminal_width

    state = load_session(args.path)
    for w in state.warnings:
        print(f"zlprof: warning: {w}", file=sys.stderr)
    sys.stdout.write(
        render_report(state, args.format, args.window, width=terminal_width(), long=args.long)
    )
    return 0


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_report(args)
