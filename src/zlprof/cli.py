"""The ``zlprof`` command.

Every mistake a user can make (a bad option, a missing file, a file that is not a
recording, a command that cannot start) prints one line to stderr and exits non-zero.

Exit statuses: 0 done (for live / record: the program succeeded, or you quit while it
ran); 1 zlprof could not do it (one line says why); 2 a bad option; 3 (live / record)
the program failed: a non-zero exit status or a signal, the last line on stderr says
which (sources.EXIT_PROGRAM_FAILED); 130 interrupted (Ctrl-C).

The subcommands live in :mod:`zlprof.commands`, one module each (its options and its
handler); this module assembles the parser from them and dispatches. The names that lived
here before the split (``UserError``, ``EXIT_*``, ``cmd_*``, ...) are re-exported.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .commands import COMMANDS
from .commands.bench import cmd_bench
from .commands.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    LONG_HELP,
    MAX_SIZE_HELP,
    UserError,
    _add_baseline,
    _add_workload,
    _check_theme,
    _child_argv,
    _fail,
    _load_baseline,
    _Parser,
    _profiler_options,
    _size,
)
from .commands.diff import cmd_diff
from .commands.export import cmd_export
from .commands.live import cmd_live
from .commands.record import cmd_record
from .commands.replay import cmd_replay
from .commands.report import cmd_report
from .commands.roofline import cmd_roofline
from .commands.sessions import _prune, cmd_sessions

__all__ = [
    "EXIT_FAILED", "EXIT_USAGE", "LONG_HELP", "MAX_SIZE_HELP", "UserError", "_Parser",
    "_add_baseline", "_add_workload", "_check_theme", "_child_argv", "_fail",
    "_load_baseline", "_profiler_options", "_prune", "_size", "build_parser", "cmd_bench",
    "cmd_diff", "cmd_export", "cmd_live", "cmd_record", "cmd_replay", "cmd_report",
    "cmd_roofline", "cmd_sessions", "main",
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="zlprof",
        description="A live terminal profiler for inference loops.",
        epilog="Run 'zlprof COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _version() -> str:
    """``zlprof X.Y.Z`` and whether the C accelerator (zlprof._speedups) is in use."""
    from . import __version__, profiler

    if profiler.SPEEDUPS:
        c = "C accelerator: active"
    elif os.environ.get("ZLPROF_PURE_PYTHON", "") not in ("", "0"):
        c = "C accelerator: off, ZLPROF_PURE_PYTHON is set"
    else:
        c = "C accelerator: not built, pure-Python hot path"
    return f"zlprof {__version__} ({c})"


# --------------------------------------------------------------------------- main


def _split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    own, command = _split_command(argv)
    if not own or own[0].startswith("-") and own[0] not in ("-h", "--help", "--version"):
        own = ["live", *own]  # `zlprof` alone, or `zlprof --preset tiny`, is `zlprof live`
    try:
        parser = build_parser()
        args = parser.parse_args(own)
        if command and args.command not in ("live", "record", "bench"):
            raise UserError(f"'zlprof {args.command}' takes no '-- COMMAND'")
        handlers = {c.NAME: c.run for c in COMMANDS}
        return handlers[args.command](args, command)
    except UserError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # e.g. `zlprof report x.zlp | head`: not an error worth a traceback
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 0
    except Exception as exc:  # user-facing errors from the layers below
        from .recording import RecordingError
        from .sources import SourceError

        if isinstance(exc, RecordingError | SourceError):
            return _fail(str(exc), EXIT_FAILED)
        raise


if __name__ == "__main__":  # pragma: no cover
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
