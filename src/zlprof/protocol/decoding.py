"""Decoding: payloads and chunks into :class:`Frame` objects, one frame at a time.

Holds the msgpack decoding of a payload or of a chunk's content (unknown kinds skipped,
compact kinds expanded), :func:`check_frame` (header and checksum of the frame at an offset),
:class:`RawFrame` / :class:`Parsed`, and the incremental :class:`FrameDecoder` of a live
channel. Reading a damaged recording (resynchronising) is in :mod:`.scanning`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import msgpack

from .compact import DECODERS
from .framing import (
    _CRC_SPAN,
    _UNPACK_LIMITS,
    CODEC_NONE,
    CODECS,
    FLAG_CHUNK,
    HEADER,
    HEADER_SIZE,
    HEADER_V1,
    MAGIC,
    MAX_FRAME,
    PREAMBLE_SIZE,
    SCHEMA_MAJOR,
    SYNC,
    Frame,
    NotAStream,
    ProtocolError,
    _decompress,
    check_preamble,
)
from .kinds import KINDS, _validate


def _frame(obj: Any, stream: int) -> Frame | None:
    if not isinstance(obj, list) or len(obj) != 2:
        raise ProtocolError("frame is not a [kind, body] pair")
    kind, body = obj
    if not isinstance(kind, str) or not isinstance(body, dict):
        raise ProtocolError("frame kind must be a string and body a map")
    if kind not in KINDS:
        return None
    try:
        _validate(kind, body)
    except ProtocolError:
        raise
    except Exception as exc:
        raise ProtocolError(f"malformed {kind} frame: {exc.__class__.__name__}") from None
    return Frame(kind, body, stream)


def decode_payload(payload: bytes | memoryview, stream: int = 0) -> Frame | None:
    """Decode one frame payload; ``None`` for a well-formed frame of an unknown kind."""
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises many types on hostile input
        raise ProtocolError(f"undecodable frame payload: {exc.__class__.__name__}") from None
    return _frame(obj, stream)


def decode_content(content: bytes | memoryview, stream: int = 0) -> list[Frame]:
    """Decode the concatenated payloads of a chunk (frames of unknown kinds skipped)."""
    up = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=MAX_FRAME,
                          **_UNPACK_LIMITS)
    try:
        up.feed(content)
        objs = list(up)
    except Exception as exc:
        raise ProtocolError(f"undecodable chunk: {exc.__class__.__name__}") from None
    out = []
    for obj in objs:
        if isinstance(obj, list) and len(obj) == 2 and isinstance(obj[0], str):
            expand = DECODERS.get(obj[0])
            if expand is not None:  # 2.1 / 2.2: compact measurements, memory, costs
                out.extend(expand(obj[1], stream))
                continue
        fr = _frame(obj, stream)
        if fr is not None:
            out.append(fr)
    return out


@dataclass(slots=True)
class Parsed:
    """One frame as read: its decoded frames (a chunk holds several), its content (the
    decompressed payloads, ready to be written into another chunk) and its place."""

    frames: list[Frame]
    content: bytes
    stream: int
    flags: int
    start: int
    end: int


def parse_frame(buf: bytes | bytearray | memoryview, pos: int) -> Parsed | None:
    """Parse and decode the frame that starts at ``pos``.

    ``None`` when the frame is not complete yet; ProtocolError when it is corrupt.
    """
    mv = memoryview(buf)
    try:
        raw = check_frame(mv, pos)
        if raw is None:
            return None
        try:
            return raw.decode()
        finally:
            raw.payload.release()
    finally:
        mv.release()


class FrameDecoder:
    """Incremental decoder of one live channel: feed bytes, get complete frames.

    With ``preamble=True`` the channel must start with the 12-byte preamble (a zlprof
    stream); ``schema`` then holds its version. ``offset`` is the stream offset just past
    the last complete frame. After a :class:`ProtocolError` the decoder is poisoned: a
    live channel cannot be trusted past it (recordings are read with :func:`scan`, which
    resynchronises). The error carries ``frames`` (decoded before it), ``raw`` (their
    bytes) and ``offset``.
    """

    def __init__(self, base_offset: int = 0, *, preamble: bool = False) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.offset = base_offset
        self.error: str | None = None
        self._need_preamble = preamble
        self.schema: tuple[int, int] | None = None

    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> list[Frame]:
        frames, _ = self.feed_raw(data)
        return frames

    def feed_raw(self, data: bytes) -> tuple[list[Frame], bytes]:
        """Feed bytes; return the complete frames and the exact bytes they occupied."""
        if self.error is not None:
            raise ProtocolError(self.error)
        if data:
            self._buf += data
        frames: list[Frame] = []
        buf = self._buf
        pos = start = self._pos
        try:
            if self._need_preamble:
                have = bytes(buf[pos : pos + PREAMBLE_SIZE])
                if len(have) < PREAMBLE_SIZE:
                    if not MAGIC.startswith(have[: len(MAGIC)]):
                        raise NotAStream("not a zlprof stream")
                    return [], b""
                self.schema = check_preamble(have)
                if self.schema[0] != SCHEMA_MAJOR:
                    raise ProtocolError(
                        f"stream of schema {self.schema[0]}.{self.schema[1]}; "
                        f"this zlprof reads {SCHEMA_MAJOR}.x on a live channel"
                    )
                self._need_preamble = False
                pos += PREAMBLE_SIZE
                self.offset += PREAMBLE_SIZE
                start = pos
            while True:
                got = parse_frame(buf, pos)
                if got is None:
                    break
                self.offset += got.end - pos
                pos = got.end
                frames.extend(got.frames)
        except ProtocolError as exc:
            self.error = f"{exc} at byte {self.offset}"
            raw = bytes(buf[start:pos])
            self._pos = pos
            exc.frames = frames  # type: ignore[attr-defined]
            exc.raw = raw  # type: ignore[attr-defined]
            exc.offset = self.offset  # type: ignore[attr-defined]
            raise
        raw = bytes(buf[start:pos])
        end = len(buf)
        # compact the buffer once consumed data dominates
        if pos > 1 << 16 and pos * 2 > end:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return frames, raw


def decode_stream(data: bytes) -> list[Frame]:
    """Decode a complete byte string of frames; trailing partial data is an error."""
    dec = FrameDecoder()
    frames = dec.feed(data)
    if dec.pending():
        raise ProtocolError(f"truncated frame at byte {dec.offset}")
    return frames


@dataclass(slots=True)
class RawFrame:
    """A frame whose checksum holds, not yet decompressed or decoded."""

    start: int
    end: int
    stream: int
    flags: int
    codec: int
    payload: memoryview
    #: schema 1.x framing (single frame, no codec)
    v1: bool = False

    def content(self) -> bytes:
        return _decompress(self.payload, self.codec)

    def decode(self) -> Parsed:
        content = self.content()
        if self.flags & FLAG_CHUNK:
            frames = decode_content(content, self.stream)
        else:
            fr = decode_payload(content, self.stream)
            frames = [fr] if fr is not None else []
        return Parsed(frames, content, self.stream, self.flags, self.start, self.end)


def check_frame(buf: bytes | memoryview, pos: int, v1: bool = False) -> RawFrame | None:
    """The frame at ``pos`` if its header and checksum hold; None when it runs past the
    end of ``buf``; ProtocolError when it is damaged."""
    end = len(buf)
    mv = buf if isinstance(buf, memoryview) else memoryview(buf)
    if v1:
        if end - pos < HEADER_V1.size:
            return None
        length, crc = HEADER_V1.unpack_from(mv, pos)
        start = pos + HEADER_V1.size
        if length > MAX_FRAME:
            raise ProtocolError(f"frame length {length} exceeds limit")
        if end - start < length:
            return None
        payload = mv[start : start + length]
        if zlib.crc32(payload) != crc:
            raise ProtocolError("frame checksum mismatch")
        return RawFrame(pos, start + length, 0, 0, CODEC_NONE, payload, True)
    if end - pos < HEADER_SIZE:
        if bytes(mv[pos : pos + len(SYNC)]) != SYNC[: min(len(SYNC), end - pos)]:
            raise ProtocolError("no frame sync word")
        return None
    sync, flags, codec, _res, stream, length, crc = HEADER.unpack_from(mv, pos)
    if sync != SYNC:
        raise ProtocolError("no frame sync word")
    if length > MAX_FRAME:
        raise ProtocolError(f"frame length {length} exceeds limit")
    start = pos + HEADER_SIZE
    if end - start < length:
        return None
    payload = mv[start : start + length]
    if zlib.crc32(payload, zlib.crc32(mv[pos : pos + _CRC_SPAN])) != crc:
        raise ProtocolError("frame checksum mismatch")
    if codec not in CODECS:
        raise ProtocolError(f"unknown codec {codec}")
    return RawFrame(pos, start + length, stream, flags, codec, payload)
