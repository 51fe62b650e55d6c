"""The Source surface shared by live and replay sessions, and how a program's exit reads.

:class:`Source` (status, tails, listeners), :class:`SourceError`, the exit status of a
failed program (:data:`EXIT_PROGRAM_FAILED`) and :func:`describe_exit`. The live child
is in :mod:`.live`, the replay in :mod:`zlprof.replay`.
"""

from __future__ import annotations

import signal
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from ..recording import WriteFailure
from ..session import SessionState


class SourceError(Exception):
    """A source that cannot start (one line, shown to the user)."""


class Source(ABC):
    """Common surface of LiveSource (live.py) and ReplaySource (replay.py).

    ``seekable`` sources (replays) also offer pause/seek/speed controls; views use them
    only for the timeline bar and its keys.
    """

    kind = "source"
    seekable = False

    def __init__(self, state: SessionState | None = None) -> None:
        self.state = state or SessionState()
        #: starting | running | stalled | suspended | ended | crashed | stopped | paused
        #: (live: ``stalled`` = alive but no frame for ``stall_after_s``; ``suspended`` =
        #: stopped by a signal such as SIGSTOP, from the process state; ``stopped`` =
        #: ended by zlprof, when the user quit or opened another session)
        self.status = "starting"
        self.exit_code: int | None = None
        self.recording_path: Path | None = None
        self.stdout_tail: deque[str] = deque(maxlen=500)
        self.stderr_tail: deque[str] = deque(maxlen=500)
        self.bytes_read = 0
        self.frames_read = 0
        self.started_at = time.monotonic()
        self._listeners: list[Callable[[], None]] = []

    @property
    def recording_failure(self) -> WriteFailure | None:
        """Why the recording stopped early (disk full, ...); None when it did not."""
        return None

    @abstractmethod
    def start(self) -> None:
        """Begin feeding ``state`` from a background thread."""

    @abstractmethod
    def stop(self) -> None:
        """Stop feeding; release the child or the file."""

    @property
    def finished(self) -> bool:
        return self.status in ("ended", "crashed", "stopped")

    def wall_elapsed_s(self) -> float | None:
        """Wall time since the session started (None: the source has no wall clock of
        its own, e.g. a replay, whose clock is the recording's)."""
        return None

    def run_s(self) -> float | None:
        """How long the program ran, once it has ended (None before, or unknown)."""
        return None

    def describe(self) -> str:
        argv = self.state.info.get("argv") or []
        return " ".join(str(a) for a in argv) or self.kind

    def on_change(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` (from the source's thread) when the status changes."""
        self._listeners.append(fn)

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            for fn in self._listeners:
                try:
                    fn()
                except Exception:
                    pass


#: `zlprof live` / `zlprof record` exit status when the program failed (exited with a
#: non-zero status or was killed by a signal; the last line on stderr says which). The
#: other statuses: 0 the program succeeded or you stopped it (quit, Ctrl-C: 130 for
#: record), 1 zlprof could not run it (command not found, ...), 2 a bad option.
EXIT_PROGRAM_FAILED = 3


def program_failed(source: Source) -> bool:
    """Did the live program ``source`` ran fail by itself (not stopped by zlprof)?"""
    return source.kind == "live" and source.status == "crashed"


def failure_hint(stderr: Iterable[str], argv: Sequence[str]) -> str:
    """What zlprof can tell about a failure beyond its traceback ('' when nothing): a
    program run by a Python that cannot import zlprof (``python`` outside zlprof's venv,
    the commonest first mistake)."""
    if any("No module named 'zlprof'" in line for line in stderr):
        prog = argv[0] if argv else "the program's Python"
        return (f"{prog} cannot import zlprof: run the program with the Python zlprof is "
                f"installed in ({sys.executable}), or install zlprof where {prog} finds it")
    return ""


def describe_exit(code: int) -> tuple[str, str]:
    """(status, reason) for a child's return code."""
    if code == 0:
        return "ended", "exited normally"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "crashed", f"killed by {name}"
    return "crashed", f"exited with status {code}"

