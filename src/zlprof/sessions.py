"""The session library: recorded sessions in the sessions directory, newest first.

Listing must stay fast with many large recordings, so a recording is not folded here. A
scan walks the frame headers with one small ``pread`` each (length, checksum and the
frame kind, which opens every msgpack payload) and decodes only the few frames a listing
needs: the hello and meta frames (program, start date, configuration), every tokens
frame (to count the output tokens), the end frame (exit status), and the last few
measurement / memory frames (the session's last timestamp, hence its duration, as
SessionState counts it: measurement, memory and token times). Skipped
frames are not checksummed: a damaged measurement frame shows when the session is opened,
while truncation (a frame running past the end of the file) shows here.

Scans are cached in-process by (path, size, modification time), so the app's session
browser can relist at no cost.
"""

from __future__ import annotations

import os
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from . import fmt, protocol, rates
from .protocol import Frame, ProtocolError
from .recording import (
    FILE_HEADER_SIZE,
    SUFFIX,
    RecordingError,
    check_header,
    default_sessions_dir,
)

#: Measurement / memory frames at the end of a file decoded for the last timestamp.
TAIL_FRAMES = 8
#: Files whose frames average less than this are walked through 64 KiB read windows (few
#: system calls); larger frames are skipped reading only their headers (few bytes).
SMALL_FRAME = 4096

_KINDS = {kind.encode(): kind for kind in protocol.KINDS}
_DECODE = frozenset({"hello", "meta", "end"})
_TIMED = frozenset({"meas", "mem"})  # what moves SessionState's clock (logs do not)


@dataclass
class SessionInfo:
    """One recorded session as the library lists it."""

    path: Path
    #: Unix time the session started (the child's clock at its hello), else the file's mtime
    started: float
    program: str
    duration_s: float
    #: end-to-end: output tokens / wall time (:mod:`zlprof.rates`)
    tokens_per_s: float
    size: int
    #: ok | stopped | exit N | killed | incomplete (no end frame) | truncated | unreadable
    status: str
    tokens: int = 0
    argv: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    #: why the scan stopped early (names the byte offset), or why the file is unreadable
    warning: str | None = None
    end_reason: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "started": self.started,
            "program": self.program,
            "duration_s": self.duration_s,
            "tokens": self.tokens,
            "tokens_per_s": self.tokens_per_s,
            "size": self.size,
            "status": self.status,
            "end_reason": self.end_reason,
            "warning": self.warning,
        }


def program_name(argv: list[Any]) -> str:
    """A short name for the program a session ran: ``workload --preset tiny``, ``train.py``."""
    if not argv:
        return "?"
    words = [str(a) for a in argv]
    first = Path(words[0])
    rest = words[1:]
    if first.name == "__main__.py":
        name = first.parent.name  # python -m pkg.mod: the module's directory
    elif first.name.startswith("python") and len(rest) >= 2 and rest[0] == "-m":
        name, rest = rest[1], rest[2:]
    else:
        name = first.name
    return " ".join([name, *rest])


class _Scan:
    """What one pass over the frame headers learns."""

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.config: dict[str, Any] = {}
        self.tokens = 0
        self.last_ns = 0
        self.first_ns: int | None = None
        self.end: dict[str, Any] | None = None
        self.warning: str | None = None
        self.tail: deque[tuple[int, int, int]] = deque(maxlen=TAIL_FRAMES)  # offset, len, crc
        self.first_timed: tuple[int, int, int] | None = None

    def see(self, t: int) -> None:
        if t > self.last_ns:
            self.last_ns = t


class _Window:
    """Reads a file through one cached window, so walking many small frames costs few
    system calls and walking large ones reads only their headers."""

    SIZE = 1 << 16

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.start = 0
        self.data = b""

    def get(self, pos: int, n: int, ahead: bool = True) -> bytes:
        """``n`` bytes at ``pos``; on a miss read a whole window there if ``ahead``."""
        off = pos - self.start
        if off < 0 or off + n > len(self.data):
            self.start = pos
            self.data = os.pread(self.fd, max(n, self.SIZE) if ahead else n, pos)
            off = 0
        return self.data[off : off + n]


def _payload(win: _Window, pos: int, length: int, crc: int, ahead: bool = False) -> bytes:
    payload = win.get(pos + protocol.HEADER_SIZE, length, ahead)
    if len(payload) != length:
        raise ProtocolError(f"truncated frame at byte {pos}")
    if zlib.crc32(payload) != crc:
        raise ProtocolError(f"corrupt frame (checksum mismatch) at byte {pos}")
    return payload


