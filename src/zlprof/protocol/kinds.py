"""The frame kinds: their encoders (``encode_*``) and the checks of a decoded body.

:func:`_validate` checks the shape of a known kind's body (the kinds are listed in the
package docstring) and turns its packed columns into arrays; the ``summary`` kind of
schema 2.1 is encoded and checked here too. The compact encodings (``cmeas``,
``cmeas2``, ``cmem``, ``ccosts``) are in :mod:`.compact`; msgpack decoding of payloads and
chunks in :mod:`.decoding`.
"""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np

from .framing import (
    _I32,
    _I64,
    _U32,
    MAX_RECORDS,
    SCHEMA,
    SCHEMA_MAJOR,
    ProtocolError,
    SchemaTooNew,
    encode_frame,
)

KINDS = (
    "hello", "meta", "names", "threads", "meas", "mem", "tokens", "costs", "log", "proc",
    "bye", "end", "summary",
)
BULK_KINDS = frozenset({"meas", "mem", "costs"})

# ``summary`` (schema 2.1): what a bounded recording keeps of the raw measurements it
# dropped (recording.py's compaction), per stream: upto (ns: raw measurements ending
# before it are summarised; full resolution from there on), first (ns: the earliest t0
# summarised), n (measurements summarised), ops: rows of [path_id, n, total_ns, mean_ns,
# m2, min_ns, max_ns, mem_allocated, mem_delta, mem_peak, last_t1, buckets, counts] where
# buckets (u32) and counts (i64) are the non-empty buckets of the op's LogHistogram.
SUMMARY_KIND = "summary"


# --------------------------------------------------------------------------- encoding


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


def encode_end(status: int, reason: str = "", argv: list[str] | None = None) -> bytes:
    """The session's end; ``argv``: the command zlprof ran (names a program that never
    measured, so sent no hello)."""
    body: dict[str, Any] = {"status": int(status), "reason": reason}
    if argv:
        body["argv"] = [str(a) for a in argv]
    return encode_frame("end", body)


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


# --------------------------------------------------------------------------- validation


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
