"""Widgets of the baseline comparison (``--baseline``): the summary line above the
operations table and the drill-down histogram with the baseline drawn over it.

They render what the refresher put into the snapshot (zlprof.baseline via
tui.baseline_view); nothing here computes a statistic. ``show_main`` / ``show_drill``
are the screens' one-line hooks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rich.text import Text
from textual.widgets import Static

from ... import fmt
from ..baseline_view import BaselineCells
from ..braille import vbars
from .charts import DurationHistogram, histogram_axis


class BaselineLine(Static):
    """``vs OLD.zlp: 3 ops slower, 1 faster, 41 unchanged; forward_pass p50 -4.1 %``; when
    the machine was busy, ``...; inconclusive: the machine was busy (this run waited for a
    CPU 31 % of its time vs 2 %)`` in yellow."""

    DEFAULT_CSS = """
    BaselineLine { height: 1; display: none; text-wrap: nowrap; text-overflow: ellipsis; }
    BaselineLine.-shown { display: block; }
    """

    def show_view(self, view: Any) -> None:
        if view is None:
            self.set_class(False, "-shown")
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        counts = view.counts()
        from ...significance import Verdict

        style = "bold red" if counts.get(Verdict.SLOWER) else ("bold green" if counts.get(Verdict.FASTER) else "dim")
        if getattr(view, "busy", None) is not None:
            style = "bold yellow"  # the machine, not the code: neither pass nor fail
        text.append(view.summary(), style)
        # one line of fixed height: new text needs no layout (showing the line does)
        self.update(text, layout=not self.has_class("-shown"))
        self.set_class(True, "-shown")


class OverlayHistogram(DurationHistogram):
    """The duration histogram; with a baseline, the baseline's histogram (same buckets,
    both as shares of their samples) is drawn over it as a line of ``─`` at its bars'
    tops."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.baseline_counts: np.ndarray | None = None

    def update_overlay(self, edges_ms: np.ndarray, counts: np.ndarray, baseline_counts: np.ndarray | None) -> None:
        self.edges_ms, self.counts, self.baseline_counts = edges_ms, counts, baseline_counts
        self.refresh()

    def clear_overlay(self) -> None:
        if self.baseline_counts is not None:
            self.baseline_counts = None
            self.refresh()

    def render(self) -> Text:
        base = self.baseline_counts
        if base is None or len(base) != len(self.counts) or base.sum() == 0 or self.counts.sum() == 0:
            return super().render()
        width, height = self.content_size.width, self.content_size.height
        axis = self.get_component_rich_style("histogram--axis")
        cur = self.counts.astype(np.float64) / self.counts.sum()
        old = base.astype(np.float64) / base.sum()
        edges = self.edges_ms
        if len(cur) > width > 0:
            idx = (np.arange(len(cur)) * width) // len(cur)
            mc, mo = np.zeros(width), np.zeros(width)
            np.add.at(mc, idx, cur)
            np.add.at(mo, idx, old)
            cur, old = mc, mo
            edges = np.r_[edges[:-1][np.r_[True, np.diff(idx) > 0]], edges[-1]]
        rows = max(1, height - 2)
        top = max(float(np.max(cur)), float(np.max(old)))
        hc, ho = cur / top, old / top
        hc = np.where((cur > 0) & (hc * rows * 8 < 1), 1 / (rows * 8), hc)
        lines = [list(line) for line in vbars(hc, rows)]
        # the baseline: a mark in the cell holding the top of each of its bars
        marked = np.zeros((rows, len(hc)), bool)
        for x, h in enumerate(ho.tolist()):
            if h <= 0:
                continue
            r = rows - 1 - min(rows - 1, int(math.floor(h * rows - 1e-9)))
            if lines[r][x] == " ":
                lines[r][x] = "─"
                marked[r, x] = True
        bar = self.get_component_rich_style("histogram--bar")
        mark = self.get_component_rich_style("histogram--mark")
        out = Text(no_wrap=True, overflow="crop")
        for r, line in enumerate(lines):
            start = 0
            while start < len(line):
                end = start + 1
                while end < len(line) and marked[r, end] == marked[r, start]:
                    end += 1
                out.append("".join(line[start:end]), mark if marked[r, start] else bar)
                start = end
            out.append("\n")
        n = len(hc)
        lo, hi = math.log(edges[0]), math.log(edges[-1])
        marks = [" "] * n
        for label, value in self.marks.items():
            if value and value > 0 and hi > lo:
                x = min(max(int((math.log(value) - lo) / (hi - lo) * n), 0), n - 1)
                marks[x] = {"p50": "▲", "p95": "△", "p99": "▵"}.get(label, "^")
        out.append("".join(marks), mark)
        out.append("\n")
        mid = "█ now  ─ baseline  (share of samples)"
        out.append(histogram_axis(edges, mid, n)[:width], axis)
        return out


def show_main(screen: Any, snap: Any, table: Any) -> None:
    """Main screen hook, before the rows are shown: the summary line, and the view the
    table's baseline cells read."""
    view = snap.extra.get("baseline")
    try:
        screen.query_one(BaselineLine).show_view(view)
    except Exception:  # the screen is being torn down
        return
    cells: BaselineCells | None = getattr(table, "baseline_cells", None)
    if view is not None and cells is None:
        cells = table.baseline_cells = BaselineCells()
    if cells is not None:
        cells.view = view


def sync_columns(table: Any, sort: str) -> None:
    """The table's baseline columns for the sort column (none without a baseline)."""
    cells: BaselineCells | None = getattr(table, "baseline_cells", None)
    table.set_extra_columns(cells.columns(sort) if cells is not None and cells.view is not None else ())


def show_drill(screen: Any, snap: Any) -> None:
    """Drill-down hook: the baseline's histogram over the current one."""
    ov = snap.extra.get("baseline_drill")
    hist = screen.query_one(OverlayHistogram)
    panel = screen.query_one("#hist-panel")
    if ov is None:
        hist.clear_overlay()
        return
    hist.update_overlay(ov.edges_ms, ov.counts, ov.baseline_counts)
    bits = []
    if ov.baseline is not None:
        bits.append(f"baseline p50 {fmt.ms(ov.baseline.median_ms)} ms")
    c = ov.comparison
    if c is not None and c.change.get("median") is not None:
        bits.append(f"Δp50 {c.change['median'] * 100:+.1f}% {c.verdict}")
        if c.floor is not None:
            bits.append(f"noise floor {c.floor * 100:.1f}%")
    panel.border_subtitle = " · ".join(bits)
