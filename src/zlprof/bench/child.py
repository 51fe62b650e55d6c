"""The parent's handle on one child process: start, stop, exit, RSS, and the limits.

:class:`_Child` starts a program (``python -m zlprof.bench.worker`` or a COMMAND) under
the profiler pipe and hands its frames to the runner; :class:`_RssProbe` reads its
resident set. The constants below are the limits the runner enforces on it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..protocol import Frame
from ..session import SessionState
from .results import BenchError

if TYPE_CHECKING:
    from .runner import BenchmarkRunner

LOG_LEVEL = "bench"  # the level of the child's run announcements (worker.LOG_LEVEL)
#: A child that has not started its first run after this long is stopped.
SETUP_TIMEOUT_S = 120.0
#: A child stopped for a time limit gets this long between SIGTERM and SIGKILL.
TIMEOUT_GRACE_S = 0.5
#: Children that end without finishing or failing a measured run, in a row, before the
#: remaining runs of a point are given up.
MAX_STALLS = 2
#: A run is stopped this long after its time limit (the limit itself decides failure:
#: a run whose measured duration passes it fails even if it finished).
KILL_SLACK_NS = 2_000_000

_now = time.perf_counter_ns


class _TapState(SessionState):
    """A child's SessionState that also hands every frame to the runner."""

    def __init__(self, sink: Callable[[list[Frame]], None]) -> None:
        super().__init__()
        self._sink = sink

    def ingest_many(self, frames: list[Frame]) -> None:
        if frames:
            self._sink(frames)
        super().ingest_many(frames)




class _RssProbe:
    """RSS of a process and (optionally) its descendants, via psutil."""

    def __init__(self, pid: int, tree: bool) -> None:
        import psutil

        self._psutil = psutil
        try:
            self.proc: Any = psutil.Process(pid)
        except psutil.Error:
            self.proc = None
        self.tree = tree
        self._kids: list[Any] = []
        self._kids_at = 0.0

    def read(self) -> int:
        if self.proc is None:
            return -1
        ps = self._psutil
        try:
            total = int(self.proc.memory_info().rss)
        except ps.Error:
            return -1
        if self.tree:
            now = time.monotonic()
            if now - self._kids_at > 0.1:
                self._kids_at = now
                try:
                    self._kids = self.proc.children(recursive=True)
                except ps.Error:
                    self._kids = []
            for k in self._kids:
                try:
                    total += int(k.memory_info().rss)
                except ps.Error:
                    pass
        return total


class _Child:
    """One child process and the plumbing the runner watches it through."""

    def __init__(self, runner: BenchmarkRunner, argv: list[str], tree: bool) -> None:
        from ..sources import LiveSource, SourceError

        self.gen = runner._next_gen()
        self.q = runner._q
        self.pm = runner._rec.new_child()
        rec = runner._rec
        wake_w = runner._wake_w

        def sink(frames: list[Frame]) -> None:
            out = rec.translate(self.pm, frames)
            self.q.put((self.gen, out))
            try:
                os.write(wake_w, b"x")
            except OSError:  # the wake pipe is full: the runner is awake anyway
                pass

        self.src = LiveSource(argv, None, state=_TapState(sink), env=runner._env)
        self.t_spawn = _now()
        try:
            self.src.start()
        except SourceError as e:
            raise BenchError(str(e), 1) from None
        proc = self.src.proc
        assert proc is not None
        self.pid = proc.pid
        self.probe = _RssProbe(self.pid, tree)
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def exited(self) -> bool:
        proc = self.src.proc
        return proc is not None and proc.poll() is not None

    def stop(self, grace_s: float) -> None:
        self.src.stop(grace_s=grace_s)
        self.close()

    def finish(self) -> None:
        self.src.wait(10)
        self.src.stop(grace_s=0.1)  # joins the reader threads; the child has exited
        self.close()

    def close(self) -> None:
        if self.pidfd is not None:
            try:
                os.close(self.pidfd)
            except OSError:
                pass
            self.pidfd = None

    def stderr_line(self) -> str:
        for line in reversed(self.src.stderr_tail):
            if line.strip():
                return line.strip()[:300]
        return ""
