"""Session recordings: ``.zlp`` files hold a magic header followed by protocol frames.

Layout::

    magic   8 bytes  b"\\x89ZLPROF\\n"
    version 2 x u16  schema major, minor (little-endian)
    frames  exactly the bytes that crossed the pipe (see protocol.py)

The writer appends complete frames and flushes per batch, so a crash loses at most the
batch in flight. The reader yields every complete frame before a truncated or corrupt
tail and says at which byte it stopped.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import protocol
from .protocol import Frame, ProtocolError

MAGIC = b"\x89ZLPROF\n"
VERSION = struct.Struct("<HH")
FILE_HEADER_SIZE = len(MAGIC) + VERSION.size
SUFFIX = ".zlp"


class RecordingError(Exception):
    """A file that cannot be read as a recording (one line, shown to the user)."""


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


class RecordingWriter:
    """Appends frames to a new ``.zlp`` file; never overwrites unless ``force``."""

    def __init__(self, path: str | os.PathLike[str], force: bool = False) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            mode = "wb" if force else "xb"
            self._f = open(self.path, mode)  # noqa: SIM115
        except FileExistsError:
            raise RecordingError(
                f"{self.path} already exists (use --force to overwrite)"
            ) from None
        except OSError as exc:
            raise RecordingError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._f.write(MAGIC + VERSION.pack(protocol.SCHEMA_MAJOR, protocol.SCHEMA_MINOR))
        self._f.flush()
        self.bytes_written = FILE_HEADER_SIZE
        self.closed = False

    def write_raw(self, data: bytes) -> None:
        """Append bytes that are one or more complete, validated frames; flush them."""
        if self.closed or not data:
            return
        self._f.write(data)
        self._f.flush()
        self.bytes_written += len(data)

    def write_frame(self, kind: str, body: dict) -> None:
        self.write_raw(protocol.encode_frame(kind, body))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._f.flush()
                os.fsync(self._f.fileno())
            except OSError:
                pass
            self._f.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class ReadResult:
    frames: list[Frame]
    #: byte offset (in the file) where each frame starts, parallel to ``frames``
    offsets: list[int]
    #: None when the whole file was read; else why reading stopped, naming the byte offset
    warning: str | None
    size: int


def check_header(head: bytes, path: Path) -> None:
    if len(head) < len(MAGIC) or head[: len(MAGIC)] != MAGIC:
        raise RecordingError(f"{path} is not a zlprof recording")
    if len(head) < FILE_HEADER_SIZE:
        raise RecordingError(f"{path} is truncated inside its header")
    major, minor = VERSION.unpack_from(head, len(MAGIC))
    if major > protocol.SCHEMA_MAJOR:
        raise RecordingError(
            f"{path} uses recording schema {major}.{minor}; this zlprof reads "
            f"{protocol.SCHEMA_MAJOR}.x (upgrade zlprof)"
        )


def open_recording(path: str | os.PathLike[str]) -> bytes:
    """Read a recording's bytes after checking it is one; errors are one-line messages."""
    p = Path(path)
    try:
        if p.is_dir():
            raise RecordingError(f"{p} is a directory, not a recording")
        data = p.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{p}: no such file") from None
    except PermissionError:
        raise RecordingError(f"{p}: permission denied") from None
    except OSError as exc:
        raise RecordingError(f"{p}: {exc.strerror or exc}") from None
    check_header(data[:FILE_HEADER_SIZE], p)
    return data


def iter_frames(data: bytes, start: int = FILE_HEADER_SIZE) -> Iterator[tuple[int, Frame]]:
    """(offset, frame) for every complete frame; raises ProtocolError at a bad one.

    The exception carries ``offset``: the byte where the bad or truncated frame starts.
    """
    pos = start
    end = len(data)
    while pos < end:
        try:
            got = protocol.parse_frame(data, pos)
        except ProtocolError as exc:
            err = ProtocolError(f"corrupt frame at byte {pos}: {exc}")
            err.offset = pos  # type: ignore[attr-defined]
            raise err from None
        if got is None:
            err = ProtocolError(f"truncated frame at byte {pos}")
            err.offset = pos  # type: ignore[attr-defined]
            raise err
        frame, nxt = got
        if frame is not None:
            yield pos, frame
        pos = nxt


def read_recording(path: str | os.PathLike[str]) -> ReadResult:
    """Every complete frame of a recording, tolerant of a truncated or corrupt tail."""
    data = open_recording(path)
    frames: list[Frame] = []
    offsets: list[int] = []
    warning = None
    try:
        for off, fr in iter_frames(data):
            frames.append(fr)
            offsets.append(off)
    except ProtocolError as exc:
        warning = f"{exc}; {len(data) - exc.offset} bytes after it were not read"  # type: ignore[attr-defined]
        if "newer than this zlprof" in str(exc):
            raise RecordingError(f"{path}: {exc}") from None
    return ReadResult(frames, offsets, warning, len(data))


def load_session(path: str | os.PathLike[str], exact_limit: int | None = None):  # noqa: ANN201
    """Read a recording and fold it into a SessionState (warnings kept on the state)."""
    from .session import SessionState

    res = read_recording(path)
    state = SessionState() if exact_limit is None else SessionState(exact_limit=exact_limit)
    state.ingest_many(res.frames)
    if res.warning:
        state.warnings.append(res.warning)
    state.source_path = str(path)  # type: ignore[attr-defined]
    return state


def list_sessions(directory: Path | None = None) -> list[Path]:
    """Recordings in the sessions directory, newest first."""
    d = directory or default_sessions_dir()
    if not d.is_dir():
        return []
    files = [p for p in d.iterdir() if p.suffix == SUFFIX and p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)
