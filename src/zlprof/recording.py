"""Session recordings: ``.zlp`` files hold the stream preamble followed by frames.

Layout (schema 2.x; see protocol.py for the frame header)::

    magic   8 bytes  b"\\x89ZLPROF\\n"
    version 2 x u16  schema major, minor (little-endian)
    frames  zlib-compressed chunks, each holding the frames one process (``stream``) sent,
            in arrival order; measurement/memory/cost runs are chunked apart from the
            rest (FLAG_BULK), so a listing can skip them

The writer appends whole chunks and flushes per write, so a crash loses at most the write
in flight. The reader yields every readable frame: after a damaged frame it finds the next
good one by its sync word and checksum, so damage costs the frames it touches, and the
result says which byte ranges were skipped (:class:`~zlprof.protocol.Damage`). Schema 1.x
recordings (no sync word, uncompressed) are still read, up to their first damage.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import protocol
from .protocol import Damage, Frame, ProtocolError, SchemaTooNew

MAGIC = protocol.MAGIC
FILE_HEADER_SIZE = protocol.PREAMBLE_SIZE
SUFFIX = ".zlp"
#: zlib level of recorded chunks (1: fast; the ratio gain of higher levels is small here)
COMPRESS_LEVEL = 1


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
                f"{self.path} already exists (use --force to overwrite)", self.path
            ) from None
        except OSError as exc:
            raise RecordingError(
                f"cannot write {self.path}: {exc.strerror or exc}", self.path
            ) from None
        self._f.write(protocol.preamble())
        self._f.flush()
        self.bytes_written = FILE_HEADER_SIZE
        self.closed = False

    def write_raw(self, data: bytes, stream: int = 0) -> None:
        """Append complete, validated frames (as a live channel delivered them) as
        compressed chunks tagged with ``stream``; flush them."""
        if self.closed or not data:
            return
        out = b"".join(chunk_frames(data, stream))
        self._f.write(out)
        self._f.flush()
        self.bytes_written += len(out)

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


def chunk_frames(data: bytes, stream: int, level: int = COMPRESS_LEVEL) -> Iterator[bytes]:
    """Regroup complete frames into compressed chunks, runs of bulk kinds apart."""
    run: list[bytes] = []
    run_bulk = False
    for _s, flags, content in protocol.split_frames(data):
        if flags & protocol.FLAG_CHUNK:
            bulk = bool(flags & protocol.FLAG_BULK)
        else:
            bulk = protocol.payload_kind(content) in protocol.BULK_KINDS
        if run and bulk != run_bulk:
            yield protocol.encode_chunk(b"".join(run), stream=stream, bulk=run_bulk, level=level)
            run = []
        run.append(content)
        run_bulk = bulk
    if run:
        yield protocol.encode_chunk(b"".join(run), stream=stream, bulk=run_bulk, level=level)


@dataclass
class ReadResult:
    frames: list[Frame]
    #: byte offset (in the file) of the frame (chunk) each frame was read from, parallel
    #: to ``frames``
    offsets: list[int]
    #: byte ranges that held no readable frame, in file order
    damage: list[Damage]
    size: int
    #: byte offset just past the last readable frame
    end: int = 0
    schema: tuple[int, int] = protocol.SCHEMA
    ends: list[int] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        """One line on the damage, or None for an intact file."""
        if not self.damage:
            return None
        lost = sum(d.nbytes for d in self.damage)
        first = self.damage[0].describe()
        if len(self.damage) == 1:
            return first
        return f"{len(self.damage)} damaged places, {lost} bytes unread; first: {first}"

    @property
    def truncated(self) -> bool:
        return bool(self.damage) and self.damage[-1].truncated


def check_header(head: bytes, path: Path) -> tuple[int, int]:
    """The schema version of a recording's header; RecordingError when it is none."""
    try:
        return protocol.check_preamble(head)
    except SchemaTooNew as exc:
        raise RecordingError(
            f"{path} uses recording schema {exc.major}.{exc.minor}; this zlprof reads "
            f"{protocol.SCHEMA_MAJOR}.x (upgrade zlprof)", path
        ) from None
    except protocol.NotAStream:
        raise RecordingError(f"{path} is not a zlprof recording", path) from None
    except ProtocolError:
        raise RecordingError(f"{path} is truncated inside its header", path) from None


def open_recording(path: str | os.PathLike[str]) -> bytes:
    """Read a recording's bytes after checking it is one; errors are one-line messages."""
    p = Path(path)
    try:
        if p.is_dir():
            raise RecordingError(f"{p} is a directory, not a recording", p)
        data = p.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{p}: no such file", p) from None
    except PermissionError:
        raise RecordingError(f"{p}: permission denied", p) from None
    except OSError as exc:
        raise RecordingError(f"{p}: {exc.strerror or exc}", p) from None
    check_header(data[:FILE_HEADER_SIZE], p)
    return data


def read_data(data: bytes, path: Path | str = "<recording>") -> ReadResult:
    """Every readable frame of a recording's bytes (header checked), damage noted."""
    p = Path(path)
    schema = check_header(data[:FILE_HEADER_SIZE], p)
    try:
        res = protocol.scan(data, FILE_HEADER_SIZE, schema[0])
    except SchemaTooNew as exc:
        raise RecordingError(f"{p}: {exc}", p) from None
    frames: list[Frame] = []
    offsets: list[int] = []
    ends: list[int] = []
    for got in res.parsed:
        frames.extend(got.frames)
        offsets.extend([got.start] * len(got.frames))
        ends.extend([got.end] * len(got.frames))
    return ReadResult(frames, offsets, res.damage, len(data), res.end, schema, ends)


def read_recording(path: str | os.PathLike[str]) -> ReadResult:
    """Every readable frame of a recording, tolerant of damage and a truncated tail."""
    return read_data(open_recording(path), path)


def load_session(path: str | os.PathLike[str], exact_limit: int | None = None):  # noqa: ANN201
    """Read a recording and fold it into a SessionState (warnings kept on the state)."""
    from .session import SessionState

    res = read_recording(path)
    state = SessionState() if exact_limit is None else SessionState(exact_limit=exact_limit)
    state.ingest_many(res.frames)
    state.warnings.extend(d.describe() for d in res.damage)
    state.source_path = str(path)  # type: ignore[attr-defined]
    return state