def _decode(payload: bytes, pos: int) -> Frame | None:
    try:
        return protocol.decode_payload(payload)
    except ProtocolError as exc:
        raise ProtocolError(f"corrupt frame at byte {pos}: {exc}") from None


def _count_tokens(sc: _Scan, payload: bytes, pos: int) -> None:
    """Fold a tokens frame without building validated rows (the common, large case)."""
    try:
        kind, body = msgpack.unpackb(payload, raw=False, strict_map_key=False,
                                     max_bin_len=0, max_ext_len=0)
        rows = body["rows"]
        n = 0
        last = 0
        for r in rows:
            phase = r[3]
            if phase != "start" and phase != "end":
                n += 1
            if r[0] > last:
                last = r[0]
        if kind != "tokens" or not isinstance(last, int):
            raise ValueError
    except Exception:
        fr = _decode(payload, pos)  # a proper error for a malformed frame
        if fr is not None:
            _fold(sc, fr)
        return
    sc.tokens += n
    sc.see(last)


def _kind(prefix: bytes) -> str | None:
    """The kind of a frame from the first bytes of its payload: [fixarray 2, fixstr]."""
    if len(prefix) < 2 or prefix[0] != 0x92 or not 0xA0 <= prefix[1] <= 0xBF:
        return None
    n = prefix[1] & 0x1F
    kind = prefix[2 : 2 + n]
    return _KINDS.get(kind) if len(kind) == n else None


def _scan(fd: int, size: int) -> _Scan:
    sc = _Scan()
    win = _Window(fd)
    pos = FILE_HEADER_SIZE
    peek = protocol.HEADER_SIZE + 8
    frames = 0
    try:
        while pos < size:
            # frames small on average: read windows ahead; large: just each header
            small = frames == 0 or (pos - FILE_HEADER_SIZE) < SMALL_FRAME * frames
            head = win.get(pos, peek, ahead=small)
            if len(head) < protocol.HEADER_SIZE:
                raise ProtocolError(f"truncated frame header at byte {pos}")
            length, crc = protocol.HEADER.unpack_from(head, 0)
            if length > protocol.MAX_FRAME:
                raise ProtocolError(f"corrupt frame length at byte {pos}")
            if pos + protocol.HEADER_SIZE + length > size:
                raise ProtocolError(f"truncated frame at byte {pos}")
            kind = _kind(head[protocol.HEADER_SIZE :])
            if kind in _TIMED:
                sc.tail.append((pos, length, crc))
                if sc.first_timed is None:
                    sc.first_timed = (pos, length, crc)
            elif kind == "tokens":
                _count_tokens(sc, _payload(win, pos, length, crc, small), pos)
            elif kind in _DECODE or kind is None:
                fr = _decode(_payload(win, pos, length, crc, small), pos)
                if fr is not None:
                    _fold(sc, fr)
            pos += protocol.HEADER_SIZE + length
            frames += 1
    except ProtocolError as exc:
        if "newer than this zlprof" in str(exc):
            raise RecordingError(str(exc)) from None
        sc.warning = f"{exc}; {size - pos} bytes after it were not read"
    # the last timestamp: from the last measurement / memory frames
    picks = list(sc.tail)
    if sc.hello is None and sc.first_timed is not None:
        picks.append(sc.first_timed)  # no hello: the session starts at its first event
    for off, length, crc in picks:
        try:
            fr = _decode(_payload(win, off, length, crc), off)
        except ProtocolError:
            continue
        if fr is not None:
            _fold(sc, fr)
    return sc


def _fold(sc: _Scan, fr: Frame) -> None:
    b = fr.body
    if fr.kind == "hello":
        if sc.hello is None:
            sc.hello = b
            sc.config.update(b.get("config") or {})
    elif fr.kind == "meta":
        sc.config.update(b["config"])
    elif fr.kind == "tokens":
        for t, _req, _index, phase, _piece in b["rows"]:
            sc.see(t)
            if phase not in ("start", "end"):
                sc.tokens += 1
    elif fr.kind == "end":
        sc.end = b
    elif fr.kind == "meas" and b["n"]:
        sc.see(int(b["t1"].max()))
        lo = int(b["t0"].min())
        if sc.first_ns is None or lo < sc.first_ns:
            sc.first_ns = lo
    elif fr.kind == "mem" and len(b["t"]):
        sc.see(int(b["t"].max()))
        if sc.first_ns is None:
            sc.first_ns = int(b["t"].min())


