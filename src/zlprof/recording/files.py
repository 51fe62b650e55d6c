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
#: Recorded chunks are zstd-compressed (2.2), at a level chosen by the chunk's size
#: (:func:`compress_level`): a small chunk (a slow session's flush window, where the fixed
#: part of each window weighs most) at ``COMPRESS_LEVEL`` (15: 3 % smaller than zlib 6 on
#: the workload's compact columns, at about 4 MB/s), a larger one at ``FAST_LEVEL`` (9: as
#: small as zlib 6, 1.4 times as fast); either reads back 3 to 4 times as fast as zlib
#: (benchmarks/bench_recording_size.py).
CODEC = protocol.CODEC_ZSTD
COMPRESS_LEVEL = 15
FAST_LEVEL = 9
FAST_ABOVE = 128 * 1024


def compress_level(size: int) -> int:
    """The zstd level of a chunk of ``size`` bytes of content (see ``COMPRESS_LEVEL``)."""
    return COMPRESS_LEVEL if size <= FAST_ABOVE else FAST_LEVEL


def recorded_chunk(content: bytes, stream: int, bulk: bool, level: int | None = None) -> bytes:
    """A chunk as the recorder writes it: zstd at ``level`` (None: by its size, see
    :func:`compress_level`; 0: stored as is)."""
    lv = compress_level(len(content)) if level is None else level
    return protocol.encode_chunk(content, stream=stream, bulk=bulk, level=lv, codec=CODEC)


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

