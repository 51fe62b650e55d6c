"""What the screens show of the Source itself, beside its SessionState's data: the
header's facts (:func:`source_status`), the crash panel's content (:func:`crash_view`)
and the raw facts whose change asks for a new snapshot (:func:`header_facts`).

Read by the app on the Refresher thread (``ZlprofApp.collect_extra``) and its timer; no
widgets, no statistics: the formatting is ``viewmodels.status``'s.
"""

from __future__ import annotations

from typing import Any

from .. import fmt
from ..source_caps import HasCommand, HasProcess
from ..sources import Source, failure_hint
from .model import CrashView, Snapshot, StatusView, status_view


def _command(src: Source, info: dict[str, Any]) -> list[str]:
    """The program's command: as launched (python -m pkg ...: it reads better than the
    child's sys.argv), else as its hello frame recorded it (a replay)."""
    return list((src.argv if isinstance(src, HasCommand) else None) or info.get("argv") or [])


def source_status(
    src: Source, snap: Snapshot, *, paused: bool, window: bool, replay: str | None
) -> StatusView:
    """The header: the source's status and the snapshot's counters (``paused``, ``window``:
    the view settings; ``replay``: the replayed file's name, None for a live session)."""
    info = snap.info
    argv = _command(src, info)
    live = src if isinstance(src, HasProcess) else None
    pid = info.get("pid")
    if pid is None and live is not None and live.proc is not None:
        pid = live.proc.pid
    return status_view(
        status=src.status,
        exit_code=src.exit_code,
        end_reason=snap.end_reason or src.state.end_reason,
        argv=argv,
        pid=pid,
        recording=(src.recording_failure.banner() if src.recording_failure is not None
                   else str(src.recording_path) if src.recording_path else None),
        snap=snap,
        paused=paused,
        window=window,
        waited_s=(live.stall_after_s if live is not None else 0.0) or 0.0,
        replay=replay,
        wall_s=src.wall_elapsed_s(),
        quiet_s=live.quiet_s() if live is not None else None,
        ran_s=src.run_s(),
    )


def crash_view(src: Source) -> CrashView | None:
    """The crash panel's content while (and only while) the source has crashed: its exit
    status or signal and the tail of its stderr (a replay seeking back from its crashed
    end has none again)."""
    if src.status != "crashed":
        return None
    lines = list(src.stderr_tail)
    if not lines:
        with src.state.lock:
            lines = [m for _t, lvl, m in list(src.state.logs) if lvl == "stderr"]
    reason = src.state.end_reason or (f"exit status {src.exit_code}" if src.exit_code else "")
    return CrashView(reason, tuple(lines), failure_hint(lines, _command(src, src.state.info)))


def header_facts(src: Source) -> tuple[Any, ...]:
    """The source's facts the header and the crash panel show, as raw values: a change
    asks for a snapshot even when the data has not moved (a stall, a crash, the wall
    clock of a live session, as the header shows it)."""
    live = src if isinstance(src, HasProcess) else None
    wall = src.wall_elapsed_s()
    tail = src.stderr_tail
    return (
        src.status,
        src.exit_code,
        src.state.end_reason,
        None if wall is None else fmt.duration_s(wall),
        f"{live.quiet_s():.0f}" if live is not None else None,
        src.run_s(),
        src.recording_failure is not None,
        len(tail),
        tail[-1] if tail else None,
    )
