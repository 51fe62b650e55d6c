"""``zlprof sessions``: list the recorded sessions, newest first, and prune old ones."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import EXIT_FAILED, UserError, _size

NAME = "sessions"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("sessions", help="list recorded sessions, newest first")
    p.add_argument("--prune", action="store_true",
                   help="delete old recordings (asks first): those older than --older-than, "
                        "then the oldest until the rest fit --keep-size")
    p.add_argument("--older-than", metavar="DAYS", type=float,
                   help="with --prune: recordings started more than DAYS ago")
    p.add_argument("--keep-size", metavar="SIZE",
                   help="with --prune: keep the newest recordings that fit in SIZE")
    p.add_argument("--yes", action="store_true", help="with --prune: do not ask")


def cmd_sessions(args: argparse.Namespace) -> int:
    from ..sessions import session_table
    from ..textwidth import terminal_width

    if args.prune or args.older_than is not None or args.keep_size is not None:
        return _prune(args)

    sys.stdout.write(session_table(width=terminal_width()))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from .. import fmt
    from ..sessions import delete_sessions, prune_plan

    if not args.prune:
        raise UserError("--older-than and --keep-size go with --prune")
    if args.older_than is None and args.keep_size is None:
        raise UserError("--prune needs --older-than DAYS and/or --keep-size SIZE")
    if args.older_than is not None and args.older_than < 0:
        raise UserError("--older-than must not be negative")
    keep = _size(args.keep_size, "--keep-size") if args.keep_size is not None else None
    plan = prune_plan(older_than_days=args.older_than, keep_bytes=keep)
    if not plan:
        print("zlprof: nothing to prune", file=sys.stderr)
        return 0
    total = sum(i.size for i in plan)
    for i in plan:
        print(f"  {i.path}  {fmt.nbytes(i.size)}")
    print(f"{len(plan)} recording(s), {fmt.nbytes(total)}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise UserError("not deleting without a terminal to ask on (add --yes)")
        try:
            answer = input("Delete them? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("zlprof: nothing deleted", file=sys.stderr)
            return 0
    deleted, errors = delete_sessions(plan)
    for e in errors:
        print(f"zlprof: warning: {e}", file=sys.stderr)
    print(f"zlprof: deleted {deleted} recording(s)", file=sys.stderr)
    return EXIT_FAILED if errors else 0


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_sessions(args)
