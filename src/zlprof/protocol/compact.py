"""The compact encodings of recorded bulk frames (schema 2.1 ``cmeas``; schema 2.2
``cmeas2``, ``cmem``, ``ccosts``), written by the recorder and expanded by the reader.

A live channel never carries them. The other recording-only kind, ``summary``, is in
:mod:`.kinds`. Every compact record stands inside a chunk for the frames it replaces
and expands back into them bit for bit (``decode_*``); the writer writes 2.2, the reader
reads 2.1 too.

Columns. A compact record's columns are int64 values, each zigzag-encoded (so small
negative numbers stay small; arithmetic modulo 2^64, so any int64 round-trips), narrowed
to the fewest of 1, 2, 4 or 8 bytes that hold the column's largest value and
byte-shuffled (all first bytes, then all second bytes, ...), so the compressor finds the
zeros. The body holds ``w`` (u8 per column: its width) and ``cols`` (the columns, one after
another).
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from .framing import _I32, _I64, _U32, MAX_RECORDS, Frame, ProtocolError
from .kinds import _int

# ``cmeas`` (2.1; read only): consecutive ``meas`` frames of one thread. body: tid, ns
# (u32 x frames: records per original frame), mem (bool: m0/m1 present), base (int: t0 of
# the first record), w, cols. Columns, over all records r in order:
#     path  path[r]
#     end   1 when t0[r] < t1[r-1] (r encloses earlier records: its end follows theirs)
#     gap   t1[r] - t1[r-1] when end, else t0[r] - t1[r-1]   (t1[-1] = base)
#     dur   t1[r] - t0[r]
#     dm0   m0[r] - m0[r-1]     (m0[-1] = 0; only with mem)
#     dm1   m1[r] - m0[r]       (only with mem)
COMPACT_KIND = "cmeas"

# ``cmeas2`` (2.2): as ``cmeas``, but an enclosing record's start is stored as a small
# offset from the start of the first record it encloses instead of its whole duration
# (only leaves then carry a duration). body: tid, ns, mem, base, first (m0[0], 0 without
# mem), w, cols. Columns:
#     path  path[r]
#     end   0: a leaf (t0[r] >= t1[r-1]); 1: r encloses earlier records, dur is its
#           duration; 2: as 1, but dur is t0[r - ref[r]] - t0[r], the offset of its start
#           from the start of record r - ref[r] (a record whose end is 0 or 1)
#     ref   0, or (end 2) how many records back the record its start is told from is
#     gap   t1[r] - t1[r-1] when end, else t0[r] - t1[r-1]   (t1[-1] = base)
#     dur   t1[r] - t0[r], or (end 2) the offset above
#     dm0   m0[r] - m0[r-1]     (m0[-1] = first; only with mem)
#     dm1   m1[r] - m0[r]       (only with mem)
COMPACT2_KIND = "cmeas2"

# ``cmem`` (2.2): consecutive ``mem`` frames with the same gauges. body: ns (u32 x
# frames: samples per frame), gauges (names, in order), first (ints: the first sample's
# t, rss, traced and each gauge), w, cols: t, rss, traced and each gauge, each as the
# change from the sample before (0 for the first).
MEM_KIND = "cmem"

# ``ccosts`` (2.2): one ``costs`` frame. body: w, cols: path id (change from the row
# before; the first from 0), calls, flops, bytes.
COSTS_KIND = "ccosts"

_WIDTHS: dict[int, np.dtype[Any]] = {
    1: np.dtype("<u1"), 2: np.dtype("<u2"), 4: np.dtype("<u4"), 8: np.dtype("<u8")
}
_SIGNED = {1: np.dtype("<i1"), 2: np.dtype("<i2"), 4: np.dtype("<i4"), 8: np.dtype("<i8")}
_MAX_COMPACT_FRAMES = 1 << 16
_MAX_COLS = 1 << 10
_INT64 = (-(2**63), 2**63 - 1)


def _zigzag(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.int64, copy=False)
    return ((a << 1) ^ (a >> 63)).view(np.uint64)


def _narrow(u: np.ndarray) -> tuple[int, bytes]:
    """(width, byte-shuffled bytes) of unsigned values in the fewest bytes that hold them."""
    top = int(u.max()) if len(u) else 0
    width = 1 if top < 1 << 8 else 2 if top < 1 << 16 else 4 if top < 1 << 32 else 8
    a = u.astype(_WIDTHS[width])
    return width, a.view(np.uint8).reshape(-1, width).T.tobytes()


def _column(raw: memoryview | bytes, width: int, n: int) -> np.ndarray:
    """A narrowed, byte-shuffled zigzag column back as signed values of its own width
    (zigzag is undone in that width: a value that fits ``width`` bytes zigzagged fits
    them signed, so ``astype(int64)`` then gives the original int64)."""
    planes = np.frombuffer(raw, np.uint8).reshape(width, n)
    u = planes[0].copy() if width == 1 else np.ascontiguousarray(planes.T).view(
        _WIDTHS[width]).reshape(n)
    one = u.dtype.type(1)
    return ((u >> one) ^ (u.dtype.type(0) - (u & one))).view(_SIGNED[width])


def _pack(cols: list[np.ndarray]) -> dict[str, bytes]:
    """``w`` and ``cols`` of a body holding int64 columns."""
    packed = [_narrow(_zigzag(c)) for c in cols]
    return {"w": bytes(w for w, _ in packed), "cols": b"".join(raw for _, raw in packed)}


def _unpack(body: dict[str, Any], n: int, ncols: int) -> list[np.ndarray]:
    """The ``ncols`` columns of ``n`` values of a body (signed, each of its own width)."""
    w, cols = body.get("w"), body.get("cols")
    if not isinstance(w, bytes) or not isinstance(cols, bytes):
        raise ProtocolError("compact frame without its columns")
    widths = list(w)
    if len(widths) != ncols or any(x not in _WIDTHS for x in widths):
        raise ProtocolError("compact frame with bad column widths")
    if len(cols) != n * sum(widths):
        raise ProtocolError("compact frame columns have the wrong size")
    mv = memoryview(cols)
    out = []
    pos = 0
    for width in widths:
        out.append(_column(mv[pos : pos + n * width], width, n))
        pos += n * width
    return out


def _counts(body: dict[str, Any], limit: int) -> np.ndarray:
    """The ``ns`` field: u32 per original frame, each at most ``limit``."""
    raw = body.get("ns")
    if not isinstance(raw, bytes) or len(raw) % 4 or len(raw) // 4 > _MAX_COMPACT_FRAMES:
        raise ProtocolError("compact frame with a bad frame count")
    ns = np.frombuffer(raw, _U32).astype(np.int64)
    if len(ns) and int(np.max(ns)) > limit:
        raise ProtocolError("compact frame with an oversized batch")
    return ns


def _ints(body: dict[str, Any], key: str, n: int) -> list[int]:
    v = body.get(key)
    if not isinstance(v, list) or len(v) != n or not all(
        isinstance(x, int) and not isinstance(x, bool) and _INT64[0] <= x <= _INT64[1]
        for x in v
    ):
        raise ProtocolError(f"compact frame with a bad {key!r} field")
    return v


def _changes(v: np.ndarray) -> np.ndarray:
    """v[i] - v[i-1], 0 for the first (modulo 2^64)."""
    out = np.zeros(len(v), np.int64)
    with np.errstate(over="ignore"):
        np.subtract(v[1:], v[:-1], out=out[1:])
    return out


def _sums(first: int, d: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_changes` (``first`` the first value)."""
    with np.errstate(over="ignore"):
        out = np.cumsum(d, dtype=np.int64)
        out += np.int64(first)
    return out


