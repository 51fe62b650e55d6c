"""The zlprof wire format: versioned, synchronised, checksummed msgpack frames.

One schema serves every channel a measuring process streams on and the recording file:
a stream is a 12-byte preamble (the recording file header: magic and schema version)
followed by frames, and a recording is one such stream into which the recorder has
merged the streams of every process of the session.

Framing (schema 2.x, all little-endian)::

    frame   = sync:4  flags:u8  codec:u8  reserved:u16  stream:u32  length:u32  crc32:u32
              payload[length]
    sync    = b"\\xa7ZLF"
    crc32   = zlib CRC-32 of the header's first 16 bytes followed by the stored payload
    payload = codec-compressed (codec 0: none, 1: zlib) content
    content = one msgpack array [kind:str, body:map], or with FLAG_CHUNK several of them
              concatenated

``stream`` names the measuring process the frames came from: a process writes 0 on its
own channel; the recorder writes the id it gave the channel (0 is the session itself:
zlprof's own frames such as the child's output lines and the end frame). ``FLAG_BULK``
marks a chunk that holds only measurement, memory and cost frames, so a listing may skip
decoding it. A frame is complete only when its whole payload has arrived and its
checksum matches; the sync word and the checksum let a reader find the next good frame
after damage (:func:`scan`), so one flipped byte costs one frame, not the rest of a file.

Schema 2.1 (what the recorder writes; a live channel is the same as 2.0) adds two kinds
that only a recording holds, both described with their encoders at the end of this module:
``cmeas`` (inside a chunk: consecutive ``meas`` frames of one thread as narrowed,
byte-shuffled columns of path ids, gaps and durations; the reader expands it back into
the same ``meas`` frames, bit for bit) and ``summary`` (a bounded recording's per-op
statistics of the raw measurements it dropped). A 2.0 reader refuses nothing but skips
both kinds; a 2.1 reader reads 2.0 and 1.x files unchanged.

Schema 1.x (recordings made before the sync word) used ``length:u32 crc32:u32`` headers
over uncompressed single frames; :func:`scan` still reads them (stopping at damage, as
they have no sync word).

Frame kinds:

``hello``   schema [major, minor], pid, ppid (2.0), argv, python, numpy, platform,
            start_ns (the process's ``perf_counter_ns`` clock at start; CLOCK_MONOTONIC,
            shared by every process of the machine), wall_time (Unix seconds at
            start_ns), config, start (2.0: how the process began: "exec", "fork",
            "spawn", "forkserver")
``meta``    config: map merged into the session's workload config (sent once it is known)
``names``   paths: list of [path_id, parent_path_id, name]; path 0 is the root; path ids
            are the sending process's own
``threads`` (2.0) rows of [tid, name]: a thread's name, sent before its first records
``meas``    tid, n, path (int32 x n), t0, t1 (int64 x n, ns) and, when memory readings are
            on, m0, m1 (int64 x n, bytes at block start / end), all packed little-endian
``mem``     t, rss, traced (int64 columns; traced is -1 when not tracing) and gauges:
            {name: int64 column} (e.g. kv_cache_bytes)
``tokens``  rows of [t_ns, request, index, phase, piece] (phase "prefill" or "decode")
``costs``   rows of [path_id, calls, flops, bytes]: increments since the previous frame
``log``     t, level, msg
``proc``    (2.0, stream 0 only) a process of the tree: stream, pid, ppid, argv, event
            ("start" | "exit"), status (exit code, negative signal number, or None when
            unknown), reason
``bye``     (2.1) t, reason: the process's last frame on its own channel, sent when its
            profiler closes (atexit, multiprocessing's exit path, SIGTERM): everything it
            measured has been sent. A channel that ends without it ended abruptly.
``end``     status (exit code, or negative signal number), reason
``summary`` (2.1, recordings only) upto, first, n, ops: see the compact section below
``cmeas``   (2.1, inside chunks only) expands into ``meas`` frames: see below

Frames of an unknown kind are skipped (a newer minor version may add kinds); a newer major
version is refused (:class:`SchemaTooNew`). Decoding untrusted bytes raises only
:class:`ProtocolError`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

SCHEMA_MAJOR = 2
SCHEMA_MINOR = 1
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
CODECS = (CODEC_NONE, CODEC_ZLIB)

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

KINDS = (
    "hello", "meta", "names", "threads", "meas", "mem", "tokens", "costs", "log", "proc",
    "bye", "end", "summary",
)
BULK_KINDS = frozenset({"meas", "mem", "costs"})

_I64 = np.dtype("<i8")
_I32 = np.dtype("<i4")


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
    content: bytes, *, stream: int = 0, bulk: bool = False, level: int = 1
) -> bytes:
    """One frame holding the concatenated payloads ``content`` of several frames,
    zlib-compressed (``level`` 0: stored as is)."""
    flags = FLAG_CHUNK | (FLAG_BULK if bulk else 0)
    if level > 0:
        return pack_frame(zlib.compress(content, level), stream=stream, flags=flags,
                          codec=CODEC_ZLIB)
    return pack_frame(content, stream=stream, flags=flags)


def encode_hello(
    *,
    pid: int,
    argv: list[str],
    start_ns: int,
    wall_time: float,
    python: str,
    numpy_version: str,
    platform: str,
    config: dict[str, Any] | None = None,
    ppid: int | None = None,
    start: str = "exec",
) -> bytes:
    body: dict[str, Any] = {
        "schema": list(SCHEMA),
        "pid": pid,
        "argv": list(argv),
        "start_ns": start_ns,
        "wall_time": wall_time,
        "python": python,
        "numpy": numpy_version,
        "platform": platform,
        "config": config or {},
        "start": start,
    }
    if ppid is not None:
        body["ppid"] = ppid
    return encode_frame("hello", body)


def encode_names(paths: list[tuple[int, int, str]]) -> bytes:
    return encode_frame("names", {"paths": [list(p) for p in paths]})


def encode_threads(rows: list[tuple[int, str]]) -> bytes:
    return encode_frame("threads", {"rows": [list(r) for r in rows]})


def encode_measurements(
    tid: int,
    path: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    m0: np.ndarray | None = None,
    m1: np.ndarray | None = None,
) -> bytes:
    """Encode a columnar batch of measurements (all columns of equal length)."""
    n = len(path)
    body: dict[str, Any] = {
        "tid": int(tid),
        "n": n,
        "path": np.ascontiguousarray(path, dtype=_I32).tobytes(),
        "t0": np.ascontiguousarray(t0, dtype=_I64).tobytes(),
        "t1": np.ascontiguousarray(t1, dtype=_I64).tobytes(),
    }
    if m0 is not None and m1 is not None:
        body["m0"] = np.ascontiguousarray(m0, dtype=_I64).tobytes()
        body["m1"] = np.ascontiguousarray(m1, dtype=_I64).tobytes()
    return encode_frame("meas", body)


def encode_memory(
    t: list[int], rss: list[int], traced: list[int], gauges: dict[str, list[int]] | None = None
) -> bytes:
    return encode_frame(
        "mem",
        {
            "t": np.asarray(t, dtype=_I64).tobytes(),
            "rss": np.asarray(rss, dtype=_I64).tobytes(),
            "traced": np.asarray(traced, dtype=_I64).tobytes(),
            "gauges": {k: np.asarray(v, dtype=_I64).tobytes() for k, v in (gauges or {}).items()},
        },
    )


def encode_tokens(rows: list[tuple[int, int, int, str, str]]) -> bytes:
    return encode_frame("tokens", {"rows": [list(r) for r in rows]})


def encode_costs(rows: list[tuple[int, int, int, int]]) -> bytes:
    return encode_frame("costs", {"rows": [list(r) for r in rows]})


def encode_log(t: int, level: str, msg: str) -> bytes:
    return encode_frame("log", {"t": t, "level": level, "msg": msg})


def encode_meta(config: dict[str, Any]) -> bytes:
    return encode_frame("meta", {"config": config})


def encode_proc(
    *,
    stream: int,
    pid: int,
    event: str,
    ppid: int | None = None,
    argv: list[str] | None = None,
    status: int | None = None,
    reason: str = "",
) -> bytes:
    return encode_frame(
        "proc",
        {
            "stream": stream,
            "pid": pid,
            "ppid": ppid,
            "argv": list(argv or []),
            "event": event,
            "status": status,
            "reason": reason,
        },
    )


def encode_bye(t: int, reason: str = "closed") -> bytes:
    return encode_frame("bye", {"t": int(t), "reason": reason})


def encode_end(status: int, reason: str = "") -> bytes:
    return encode_frame("end", {"status": int(status), "reason": reason})


# --------------------------------------------------------------------------- decoding


def _col(body: dict[str, Any], key: str, dtype: np.dtype, n: int) -> np.ndarray:
    raw = body.get(key)
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise ProtocolError(f"column {key!r} missing or not bytes")
    if len(raw) != n * dtype.itemsize:
        raise ProtocolError(f"column {key!r} has {len(raw)} bytes, expected {n * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype)


def _int(body: dict[str, Any], key: str) -> int:
    v = body.get(key)
    if not isinstance(v, int) or isinstance(v, bool):
        raise ProtocolError(f"field {key!r} must be an integer")
    return v


def _rows(body: dict[str, Any], what: str) -> list[Any]:
    rows = body.get("rows")
    if not isinstance(rows, list):
        raise ProtocolError(f"{what} frame without rows")
    return rows


def _validate(kind: str, body: dict[str, Any]) -> None:
    """Check the shape of a known frame kind, converting packed columns to arrays."""
    if kind == "meas":
        n = _int(body, "n")
        if not 0 <= n <= MAX_RECORDS:
            raise ProtocolError(f"measurement batch of {n} records")
        _int(body, "tid")
        body["path"] = _col(body, "path", _I32, n)
        body["t0"] = _col(body, "t0", _I64, n)
        body["t1"] = _col(body, "t1", _I64, n)
        if "m0" in body or "m1" in body:
            body["m0"] = _col(body, "m0", _I64, n)
            body["m1"] = _col(body, "m1", _I64, n)
    elif kind == "hello":
        schema = body.get("schema")
        if (
            not isinstance(schema, list)
            or len(schema) != 2
            or not all(isinstance(x, int) for x in schema)
        ):
            raise ProtocolError("hello frame without a valid schema version")
        if schema[0] > SCHEMA_MAJOR:
            raise SchemaTooNew(schema[0], schema[1])
        _int(body, "pid")
        _int(body, "start_ns")
        if "ppid" in body and body["ppid"] is not None:
            _int(body, "ppid")
        if not isinstance(body.get("config", {}), dict):
            raise ProtocolError("hello config must be a map")
    elif kind == "names":
        paths = body.get("paths")
        if not isinstance(paths, list):
            raise ProtocolError("names frame without paths")
        for p in paths:
            if (
                not isinstance(p, list)
                or len(p) != 3
                or not isinstance(p[0], int)
                or not isinstance(p[1], int)
                or not isinstance(p[2], str)
            ):
                raise ProtocolError("malformed path entry")
    elif kind == "threads":
        for r in _rows(body, "threads"):
            if not isinstance(r, list) or len(r) != 2 or not isinstance(r[0], int) \
                    or not isinstance(r[1], str):
                raise ProtocolError("malformed thread row")
    elif kind == "mem":
        raw_t = body.get("t")
        if not isinstance(raw_t, bytes):
            raise ProtocolError("memory frame without time column")
        n = len(raw_t) // 8
        body["t"] = _col(body, "t", _I64, n)
        body["rss"] = _col(body, "rss", _I64, n)
        body["traced"] = _col(body, "traced", _I64, n)
        gauges = body.get("gauges", {})
        if not isinstance(gauges, dict):
            raise ProtocolError("memory gauges must be a map")
        body["gauges"] = {str(k): _col(gauges, k, _I64, n) for k in gauges}
    elif kind == "tokens":
        for r in _rows(body, "tokens"):
            if (
                not isinstance(r, list)
                or len(r) != 5
                or not all(isinstance(x, int) for x in r[:3])
                or not isinstance(r[3], str)
                or not isinstance(r[4], str)
            ):
                raise ProtocolError("malformed token row")
    elif kind == "costs":
        for r in _rows(body, "costs"):
            if not isinstance(r, list) or len(r) != 4 or not all(isinstance(x, int) for x in r):
                raise ProtocolError("malformed cost row")
    elif kind == "meta":
        if not isinstance(body.get("config"), dict):
            raise ProtocolError("meta frame without config map")
    elif kind == "log":
        if not isinstance(body.get("msg"), str):
            raise ProtocolError("log frame without message")
    elif kind == "proc":
        _int(body, "stream")
        _int(body, "pid")
        if not isinstance(body.get("event"), str):
            raise ProtocolError("proc frame without event")
        if body.get("status") is not None:
            _int(body, "status")
    elif kind == "end":
        _int(body, "status")
    elif kind == "summary":
        _validate_summary(body)


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
        if isinstance(obj, list) and len(obj) == 2 and obj[0] == COMPACT_KIND:
            out.extend(decode_compact(obj[1], stream))  # 2.1: compact measurements
            continue
        fr = _frame(obj, stream)
        if fr is not None:
            out.append(fr)
    return out


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
    raise ProtocolError(f"unknown codec {codec}")


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


# --------------------------------------------------------------------------- scanning


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


# --------------------------------------------------------------------------- compact (2.1)
#
# Schema 2.1 adds two things a recorder writes; a live channel never carries them.
#
# ``cmeas`` (only inside a chunk): consecutive ``meas`` frames of one thread, as columns
# that compress well. body: tid, ns (u32 x frames: records per original frame), mem
# (bool: m0/m1 present), base (int: t0 of the first record), w (u8 x columns: bytes per
# value), cols (the columns, each narrowed to its width and byte-shuffled: all first bytes,
# then all second bytes, ...). Columns, over all records r in order (zz = zigzag, so small
# negative numbers stay small; arithmetic is modulo 2^64, so any int64 round-trips):
#     path  zz(path[r])
#     end   zz(1) when t0[r] < t1[r-1] (r encloses earlier records: its end follows theirs)
#     gap   zz(t1[r] - t1[r-1]) when end, else zz(t0[r] - t1[r-1])   (t1[-1] = base)
#     dur   zz(t1[r] - t0[r])
#     dm0   zz(m0[r] - m0[r-1])     (m0[-1] = 0; only with mem)
#     dm1   zz(m1[r] - m0[r])       (only with mem)
# The reader expands it into the original ``meas`` frames, bit for bit.
#
# ``summary`` (schema 2.1): what a bounded recording keeps of the raw measurements it
# dropped (recording.py's compaction), per stream: upto (ns: raw measurements ending
# before it are summarised; full resolution from there on), first (ns: the earliest t0
# summarised), n (measurements summarised), ops: rows of [path_id, n, total_ns, mean_ns,
# m2, min_ns, max_ns, mem_allocated, mem_delta, mem_peak, last_t1, buckets, counts] where
# buckets (u32) and counts (i64) are the non-empty buckets of the op's LogHistogram.

COMPACT_KIND = "cmeas"
SUMMARY_KIND = "summary"
_WIDTHS: dict[int, np.dtype[Any]] = {
    1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")
}
_U32 = np.dtype("<u4")
_MAX_COMPACT_FRAMES = 1 << 16


def _zigzag(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64, copy=False)
    return ((a << 1) ^ (a >> 63)).view(np.uint64)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    u = u.astype(np.uint64, copy=False)
    return ((u >> np.uint64(1)) ^ (np.uint64(0) - (u & np.uint64(1)))).view(np.int64)


def _narrow(u: np.ndarray) -> tuple[int, bytes]:
    """(width, byte-shuffled bytes) of unsigned values in the fewest bytes that hold them."""
    top = int(u.max()) if len(u) else 0
    width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4 if top < 1 << 32 else 8
    a = u.astype(_WIDTHS[width])
    return width, a.view(np.uint8).reshape(-1, width).T.tobytes()


def _widen(raw: memoryview | bytes, width: int, n: int) -> np.ndarray:
    planes = np.frombuffer(raw, np.uint8).reshape(width, n)
    return np.ascontiguousarray(planes.T).view(_WIDTHS[width]).reshape(n).astype(np.uint64)


def encode_compact(bodies: list[dict[str, Any]]) -> bytes:
    """The content (msgpack ``["cmeas", body]``) holding decoded ``meas`` bodies of one
    thread, all with or all without memory columns (see the section comment)."""
    if not bodies:
        raise ValueError("no measurement frames to encode")
    tid = int(bodies[0]["tid"])
    mem = "m0" in bodies[0]
    if any(int(b["tid"]) != tid or ("m0" in b) != mem for b in bodies):
        raise ValueError("compact frames hold one thread, all with or all without memory")
    ns = np.array([len(b["path"]) for b in bodies], dtype=_U32)
    path = np.concatenate([np.asarray(b["path"], np.int64) for b in bodies])
    t0 = np.concatenate([np.asarray(b["t0"], np.int64) for b in bodies])
    t1 = np.concatenate([np.asarray(b["t1"], np.int64) for b in bodies])
    base = int(t0[0]) if len(t0) else 0
    with np.errstate(over="ignore"):
        prev = np.empty_like(t1)
        if len(t1):
            prev[0] = base
            prev[1:] = t1[:-1]
        # a record that started before the previous one ended encloses it (a parent):
        # its end gap is small where its start gap is not
        end = t0 < prev
        gap = np.where(end, t1 - prev, t0 - prev)
        cols = [_zigzag(path), _zigzag(end.astype(np.int64)), _zigzag(gap), _zigzag(t1 - t0)]
        if mem:
            m0 = np.concatenate([np.asarray(b["m0"], np.int64) for b in bodies])
            m1 = np.concatenate([np.asarray(b["m1"], np.int64) for b in bodies])
            cols += [_zigzag(np.diff(m0, prepend=np.int64(0))), _zigzag(m1 - m0)]
    packed = [_narrow(c) for c in cols]
    body = {
        "tid": tid,
        "ns": ns.tobytes(),
        "mem": mem,
        "base": base,
        "w": bytes(w for w, _ in packed),
        "cols": b"".join(raw for _, raw in packed),
    }
    return msgpack.packb([COMPACT_KIND, body], use_bin_type=True)


def decode_compact(body: Any, stream: int = 0) -> list[Frame]:
    """The ``meas`` frames a ``cmeas`` body holds; ProtocolError when it is malformed."""
    if not isinstance(body, dict):
        raise ProtocolError("compact frame body must be a map")
    tid = _int(body, "tid")
    base = _int(body, "base")
    raw_ns, w, cols = body.get("ns"), body.get("w"), body.get("cols")
    if not isinstance(raw_ns, bytes) or not isinstance(w, bytes) or not isinstance(cols, bytes):
        raise ProtocolError("compact frame without its columns")
    mem = body.get("mem") is True
    if len(raw_ns) % 4 or len(raw_ns) // 4 > _MAX_COMPACT_FRAMES:
        raise ProtocolError("compact frame with a bad frame count")
    ns = np.frombuffer(raw_ns, _U32).astype(np.int64)
    if len(ns) and int(ns.max()) > MAX_RECORDS:
        raise ProtocolError("compact frame with an oversized measurement batch")
    n = int(ns.sum())
    widths = list(w)
    if len(widths) != (6 if mem else 4) or any(x not in _WIDTHS for x in widths):
        raise ProtocolError("compact frame with bad column widths")
    if len(cols) != n * sum(widths):
        raise ProtocolError("compact frame columns have the wrong size")
    mv = memoryview(cols)
    vals = []
    pos = 0
    for width in widths:
        vals.append(_unzigzag(_widen(mv[pos : pos + n * width], width, n)))
        pos += n * width
    with np.errstate(over="ignore"):
        path, end, gap, dur = vals[0], vals[1], vals[2], vals[3]
        if np.any((end != 0) & (end != 1)):
            raise ProtocolError("compact frame with a bad end flag")
        t1 = np.cumsum(np.where(end != 0, gap, gap + dur), dtype=np.int64) + np.int64(base)
        t0 = t1 - dur
        if mem:
            m0 = np.cumsum(vals[4], dtype=np.int64)
            m1 = m0 + vals[5]
    path32 = path.astype(_I32)
    if not np.array_equal(path32, path):
        raise ProtocolError("compact frame path id out of range")
    out: list[Frame] = []
    lo = 0
    for k in ns.tolist():
        hi = lo + k
        b: dict[str, Any] = {"tid": tid, "n": k, "path": path32[lo:hi], "t0": t0[lo:hi],
                             "t1": t1[lo:hi]}
        if mem:
            b["m0"] = m0[lo:hi]
            b["m1"] = m1[lo:hi]
        out.append(Frame("meas", b, stream))
        lo = hi
    return out


def encode_summary(
    *, upto: int, first: int, n: int, ops: list[list[Any]]
) -> bytes:
    """The content (msgpack ``["summary", body]``) of a summary frame; ``ops`` rows as
    the section comment says, with ``buckets`` / ``counts`` as integer arrays."""
    rows = []
    for r in ops:
        *head, buckets, counts = r
        rows.append([*head, np.asarray(buckets, _U32).tobytes(),
                     np.asarray(counts, _I64).tobytes()])
    body = {"upto": int(upto), "first": int(first), "n": int(n), "ops": rows}
    return msgpack.packb([SUMMARY_KIND, body], use_bin_type=True)


def _validate_summary(body: dict[str, Any]) -> None:
    """Check a summary body; buckets and counts become arrays (see the section comment)."""
    _int(body, "upto")
    _int(body, "first")
    _int(body, "n")
    ops = body.get("ops")
    if not isinstance(ops, list):
        raise ProtocolError("summary frame without ops")
    for r in ops:
        if not isinstance(r, list) or len(r) != 13:
            raise ProtocolError("malformed summary row")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (*r[:3], *r[5:11])):
            raise ProtocolError("malformed summary row")
        if not all(isinstance(x, int | float) for x in r[3:5]):
            raise ProtocolError("malformed summary row")
        if not isinstance(r[11], bytes) or not isinstance(r[12], bytes) or len(r[11]) % 4 \
                or len(r[12]) != 2 * len(r[11]):
            raise ProtocolError("malformed summary histogram")
        r[11] = np.frombuffer(r[11], _U32)
        r[12] = np.frombuffer(r[12], _I64)
