"""The ``zlprof`` command.

Every mistake a user can make (a bad option, a missing file, a file that is not a
recording, a command that cannot start) prints one line to stderr and exits non-zero.

Exit statuses: 0 done (for live / record: the program succeeded, or you quit while it
ran); 1 zlprof could not do it (one line says why); 2 a bad option; 3 (live / record)
the program failed: a non-zero exit status or a signal, the last line on stderr says
which (sources.EXIT_PROGRAM_FAILED); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

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


# --------------------------------------------------------------------------- parser


def _add_workload(p: argparse.ArgumentParser, sweep: bool = False) -> None:
    from .workload.options import add_workload_arguments

    if sweep:
        add_workload_arguments(p, sweep=True)
    else:
        add_workload_arguments(p)


LONG_HELP = "text: the seed's layout, a block of lines per op, instead of the summary"


def _add_baseline(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--baseline", metavar="OLD.zlp",
        help="compare every op with this recording as samples arrive: change of p50 and "
             "p99 and a marker (Mann-Whitney U per op, Benjamini-Hochberg false discovery "
             "rate over all ops, minimum effect 5%%; as zlprof diff)")


def _load_baseline(args: argparse.Namespace):  # noqa: ANN202 - BaselineComparator | None
    """The --baseline recording, read before the app starts (RecordingError: one line)."""
    if not getattr(args, "baseline", None):
        return None
    from .baseline import BaselineComparator

    return BaselineComparator.load(args.baseline)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="zlprof",
        description="A live terminal profiler for inference loops.",
        epilog="Run 'zlprof COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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

    p = sub.add_parser("replay", help="replay a recorded session in the app")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--speed", default="1", help="playback speed factor, or 'max' (default 1)")
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="start offset")
    p.add_argument("--theme", metavar="NAME", help="colour theme")
    _add_baseline(p)

    p = sub.add_parser("report", help="print the report of a recording")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--format", choices=["text", "json", "csv", "markdown"], default="text")
    p.add_argument("--long", action="store_true", help=LONG_HELP)
    p.add_argument(
        "--window", type=float, metavar="SECONDS", help="only the last SECONDS of the session"
    )

    p = sub.add_parser("export", help="export a recording for other tools")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--format", choices=["chrome-trace", "csv"], required=True)
    p.add_argument("-o", "--out", metavar="OUT", required=True)
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")

    p = sub.add_parser(
        "diff", help="compare two recordings op by op",
        description="Compare recording B with A op by op: a two-sided Mann-Whitney U test per "
        "op, p-values adjusted for the number of ops tested (Benjamini-Hochberg false "
        "discovery rate) so that testing many ops does not by itself make false "
        "positives; a change counts only when significant and the median moved by at "
        "least 5%. A whole run slowed by machine load is a real difference to the test: "
        "compare runs made under the same conditions.",
        epilog="Exit status: 0; 3 when a --fail-on rule is violated; 1 or 2 for an error.",
    )
    p.add_argument("a", metavar="A")
    p.add_argument("b", metavar="B")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument(
        "--fail-on", action="append", metavar="RULE",
        help='exit 3 when any op (or OP) got significantly slower by more than a threshold: '
             '"p95>+5%%", "forward_pass:p99>+10%%" (STAT: p50, p95, p99, mean; repeatable)')

    p = sub.add_parser("roofline", help="machine peaks and the roofline of a recording")
    p.add_argument("path", metavar="PATH", nargs="?")
    p.add_argument("--calibrate", action="store_true", help="measure the machine peaks again")
    p.add_argument("--peak-gflops", type=float, metavar="X", help="override peak GFLOP/s")
    p.add_argument("--peak-gbps", type=float, metavar="Y", help="override peak GB/s")
    p.add_argument("--width", type=int, default=0, help="chart width (default: terminal)")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = sub.add_parser("bench", help="benchmark the workload: warmups, runs, sweeps")
    _add_workload(p, sweep=True)
    p.add_argument("--warmup", type=int, default=5, metavar="N")
    p.add_argument("--runs", type=int, default=100, metavar="N")
    p.add_argument("--timeout-ms", type=int, default=10_000, metavar="N")
    p.add_argument("--memory-limit", metavar="SIZE", help="e.g. 2G, 512M")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument("--out", metavar="PATH")
    p.add_argument("--compare", metavar="OLD.json")
    from .bench import add_fail_on_argument

    add_fail_on_argument(p)
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("sessions", help="list recorded sessions, newest first")
    p.add_argument("--prune", action="store_true",
                   help="delete old recordings (asks first): those older than --older-than, "
                        "then the oldest until the rest fit --keep-size")
    p.add_argument("--older-than", metavar="DAYS", type=float,
                   help="with --prune: recordings started more than DAYS ago")
    p.add_argument("--keep-size", metavar="SIZE",
                   help="with --prune: keep the newest recordings that fit in SIZE")
    p.add_argument("--yes", action="store_true", help="with --prune: do not ask")
    return parser


MAX_SIZE_HELP = (
    "size budget of the recording (e.g. 500M, 2G; 0 = unlimited; default 1G): past it, "
    "the oldest raw measurements are folded into per-op statistics"
)


def _size(text: str, option: str, zero_ok: bool = True) -> int:
    """Bytes from ``500M``, ``2G``, ``0`` (binary units, as bench's --memory-limit)."""
    from .bench import BenchError, parse_size

    if zero_ok and text.strip() == "0":
        return 0
    try:
        return parse_size(text)
    except BenchError:
        raise UserError(
            f"{option}: cannot read {text!r} as a size (e.g. 500M, 2G"
            + ("; 0 = unlimited)" if zero_ok else ")")
        ) from None


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


# --------------------------------------------------------------------------- commands


def _child_argv(args: argparse.Namespace, command: list[str]) -> tuple[list[str], str]:
    """The child's argv and a short program name for the recording file."""
    if command:
        return command, Path(command[-1] if len(command) > 1 else command[0]).stem
    from .sources import workload_command
    from .workload.options import workload_argv

    return workload_command(workload_argv(args)), f"workload-{getattr(args, 'preset', None) or 'small'}"


def _profiler_options(args: argparse.Namespace) -> str:
    return "off" if getattr(args, "no_profile", False) else ""


def cmd_record(args: argparse.Namespace, command: list[str]) -> int:
    from .recording import new_session_path
    from .reports import render_report
    from .sources import EXIT_PROGRAM_FAILED, LiveSource, program_failed
    from .textwidth import terminal_width

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
        return EXIT_PROGRAM_FAILED
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .recording import load_session
    from .reports import render_report
    from .textwidth import terminal_width

    state = load_session(args.path)
    for w in state.warnings:
        print(f"zlprof: warning: {w}", file=sys.stderr)
    sys.stdout.write(
        render_report(state, args.format, args.window, width=terminal_width(), long=args.long)
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .recording import read_recording
    from .reports import chrome_trace, measurements_csv

    res = read_recording(args.path)
    if res.warning:
        print(f"zlprof: warning: {res.warning}", file=sys.stderr)
    summarised = sum(fr.body["n"] for fr in res.frames if fr.kind == "summary")
    if summarised:
        print(f"zlprof: warning: bounded recording: {summarised:,} older measurements are kept "
              "as per-op statistics only; the export holds the raw ones after them",
              file=sys.stderr)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise UserError(f"{out} already exists (use --force to overwrite)")
    try:
        with open(out, "w", encoding="utf-8", newline="") as f:
            if args.format == "chrome-trace":
                doc = chrome_trace(res.frames)
                json.dump(doc, f)
                n = sum(1 for e in doc["traceEvents"] if e.get("ph") == "X")
            else:
                n = measurements_csv(res.frames, f)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"zlprof: wrote {n:,} measurements to {out}", file=sys.stderr)
    return 0


def cmd_sessions(args: argparse.Namespace) -> int:
    from .sessions import session_table
    from .textwidth import terminal_width

    if args.prune or args.older_than is not None or args.keep_size is not None:
        return _prune(args)

    sys.stdout.write(session_table(width=terminal_width()))
    return 0


def _prune(args: argparse.Namespace) -> int:
    from . import fmt
    from .sessions import delete_sessions, prune_plan

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


def cmd_live(args: argparse.Namespace, command: list[str]) -> int:
    from .recording import new_session_path
    from .sources import LiveSource

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
    from .tui.app import run_app

    return run_app(src, theme=theme, baseline=baseline)


def cmd_replay(args: argparse.Namespace) -> int:
    from .replay import ReplaySource

    speed: float | None
    if args.speed == "max":
        speed = None
    else:
        try:
            speed = float(args.speed)
        except ValueError:
            raise UserError(f"--speed takes a number or 'max', not {args.speed!r}") from None
        if not speed > 0:
            raise UserError("--speed must be positive")
    if args.start < 0:
        raise UserError("--start must not be negative")
    theme = _check_theme(args.theme)
    baseline = _load_baseline(args)
    src = ReplaySource(args.path, speed=speed, start_s=args.start)
    from .tui.app import run_app

    return run_app(src, theme=theme, baseline=baseline)


def _check_theme(name: str | None) -> str | None:
    if name is None:
        return None
    from .themes import THEME_NAMES

    if name not in THEME_NAMES:
        raise UserError(f"unknown theme {name!r}; choose from {', '.join(THEME_NAMES)}")
    return name


def cmd_diff(args: argparse.Namespace) -> int:
    from .diff import diff_main

    return diff_main(args)


def cmd_roofline(args: argparse.Namespace) -> int:
    from .roofline_cmd import roofline_main

    return roofline_main(args)


def cmd_bench(args: argparse.Namespace, command: list[str]) -> int:
    from .bench import bench_main

    return bench_main(args, command)


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
        handlers: dict[str, Callable[[], int]] = {
            "live": lambda: cmd_live(args, command),
            "record": lambda: cmd_record(args, command),
            "replay": lambda: cmd_replay(args),
            "report": lambda: cmd_report(args),
            "export": lambda: cmd_export(args),
            "diff": lambda: cmd_diff(args),
            "roofline": lambda: cmd_roofline(args),
            "bench": lambda: cmd_bench(args, command),
            "sessions": lambda: cmd_sessions(args),
        }
        return handlers[args.command]()
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