# --------------------------------------------------------------------------- measurements


def _meas_columns(
    bodies: list[dict[str, Any]],
) -> tuple[int, bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
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
    m = []
    if mem:
        m = [np.concatenate([np.asarray(b[k], np.int64) for b in bodies]) for k in ("m0", "m1")]
    return tid, mem, ns, path, t0, t1, m


def encode_compact(bodies: list[dict[str, Any]]) -> bytes:
    """The content (msgpack ``["cmeas2", body]``) holding decoded ``meas`` bodies of one
    thread, all with or all without memory columns (see ``cmeas2`` above)."""
    tid, mem, ns, path, t0, t1, m = _meas_columns(bodies)
    n = len(t0)
    base = int(t0[0]) if n else 0
    with np.errstate(over="ignore"):
        prev = np.empty_like(t1)
        if n:
            prev[0] = base
            prev[1:] = t1[:-1]
        # a record that started before the previous one ended encloses it (a parent):
        # its end gap is small where its start gap is not
        enclosing = t0 < prev
        end = enclosing.astype(np.int64)
        gap = np.where(enclosing, t1 - prev, t0 - prev)
        dur = t1 - t0
        ref = np.zeros(n, np.int64)
        leaves = np.flatnonzero(~enclosing)
        parents = np.flatnonzero(enclosing)
        if len(leaves) and len(parents):
            # in nested records (ends in order) the first leaf that starts at or after a
            # parent's start is the first record it encloses; any other is still exact
            k = np.searchsorted(t0[leaves], t0[parents])
            j = leaves[np.minimum(k, len(leaves) - 1)]
            off = t0[j] - t0[parents]
            better = _zigzag(off) < _zigzag(dur[parents])
            sel = parents[better]
            end[sel] = 2
            ref[sel] = sel - j[better]
            dur[sel] = off[better]
        cols = [path, end, ref, gap, dur]
        first = 0
        if mem:
            first = int(m[0][0]) if n else 0
            cols += [_changes(m[0]), m[1] - m[0]]
    body = {"tid": tid, "ns": ns.tobytes(), "mem": mem, "base": base, "first": first,
            **_pack(cols)}
    return msgpack.packb([COMPACT2_KIND, body], use_bin_type=True)


def encode_compact_21(bodies: list[dict[str, Any]]) -> bytes:
    """The schema 2.1 ``cmeas`` content of ``bodies`` (what the 2.1 recorder wrote; kept
    so the 2.1 reader stays tested on any frames)."""
    tid, mem, ns, path, t0, t1, m = _meas_columns(bodies)
    base = int(t0[0]) if len(t0) else 0
    with np.errstate(over="ignore"):
        prev = np.empty_like(t1)
        if len(t1):
            prev[0] = base
            prev[1:] = t1[:-1]
        end = t0 < prev
        gap = np.where(end, t1 - prev, t0 - prev)
        cols = [path, end.astype(np.int64), gap, t1 - t0]
        if mem:
            cols += [np.diff(m[0], prepend=np.int64(0)), m[1] - m[0]]
    body = {"tid": tid, "ns": ns.tobytes(), "mem": mem, "base": base, **_pack(cols)}
    return msgpack.packb([COMPACT_KIND, body], use_bin_type=True)


def decode_compact(body: Any, stream: int = 0, version: int = 2) -> list[Frame]:
    """The ``meas`` frames a ``cmeas2`` body (``version`` 1: a 2.1 ``cmeas`` body)
    holds; ProtocolError when it is malformed."""
    if not isinstance(body, dict):
        raise ProtocolError("compact frame body must be a map")
    tid = _int(body, "tid")
    base = _int(body, "base")
    mem = body.get("mem") is True
    ns = _counts(body, MAX_RECORDS)
    n = int(ns.sum())
    v2 = version >= 2
    vals = _unpack(body, n, (5 if v2 else 4) + (2 if mem else 0))
    if not v2:
        vals.insert(2, np.zeros(0, np.int8))  # no ref column
    path, end = vals[0], vals[1]
    top = int(end.max()) if len(end) else 0
    if len(end) and (int(end.min()) < 0 or top > (2 if v2 else 1)):
        raise ProtocolError("compact frame with a bad end flag")
    with np.errstate(over="ignore"):
        # t1 = base + cumsum(gap, plus dur for leaves); in place (no temporaries)
        t1 = vals[3].astype(np.int64)
        dur = vals[4].astype(np.int64)
        np.add(t1, dur, out=t1, where=end == 0)
        np.cumsum(t1, out=t1)
        t1 += np.int64(base)
        t0 = t1 - dur
        if top == 2:
            refs = np.flatnonzero(end == 2)
            j = refs - vals[2][refs].astype(np.int64)
            # (np.min/np.max: numpy 2.5's stubs have no argument-less ndarray.min for j's dtype)
            if int(np.min(j)) < 0 or int(np.max(j)) >= n or bool(np.any(end[j] == 2)):
                raise ProtocolError("compact frame with a bad start reference")
            t0[refs] = t0[j] - dur[refs]
        if mem:
            first = _int(body, "first") if v2 else 0
            if not _INT64[0] <= first <= _INT64[1]:
                raise ProtocolError("compact frame with a bad 'first' field")
            m0 = _sums(first, vals[5]) if v2 else np.cumsum(vals[5], dtype=np.int64)
            m1 = m0 + vals[6]
    path32 = path.astype(_I32)
    if path.dtype.itemsize > 4 and not np.array_equal(path32, path):
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


# --------------------------------------------------------------------------- memory, costs


_MEM_KEYS = frozenset({"t", "rss", "traced", "gauges"})


def mem_key(body: dict[str, Any]) -> tuple[str, ...] | None:
    """The gauge names of a decoded ``mem`` body that ``encode_memory_compact`` can hold
    (frames with the same key go in one record), or None for one it cannot."""
    if body.keys() != _MEM_KEYS or not isinstance(body["gauges"], dict):
        return None
    return tuple(body["gauges"])


def encode_memory_compact(bodies: list[dict[str, Any]]) -> bytes:
    """The content (msgpack ``["cmem", body]``) holding decoded ``mem`` bodies with the
    same gauges (:func:`mem_key`)."""
    if not bodies:
        raise ValueError("no memory frames to encode")
    names = mem_key(bodies[0])
    if names is None or any(mem_key(b) != names for b in bodies):
        raise ValueError("compact memory frames hold the same gauges")
    ns = np.array([len(b["t"]) for b in bodies], dtype=_U32)
    raw = [np.concatenate([np.asarray(b[k], _I64) for b in bodies])
           for k in ("t", "rss", "traced")]
    raw += [np.concatenate([np.asarray(b["gauges"][g], _I64) for b in bodies]) for g in names]
    first = [int(c[0]) if len(c) else 0 for c in raw]
    body = {"ns": ns.tobytes(), "gauges": list(names), "first": first,
            **_pack([_changes(c) for c in raw])}
    return msgpack.packb([MEM_KIND, body], use_bin_type=True)


def decode_memory_compact(body: Any, stream: int = 0) -> list[Frame]:
    """The ``mem`` frames a ``cmem`` body holds; ProtocolError when it is malformed."""
    if not isinstance(body, dict):
        raise ProtocolError("compact frame body must be a map")
    names = body.get("gauges")
    if not isinstance(names, list) or len(names) > _MAX_COLS or not all(
        isinstance(g, str) for g in names
    ):
        raise ProtocolError("compact memory frame with bad gauge names")
    ns = _counts(body, MAX_RECORDS)
    n = int(ns.sum())
    first = _ints(body, "first", 3 + len(names))
    cols = [_sums(f, c) for f, c in zip(first, _unpack(body, n, 3 + len(names)), strict=True)]
    out: list[Frame] = []
    lo = 0
    for k in ns.tolist():
        hi = lo + k
        b: dict[str, Any] = {"t": cols[0][lo:hi], "rss": cols[1][lo:hi],
                             "traced": cols[2][lo:hi],
                             "gauges": {g: c[lo:hi] for g, c in zip(names, cols[3:], strict=True)}}
        out.append(Frame("mem", b, stream))
        lo = hi
    return out


def encode_costs_compact(rows: list[tuple[int, int, int, int]]) -> bytes | None:
    """The content (msgpack ``["ccosts", body]``) holding one ``costs`` frame's rows;
    None when a value is outside int64 (such a frame is written as it is)."""
    if any(not _INT64[0] <= x <= _INT64[1] for r in rows for x in r):
        return None
    a = np.array(rows, dtype=np.int64).reshape(-1, 4)
    pid = a[:, 0].copy()
    with np.errstate(over="ignore"):
        pid[1:] -= a[:-1, 0]
    return msgpack.packb([COSTS_KIND, _pack([pid, a[:, 1], a[:, 2], a[:, 3]])],
                         use_bin_type=True)


def decode_costs_compact(body: Any, stream: int = 0) -> list[Frame]:
    """The ``costs`` frame a ``ccosts`` body holds; ProtocolError when it is malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("w"), bytes) \
            or not isinstance(body.get("cols"), bytes):
        raise ProtocolError("compact costs frame without its columns")
    width = sum(body["w"]) if len(body["w"]) == 4 else 0
    if not width or len(body["cols"]) % width:
        raise ProtocolError("compact costs frame with bad columns")
    n = len(body["cols"]) // width
    if n > MAX_RECORDS:
        raise ProtocolError("compact costs frame with too many rows")
    pid, calls, flops, nbytes = _unpack(body, n, 4)
    pids = np.cumsum(pid, dtype=np.int64)
    rows = np.stack([pids, calls.astype(np.int64), flops.astype(np.int64),
                     nbytes.astype(np.int64)], axis=1)
    return [Frame("costs", {"rows": rows.tolist()}, stream)]


#: The decoder of each compact kind: (body, stream) -> the frames it holds.
DECODERS = {
    COMPACT_KIND: lambda body, stream: decode_compact(body, stream, version=1),
    COMPACT2_KIND: decode_compact,
    MEM_KIND: decode_memory_compact,
    COSTS_KIND: decode_costs_compact,
}
