"""What every ``zlprof`` subcommand shares: exit statuses, the one-line user error, the
parser class, and the option helpers more than one subcommand uses (workload options,
``--baseline``, ``--max-size``, ``--theme``, the child's argv).

Each subcommand's own options and handler are in its module (:mod:`.live`, :mod:`.record`,
...); the parser assembly and dispatch are in :mod:`zlprof.cli`.
"""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2
EXIT_FAILED = 1


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see '{self.prog} --help')")


def _fail(msg: str, code: int = EXIT_USAGE) -> int:
    print(f"zlprof: error: {msg}", file=sys.stderr)
    return code


def _add_workload(p: argparse.ArgumentParser, sweep: bool = False) -> None:
    from ..workload.options import add_workload_arguments

    if sweep:
        add_workload_arguments(p, sweep=True)
    else:
        add_workload_arguments(p)


LONG_HELP = "text: the seed's layout, a block of lines per op, instead of the summary"


def _add_baseline(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--baseline", metavar="OLD.zlp",
        help="compare every op with this recording as samples arrive: change of p50 and "
             "p99 and a marker (Mann-Whitney U per op on medians of blocks of consecutive "
             "samples, each less the machine's common level, the other ops over the same "
             "time; Benjamini-Hochberg false discovery rate over all ops; a change must "
             "exceed 5%% and the op's noise floor, twice the spread of its adjusted block "
             "medians within either run; as zlprof diff)")


def _load_baseline(args: argparse.Namespace):  # noqa: ANN202 - BaselineComparator | None
    """The --baseline recording, read before the app starts (RecordingError: one line)."""
    if not getattr(args, "baseline", None):
        return None
    from ..baseline import BaselineComparator

    return BaselineComparator.load(args.baseline)


MAX_SIZE_HELP = (
    "size budget of the recording (e.g. 500M, 2G; 0 = unlimited; default 1G): past it, "
    "the oldest raw measurements are folded into per-op statistics"
)


def _size(text: str, option: str, zero_ok: bool = True) -> int:
    """Bytes from ``500M``, ``2G``, ``0`` (binary units, as bench's --memory-limit)."""
    from ..bench import BenchError, parse_size

    if zero_ok and text.strip() == "0":
        return 0
    try:
        return parse_size(text)
    except BenchError:
        raise UserError(
            f"{option}: cannot read {text!r} as a size (e.g. 500M, 2G"
            + ("; 0 = unlimited)" if zero_ok else ")")
        ) from None


def command_file_name(command: list[str]) -> str:
    """The program's part of a recording's file name: the script or module a command
    runs, never its last argument (``python srv.py --port 80`` -> ``srv``, not ``80``)."""
    from ..naming import program_name

    words = program_name(command).split()
    return (words[0] if words else "session").removesuffix(".py") or "session"


def _child_argv(args: argparse.Namespace, command: list[str]) -> tuple[list[str], str]:
    """The child's argv and a short program name for the recording file."""
    if command:
        return command, command_file_name(command)
    from ..sources import workload_command
    from ..workload.options import workload_argv

    return workload_command(workload_argv(args)), f"workload-{getattr(args, 'preset', None) or 'small'}"


def _profiler_options(args: argparse.Namespace) -> str:
    return "off" if getattr(args, "no_profile", False) else ""


def _check_theme(name: str | None) -> str | None:
    if name is None:
        return None
    from ..themes import THEME_NAMES

    if name not in THEME_NAMES:
        raise UserError(f"unknown theme {name!r}; choose from {', '.join(THEME_NAMES)}")
    return name
