"""Framing of the zlprof wire format: preamble, frame header, checksum, codec.

Holds the schema version, the byte layout of the preamble and of a frame header (see the
package docstring), the limits applied to untrusted bytes, the error types, the
:class:`Frame` every decoder returns, and the byte-level encoders (a frame around an
encoded payload, a compressed chunk). It knows nothing of what a frame body means: the
kinds and their checks are in :mod:`.kinds`, decoding in :mod:`.decoding`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

SCHEMA_MAJOR = 2
SCHEMA_MINOR = 2
SCHEMA = (SCHEMA_MAJOR, SCHEMA_MINOR)

#: The preamble of every stream and recording: magic and schema version.
MAGIC = b"\x89ZLPROF\n"
PREAMBLE = struct.Struct("<HH")
PREAMBLE_SIZE = len(MAGIC) + PREAMBLE.size

SYNC = b"\xa7ZLF"
HEADER = struct.Struct("<4sBBHIII")
HEADER_SIZE = HEADER.size  # 20
_CRC_SPAN = HEADER_SIZE - 4  # the checksum covers the header up to itself
#: Schema 1.x frame header: length, crc32 (no sync word, no stream).
HEADER_V1 = struct.Struct("<II")

FLAG_CHUNK = 0x01
FLAG_BULK = 0x02
CODEC_NONE = 0
CODEC_ZLIB = 1
#: (2.2) zstandard (the ``zstandard`` package, imported when first needed: a measuring
#: process never compresses)
CODEC_ZSTD = 2
CODECS = (CODEC_NONE, CODEC_ZLIB, CODEC_ZSTD)

#: No frame may be larger than this (stored or decompressed); a length above it means
#: corruption.
MAX_FRAME = 64 * 1024 * 1024
#: The most records one measurement frame may carry.
MAX_RECORDS = 1 << 20

# msgpack limits applied to every untrusted payload.
_UNPACK_LIMITS = dict(
    max_str_len=1 << 20,
    max_bin_len=MAX_FRAME,
    max_array_len=1 << 20,
    max_map_len=1 << 16,
    max_ext_len=0,
)

_I64 = np.dtype("<i8")
_I32 = np.dtype("<i4")
_U32 = np.dtype("<u4")


class ProtocolError(ValueError):
    """Bytes that are not a valid zlprof frame stream."""


class SchemaTooNew(ProtocolError):
    """A stream or recording of a newer major schema than this zlprof reads."""

    def __init__(self, major: int, minor: int) -> None:
        super().__init__(
            f"schema {major}.{minor} is newer than this zlprof reads ({SCHEMA_MAJOR}.x); "
            "upgrade zlprof"
        )
        self.major = major
        self.minor = minor


class NotAStream(ProtocolError):
    """Bytes that do not start with the zlprof preamble."""


@dataclass(slots=True)
class Frame:
    kind: str
    body: dict[str, Any]
    #: the measuring process the frame came from (0: the session itself, or a live
    #: process's own channel before the receiver tags it)
    stream: int = 0


# --------------------------------------------------------------------------- encoding


def preamble(major: int = SCHEMA_MAJOR, minor: int = SCHEMA_MINOR) -> bytes:
    """The 12 bytes every stream and recording starts with."""
    return MAGIC + PREAMBLE.pack(major, minor)


def check_preamble(head: bytes) -> tuple[int, int]:
    """(major, minor) of a preamble; NotAStream / SchemaTooNew / ProtocolError."""
    if len(head) < len(MAGIC) or head[: len(MAGIC)] != MAGIC:
        raise NotAStream("not a zlprof stream")
    if len(head) < PREAMBLE_SIZE:
        raise ProtocolError("truncated inside the preamble")
    major, minor = PREAMBLE.unpack_from(head, len(MAGIC))
    if major > SCHEMA_MAJOR:
        raise SchemaTooNew(major, minor)
    return major, minor


def pack_frame(
    payload: bytes, *, stream: int = 0, flags: int = 0, codec: int = CODEC_NONE
) -> bytes:
    """Header plus an already encoded (and, per ``codec``, compressed) payload."""
    head = HEADER.pack(SYNC, flags, codec, 0, stream, len(payload), 0)
    crc = zlib.crc32(payload, zlib.crc32(memoryview(head)[:_CRC_SPAN]))
    return head[:_CRC_SPAN] + crc.to_bytes(4, "little") + payload


def encode_frame(kind: str, body: dict[str, Any], stream: int = 0) -> bytes:
    """Encode one frame: header plus msgpack payload."""
    return pack_frame(msgpack.packb([kind, body], use_bin_type=True), stream=stream)


def encode_chunk(
    content: bytes, *, stream: int = 0, bulk: bool = False, level: int = 1,
    codec: int = CODEC_ZLIB,
) -> bytes:
    """One frame holding the concatenated payloads ``content`` of several frames,
    compressed with ``codec`` (zlib or zstd) at ``level`` (0: stored as is)."""
    flags = FLAG_CHUNK | (FLAG_BULK if bulk else 0)
    if level > 0 and codec == CODEC_ZSTD:
        import zstandard

        packed = zstandard.ZstdCompressor(level=level).compress(content)
        return pack_frame(packed, stream=stream, flags=flags, codec=CODEC_ZSTD)
    if level > 0:
        return pack_frame(zlib.compress(content, level), stream=stream, flags=flags,
                          codec=CODEC_ZLIB)
    return pack_frame(content, stream=stream, flags=flags)


def _decompress(payload: memoryview, codec: int) -> bytes:
    if codec == CODEC_NONE:
        return bytes(payload)
    if codec == CODEC_ZLIB:
        d = zlib.decompressobj()
        try:
            out = d.decompress(payload, MAX_FRAME)
        except zlib.error as exc:
            raise ProtocolError(f"undecompressable frame: {exc}") from None
        if d.unconsumed_tail:
            raise ProtocolError("frame decompresses past the size limit")
        return out
    if codec == CODEC_ZSTD:
        return _unzstd(payload)
    raise ProtocolError(f"unknown codec {codec}")


def _unzstd(payload: memoryview) -> bytes:
    import zstandard

    try:
        size = zstandard.frame_content_size(payload)
        if size > MAX_FRAME:
            raise ProtocolError("frame decompresses past the size limit")
        dctx = zstandard.ZstdDecompressor()
        if size >= 0:
            out = dctx.decompress(payload)
        else:  # no size in the frame header (not this writer's): read up to the limit
            parts = []
            total = 0
            with dctx.stream_reader(payload) as r:
                while part := r.read(1 << 20):
                    total += len(part)
                    if total > MAX_FRAME:
                        raise ProtocolError("frame decompresses past the size limit")
                    parts.append(part)
            out = b"".join(parts)
    except zstandard.ZstdError as exc:
        raise ProtocolError(f"undecompressable frame: {exc}") from None
    return out


def split_frames(raw: bytes | bytearray | memoryview) -> Iterator[tuple[int, int, bytes]]:
    """(stream, flags, content) of every frame in ``raw``: complete frames that were
    already validated (what FrameDecoder.feed_raw returns). Headers only: no checksum, no
    msgpack decoding."""
    mv = memoryview(raw)
    pos = 0
    end = len(mv)
    try:
        while pos + HEADER_SIZE <= end:
            _sync, flags, codec, _res, stream, length, _crc = HEADER.unpack_from(mv, pos)
            start = pos + HEADER_SIZE
            yield stream, flags, _decompress(mv[start : start + length], codec)
            pos = start + length
    finally:
        mv.release()


def payload_kind(content: bytes | memoryview) -> str | None:
    """The kind of a single frame's content from its first bytes: [fixarray 2, fixstr]."""
    if len(content) < 2 or content[0] != 0x92 or not 0xA0 <= content[1] <= 0xBF:
        return None
    n = content[1] & 0x1F
    kind = bytes(content[2 : 2 + n])
    try:
        return kind.decode("ascii") if len(kind) == n else None
    except UnicodeDecodeError:
        return None
