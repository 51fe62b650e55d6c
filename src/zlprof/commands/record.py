"""``zlprof record``: run a program headless, record it, print the report at the end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .common import (
    EXIT_FAILED,
    LONG_HELP,
    MAX_SIZE_HELP,
    _add_workload,
    _child_argv,
    _profiler_options,
    _size,
)

NAME = "record"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("record", help="run a workload headless, record it, print the report")
    _add_workload(p)
    p.add_argument("--out", metavar="PATH", help="where to write the recording")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out PATH")
    p.add_argument("--max-size", metavar="SIZE", default="1G", help=MAX_SIZE_HELP)
    p.add_argument(
        "--format",
        choices=["text", "json", "csv", "markdown"],
        default="text",
        help="report printed at the end (default text)",
    )
    p.add_argument("--long", action="store_true", help=LONG_HELP)


def cmd_record(args: argparse.Namespace, command: list[str]) -> int:
    from ..recording import new_session_path
    from ..reports import render_report
    from ..sources import EXIT_PROGRAM_FAILED, LiveSource, failure_hint, program_failed
    from ..textwidth import terminal_width

    argv, program = _child_argv(args, command)
    out = Path(args.out) if args.out else new_session_path(program)
    max_size = _size(args.max_size, "--max-size")
    src = LiveSource(argv, out, force=args.force, echo_output=True,
                     profiler_options=_profiler_options(args), max_size=max_size)
    src.start()
    interrupted = False
    try:
        while not src.wait(0.2):
            pass
    except KeyboardInterrupt:
        interrupted = True
    src.stop()
    sys.stdout.write(
        render_report(src.state, args.format, width=terminal_width(), long=args.long)
    )
    sys.stdout.flush()
    failure = src.recording_failure
    if failure is not None:
        print(f"zlprof: error: {failure.describe()}", file=sys.stderr)
        return EXIT_FAILED
    print(f"zlprof: recorded {out}", file=sys.stderr)
    if interrupted:
        print("zlprof: interrupted; the recording holds everything up to the stop", file=sys.stderr)
        return 130
    if program_failed(src):
        tail = src.stderr_tail[-1] if src.stderr_tail else ""
        msg = f"the program {src.state.end_reason}" + (f": {tail}" if tail else "")
        print(f"zlprof: error: {msg}", file=sys.stderr)
        if hint := failure_hint(src.stderr_tail, src.argv):
            print(f"zlprof: hint: {hint}", file=sys.stderr)
        return EXIT_PROGRAM_FAILED
    return 0



def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_record(args, command)
