"""The session library: recorded sessions in the default directory, newest first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import fmt
from .recording import RecordingError, default_sessions_dir, list_sessions, load_session


@dataclass
class SessionInfo:
    path: Path
    started: float
    program: str
    duration_s: float
    tokens_per_s: float
    size: int
    status: str


def session_info(path: Path) -> SessionInfo:
    size = path.stat().st_size
    try:
        st = load_session(path)
    except RecordingError as exc:
        return SessionInfo(path, path.stat().st_mtime, "?", 0.0, 0.0, size, f"unreadable: {exc}")
    s = st.summary()
    argv = s["argv"] or []
    program = " ".join(str(a) for a in argv[-6:]) if argv else "?"
    status = "truncated" if st.warnings else (
        "ok" if s["end_status"] in (0, None) else (st.end_reason or "failed")
    )
    return SessionInfo(
        path,
        s["wall_time"] or path.stat().st_mtime,
        program,
        s["elapsed_s"],
        s["tokens_per_s"],
        size,
        status,
    )


def session_table(directory: Path | None = None) -> str:
    d = directory or default_sessions_dir()
    paths = list_sessions(d)
    if not paths:
        return f"No recorded sessions in {d}\n"
    lines = [f"{'started':19}  {'duration':>8}  {'tok/s':>7}  {'size':>9}  {'status':9}  path"]
    for p in paths:
        info = session_info(p)
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.started))
        lines.append(
            f"{started:19}  {fmt.duration_s(info.duration_s):>8}  {info.tokens_per_s:7.1f}  "
            f"{fmt.nbytes(info.size):>9}  {info.status[:9]:9}  {p}"
        )
    return "\n".join(lines) + "\n"
