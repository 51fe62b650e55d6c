"""The zlprof wire format: versioned, length-prefixed, checksummed msgpack frames.

One schema serves the live pipe and the recording file (a recording is a magic header
followed by exactly the bytes that crossed the pipe).

Framing (all little-endian)::

    frame   = length:u32  crc32:u32  payload[length]
    payload = msgpack array [kind:str, body:map]

``crc32`` is zlib's CRC-32 of the payload. A frame is complete only when its whole
payload has arrived and its checksum matches; a reader therefore always knows the byte
offset of the last good frame.

Frame kinds (schema 1.x):

``hello``   schema [major, minor], pid, argv, python, numpy, platform, start_ns (the child's
            ``perf_counter_ns`` clock at start), wall_time (Unix seconds at start_ns), config
``meta``    config: map merged into the session's workload config (sent once it is known)
``names``   paths: list of [path_id, parent_path_id, name]; path 0 is the root
``meas``    tid, n, path (int32 x n), t0, t1 (int64 x n, ns) and, when memory readings are
            on, m0, m1 (int64 x n, bytes at block start / end), all packed little-endian
``mem``     t, rss, traced (int64 columns; traced is -1 when not tracing) and gauges:
            {name: int64 column} (e.g. kv_cache_bytes)
``tokens``  rows of [t_ns, request, index, phase, piece] (phase "prefill" or "decode")
``costs``   rows of [path_id, calls, flops, bytes]: increments since the previous frame
``log``     t, level, msg
``end``     status (exit code, or negative signal number), reason

Frames of an unknown kind are skipped (a newer minor version may add kinds); a newer major
version is refused. Decoding untrusted bytes raises only :class:`ProtocolError`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 0
SCHEMA = (SCHEMA_MAJOR, SCHEMA_MINOR)

HEADER = struct.Struct("<II")
HEADER_SIZE = HEADER.size
#: No frame may be larger than this; a length above it means corruption.
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

KINDS = ("hello", "meta", "names", "meas", "mem", "tokens", "costs", "log", "end")

_I64 = np.dtype("<i8")
_I32 = np.dtype("<i4")


class ProtocolError(ValueError):
    """Bytes that are not a valid zlprof frame stream."""


@dataclass(slots=True)
class Frame:
    kind: str
    body: dict[str, Any]


# --------------------------------------------------------------------------- encoding


def encode_frame(kind: str, body: dict[str, Any]) -> bytes:
    """Encode one frame: header plus msgpack payload."""
    payload = msgpack.packb([kind, body], use_bin_type=True)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


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
) -> bytes:
    return encode_frame(
        "hello",
        {
            "schema": list(SCHEMA),
            "pid": pid,
            "argv": list(argv),
            "start_ns": start_ns,
            "wall_time": wall_time,
            "python": python,
            "numpy": numpy_version,
            "platform": platform,
            "config": config or {},
        },
    )


def encode_names(paths: list[tuple[int, int, str]]) -> bytes:
    return encode_frame("names", {"paths": [list(p) for p in paths]})


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
            raise ProtocolError(
                f"schema {schema[0]}.{schema[1]} is newer than this zlprof reads "
                f"({SCHEMA_MAJOR}.x); upgrade zlprof"
            )
        _int(body, "pid")
        _int(body, "start_ns")
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
        rows = body.get("rows")
        if not isinstance(rows, list):
            raise ProtocolError("tokens frame without rows")
        for r in rows:
            if (
                not isinstance(r, list)
                or len(r) != 5
                or not all(isinstance(x, int) for x in r[:3])
                or not isinstance(r[3], str)
                or not isinstance(r[4], str)
            ):
                raise ProtocolError("malformed token row")
    elif kind == "costs":
        rows = body.get("rows")
        if not isinstance(rows, list):
            raise ProtocolError("costs frame without rows")
        for r in rows:
            if not isinstance(r, list) or len(r) != 4 or not all(isinstance(x, int) for x in r):
                raise ProtocolError("malformed cost row")
    elif kind == "meta":
        if not isinstance(body.get("config"), dict):
            raise ProtocolError("meta frame without config map")
    elif kind == "log":
        if not isinstance(body.get("msg"), str):
            raise ProtocolError("log frame without message")
    elif kind == "end":
        _int(body, "status")


def decode_payload(payload: bytes | memoryview) -> Frame | None:
    """Decode one frame payload; ``None`` for a well-formed frame of an unknown kind."""
    try:
        obj = msgpack.unpackb(payload, raw=False, strict_map_key=False, **_UNPACK_LIMITS)
    except Exception as exc:  # msgpack raises many types on hostile input
        raise ProtocolError(f"undecodable frame payload: {exc.__class__.__name__}") from None
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
    return Frame(kind, body)


def parse_frame(buf: bytes | bytearray, pos: int) -> tuple[Frame | None, int] | None:
    """Parse the frame that starts at ``pos``: (frame, or None for an unknown kind, next pos).

    ``None`` when the frame is not complete yet; ProtocolError when it is corrupt.
    """
    end = len(buf)
    if end - pos < HEADER_SIZE:
        return None
    length, crc = HEADER.unpack_from(buf, pos)
    if length > MAX_FRAME:
        raise ProtocolError(f"frame length {length} exceeds limit")
    start = pos + HEADER_SIZE
    if end - start < length:
        return None
    payload = memoryview(buf)[start : start + length]
    try:
        if zlib.crc32(payload) != crc:
            raise ProtocolError("frame checksum mismatch")
        frame = decode_payload(payload)
    finally:
        payload.release()
    return frame, start + length


class FrameDecoder:
    """Incremental decoder: feed bytes, get complete frames.

    ``offset`` is the stream offset just past the last complete frame. After a
    :class:`ProtocolError` the decoder is poisoned: the stream cannot be trusted past it.
    """

    def __init__(self, base_offset: int = 0) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.offset = base_offset
        self.error: str | None = None

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
        end = len(buf)
        try:
            while True:
                got = parse_frame(buf, pos)
                if got is None:
                    break
                frame, nxt = got
                self.offset += nxt - pos
                pos = nxt
                if frame is not None:
                    frames.append(frame)
        except ProtocolError as exc:
            self.error = f"{exc} at byte {self.offset}"
            raw = bytes(buf[start:pos])
            self._pos = pos
            exc.frames = frames  # type: ignore[attr-defined]
            exc.raw = raw  # type: ignore[attr-defined]
            exc.offset = self.offset  # type: ignore[attr-defined]
            raise
        raw = bytes(buf[start:pos])
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
