"""Reading a recording that may be damaged: every frame whose checksum holds.

:func:`walk` finds the frames (resynchronising on the sync word after damage), :func:`scan`
also decodes them; :class:`Damage` says which bytes held nothing readable. A live channel
is decoded by :class:`~zlprof.protocol.decoding.FrameDecoder` instead, which stops at its
first damage.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .decoding import Parsed, RawFrame, check_frame
from .framing import SCHEMA_MAJOR, SYNC, ProtocolError, SchemaTooNew


@dataclass(slots=True)
class Damage:
    """Bytes of a recording that held no readable frame."""

    start: int
    end: int
    #: what was wrong at ``start`` (checksum mismatch, truncated, ...)
    reason: str
    #: the damage runs to the end of the data (nothing readable after it)
    truncated: bool = False

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    def describe(self) -> str:
        if self.truncated:
            return (f"{self.reason} at byte {self.start}: the last {self.nbytes} bytes "
                    "were not read")
        return f"{self.reason} at byte {self.start}: skipped bytes {self.start}-{self.end} " \
               f"({self.nbytes} bytes)"


@dataclass
class ScanResult:
    """Every readable frame of a byte string, and where it was damaged."""

    parsed: list[Parsed] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    #: byte offset just past the last readable frame
    end: int = 0


def _resync(mv: memoryview, data: bytes, pos: int) -> RawFrame | None:
    """The first frame after ``pos`` whose sync word, header and checksum hold."""
    q = pos
    while True:
        q = data.find(SYNC, q + 1)
        if q < 0:
            return None
        try:
            got = check_frame(mv, q)
        except ProtocolError:
            continue
        if got is not None:
            return got


def walk(data: bytes, start: int, major: int = SCHEMA_MAJOR,
         damage: list[Damage] | None = None) -> Iterator[RawFrame]:
    """Every frame of ``data`` from ``start`` whose checksum holds, resynchronising after
    damage (schema 2.x; 1.x data has no sync word, so a walk stops at its first damage).
    Damaged byte ranges are appended to ``damage``. Nothing is decompressed or decoded."""
    damage = [] if damage is None else damage
    mv = memoryview(data)
    v1 = major < 2
    pos = start
    end = len(data)
    while pos < end:
        reason = "truncated frame"
        try:
            got = check_frame(mv, pos, v1)
        except ProtocolError as exc:
            got = None
            reason = f"corrupt frame ({exc})"
        if got is None:
            nxt = None if v1 else _resync(mv, data, pos)
            if nxt is None:
                damage.append(Damage(pos, end, reason, truncated=True))
                return
            if reason == "truncated frame":
                reason = "corrupt frame (bad length)"
            damage.append(Damage(pos, nxt.start, reason))
            got = nxt
        yield got
        pos = got.end


def scan(data: bytes, start: int, major: int = SCHEMA_MAJOR) -> ScanResult:
    """Read and decode every frame of ``data`` from ``start``, resynchronising after
    damage (see :func:`walk`). A frame whose checksum holds but whose content does not
    decode counts as damage too. A hello of a newer major schema raises
    :class:`SchemaTooNew`.
    """
    res = ScanResult(end=start)
    for raw in walk(data, start, major, res.damage):
        try:
            got = raw.decode()
        except SchemaTooNew:
            raise
        except ProtocolError as exc:
            res.damage.append(Damage(raw.start, raw.end, f"corrupt frame ({exc})"))
            continue
        res.parsed.append(got)
        res.end = got.end
    res.damage.sort(key=lambda d: d.start)
    return res
