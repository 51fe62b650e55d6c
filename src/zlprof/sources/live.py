"""LiveSource: runs a child process and folds what every process of its tree streams.

The listener (a Unix socket in a private directory), one reader thread per channel, the
stdout/stderr drains, the watcher (exit, SIGSTOP, stall) and the recording of the live
stream. The shared Source surface is in :mod:`.base`; per-process helpers in
:mod:`.channel`.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import protocol
from ..protocol import ProtocolError
from ..recording import DEFAULT_MAX_SIZE, RecordingWriter, WriteFailure
from ..session import SessionState
from .base import Source, SourceError, describe_exit
from .channel import (
    _ENV_FD,
    _ENV_SOCKET,
    _Channel,
    _exit_of,
    _group_alive,
    _proc_starttime,
    _signal_group,
    process_suspended,
)

#: Seconds a child gets between SIGTERM and SIGKILL.
GRACE_S = 2.0
#: bytes read from a channel at a time, and at most read (what is already waiting) before
#: the frames are folded
READ_BYTES = 1 << 20
COALESCE_BYTES = 8 << 20
FOLD_WINDOW_S = 0.05
#: A live child that has sent no frame for this many seconds is reported as stalled.
STALL_AFTER_S = 10.0
#: The old name of STALL_AFTER_S.
SILENT_AFTER_S = STALL_AFTER_S
#: How often the watcher looks at the child (exit, SIGSTOP, stall), in seconds.
WATCH_EVERY_S = 0.2


class LiveSource(Source):
    """Runs a child process and folds the frames every process of its tree streams.

    The channel: a Unix domain socket in a fresh private directory (mode 0700), whose path
    the child gets in ``ZLPROF_SOCKET`` (inherited by every descendant). Each process
    that uses the zlprof API connects once; zlprof answers with the stream preamble (the
    handshake: a process writes nothing before it has read it, so it never writes to a
    file descriptor that is not zlprof's), then the process sends its preamble and a
    hello naming its pid, parent pid and how it started. Every connection is a stream of
    its own, numbered from 1 in the order they connect: frames of different processes
    never interleave, and the recording tags each frame with its stream. zlprof writes a
    ``proc`` frame (stream 0) when a process connects and when its connection ends, with
    its exit status when it can be known (see ``_exit_of``).

    The child's stdout and stderr are drained into ``stdout_tail`` and ``stderr_tail``
    (and into the recording as log frames) so it can never block. Every frame is
    validated before it is appended to the recording. The child runs in a session of its
    own: stopping signals the whole process group (SIGTERM, then SIGKILL).
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
        self._listener: socket.socket | None = None
        self._sockdir: str | None = None
        self._channels: dict[int, _Channel] = {}
        self._next_stream = 1
        self._closing = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def _listen(self) -> str:
        self._sockdir = tempfile.mkdtemp(prefix="zlprof-")  # mode 0700: this user only
        path = os.path.join(self._sockdir, "channel")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(128)
        sock.settimeout(0.1)
        self._listener = sock
        return path

    def start(self) -> None:
        try:
            address = self._listen()
        except OSError as exc:
            self._abort_recording()
            raise SourceError(f"cannot open zlprof's channel: {exc.strerror or exc}") from None
        env = self._env
        env.pop(_ENV_FD, None)
        env[_ENV_SOCKET] = address
        env.setdefault("PYTHONUNBUFFERED", "1")
        if self._opts:
            env["ZLPROF_OPTIONS"] = self._opts
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except FileNotFoundError:
            self._close_listener()
            self._abort_recording()
            raise SourceError(f"command not found: {self.argv[0]}") from None
        except PermissionError:
            self._close_listener()
            self._abort_recording()
            raise SourceError(f"cannot execute {self.argv[0]}: permission denied") from None
        except OSError as exc:
            self._close_listener()
            self._abort_recording()
            raise SourceError(f"cannot start {self.argv[0]}: {exc.strerror or exc}") from None
        self.started_at = time.monotonic()
        self._set_status("running")
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._spawn(self._accept, name="zlprof-accept")
        self._spawn(self._drain, self.proc.stdout, self.stdout_tail, "stdout", name="zlprof-stdout")
        self._spawn(self._drain, self.proc.stderr, self.stderr_tail, "stderr", name="zlprof-stderr")
        self._spawn(self._watch, name="zlprof-watch")

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None
        if self._sockdir is not None:
            shutil.rmtree(self._sockdir, ignore_errors=True)
            self._sockdir = None

    def _abort_recording(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                if self.writer.bytes_written <= 16:
                    self.writer.path.unlink()
            except OSError:
                pass

    def _spawn(self, fn: Callable[..., None], *args: Any, name: str) -> threading.Thread:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def stop(self, grace_s: float = GRACE_S) -> None:
        """SIGTERM the child's whole process group, SIGKILL after ``grace_s``; the
        recording is closed once every channel has been read to its end."""
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
        if proc is not None:
            self._end_group(grace_s)
        self._done.wait(timeout=5 + grace_s)
        for t in self._threads:
            t.join(timeout=2)
        self._finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the child has exited and its frames are folded."""
        return self._done.wait(timeout)

    @property
    def open_channels(self) -> int:
        with self._lock:
            return sum(1 for c in self._channels.values()
                       if c.thread is not None and c.thread.is_alive())

    def _end_group(self, grace_s: float) -> None:
        """No orphans: once the child has exited, processes of its group still running
        (and still connected) get ``grace_s`` to finish, then SIGTERM, then SIGKILL."""
        proc = self.proc
        if proc is None:
            return
        deadline = time.monotonic() + grace_s
        while self.open_channels and time.monotonic() < deadline:
            time.sleep(0.02)
        if _group_alive(proc.pid):
            _signal_group(proc, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            _signal_group(proc, signal.SIGKILL)

    # ------------------------------------------------------------------ threads

    def _record(self, raw: bytes, frames: list[protocol.Frame], stream: int = 0) -> None:
        with self._lock:
            if self.writer is not None and raw:
                # never raises: a failure stops the recording
                self.writer.write_raw(raw, stream=stream)
                self._note_failure()
            if frames:
                self.state.ingest_many(frames)

    def _accept(self) -> None:
        sock = self._listener
        assert sock is not None
        while not self._closing.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            conn.settimeout(None)
            try:
                conn.sendall(protocol.preamble())  # the handshake's answer
            except OSError:
                conn.close()
                continue
            with self._lock:
                ch = _Channel(self._next_stream, conn)
                self._next_stream += 1
                self._channels[ch.stream] = ch
                ch.thread = self._spawn(self._read_channel, ch, name=f"zlprof-stream-{ch.stream}")

    def _proc_frame(self, ch: _Channel, event: str, status: int | None = None,
                    reason: str = "", ppid: int | None = None,
                    argv: list[str] | None = None) -> None:
        body = {"stream": ch.stream, "pid": ch.pid, "ppid": ppid, "argv": list(argv or []),
                "event": event, "status": status, "reason": reason}
        raw = protocol.encode_proc(stream=ch.stream, pid=ch.pid, event=event, ppid=ppid,
                                   argv=argv, status=status, reason=reason)
        self._record(raw, [protocol.Frame("proc", body)])

    def _read_channel(self, ch: _Channel) -> None:
        dec = protocol.FrameDecoder(preamble=True)
        fd = ch.conn.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        error: str | None = None
        try:
            while True:
                try:
                    data = os.read(fd, READ_BYTES)
                except InterruptedError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                # what else arrives within FOLD_WINDOW_S is read too (up to
                # COALESCE_BYTES) and folded at once: under a flood over thousands of
                # paths the fold's cost per path is then spread over many samples of each
                # (a fold of one 8,192-measurement frame over 2,000 paths costs about as
                # much as one of 100,000), so the fold keeps up and leaves the program
                # its CPU. A quiet program's frames wait at most FOLD_WINDOW_S.
                chunks, total, eof = [data], len(data), False
                deadline = time.monotonic() + FOLD_WINDOW_S
                while total < COALESCE_BYTES and poller.poll(
                    max(0, int((deadline - time.monotonic()) * 1000))
                ):
                    try:
                        more = os.read(fd, READ_BYTES)
                    except InterruptedError:
                        continue
                    except OSError:
                        more = b""
                    if not more:
                        eof = True
                        break
                    chunks.append(more)
                    total += len(more)
                if len(chunks) > 1:
                    data = b"".join(chunks)
                self.bytes_read += len(data)
                if error is not None:
                    continue  # keep draining so the process never blocks
                try:
                    frames, raw = dec.feed_raw(data)
                except ProtocolError as exc:
                    frames = getattr(exc, "frames", [])
                    raw = getattr(exc, "raw", b"")
                    error = f"process on stream {ch.stream} sent a corrupt frame: {exc}"
                    self.decode_error = error
                    self.state.warnings.append(error)
                for fr in frames:
                    fr.stream = ch.stream
                    if fr.kind == "hello" and not ch.pid:
                        ch.pid = int(fr.body["pid"])
                        ch.starttime = _proc_starttime(ch.pid)
                        self._proc_frame(ch, "start", ppid=fr.body.get("ppid"),
                                         argv=[str(a) for a in fr.body.get("argv") or []])
                    elif fr.kind == "bye":
                        ch.said_bye = True
                if frames:
                    now = time.monotonic()
                    if self._first_frame_at is None:
                        self._first_frame_at = now
                    self.last_frame_at = now
                    if self.status == "stalled":
                        self._set_status("running")
                self.frames_read += len(frames)
                self._record(raw, frames, ch.stream)
                if eof:
                    break
            if dec.pending() and error is None:
                self.state.warnings.append(
                    f"stream {ch.stream} (pid {ch.pid}) ended inside a frame at byte "
                    f"{dec.offset} ({dec.pending()} bytes dropped)"
                )
        finally:
            ch.conn.close()
        if ch.pid:
            top = self.proc is not None and ch.pid == self.proc.pid
            if not top:  # the child's own exit is recorded by _watch (it waits for it)
                status, reason = _exit_of(ch.pid, ch.starttime, ch.said_bye)
                self._proc_frame(ch, "exit", status, reason)

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
        self.exit_code = code
        status, reason = describe_exit(code)
        if self._stopping and code in (-signal.SIGTERM, -signal.SIGKILL):
            status, reason = "stopped", "stopped by zlprof"
        # the rest of the tree: what is still running gets a grace period, then the group
        # is ended (no orphans); every channel is then read to its end
        self._end_group(0.5 if self._stopping else GRACE_S)
        self._closing.set()
        with self._lock:
            readers = [c.thread for c in self._channels.values() if c.thread is not None]
        for t in readers:
            t.join(timeout=5)
        for t in self._threads:
            if t.name in ("zlprof-stdout", "zlprof-stderr", "zlprof-accept"):
                t.join(timeout=5)
        with self._lock:
            top = [c for c in self._channels.values() if c.pid == proc.pid]
        for ch in top:
            self._proc_frame(ch, "exit", code, describe_exit(code)[1])
        end = protocol.encode_end(code, reason, self.argv)
        body = {"status": code, "reason": reason, "argv": list(self.argv)}
        self._record(end, [protocol.Frame("end", body)])
        self._finish()
        self._set_status(status)
        self._done.set()

    def _finish(self) -> None:
        self._closing.set()
        with self._lock:
            if self.writer is not None:
                self.writer.close()
                self._note_failure()
        self._close_listener()

    @property
    def recording_failure(self) -> WriteFailure | None:
        """Why the recording stopped early (disk full, ...), or None."""
        return self.writer.failure if self.writer is not None else None

    def _note_failure(self) -> None:
        f = self.recording_failure
        if f is not None and f.describe() not in self.state.warnings:
            self.state.warnings.append(f.describe())


def workload_command(args: list[str]) -> list[str]:
    """The child command for the built-in workload with the given options."""
    return [sys.executable, "-m", "zlprof.workload", *args]

