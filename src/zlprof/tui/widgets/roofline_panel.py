"""The roofline panel: each op with costs against this machine's roof, drawn to the
panel's size.

``update_view(state, peaks, highlight)`` places the ops (only when the state, the peaks
or the highlight changed, and new data of the same state at most once a second: the
points are session totals and move slowly) and ``render`` draws the chart for the
current content size (a resize redraws from the kept points; nothing is recomputed). Above
the chart one line gives the headline: the repeating block's achieved bandwidth as a share
of the roof of the level it streams from (:func:`~zlprof.roofline.stream_summary`).
Colours come from component
classes styled with Textual's standard theme variables, so every theme applies.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widget import Widget

from ...roofline import (
    MachinePeaks,
    RooflinePoint,
    StreamSummary,
    place,
    render_roofline,
    stream_summary,
)
from ...textwidth import cut, pad, wrap

#: What the panel says without machine peaks, unless the app says more (``note``).
NO_PEAKS = "no machine peaks cached: run `zlprof roofline --calibrate`"


def placed_view(
    state: Any, peaks: MachinePeaks | None, note: str | None = None, rows: Any = None
) -> tuple[list[RooflinePoint], StreamSummary | None, str]:
    """(points, headline summary, message) for the panel: the ops of ``state`` placed
    against ``peaks`` (zlprof.roofline does the placing). The app calls it on the
    Refresher thread and puts the result in the snapshot; the panel only shows it.
    ``rows``: ``state.op_rows()`` when the caller has them already."""
    if peaks is None:
        return [], None, note or NO_PEAKS
    if state is None:
        return [], None, "roofline: waiting for data"
    if rows is None:
        rows = state.op_rows()
    points = place(rows, peaks)
    message = "" if points else "roofline: no op costs yet (ops report them with zlprof.cost)"
    return points, stream_summary(rows, peaks), message


class RooflinePanel(Widget):
    """A log-log roofline of the session's ops (ids and labels match the roofline table)."""

    COMPONENT_CLASSES = {
        "roofline--roof",
        "roofline--axis",
        "roofline--memory",
        "roofline--compute",
        "roofline--above",
        "roofline--title",
    }
    DEFAULT_CSS = """
    RooflinePanel { height: 1fr; min-height: 8; text-wrap: nowrap; text-overflow: clip; }
    RooflinePanel > .roofline--roof { color: $secondary; }
    RooflinePanel > .roofline--axis { color: $text-muted; }
    RooflinePanel > .roofline--memory { color: $warning; text-style: bold; }
    RooflinePanel > .roofline--compute { color: $success; text-style: bold; }
    RooflinePanel > .roofline--above { color: $error; text-style: bold; }
    RooflinePanel > .roofline--title { color: $foreground; text-style: bold; }
    """

    def __init__(self, *, min_interval_s: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: new data (the same state with a higher version) is placed at most this often;
        #: peaks, highlight or a different state apply at once
        self.min_interval_s = float(min_interval_s)
        self._placed_at = -1e18
        self._pending: tuple[Any, MachinePeaks | None, str | None] | None = None
        self._timer: Any = None
        self.points: list[RooflinePoint] = []
        self.summary: StreamSummary | None = None
        self.peaks: MachinePeaks | None = None
        self.highlight: str | None = None
        self.message = "roofline: waiting for data"
        self._data_key: tuple[Any, ...] | None = None
        self._drawn_key: tuple[Any, ...] | None = None
        self._drawn: Text | None = None
        #: how many times the points were placed / the chart drawn (cheapness is testable)
        self.placements = 0
        self.draws = 0

    def update_view(
        self,
        state: Any,
        peaks: MachinePeaks | None,
        highlight: str | None = None,
        note: str | None = None,
    ) -> bool:
        """Place the state's ops against ``peaks``; returns whether anything changed.

        ``peaks`` None shows a note instead of a chart: ``note`` when given (the app says
        when it is measuring the peaks), else how to get them (:data:`NO_PEAKS`). Call it
        under ``state.lock`` when another thread ingests.
        """
        peaks_key = ("none", note) if peaks is None else (peaks.gflops, peaks.gbps, peaks.source)
        key = (id(state), getattr(state, "version", None), peaks_key, highlight)
        if key == self._data_key:
            return False
        now = time.monotonic()
        old = self._data_key
        # the same state, peaks and highlight: only the data grew
        only_newer_data = old is not None and (key[0], key[2], key[3]) == (old[0], old[2], old[3])
        wait = self._placed_at + self.min_interval_s - now
        if only_newer_data and wait > 0:
            self._pending = (state, peaks, highlight)
            if self._timer is None and self.is_mounted:
                self._timer = self.set_timer(wait, self._apply_pending)
            return False
        self._pending = None
        self._placed_at = now
        points, summary, message = placed_view(state, peaks, note)
        if peaks is not None and state is not None:
            self.placements += 1
        self.show(points, summary, peaks, highlight, message, key)
        return True

    def show(
        self,
        points: list[RooflinePoint],
        summary: StreamSummary | None,
        peaks: MachinePeaks | None,
        highlight: str | None,
        message: str,
        key: tuple[Any, ...] | None = None,
    ) -> None:
        """Show ops already placed (:func:`placed_view`): nothing is computed here."""
        self._data_key = key if key is not None else (id(points), highlight, id(peaks), message)
        self.points, self.summary, self.peaks = points, summary, peaks
        self.highlight, self.message = highlight, message
        self.refresh()

    def _apply_pending(self) -> None:
        self._timer = None
        if self._pending is not None:
            state, peaks, highlight = self._pending
            self._placed_at = -1e18
            self.update_view(state, peaks, highlight)

    def _styles(self) -> dict[str, Any]:
        st = self.get_component_rich_style
        roof = st("roofline--roof")
        return {
            "roof": roof,
            "ridge": roof,
            "axis": st("roofline--axis"),
            "memory": st("roofline--memory"),
            "compute": st("roofline--compute"),
            "above": st("roofline--above"),
            "title": st("roofline--title"),
        }

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if self.peaks is None or self.message:
            # (wrapped by words, in cells: the panel never wraps a chart line)
            lines = wrap(self.message, max(8, width))
            return Text("\n".join(lines), style=self.get_component_rich_style("roofline--axis"))
        key = (self._data_key, width, height)
        if key != self._drawn_key or self._drawn is None:
            styles = self._styles()
            if self.summary is not None and height > 9:
                head = Text(pad(cut(self.summary.fit(width), width), width), style=styles["title"], end="\n")
                head.no_wrap, head.overflow = True, "crop"
                chart = render_roofline(
                    self.points, self.peaks, width, height - 1, self.highlight, styles=styles
                )
                self._drawn = Text.assemble(
                    head, "\n", chart, no_wrap=True, overflow="crop", end=""
                )
            else:
                self._drawn = render_roofline(
                    self.points, self.peaks, width, height, self.highlight, styles=styles
                )
            self._drawn_key = key
            self.draws += 1
        return self._drawn

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn_key = None  # a theme change recolours the chart
