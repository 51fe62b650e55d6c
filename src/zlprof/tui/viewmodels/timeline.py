"""The replay timeline bar's model: position, duration, speed and state as text
(:func:`timeline_view`). No widgets."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- replay timeline


def clock(seconds: float) -> str:
    """A position on a timeline: ``0:07.5``, ``12:03.0``, ``1:02:03``."""
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        h, rest = divmod(int(seconds), 3600)
        mins, secs = divmod(rest, 60)
        return f"{h}:{mins:02d}:{secs:02d}"
    m, s = divmod(seconds, 60)
    if f"{s:04.1f}" == "60.0":  # 59.96 s rounds up to the next minute
        m, s = m + 1, 0.0
    return f"{int(m)}:{s:04.1f}"


@dataclass(frozen=True)
class TimelineView:
    """What the replay's timeline bar shows, formatted (from ReplaySource.timeline())."""

    #: playing | paused | ended | crashed | stopped | starting: the state's colour
    state: str
    #: "▶ playing", "‖ paused", "■ end" ...
    state_text: str
    position: str
    duration: str
    fraction: float
    speed: str
    #: "indexing…" while the seek index is being built; at the end, what space does
    note: str


def timeline_view(tl: Any) -> TimelineView:
    """The timeline bar's texts from a :class:`zlprof.replay.Timeline`."""
    status = tl.status
    at_end = status in ("ended", "crashed", "stopped") and tl.fraction >= 1.0
    if at_end:
        state = status
        word = {"ended": "end", "crashed": "end · crashed", "stopped": "end · stopped"}[status]
        text = f"■ {word}"
    elif status == "starting":
        state, text = "starting", "… starting"
    elif tl.paused:
        state, text = "paused", "‖ paused"
    else:
        state, text = "playing", "▶ playing"
    return TimelineView(
        state=state,
        state_text=text,
        position=clock(tl.position_s),
        duration=clock(tl.duration_s),
        fraction=tl.fraction,
        speed=tl.speed_text,
        # (at the end, what space does then: said here rather than in a toast)
        note="indexing…" if not tl.indexed else ("space plays it again" if at_end else ""),
    )
