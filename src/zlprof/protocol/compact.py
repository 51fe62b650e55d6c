"""The compact measurement encoding of schema 2.1 (``cmeas``), written by the recorder.

A live channel never carries it. The other 2.1 kind, ``summary``, is in :mod:`.kinds`.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from .framing import _I32, _U32, MAX_RECORDS, Frame, ProtocolError
from .kinds import _int

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

COMPACT_KIND = "cmeas"
_WIDTHS: dict[int, np.dtype[Any]] = {
    1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")
}
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
    if len(ns) and int(np.max(ns)) > MAX_RECORDS:
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
