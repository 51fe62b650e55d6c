"""The session library: recorded sessions in the sessions directory, newest first.

Listing must stay fast with many large recordings, so a recording is not folded here. A
scan walks every frame with :func:`zlprof.protocol.walk` (which verifies every checksum and
resynchronises after damage, so a damaged file is listed as corrupt) and decodes only what
a listing needs: the frames that are not bulk data (hello and meta: program, start date,
configuration; tokens: the output tokens; end: exit status) and the last few measurement /
memory chunks (the session's last timestamp, hence its duration, as SessionState counts
it: measurement, memory and token times).

Scans are cached in-process by (path, size, modification time), so the app's session
browser can relist at no cost.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import fmt, protocol, rates
from .naming import program_name  # (one definition; re-exported for reports and diff)
from .protocol import Damage, Frame, ProtocolError
from .recording import (
    FILE_HEADER_SIZE,
    SUFFIX,
    RecordingError,
    check_header,
    default_sessions_dir,
)

#: Measurement / memory frames at the end of a file decoded for the last timestamp.
TAIL_FRAMES = 8

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
    #: ok | stopped | exit N | killed | incomplete (no end frame) | truncated | corrupt |
    #: unreadable
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


class _Scan:
    """What one pass over the frames learns."""

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.config: dict[str, Any] = {}
        self.tokens = 0
        self.last_ns = 0
        self.first_ns: int | None = None
        self.end: dict[str, Any] | None = None
        self.damage: list[Damage] = []
        self.tail: deque[protocol.RawFrame] = deque(maxlen=TAIL_FRAMES)
        self.first_timed: protocol.RawFrame | None = None

    @property
    def warning(self) -> str | None:
        if not self.damage:
            return None
        first = self.damage[0].describe()
        if len(self.damage) == 1:
            return first
        return f"{len(self.damage)} damaged places; first: {first}"

    def see(self, t: int) -> None:
        if t > self.last_ns:
            self.last_ns = t


def _scan(data: bytes, major: int) -> _Scan:
    sc = _Scan()
    for raw in protocol.walk(data, FILE_HEADER_SIZE, major, sc.damage):
        if raw.v1:
            timed = protocol.payload_kind(raw.payload) in _TIMED
        else:
            timed = bool(raw.flags & protocol.FLAG_BULK)
        if timed:
            sc.tail.append(raw)
            if sc.first_timed is None:
                sc.first_timed = raw
            continue
        for fr in _decode(sc, raw):
            _fold(sc, fr)
    # the last timestamp: from the last measurement / memory frames
    picks = list(sc.tail)
    if sc.hello is None and sc.first_timed is not None:
        picks.append(sc.first_timed)  # no hello: the session starts at its first event
    for raw in picks:
        for fr in _decode(sc, raw):
            _fold(sc, fr)
    return sc


def _decode(sc: _Scan, raw: protocol.RawFrame) -> list[Frame]:
    try:
        return raw.decode().frames
    except protocol.SchemaTooNew as exc:
        raise RecordingError(str(exc)) from None
    except ProtocolError as exc:
        sc.damage.append(Damage(raw.start, raw.end, f"corrupt frame ({exc})"))
        return []


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
    if any(not d.truncated for d in sc.damage):
        return "corrupt"
    if sc.damage:
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
        with open(path, "rb") as f:
            data = f.read()
        schema = check_header(data[:FILE_HEADER_SIZE], path)
        sc = _scan(data, schema[0])
    except RecordingError as exc:
        return unreadable(str(exc))
    except OSError as exc:
        return unreadable(exc.strerror or str(exc))
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


# --------------------------------------------------------------------------- pruning


def prune_plan(
    directory: Path | None = None,
    *,
    older_than_days: float | None = None,
    keep_bytes: int | None = None,
    now: float | None = None,
) -> list[SessionInfo]:
    """The recordings ``zlprof sessions --prune`` would delete, oldest first: every one
    started more than ``older_than_days`` ago, then the oldest of the rest until the
    newest ones fit in ``keep_bytes``."""
    infos = list_session_infos(directory)  # newest first
    now = time.time() if now is None else now
    doomed: list[SessionInfo] = []
    rest: list[SessionInfo] = []
    for i in infos:
        if older_than_days is not None and now - i.started > older_than_days * 86400:
            doomed.append(i)
        else:
            rest.append(i)
    if keep_bytes is not None:
        used = 0
        for i in rest:
            used += i.size
            if used > keep_bytes:
                doomed.append(i)
    doomed.sort(key=lambda i: (i.started, i.path.name))
    return doomed


def delete_sessions(infos: list[SessionInfo]) -> tuple[int, list[str]]:
    """Delete the recordings; (how many went, one line per one that could not)."""
    n = 0
    errors = []
    for i in infos:
        try:
            i.path.unlink()
            n += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            errors.append(f"cannot delete {i.path}: {exc.strerror or exc}")
    return n, errors