def _status(sc: _Scan) -> str:
    if sc.warning is not None:
        return "truncated"
    if sc.end is None:
        return "incomplete"
    code = sc.end.get("status", 0)
    reason = str(sc.end.get("reason", ""))
    if code == 0:
        return "ok"
    if reason.startswith("stopped"):
        return "stopped"
    if code < 0:
        return "killed"
    return f"exit {code}"


_cache: dict[tuple[str, int, int], SessionInfo] = {}
_cache_lock = threading.Lock()


def session_info(path: Path) -> SessionInfo:
    """The listing facts of one recording, from a header scan (never raises)."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        return SessionInfo(path, 0.0, "?", 0.0, 0.0, 0, "unreadable", warning=str(exc))
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    info = _scan_info(path, st.st_size, st.st_mtime)
    with _cache_lock:
        if len(_cache) > 4096:
            _cache.clear()
        _cache[key] = info
    return info


def _scan_info(path: Path, size: int, mtime: float) -> SessionInfo:
    def unreadable(why: str) -> SessionInfo:
        return SessionInfo(path, mtime, "?", 0.0, 0.0, size, "unreadable", warning=why)

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        return unreadable(exc.strerror or str(exc))
    try:
        check_header(os.pread(fd, FILE_HEADER_SIZE, 0), path)
        sc = _scan(fd, size)
    except RecordingError as exc:
        return unreadable(str(exc))
    except OSError as exc:
        return unreadable(exc.strerror or str(exc))
    finally:
        os.close(fd)
    hello = sc.hello or {}
    origin = hello.get("start_ns") if sc.hello else sc.first_ns
    duration_s = max(0, sc.last_ns - origin) / 1e9 if origin is not None and sc.last_ns else 0.0
    argv = [str(a) for a in hello.get("argv") or []]
    wall = hello.get("wall_time")
    return SessionInfo(
        path=path,
        started=float(wall) if isinstance(wall, int | float) and wall > 0 else mtime,
        program=program_name(argv),
        duration_s=duration_s,
        tokens_per_s=rates.per_second(sc.tokens, duration_s * rates.NS_PER_S) or 0.0,
        size=size,
        status=_status(sc),
        tokens=sc.tokens,
        argv=argv,
        config=sc.config,
        warning=sc.warning,
        end_reason=str((sc.end or {}).get("reason", "")),
    )


def list_session_infos(directory: Path | None = None) -> list[SessionInfo]:
    """Every ``.zlp`` recording in ``directory`` (default: the sessions directory), newest
    first. The data behind ``zlprof sessions`` and the app's session browser."""
    d = Path(directory) if directory is not None else default_sessions_dir()
    try:
        paths = [p for p in d.iterdir() if p.suffix == SUFFIX and p.is_file()]
    except OSError:
        return []
    infos = [session_info(p) for p in paths]
    infos.sort(key=lambda i: (i.started, i.path.name), reverse=True)
    return infos


#: ``zlprof sessions``' columns; at a narrow terminal they go in ``drop`` order (size
#: first) after the program name is abbreviated; the file name always stays
def _columns() -> list[Any]:
    from .textwidth import Column

    return [
        Column("started", align="left", drop=4),
        Column("program", align="left", cut="end", min_width=10, floor=8),
        Column("duration", drop=2),
        Column("tok/s", drop=5),
        Column("size", drop=1),
        Column("status", align="left", drop=3),
        Column("path", align="left"),
    ]


def session_table(directory: Path | None = None, width: int | None = None) -> str:
    """The text of ``zlprof sessions``: one row per recording, newest first.

    ``width``: a terminal's columns, which the table fits (the file name without its
    directory, which the heading names; the program abbreviated, then columns left out);
    None (piped): every column, full paths, one row a line.
    """
    from .textwidth import render_table, wrap

    d = Path(directory) if directory is not None else default_sessions_dir()
    infos = list_session_infos(d)
    if not infos:
        return f"No recorded sessions in {d}\n"
    body = []
    for i in infos:
        body.append([
            time.strftime("%Y-%m-%d %H:%M", time.localtime(i.started)),
            i.program,
            fmt.duration_s(i.duration_s),
            f"{i.tokens_per_s:.1f}" if i.tokens else "-",
            fmt.nbytes(i.size),
            i.status,
            str(i.path) if width is None else i.path.name,
        ])
    table = render_table(_columns(), body, width, rule=False)
    lines = wrap(f"Recorded sessions in {d}, newest first:", width)
    lines += table.lines
    name, divides = rates.DEFINITIONS["end_to_end_tokens_per_s"]
    lines += wrap(f"tok/s: {name}, {divides}", width)
    note = table.note(width)
    if note:
        lines += wrap(note, width)
    return "\n".join(lines) + "\n"
