"""BenchmarkRunner: warm-ups, measured runs and restarts of each sweep point.

Generator mode runs ``python -m zlprof.bench.worker`` in a child and follows its run
announcements; COMMAND mode runs the command once per run. Either way the runner watches
the child (child.py), enforces the time and memory limits, records every frame
(recorder.py) and folds what it sees into a point's result (point.py).
"""

from __future__ import annotations

import json
import os
import queue
import select
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import fmt
from ..protocol import Frame
from .child import (
    KILL_SLACK_NS,
    LOG_LEVEL,
    MAX_STALLS,
    SETUP_TIMEOUT_S,
    TIMEOUT_GRACE_S,
    _Child,
    _now,
)
from .point import _memory_of, _PointAcc, _Run
from .recorder import _Recorder
from .results import BenchError, BenchmarkConfig, BenchmarkResult, RunSample, _clean

ProgressFn = Callable[..., None]


class BenchmarkRunner:
    """Runs benchmarks under a :class:`BenchmarkConfig`; see the package docstring.

    ``record``: a ``.zlp`` path that every benchmark of this runner is recorded to (one
    session; ``close()`` finishes it), or None. ``progress(event, **info)`` is called
    with ``"point"`` (name, runs, warmups), ``"run"`` (phase, index, ok) and
    ``"restart"`` (warmups) events.
    """

    def __init__(
        self,
        config: BenchmarkConfig | None = None,
        *,
        record: str | os.PathLike[str] | None = None,
        progress: ProgressFn | None = None,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config or BenchmarkConfig()
        c = self.config
        if c.warmup_runs < 0:
            raise BenchError("--warmup must be 0 or more")
        if c.measurement_runs < 1:
            raise BenchError("--runs must be at least 1")
        if not c.max_time_per_run_ms > 0:
            raise BenchError("--timeout-ms must be positive")
        if c.memory_limit is not None and c.memory_limit <= 0:
            raise BenchError("--memory-limit must be positive")
        self.progress = progress
        self.record_path = Path(record) if record is not None else None
        self._argv = argv or ["zlprof", "bench"]
        self._env = dict(os.environ if env is None else env)
        self._rec_obj: _Recorder | None = None
        self._gen = 0
        self._q: queue.Queue[tuple[int, list[Frame]]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._current: _Child | None = None
        self.results: list[BenchmarkResult] = []

    # lifecycle ----------------------------------------------------------------------

    @property
    def _rec(self) -> _Recorder:
        if self._rec_obj is None:
            self._rec_obj = _Recorder(self.record_path, self._argv, self.config.as_dict())
        return self._rec_obj

    def __enter__(self) -> BenchmarkRunner:
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        self.close(interrupted=et is not None)

    def close(self, interrupted: bool = False) -> None:
        """Stop a child still running, finish the recording, release the wake pipe."""
        if self._current is not None:
            self._current.stop(0.0)
            self._current = None
        if self._rec_obj is not None:
            ok = sum(r.runs_ok for r in self.results)
            n = sum(len(r.runs) for r in self.results)
            reason = "bench interrupted" if interrupted else "bench finished"
            self._rec_obj.close(130 if interrupted else 0, f"{reason}: {ok}/{n} runs ok")
            self._rec_obj = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    def _next_gen(self) -> int:
        self._gen += 1
        return self._gen

    def _emit(self, event: str, **info: Any) -> None:
        if self.progress is not None:
            try:
                self.progress(event, **info)
            except Exception:  # a broken progress display must not break the bench
                pass

    # the API --------------------------------------------------------------------------

    def benchmark_generation(
        self,
        workload_args: Sequence[str] = (),
        *,
        command: Sequence[str] | None = None,
        generator: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> BenchmarkResult:
        """Benchmark one configuration.

        ``workload_args``: WORKLOAD options for the generator (the built-in workload by
        default, e.g. ``["--preset=tiny", "--batch=2"]``). ``generator``:
        ``"MODULE:FUNCTION"`` of another generator (see :mod:`zlprof.bench.worker`).
        ``command``: run this program once per run instead (COMMAND mode).
        """
        if command:
            label = name or command_name(command)
        else:
            label = name or (" ".join(workload_args) or "workload")
        c = self.config
        self._emit("point", name=label, runs=c.measurement_runs, warmups=c.warmup_runs)
        self._rec.log(json.dumps({"event": "point_start", "name": label,
                                  "params": _clean(params or {})}))
        acc = _PointAcc()
        if command:
            self._command_point(list(command), acc)
        else:
            self._generator_point(list(workload_args), generator, acc)
        res = acc.result(label, c, params or {})
        self.results.append(res)
        self._rec.log(json.dumps({"event": "point_end", "name": label,
                                  "success_rate": res.success_rate,
                                  "tokens_per_second": _clean(res.throughput.tokens_per_second)}))
        return res

    # generator mode -------------------------------------------------------------------

    def _generator_point(self, wargs: list[str], generator: str | None, acc: _PointAcc) -> None:
        c = self.config
        n = c.measurement_runs
        stalls = 0
        while acc.next_index() < n:
            first = acc.next_index()
            argv = [sys.executable, "-m", "zlprof.bench.worker", f"--warmup={c.warmup_runs}",
                    f"--runs={n - first}", f"--first-index={first}"]
            if generator:
                argv.append(f"--generator={generator}")
            argv += ["--", *wargs]
            if acc.children:
                acc.restarts += 1
                self._emit("restart", warmups=c.warmup_runs)
                self._rec.log(f"restarting the child for runs {first}..{n - 1}", "warning")
            acc.children += 1
            child = self._start(argv, tree=False)
            outcome = self._watch(child, acc)
            if outcome.finished:
                continue
            if outcome.setup_error is not None:
                raise BenchError(outcome.setup_error, outcome.code)
            stalls = 0 if acc.next_index() > first else stalls + 1
            if stalls >= MAX_STALLS:
                reason = (f"not run: the child failed {stalls} times in a row before "
                          f"finishing a measured run ({outcome.reason})")
                for i in range(acc.next_index(), n):
                    acc.add_run(RunSample(i, ok=False, reason=reason))
                    self._emit("run", phase="measure", index=i, ok=False)

    def _start(self, argv: list[str], tree: bool) -> _Child:
        child = _Child(self, argv, tree)
        self._current = child
        return child

    def _wait(self, child: _Child, timeout_s: float) -> None:
        """Sleep until a frame arrives, the child exits, or ``timeout_s`` passes."""
        fds = [self._wake_r]
        if child.pidfd is not None:
            fds.append(child.pidfd)
        try:
            ready, _, _ = select.select(fds, [], [], max(0.0, timeout_s))
        except InterruptedError:
            return
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except (BlockingIOError, OSError):
                pass

    def _watch(
        self, child: _Child, acc: _PointAcc, command_run: tuple[str, int] | None = None
    ) -> _Outcome:
        """Follow one child until it exits or is stopped; fold what it reports.

        Generator mode: runs begin and end with the child's announcements. COMMAND mode
        (``command_run`` = (phase, index)): the run is the whole execution.
        """
        c = self.config
        command_mode = command_run is not None
        poll_s = c.poll_interval_ms / 1000.0
        if child.pidfd is None and command_mode:
            poll_s = min(poll_s, 0.002)  # the exit time is the run's end
        limit_ns = int(c.max_time_per_run_ms * 1e6)
        run: _Run | None = None
        if command_run is not None:
            run = _Run(command_run[0], command_run[1], child.t_spawn, child.t_spawn + limit_ns)
        next_poll = 0
        setup_deadline = child.t_spawn + int(SETUP_TIMEOUT_S * 1e9)
        out = _Outcome()
        while True:
            deadline = run.deadline + KILL_SLACK_NS if run is not None else setup_deadline
            self._wait(child, (min(next_poll, deadline) - _now()) / 1e9)
            exited = child.exited()
            t_exit = _now()
            if exited:
                child.finish()
                self._current = None
            run = self._drain(child, acc, run, out, events=not command_mode)
            if exited:
                return self._ended(child, acc, run, out, t_exit, command_mode)
            now = _now()
            if now >= next_poll:
                rss = child.probe.read()
                if rss >= 0:
                    if run is not None:
                        run.rss.append((now, rss))
                    if c.memory_limit is not None and rss > c.memory_limit:
                        reason = (f"exceeded the memory limit: RSS {fmt.nbytes(rss)} > "
                                  f"{fmt.nbytes(c.memory_limit)}")
                        return self._stop(child, acc, run, out, reason, now, 0.0)
                next_poll = now + int(poll_s * 1e9)
            if run is not None and now >= run.deadline + KILL_SLACK_NS:
                reason = (f"exceeded the {c.max_time_per_run_ms:g} ms time limit "
                          f"(stopped at {(now - run.t_start) / 1e6:.0f} ms)")
                return self._stop(child, acc, run, out, reason, now, TIMEOUT_GRACE_S)
            if run is None and now >= setup_deadline:
                reason = f"the child started no run within {SETUP_TIMEOUT_S:.0f} s"
                if not acc.ever_started:
                    out.setup_error = reason
                return self._stop(child, acc, run, out, reason, now, TIMEOUT_GRACE_S)

    def _stop(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        reason: str,
        t_stop: int,
        grace_s: float,
    ) -> _Outcome:
        """Stop the child for a limit; the run in progress (if any) fails with ``reason``."""
        child.stop(grace_s)
        self._current = None
        # its last frames: memory samples count, announcements no longer do
        self._drain(child, acc, run, out, events=False)
        if run is not None:
            self._fail(acc, run, reason, t_stop)
        out.reason = reason
        return out

    def _ended(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        t_exit: int,
        command_mode: bool,
    ) -> _Outcome:
        """The child exited on its own."""
        from ..sources import describe_exit

        code = child.src.exit_code
        if command_mode:
            out.exit_code = code
            out.t_exit = t_exit
            out.run = run
            out.finished = True
            return out
        if out.completed_all:
            out.finished = True
            return out
        tail = child.stderr_line()
        if code == 0:
            reason = "the child exited before finishing its runs"
        else:
            reason = f"the child {describe_exit(code if code is not None else -9)[1]}"
        if tail:
            reason += f": {tail}"
        if run is not None:
            self._fail(acc, run, reason, t_exit)
        elif not acc.ever_started:
            out.setup_error = tail or reason
            out.code = 2 if code == 2 else 1
        out.reason = reason
        return out

    def _check_peak(self, sample: RunSample) -> None:
        """A run that finished although a memory sample passed the limit (a spike the
        parent's polls missed, seen in the child's own samples) fails too."""
        lim = self.config.memory_limit
        if sample.ok and lim is not None and sample.peak_rss > lim:
            sample.ok = False
            sample.reason = (f"exceeded the memory limit: peak RSS {fmt.nbytes(sample.peak_rss)} > "
                             f"{fmt.nbytes(lim)} (between two polls; not stopped)")

    def _fail(self, acc: _PointAcc, run: _Run, reason: str, t_stop: int) -> None:
        dur = max(0, t_stop - run.t_start)
        if run.phase == "warmup":
            acc.warmup_failures.append((run.index, reason))
            self._emit("run", phase="warmup", index=run.index, ok=False)
            return
        sample = RunSample(run.index, ok=False, reason=reason, duration_ns=dur)
        _memory_of(sample, run)
        acc.add_run(sample, run)
        self._emit("run", phase="measure", index=run.index, ok=False)

    def _drain(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        events: bool = True,
    ) -> _Run | None:
        """Fold the queued frames of ``child``; returns the run in progress."""
        limit_ns = int(self.config.max_time_per_run_ms * 1e6)
        while True:
            try:
                gen, frames = self._q.get_nowait()
            except queue.Empty:
                return run
            if gen != child.gen:
                continue  # a stopped child's last frames (already recorded)
            for fr in frames:
                k, b = fr.kind, fr.body
                if k == "log" and b.get("level") == LOG_LEVEL:
                    if not events:
                        continue
                    try:
                        ev = json.loads(b["msg"])
                    except (ValueError, TypeError):
                        continue
                    if not isinstance(ev, dict):
                        continue
                    run = self._event(child, acc, run, ev, limit_ns, out)
                elif k == "tokens":
                    if run is not None:
                        run.rows.extend(b["rows"])
                elif k == "mem":
                    acc.see_memory(b, run)
                elif k == "meta":
                    acc.workload.update(
                        {kk: vv for kk, vv in b["config"].items() if kk != "bench"}
                    )

    def _event(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        ev: dict[str, Any],
        limit_ns: int,
        out: _Outcome,
    ) -> _Run | None:
        kind = ev.get("event")
        if kind == "run_start":
            t = int(ev.get("t", _now()))
            acc.ever_started = True
            return _Run(str(ev.get("phase", "measure")), int(ev.get("index", 0)), t, t + limit_ns)
        if kind == "run_end" and run is not None:
            dur = int(ev.get("duration_ns", 0))
            sample = RunSample(
                run.index,
                phase=run.phase,
                duration_ns=dur,
                tokens=int(ev.get("tokens", 0)),
                characters=int(ev.get("characters", 0)),
                requests=int(ev.get("requests", 0)),
                batches=int(ev.get("batches", 0)),
            )
            if dur > limit_ns:  # finished before the parent could stop it
                sample.ok = False
                sample.reason = (f"exceeded the {self.config.max_time_per_run_ms:g} ms time "
                                 f"limit (took {dur / 1e6:.0f} ms)")
            _memory_of(sample, run)
            self._check_peak(sample)
            if run.phase == "warmup":
                if not sample.ok:
                    acc.warmup_failures.append((run.index, sample.reason))
                self._emit("run", phase="warmup", index=run.index, ok=sample.ok)
            else:
                acc.add_run(sample, run)
                self._emit("run", phase="measure", index=run.index, ok=sample.ok)
                if acc.next_index() >= self.config.measurement_runs:
                    out.completed_all = True
            return None
        return run

    # COMMAND mode ---------------------------------------------------------------------

    def _command_point(self, command: list[str], acc: _PointAcc) -> None:
        from ..sources import describe_exit

        c = self.config
        plan = [("warmup", i) for i in range(c.warmup_runs)]
        plan += [("measure", i) for i in range(c.measurement_runs)]
        for phase, index in plan:
            acc.children += 1
            child = self._start(command, tree=True)
            out = self._watch(child, acc, (phase, index))
            run = out.run
            if run is None:  # stopped for a limit: _stop counted it
                continue
            toks = [r for r in run.rows if r[3] not in ("start", "end")]
            reqs = {r[1] for r in run.rows}
            sample = RunSample(
                index,
                phase=phase,
                duration_ns=max(0, out.t_exit - run.t_start),
                tokens=len(toks),
                characters=sum(len(r[4]) for r in toks),
                requests=len(reqs) if reqs else 1,
                batches=1,
            )
            code = out.exit_code
            if code != 0:
                why = describe_exit(code if code is not None else -9)[1]
                tail = child.stderr_line()
                sample.ok = False
                sample.reason = f"the command {why}" + (f": {tail}" if tail else "")
            _memory_of(sample, run)
            self._check_peak(sample)
            if phase == "warmup":
                if not sample.ok:
                    acc.warmup_failures.append((index, sample.reason))
            else:
                acc.add_run(sample, run)
            self._emit("run", phase=phase, index=index, ok=sample.ok)


@dataclass
class _Outcome:
    finished: bool = False
    completed_all: bool = False
    reason: str = ""
    setup_error: str | None = None
    code: int = 1
    exit_code: int | None = None
    t_exit: int = 0
    run: _Run | None = None


def command_name(command: Sequence[str]) -> str:
    """A short name for a COMMAND point: the program's base name and its arguments."""
    return " ".join([Path(command[0]).name, *(shlex.quote(a) for a in command[1:])])
