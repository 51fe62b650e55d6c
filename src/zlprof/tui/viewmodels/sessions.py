"""The session browser's cells: its columns, one recording's cells and the column
widths for a terminal width. No widgets, no file reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ... import fmt
from .table import COLUMN_PADDING

# --------------------------------------------------------------------------- session browser


@dataclass(frozen=True)
class SessionColumn:
    key: str
    label: str
    #: cells; 0: the program column, which takes what the others leave
    width: int
    right: bool = False


SESSION_COLUMNS: tuple[SessionColumn, ...] = (
    SessionColumn("mark", " ", 1),
    SessionColumn("started", "started", 16),
    SessionColumn("program", "program", 0),
    SessionColumn("duration", "duration", 8, right=True),
    SessionColumn("tps", "tok/s", 7, right=True),
    SessionColumn("size", "size", 9, right=True),
    SessionColumn("status", "status", 10),
)


def session_cells(info: Any, mark: str = "", short_date: bool = False) -> dict[str, str]:
    """A session browser row from a :class:`zlprof.sessions.SessionInfo`
    (``short_date``: month, day and time only, for narrow screens)."""
    import time as _time

    return {
        "mark": mark,
        "started": _time.strftime("%m-%d %H:%M" if short_date else "%Y-%m-%d %H:%M",
                                  _time.localtime(info.started)),
        "program": info.program,
        "duration": fmt.duration_s(info.duration_s) if info.duration_s else "-",
        "tps": f"{info.tokens_per_s:.1f}" if info.tokens else "-",
        "size": fmt.nbytes(info.size),
        "status": info.status,
    }


#: Below this table width the browser shows dates without the year.
SESSION_SHORT_DATE_BELOW = 110


def session_column_widths(width: int) -> dict[str, int]:
    """Column widths of a browser table ``width`` cells wide (the program column takes
    what the others leave)."""
    widths = {c.key: c.width for c in SESSION_COLUMNS}
    if width < SESSION_SHORT_DATE_BELOW:
        widths["started"] = 11
    fixed = sum(w + COLUMN_PADDING for w in widths.values() if w)
    widths["program"] = max(8, width - fixed - COLUMN_PADDING)
    return widths
