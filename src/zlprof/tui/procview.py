"""The process tree as the processes screen shows it (no widgets: testable).

Rows come from :meth:`SessionState.process_rows`; this module only formats them and says
which :class:`~zlprof.session.View` each row selects.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import fmt
from ..session import WHOLE, ProcessRow, View
from .model import program_name

#: What the process and thread shares are (the screen's title says it).
SHARE_NOTE = ("share: top-level measured time / summed wall time of the measuring threads "
              "(a thread's: of its own wall time)")


@dataclass(frozen=True)
class ProcLine:
    """One line of the processes table."""

    view: View
    cells: tuple[str, ...]
    #: running | exited | killed | ended | thread | all: the state's colour
    kind: str


COLUMNS = ("process / thread", "pid", "start", "state", "meas", "share", "command")


def proc_lines(rows: list[ProcessRow]) -> list[ProcLine]:
    """``all processes`` first, then each process (indented under its parent) and, for
    a process with several threads, its threads."""
    total = sum(r.measurements for r in rows)
    running = sum(1 for r in rows if r.state == "running")
    out = [ProcLine(WHOLE, (f"all processes ({len(rows)}, {running} running)", "", "",
                            "", f"{total:,}", "", "merged: same path across processes"),
                    "all")]
    for r in rows:
        indent = "  " * r.depth
        name = program_name(r.command.split()) if r.command else "process"
        out.append(ProcLine(
            View(r.stream),
            (f"{indent}{'└ ' if r.depth else ''}{name}{_threads(r)}", str(r.pid),
             r.start or "?", r.label, f"{r.measurements:,}", fmt.pct(r.share), r.command),
            r.state,
        ))
        if len(r.thread_rows) > 1:
            for t in r.thread_rows:
                out.append(ProcLine(
                    View(r.stream, t.tid),
                    (f"{indent}    thread {t.name or t.tid}", str(t.tid), "", "",
                     f"{t.measurements:,}", fmt.pct(t.share), ""),
                    "thread",
                ))
    return out


def _threads(r: ProcessRow) -> str:
    return f" · {r.threads} threads" if r.threads > 1 else ""


def view_label(view: View, rows: list[ProcessRow]) -> str:
    """``pid 123`` / ``pid 123 thread 456 (name)`` / ``all processes``."""
    if view.whole:
        return "all processes"
    r = next((r for r in rows if r.stream == view.stream), None)
    pid = r.pid if r is not None else f"stream {view.stream}"
    if view.tid is None:
        return f"pid {pid}"
    name = ""
    if r is not None:
        name = next((t.name for t in r.thread_rows if t.tid == view.tid), "")
    return f"pid {pid} thread {view.tid}" + (f" ({name})" if name else "")
