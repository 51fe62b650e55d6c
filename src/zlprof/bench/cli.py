"""``zlprof bench`` on the command line: options, sweep points, progress bar, main."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any, NoReturn

from .. import significance as sig
from .compare import TIME_METRICS, attach_comparisons, check_fail_on
from .render import render, render_text
from .results import (
    BenchError,
    BenchmarkConfig,
    BenchmarkResult,
    load_bench_json,
    parse_size,
    results_document,
)
from .runner import BenchmarkRunner, command_name

#: WORKLOAD options whose values are never split on commas (free text and paths).
NO_SPLIT = frozenset({"prompt", "weights", "tokenizer"})


class _OptionError(Exception):
    pass


class _CheckParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _OptionError(message)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The WORKLOAD options for ``zlprof bench``: each takes a comma list (kept as text
    here; :func:`sweep_points` splits, checks and expands them)."""
    from ..workload.options import WORKLOAD_OPTIONS

    g = parser.add_argument_group(
        "workload (each option takes a comma list; the bench runs the cross product)"
    )
    for dest, flag in WORKLOAD_OPTIONS:
        if dest == "no_profile":
            g.add_argument(flag, dest=dest, action="store_true", default=None,
                           help="no measure blocks (token events stay, for TTFT/ITL)")
        else:
            g.add_argument(flag, dest=dest, default=None, metavar="LIST")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Every ``zlprof bench`` option (for cli.py's ``bench`` sub-parser)."""
    add_sweep_arguments(parser)
    parser.add_argument("--warmup", type=int, default=5, metavar="N",
                        help="warm-up runs before measuring (default 5)")
    parser.add_argument("--runs", type=int, default=100, metavar="N",
                        help="measured runs per point (default 100)")
    parser.add_argument("--timeout-ms", type=float, default=10_000, metavar="N",
                        help="stop a run after N ms and count it failed (default 10000)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="stop a run whose RSS passes SIZE (512M, 2G) and count it failed")
    parser.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    parser.add_argument("--out", metavar="PATH", help="write the results to PATH")
    parser.add_argument("--compare", metavar="OLD.json",
                        help="mark each metric faster/slower/not significant against OLD")
    add_fail_on_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _values(v: Any, dest: str) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    if isinstance(v, str) and dest not in NO_SPLIT:
        parts = [p.strip() for p in v.split(",")]
        if any(p == "" for p in parts):
            raise BenchError(f"--{dest.replace('_', '-')}: empty item in the list {v!r}")
        return parts
    return [v]


def sweep_points(args: argparse.Namespace) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(name, params, workload argv) for every point of the cross product of the
    WORKLOAD options' comma lists, each checked as the workload would check it."""
    from ..workload.options import WORKLOAD_OPTIONS, add_workload_arguments, resolve
    from ..workload.presets import WorkloadError

    axes: list[tuple[str, str, list[Any]]] = []
    for dest, flag in WORKLOAD_OPTIONS:
        v = getattr(args, dest, None)
        if v is None or v is False:
            continue
        if v is True:
            axes.append((dest, flag, [True]))
        else:
            axes.append((dest, flag, _values(v, dest)))
    checker = _CheckParser(prog="zlprof bench", add_help=False, allow_abbrev=False)
    add_workload_arguments(checker)
    points = []
    for combo in itertools.product(*(vals for _, _, vals in axes)):
        argv: list[str] = []
        for (_dest, flag, _), val in zip(axes, combo, strict=True):
            if val is True:
                argv.append(flag)
            elif val is not False:
                argv.append(f"{flag}={val}")
        try:
            ns = checker.parse_args(argv)
        except _OptionError as e:
            raise BenchError(str(e)) from None
        if getattr(ns, "requests", None) == 0:
            raise BenchError("--requests 0 (until stopped) cannot be benchmarked; "
                             "give the request batches per run")
        try:
            resolve(ns)
        except WorkloadError as e:
            raise BenchError(str(e)) from None
        params = {dest: getattr(ns, dest) for dest, _, _ in axes}
        name = " ".join(
            dest if val is True else f"{dest}={val}" for dest, val in params.items()
        ) or "workload defaults"
        points.append((name, params, argv))
    return points


# --------------------------------------------------------------------------- main


class _Progress:
    """A rich progress bar on stderr (one bar for the whole bench)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.p.add_task("bench", total=total, status="")
        self.name = ""
        self.failed = 0

    def __enter__(self) -> _Progress:
        self.p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.p.stop()

    def __call__(self, event: str, **info: Any) -> None:
        if event == "point":
            self.name = info["name"]
            self.p.update(self.task, description=self.name[:40], status="warming up")
        elif event == "restart":
            t = self.p.tasks[0]
            self.p.update(self.task, total=(t.total or 0) + info["warmups"],
                          status="restarted")
        elif event == "run":
            if not info["ok"]:
                self.failed += 1
            phase = "warm-up" if info["phase"] == "warmup" else "run"
            status = f"{phase} {info['index']}" + (f", {self.failed} failed" if self.failed else "")
            self.p.update(self.task, advance=1, status=status)


def _config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    warm = getattr(args, "warmup", 5)
    runs = getattr(args, "runs", 100)
    tmo = getattr(args, "timeout_ms", 10_000)
    if warm is None or warm < 0:
        raise BenchError(f"--warmup must be 0 or more, got {warm}")
    if runs is None or runs < 1:
        raise BenchError(f"--runs must be at least 1, got {runs}")
    if tmo is None or not tmo > 0:
        raise BenchError(f"--timeout-ms must be positive, got {tmo}")
    ml = getattr(args, "memory_limit", None)
    return BenchmarkConfig(
        warmup_runs=int(warm),
        measurement_runs=int(runs),
        max_time_per_run_ms=float(tmo),
        show_progress=not getattr(args, "no_progress", False),
        memory_limit=parse_size(ml) if ml is not None else None,
    )


def _record_path(out: Path | None, program: str) -> Path:
    from ..recording import SUFFIX, new_session_path

    if out is not None:
        p = out.with_suffix(SUFFIX)
        if p != out and not p.exists():
            return p
        return new_session_path(out.stem, out.parent if str(out.parent) else Path("."))
    return new_session_path(program)


def add_fail_on_argument(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` of ``zlprof bench`` (cli.py's parser and this module's)."""
    parser.add_argument(
        "--fail-on", action="append", metavar="RULE",
        help='with --compare: exit 3 when a timing metric got significantly slower by more '
             'than a threshold, e.g. "p50>+5%%" or "duration_ms:p95>+10%%" (repeatable)')


def bench_main(args: argparse.Namespace, command: list[str]) -> int:
    """``zlprof bench``: returns the exit status (2 for a usage mistake, one line)."""
    from ..recording import RecordingError

    def fail(msg: str, code: int = 2) -> int:
        print(f"zlprof: error: {msg}", file=sys.stderr)
        return code

    try:
        config = _config_from_args(args)
        try:
            rules = [sig.parse_fail_on(t) for t in getattr(args, "fail_on", None) or []]
        except sig.FailRuleError as e:
            raise BenchError(str(e)) from None
        if rules and not getattr(args, "compare", None):
            raise BenchError("--fail-on needs --compare OLD.json")
        bad = [r for r in rules if r.op is not None and r.op not in TIME_METRICS]
        if bad:
            raise BenchError(f"--fail-on {bad[0].text!r}: {bad[0].op!r} is not a timing metric "
                             f"({', '.join(TIME_METRICS)})")
        old = load_bench_json(args.compare) if getattr(args, "compare", None) else None
        if command:
            from ..workload.options import WORKLOAD_OPTIONS

            given = [flag for dest, flag in WORKLOAD_OPTIONS
                     if getattr(args, dest, None) not in (None, False)]
            if given:
                raise BenchError(f"{given[0]} is a WORKLOAD option; it cannot be combined "
                                 "with '-- COMMAND'")
            points: list[tuple[str, dict[str, Any], list[str]]] = [
                (command_name(command), {}, [])
            ]
            program = f"bench-{Path(command[-1] if len(command) > 1 else command[0]).stem}"
        else:
            points = sweep_points(args)
            presets = sorted({str(p[1].get("preset", "small")) for p in points})
            program = "bench-" + "-".join(presets)
        fmt_name = getattr(args, "format", "text") or "text"
        out = Path(args.out) if getattr(args, "out", None) else None
        if out is not None and out.is_dir():
            raise BenchError(f"--out: {out} is a directory")
        rec_path = _record_path(out, program)
    except BenchError as e:
        return fail(str(e), e.code)

    show = config.show_progress and sys.stderr.isatty()
    total = len(points) * (config.warmup_runs + config.measurement_runs)
    bar = _Progress(total) if show else None
    argv = ["zlprof", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else ["zlprof", "bench"]
    results: list[BenchmarkResult] = []
    interrupted = False
    try:
        runner = BenchmarkRunner(config, record=rec_path, progress=bar, argv=argv)
    except (BenchError, RecordingError) as e:
        return fail(str(e), getattr(e, "code", 1))
    try:
        if bar is not None:
            bar.__enter__()
        for name, params, wargs in points:
            if command:
                results.append(runner.benchmark_generation(command=command, name=name))
            else:
                results.append(
                    runner.benchmark_generation(wargs, name=name, params=params)
                )
    except BenchError as e:
        runner.close(interrupted=True)
        return fail(str(e), e.code)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    runner.close(interrupted=interrupted)
    if interrupted and not results:
        print(f"zlprof: interrupted; recorded {rec_path}", file=sys.stderr)
        return 130

    doc = results_document(results, config, command or None, rec_path)
    found: list[sig.Violation] = []
    if old is not None:
        attach_comparisons(doc, old, str(args.compare))
        if rules:
            found = check_fail_on(doc, rules)
    text = render(doc, fmt_name)
    try:
        if out is not None:
            out.write_text(text, encoding="utf-8")
            if fmt_name != "text":
                sys.stdout.write(render_text(doc))
            else:
                sys.stdout.write(text)
            print(f"zlprof: wrote {out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as e:
        return fail(f"cannot write {out}: {e.strerror or e}", 1)
    print(f"zlprof: recorded {rec_path}", file=sys.stderr)
    for v in found:
        print(f"zlprof: {v.line()}", file=sys.stderr)
    if interrupted:
        print("zlprof: interrupted; results cover the finished points", file=sys.stderr)
        return 130
    if any(r.runs_ok == 0 for r in results):
        return 1
    return sig.EXIT_REGRESSION if found else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zlprof.bench [OPTIONS] [-- COMMAND ...]``: bench without cli.py."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1 :]
    parser = _CheckParser(prog="zlprof bench", allow_abbrev=False)
    add_bench_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except _OptionError as e:
        print(f"zlprof: error: {e}", file=sys.stderr)
        return 2
    return bench_main(args, command)

