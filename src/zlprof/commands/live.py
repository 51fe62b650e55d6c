"""``zlprof live``: run a program (the workload by default) and watch it in the app."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import (
    MAX_SIZE_HELP,
    _add_baseline,
    _add_workload,
    _check_theme,
    _child_argv,
    _load_baseline,
    _profiler_options,
    _size,
)

NAME = "live"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("live", help="run a workload and watch it live (the default command)")
    _add_workload(p)
    for action in p._actions:
        if action.dest == "requests":
            action.help = "request batches to serve; 0 = until stopped (default 0 in live)"
    rec = p.add_mutually_exclusive_group()
    rec.add_argument("--record", metavar="PATH", help="record the session to PATH")
    rec.add_argument("--no-record", action="store_true", help="do not record the session")
    p.add_argument("--force", action="store_true", help="overwrite an existing --record PATH")
    p.add_argument("--theme", metavar="NAME", help="colour theme (dark, light, high-contrast)")
    _add_baseline(p)
    p.add_argument("--max-size", metavar="SIZE", default="1G", help=MAX_SIZE_HELP)


def cmd_live(args: argparse.Namespace, command: list[str]) -> int:
    from ..recording import new_session_path
    from ..sources import LiveSource

    if not command and args.requests is None:
        args.requests = 0  # live serves requests until stopped
    if not command and args.threads is None:
        # leave a core to the app: OpenBLAS threads spinning on a shared core collapse
        # (small preset, 2 cores: 4 tok/s with 2 BLAS threads beside a busy core, 44 with 1)
        args.threads = max(1, (os.cpu_count() or 2) - 1)
    argv, program = _child_argv(args, command)
    if args.no_record:
        path = None
    else:
        path = Path(args.record) if args.record else new_session_path(program)
    theme = _check_theme(args.theme)
    baseline = _load_baseline(args)
    max_size = _size(args.max_size, "--max-size")
    src = LiveSource(argv, path, force=args.force, profiler_options=_profiler_options(args),
                     max_size=max_size)
    from ..tui.app import run_app

    return run_app(src, theme=theme, baseline=baseline)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_live(args, command)
