"""Reading recordings: header check, every readable frame with its damage, load_session.

Reading is tolerant: damaged frames are skipped and listed (:class:`ReadResult.damage`).
Writing is in :mod:`.writer`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import protocol
from ..protocol import Damage, Frame, ProtocolError, SchemaTooNew
from .files import FILE_HEADER_SIZE, RecordingError


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
    from ..session import SessionState

    res = read_recording(path)
    state = SessionState() if exact_limit is None else SessionState(exact_limit=exact_limit)
    state.ingest_many(res.frames)
    state.warnings.extend(d.describe() for d in res.damage)
    state.source_path = str(path)  # type: ignore[attr-defined]
    return state
