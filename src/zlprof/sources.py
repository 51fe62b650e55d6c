"""Where frames come from: a live child process or a recording. One interface.

Everything after a Source (SessionState, the app's views, reports) is the same for live
and replay. A Source owns its SessionState and feeds it from a background thread; views
read the state on a timer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import protocol
from .protocol import ProtocolError
from .recording import DEFAULT_MAX_SIZE, RecordingWriter, WriteFailure
from .session import SessionState

#: Seconds a child gets between SIGTERM and SIGKILL.
GRACE_S = 2.0
#: A live child that has sent no frame for this many seconds is reported as stalled.
STALL_AFTER_S = 10.0
#: The old name of STALL_AFTER_S.
SILENT_AFTER_S = STALL_AFTER_S
#: How often the watcher looks at the child (exit, SIGSTOP, stall), in seconds.
WATCH_EVERY_S = 0.2


class SourceError(Exception):
    """A source that cannot start (one line, shown to the user)."""


class Source(ABC):
    """Common surface of LiveSource (here) and ReplaySource (replay.py).

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


class LiveSource(Source):
    """Runs a child process and folds the frames it streams over a dedicated pipe.

    The child gets the pipe's write end as fd ``ZLPROF_FD`` (never its stdout, so its
    own prints pass untouched); its stdout and stderr are drained into ``stdout_tail`` and
    ``stderr_tail`` (and also into the recording as log frames) so it can never block.
    Every frame is validated before it is appended to the recording.
    """

    kind = "live"

    def __init__(
        self,
        argv: list[str],
        record_path: str | os.PathLike[str] | None = None,
        *,
        force: bool = False,
        env: dict[str, str] | None = None,
        state: SessionState | None = None,
        echo_output: bool = False,
        stall_after_s: float = STALL_AFTER_S,
        profiler_options: str = "",
        silent_after_s: float | None = None,
        max_size: int = DEFAULT_MAX_SIZE,
    ) -> None:
        """``stall_after_s``: seconds without a frame after which a live child is
        ``stalled`` (``silent_after_s`` is its old name)."""
        super().__init__(state)
        if not argv:
            raise SourceError("no command to run")
        self.argv = list(argv)
        self._env = dict(os.environ if env is None else env)
        self._echo = echo_output
        self.stall_after_s = stall_after_s if silent_after_s is None else silent_after_s
        self._opts = profiler_options
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self.writer: RecordingWriter | None = None
        if record_path is not None:
            self.writer = RecordingWriter(record_path, force=force, max_size=max_size)
            self.recording_path = self.writer.path
        self.decode_error: str | None = None
        self._first_frame_at: float | None = None
        #: monotonic time of the last frame (None: none yet)
        self.last_frame_at: float | None = None
        #: monotonic time the child was seen to exit
        self.ended_at: float | None = None
        self._stopping = False
        self._done = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        r, w = os.pipe()
        env = self._env
        env[_ENV_FD] = str(w)
        env.setdefault("PYTHONUNBUFFERED", "1")
        if self._opts:
            env["ZLPROF_OPTIONS"] = self._opts
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(w,),
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            os.close(r)
            os.close(w)
            self._abort_recording()
            raise SourceError(f"command not found: {self.argv[0]}") from None
        except PermissionError:
            os.close(r)
            os.close(w)
            self._abort_recording()
            raise SourceError(f"cannot execute {self.argv[0]}: permission denied") from None
        except OSError as exc:
            os.close(r)
            os.close(w)
            self._abort_recording()
            raise SourceError(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None
        os.close(w)
        self.started_at = time.monotonic()
        self._set_status("running")
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._spawn(self._read_frames, r, name="zlprof-frames")
        self._spawn(self._drain, self.proc.stdout, self.stdout_tail, "stdout", name="zlprof-stdout")
        self._spawn(self._drain, self.proc.stderr, self.stderr_tail, "stderr", name="zlprof-stderr")
        self._spawn(self._watch, name="zlprof-watch")

    def _abort_recording(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                if self.writer.bytes_written <= 16:
                    self.writer.path.unlink()
            except OSError:
                pass

    def _spawn(self, fn: Callable[..., None], *args: Any, name: str) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, grace_s: float = GRACE_S) -> None:
        """SIGTERM the child (its whole process group), SIGKILL after ``grace_s``."""
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        elif proc is not None:
            _signal_group(proc, signal.SIGKILL)  # leftovers of the group, if any
        self._done.wait(timeout=5)
        for t in self._threads:
            t.join(timeout=2)
        self._finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the child has exited and its frames are folded."""
        return self._done.wait(timeout)

    # ------------------------------------------------------------------ threads

    def _record(self, raw: bytes, frames: list[protocol.Frame]) -> None:
        with self._lock:
            if self.writer is not None and raw:
                self.writer.write_raw(raw)  # never raises: a failure stops the recording
                self._note_failure()
            if frames:
                self.state.ingest_many(frames)

    def _read_frames(self, fd: int) -> None:
        dec = protocol.FrameDecoder()
        try:
            while True:
                try:
                    data = os.read(fd, 1 << 20)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.bytes_read += len(data)
                if self.decode_error is not None:
                    continue  # keep draining so the child never blocks
                try:
                    frames, raw = dec.feed_raw(data)
                except ProtocolError as exc:
                    frames = getattr(exc, "frames", [])
                    raw = getattr(exc, "raw", b"")
                    self.decode_error = f"child sent a corrupt frame: {exc}"
                    self.state.warnings.append(self.decode_error)
                if frames:
                    now = time.monotonic()
                    if self._first_frame_at is None:
                        self._first_frame_at = now
                    self.last_frame_at = now
                    if self.status == "stalled":
                        self._set_status("running")
                self.frames_read += len(frames)
                self._record(raw, frames)
            if dec.pending() and self.decode_error is None:
                self.state.warnings.append(
                    f"child's stream ended inside a frame at byte {dec.offset} "
                    f"({dec.pending()} bytes dropped)"
                )
        finally:
            os.close(fd)

    def _drain(self, stream: Any, tail: deque[str], level: str) -> None:
        out = sys.stdout if level == "stdout" else sys.stderr
        for line in iter(stream.readline, b""):
            text = line.decode("utf-8", "replace").rstrip("\n")
            tail.append(text)
            if self._echo:
                try:
                    out.write(text + "\n")
                    out.flush()
                except (OSError, ValueError):
                    pass
            t = self.state.last_ns
            self._record(protocol.encode_log(t, level, text), [
                protocol.Frame("log", {"t": t, "level": level, "msg": text})
            ])
        stream.close()

    # ------------------------------------------------------------------ status

    def wall_elapsed_s(self) -> float | None:
        return time.monotonic() - self.started_at

    def run_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    def quiet_s(self) -> float:
        """Seconds since the last frame (since the start when none came yet)."""
        since = self.last_frame_at if self.last_frame_at is not None else self.started_at
        return max(0.0, time.monotonic() - since)

    def alive_status(self) -> str:
        """What a child that has not exited is doing: ``suspended`` (stopped by a signal,
        from its process state), ``stalled`` (no frame for ``stall_after_s``) or
        ``running``."""
        if self.proc is not None and process_suspended(self.proc.pid):
            return "suspended"
        if self.quiet_s() > self.stall_after_s:
            return "stalled"
        return "running"

    def _watch(self) -> None:
        proc = self.proc
        assert proc is not None
        while True:
            try:
                code = proc.wait(timeout=WATCH_EVERY_S)
                break
            except subprocess.TimeoutExpired:
                if self._stopping:
                    continue
                self._set_status(self.alive_status())
        self.ended_at = time.monotonic()
        # the pipe closes when the child (and any grandchild holding it) exits
        for t in self._threads:
            if t.name in ("zlprof-frames", "zlprof-stdout", "zlprof-stderr"):
                t.join(timeout=5)
        self.exit_code = code
        status, reason = describe_exit(code)
        if self._stopping and code in (-signal.SIGTERM, -signal.SIGKILL):
            status, reason = "stopped", "stopped by zlprof"
        end = protocol.encode_end(code, reason)
        self._record(end, [protocol.Frame("end", {"status": code, "reason": reason})])
        self._finish()
        self._set_status(status)
        self._done.set()

    def _finish(self) -> None:
        with self._lock:
            if self.writer is not None:
                self.writer.close()
                self._note_failure()

    @property
    def recording_failure(self) -> WriteFailure | None:
        """Why the recording stopped early (disk full, ...), or None."""
        return self.writer.failure if self.writer is not None else None

    def _note_failure(self) -> None:
        f = self.recording_failure
        if f is not None and f.describe() not in self.state.warnings:
            self.state.warnings.append(f.describe())


_ENV_FD = "ZLPROF_FD"


def process_suspended(pid: int) -> bool:
    """Is process ``pid`` stopped by a signal (SIGSTOP, SIGTSTP, a debugger)?"""
    try:
        import psutil

        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except Exception:  # gone, a zombie, no permission: not suspended
        return False


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except (ProcessLookupError, OSError):
            pass


def workload_command(args: list[str]) -> list[str]:
    """The child command for the built-in workload with the given options."""
    return [sys.executable, "-m", "zlprof.workload", *args]
