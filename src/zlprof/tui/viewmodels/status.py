"""The status bar's model: the program's name, state, recording and counters
(:func:`status_view`). No widgets."""

from __future__ import annotations

from dataclasses import dataclass

from ... import fmt
from ...naming import program_name
from .common import _count
from .snapshot import Snapshot

# --------------------------------------------------------------------------- status


@dataclass(frozen=True)
class StatusView:
    """The header's facts, formatted."""

    state: str
    state_text: str
    program: str
    pid: str
    elapsed: str
    tokens_per_s: str
    #: what tokens_per_s divides (zlprof.rates: "output tokens / last 10 s")
    tokens_divides: str
    ttft: str
    tpot: str
    meas_rate: str
    measurements: str
    recording: str
    detail: str = ""
    window: bool = False
    #: what the path on the second line is: "rec" (live, recorded) or "replay" (a file)
    recording_key: str = "rec"
    #: ``10 procs (2 running)`` when more than one process measured, else ""
    processes: str = ""


def _opt_ms(v: float | None) -> str:
    return "-" if v is None else f"{fmt.ms(v)} ms"


def status_view(
    *,
    status: str,
    exit_code: int | None,
    end_reason: str,
    argv: list[str],
    pid: int | None,
    recording: str | None,
    snap: Snapshot | None,
    paused: bool = False,
    window: bool = False,
    waited_s: float = 0.0,
    replay: str | None = None,
    wall_s: float | None = None,
    quiet_s: float | None = None,
    ran_s: float | None = None,
) -> StatusView:
    """Header facts from the source's status and the latest snapshot.

    ``replay``: the recording's file name when the source is a replay (the header then
    says so, and shows that name where a live session shows its recording).

    Live sessions (the source's wall clock): ``wall_s``, the wall time since the start,
    is the elapsed time shown (it advances whatever the child does; a replay shows the
    recording's clock instead); ``quiet_s``, seconds since the child's last frame (a
    ``stalled`` child: how long); ``ran_s``, how long the program ran once it has ended;
    ``waited_s``, the stall threshold.
    """
    state = status
    ran = f" after {fmt.duration_s(ran_s)}" if ran_s is not None else ""
    if replay is not None and status in ("running", "paused", "starting"):
        text = {"running": "replay · playing", "paused": "replay · paused",
                "starting": "replay · starting"}[status]
    elif replay is not None and status in ("ended", "crashed", "stopped"):
        recorded = {"ended": "ended", "stopped": "stopped"}.get(
            status, f"crashed ({end_reason or f'exit {exit_code}'})"
        )
        text = f"replay · {recorded}"
    elif status in ("running", "paused") or status == "starting":
        text = {"running": "running", "paused": "paused", "starting": "starting"}[status]
        if status == "running" and snap is not None and snap.measurements == 0:
            text = "running · no measurements yet"
    elif status in ("stalled", "silent"):
        quiet = quiet_s if quiet_s is not None else waited_s
        what = "no measurements" if snap is None or snap.measurements == 0 else "no frames"
        text = f"stalled · {what} for {quiet:.0f} s"
    elif status == "suspended":
        text = "stopped (SIGSTOP) · kill -CONT resumes it" if pid is None else (
            f"stopped (SIGSTOP) · kill -CONT {pid} resumes it"
        )
    elif status == "crashed":
        text = f"crashed ({end_reason or f'exit {exit_code}'}){ran}"
    elif status == "ended":
        text = ("ended" if not exit_code else f"ended (exit {exit_code})") + ran
    elif status == "stopped":
        text = "stopped"
    else:
        text = status
    if paused:
        state = "paused"
        text = f"view paused · {text}"
    s = snap
    if wall_s is not None:
        elapsed = fmt.duration_s(wall_s)
    else:
        elapsed = fmt.duration_s(s.elapsed_s) if s else "-"
    return StatusView(
        state=state,
        state_text=text,
        program=program_name(argv),
        pid=str(pid) if pid else "-",
        elapsed=elapsed,
        tokens_per_s=f"{s.tokens_per_s:.1f}" if s and s.tokens_total else "-",
        tokens_divides=s.tokens_divides if s and s.tokens_total else "",
        ttft=_opt_ms(s.ttft_ms if s else None),
        tpot=_opt_ms(s.tpot_ms if s else None),
        meas_rate=fmt.rate(s.measurements_per_s) if s and s.measurements else "-",
        measurements=_count(s.measurements) if s else "0",
        recording=replay if replay is not None else (recording or "not recorded"),
        detail=end_reason if status == "crashed" else "",
        window=window,
        recording_key="replay" if replay is not None else "rec",
        processes=processes_text(s.extra.get("processes")) if s else "",
    )


def processes_text(counts: tuple[int, int] | None) -> str:
    """The header's process count: ``10 procs (2 running)``; "" for a single process."""
    if not counts:
        return ""
    running, total = counts
    if total <= 1:
        return ""
    return f"{total} procs ({running} running)"
