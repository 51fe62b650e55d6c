"""Recording files: the ``.zlp`` constants, where sessions live, and the typed errors.

Holds the file constants (magic, header size, suffix, compression level, default budget),
:class:`RecordingError` (a file that cannot be read) and :class:`WriteFailure` (why a
recording stopped early), and the sessions directory's paths. Writing is in
:mod:`.writer`, compaction in :mod:`.compaction`, reading in :mod:`.reader`.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .. import protocol

MAGIC = protocol.MAGIC
FILE_HEADER_SIZE = protocol.PREAMBLE_SIZE
SUFFIX = ".zlp"
#: zlib level of recorded chunks (6: 4 % smaller than 1 on the compact columns, at about
#: the same speed; benchmarks/bench_recording_size.py)
COMPRESS_LEVEL = 6


class RecordingError(Exception):
    """A file that cannot be read as a recording (one line, shown to the user)."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def default_sessions_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "zlprof" / "sessions"


def new_session_path(program: str = "workload", directory: Path | None = None) -> Path:
    """A fresh timestamped path in the sessions directory (never an existing file)."""
    d = directory or default_sessions_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in program)[:40] or "session"
    path = d / f"{stamp}-{safe}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = d / f"{stamp}-{safe}-{n}{SUFFIX}"
    return path


#: Default size budget of a recording (bytes; ``--max-size``; 0 = unlimited).
DEFAULT_MAX_SIZE = 1 << 30

_ERRNO_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "file system is read-only",
    errno.ENOENT: "file or its directory removed",
    errno.ESTALE: "file removed",
    errno.EIO: "input/output error",
    errno.EFBIG: "file too large",
}


@dataclass(frozen=True)
class WriteFailure:
    """Why a recording stopped early: the session went on, the file did not."""

    path: Path
    #: short cause: "disk full", "disk quota exceeded", "file system is read-only", ...
    reason: str
    errno: int | None
    #: bytes of the file that hold complete frames (the file ends there)
    bytes_kept: int

    @classmethod
    def from_error(cls, path: Path, exc: OSError, bytes_kept: int) -> WriteFailure:
        reason = _ERRNO_REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        return cls(path, reason, exc.errno, bytes_kept)

    def banner(self) -> str:
        """Short, for the app's status line: ``STOPPED: disk full, 401,234 bytes kept``."""
        return f"STOPPED: {self.reason}, {self.bytes_kept:,} bytes kept"

    def describe(self) -> str:
        """One line: the cause, what was kept, where."""
        code = f" ({errno.errorcode.get(self.errno, self.errno)})" if self.errno else ""
        return (f"recording stopped: {self.reason}{code}; {self.path} keeps the first "
                f"{self.bytes_kept:,} bytes (every frame complete up to then)")

