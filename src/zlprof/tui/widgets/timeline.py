"""The replay's timeline bar: state, position / duration, progress, speed, index state.

One line under the panels of a replay (``SnapshotScreen.source_controls``). The bar
follows its replay on its own timer (``EVERY_S``; the app also nudges it after a seek
key), reading ``source.timeline()``; it repaints only when what it shows changed. A click
on the bar seeks there.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.signal import Signal
from textual.widget import Widget

from ...source_caps import Seekable
from ..model import TimelineView, timeline_view

#: How often the bar reads its replay's position (seconds).
EVERY_S = 0.2
#: Cells of the progress bar: played, the playhead, still to play.
PLAYED, HEAD, AHEAD = "━", "╸", "─"


class TimelineBar(Widget):
    """``▶ playing  0:12.3 / 1:05.0  ━━━━━━━╸──────────  1x  indexing…``"""

    COMPONENT_CLASSES = {
        "timeline--playing",
        "timeline--paused",
        "timeline--ended",
        "timeline--crashed",
        "timeline--played",
        "timeline--ahead",
        "timeline--time",
        "timeline--dim",
    }
    DEFAULT_CSS = """
    TimelineBar {
        height: 1;
        background: $surface;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    TimelineBar > .timeline--playing { color: $zl-running; text-style: bold; }
    TimelineBar > .timeline--paused { color: $zl-paused; text-style: bold; }
    TimelineBar > .timeline--ended { color: $zl-ended; text-style: bold; }
    TimelineBar > .timeline--crashed { color: $zl-crashed; text-style: bold; }
    TimelineBar > .timeline--played { color: $zl-bar; }
    TimelineBar > .timeline--ahead { color: $zl-axis; }
    TimelineBar > .timeline--time { color: $foreground; text-style: bold; }
    TimelineBar > .timeline--dim { color: $text-muted; }
    """

    def __init__(self, source: Seekable, moved: Signal[None] | None = None, **kwargs: Any) -> None:
        """``moved``: published when the replay moved (a seek or speed key): the bar
        shows it at once instead of at its next tick."""
        super().__init__(**kwargs)
        self.source = source
        self._moved = moved
        self.view: TimelineView | None = None
        #: where the progress bar starts and how wide it is (for clicks), in content cells
        self._bar_at = (0, 0)

    def on_mount(self) -> None:
        self.update_timeline()
        self.set_interval(EVERY_S, self.update_timeline, name="zlprof-timeline")
        if self._moved is not None:
            self._moved.subscribe(self, lambda _data: self.update_timeline(), immediate=True)

    def update_timeline(self, timeline: Any = None) -> bool:
        """Show ``timeline`` (default: read the source's now); True if it changed."""
        tl = timeline if timeline is not None else self.source.timeline()
        view = timeline_view(tl)
        if view == self.view:
            return False
        self.view = view
        self.refresh()
        return True

    def render(self) -> Text:
        v = self.view
        out = Text(no_wrap=True, overflow="crop")
        if v is None:
            return out
        width = self.content_size.width
        st = self.get_component_rich_style
        state_cls = {
            "playing": "timeline--playing",
            "paused": "timeline--paused",
            "crashed": "timeline--crashed",
        }.get(v.state, "timeline--ended")
        times = f"{v.position} / {v.duration}"
        tail = f"  {v.speed}" + (f"  {v.note}" if v.note else "")
        head = Text(no_wrap=True)
        head.append(v.state_text, st(state_cls))
        head.append("  ")
        head.append(times, st("timeline--time"))
        head.append("  ")
        bar_w = width - head.cell_len - len(tail)
        if bar_w < 8:  # narrow: drop the index note, then the state word
            tail = f"  {v.speed}"
            bar_w = width - head.cell_len - len(tail)
        if bar_w < 8:
            head = Text(no_wrap=True)
            head.append(v.state_text.split(" ")[0], st(state_cls))
            head.append(" ")
            head.append(times, st("timeline--time"))
            head.append(" ")
            bar_w = width - head.cell_len - len(tail)
        out.append_text(head)
        if bar_w >= 3:
            self._bar_at = (head.cell_len, bar_w)
            played = min(bar_w, int(round(v.fraction * bar_w)))
            if 0 < played < bar_w:
                bar = PLAYED * (played - 1) + HEAD
            else:
                bar = PLAYED * played
            out.append(bar, st("timeline--played"))
            out.append(AHEAD * (bar_w - played), st("timeline--ahead"))
        else:
            self._bar_at = (0, 0)
        out.append(f"  {v.speed}", st("timeline--time"))
        if tail.endswith(v.note) and v.note:
            out.append(f"  {v.note}", st("timeline--dim"))
        return out

    def on_click(self, event: events.Click) -> None:
        """A click on the progress bar seeks to that point."""
        start, width = self._bar_at
        x = event.x - self.styles.padding.left - start
        if width <= 0 or not 0 <= x < width:
            return
        self.source.seek(self.source.duration_s * (x + 0.5) / width)
        event.stop()
