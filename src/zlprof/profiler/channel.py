"""Where a profiler's frames go: the Unix-socket channel to zlprof, or memory.

Holds the environment a measuring process reads (``ZLPROF_SOCKET``, ``ZLPROF_OPTIONS``),
:func:`connect_channel`, and the two sinks: :class:`StreamSink` (a process's own
connection to the parent, buffered here so a forked child can drop its parent's bytes) and
:class:`MemorySink` (folds frames into an in-process SessionState). What is written, and
when, is the profiler's business (:mod:`.core`, :mod:`.writer`).
"""

from __future__ import annotations

import os
import select
import socket

from .. import protocol
from .memory import close_fd

#: Legacy: zlprof < schema 2 passed an inherited pipe's number here. Never trusted any
#: more (an inherited number can name an unrelated file in a spawned child); removed from
#: the environment so grandchildren do not see it either.
ENV_FD = "ZLPROF_FD"
#: The path of the parent's Unix domain socket: every measuring process of the tree
#: connects to it (one connection per process, see :func:`connect_channel`).
ENV_SOCKET = "ZLPROF_SOCKET"
ENV_OPTIONS = "ZLPROF_OPTIONS"
#: Seconds a process waits for the parent's answer when it connects.
CONNECT_TIMEOUT_S = 5.0


def connect_channel(address: str, timeout: float = CONNECT_TIMEOUT_S) -> int | None:
    """Connect to the parent's Unix socket at ``address``; the connected fd, or None.

    The parent answers every connection with the stream preamble (magic and schema): a
    process writes nothing until it has read that answer, so it never writes to a socket
    (or file) that does not belong to zlprof. The fd is close-on-exec.
    """
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        s.settimeout(timeout)
        s.connect(address)
        got = b""
        while len(got) < protocol.PREAMBLE_SIZE:
            part = s.recv(protocol.PREAMBLE_SIZE - len(got))
            if not part:
                break
            got += part
        protocol.check_preamble(got)
        s.settimeout(None)
        return s.detach()
    except (OSError, ValueError):
        s.close()
        return None


class StreamSink:
    """Writes frames to a file descriptor: the process's own connection to the parent
    (or any pipe, in tests). Buffered here, not by a file object: after a fork the child
    drops the parent's buffer (:meth:`abandon`) without ever flushing it.

    With ``address`` the sink connects lazily, on its first flush (a forked child). With
    ``preamble`` the stream starts with the 12-byte preamble.
    """

    def __init__(self, fd: int | None = None, *, address: str | None = None,
                 preamble: bool = False) -> None:
        self._fd = fd
        self.address = address
        self._buf = bytearray(protocol.preamble() if preamble else b"")
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        self._buf += data
        if len(self._buf) >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self.broken or not self._buf:
            return
        if self._fd is None:
            if self.address is None:
                self.broken = True
                return
            self._fd = connect_channel(self.address)
            if self._fd is None:
                self.broken = True
                self._buf = bytearray()
                return
        buf = self._buf
        try:
            while buf:
                n = os.write(self._fd, buf)
                del buf[:n]
        except InterruptedError:
            pass
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True
            buf.clear()

    def peer_closed(self) -> bool:
        """True when the parent closed the connection (zlprof ended or was killed)."""
        fd = self._fd
        if fd is None or self.broken:
            return self.broken
        try:
            poller = select.poll()
            # the parent sends nothing after its answer: readable means end of stream
            poller.register(fd, select.POLLIN | getattr(select, "POLLRDHUP", 0))
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def abandon(self) -> None:
        """A forked child's copy of its parent's sink: drop the parent's buffered bytes
        and close the child's copy of the fd, writing nothing."""
        self._buf = bytearray()
        self.broken = True
        close_fd(self._fd)
        self._fd = None

    def close(self) -> None:
        self.flush()
        close_fd(self._fd)
        self._fd = None
        self.broken = True


class MemorySink:
    """Folds frames straight into an in-process :class:`~zlprof.session.SessionState`."""

    def __init__(self) -> None:
        from ..session import SessionState

        self.state = SessionState()
        self.broken = False

    def write(self, data: bytes) -> None:
        self.state.ingest_bytes(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
