"""View models of the baseline comparison (``--baseline``): no widgets, testable alone.

The comparison itself is :mod:`zlprof.baseline` (computed by the refresher thread into
``snapshot.extra["baseline"]``); this module turns it into what the screens show:

* three extra columns of the operations table: the change of p50 against the baseline,
  the change of the sorted statistic (p95 or avg when the table is sorted by one, else
  p99), and a marker (``▲ slower``, ``▼ faster``, ``·`` not significant, ``new`` for an op
  the baseline lacks, ``few`` for too few samples, and for an inconclusive change ``? busy`` when the
  busy machine explains it (starvation.py) or ``? all`` when the op moved only as much as
  every other op did (the machine's common level, significance.COMMON) and the machine was
  not found busy);
* the summary line above the table (BaselineView.summary);
* the snapshot hook the refresher calls (:func:`collect`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..baseline import BaselineComparator, BaselineView, OpComparison
from ..significance import COMMON, Verdict
from .model import Column, DrillRequest, MainRequest, Snapshot

#: marker cell text of each verdict
MARKERS = {
    Verdict.SLOWER: "▲ slower",
    Verdict.FASTER: "▼ faster",
    Verdict.SAME: "·",
    Verdict.FEW: "few",
    Verdict.ONLY_B: "new",
    Verdict.INCONCLUSIVE: "? busy",
}
#: the marker of an op that moved only as much as every op did
MOVED_WITH_ALL = "? all"
#: the sort column whose change the second Δ column shows (others: p99)
SORTED_STAT = {"p95": ("p95", "Δp95"), "avg": ("mean", "Δavg")}
DEFAULT_STAT = ("p99", "Δp99")
#: the extra columns are dropped when the table would keep fewer cells than this
MIN_TABLE_WIDTH = 60


def change_text(c: OpComparison | None, stat: str) -> str:
    if c is None:
        return ""
    if c.verdict == Verdict.ONLY_B:
        return "new"
    v = c.change.get(stat)
    if v is None:
        return "-"
    if abs(v) < 1:
        return f"{v * 100:+.1f}%"
    if v < 99:
        return f"{v * 100:+.0f}%"
    return f"{1 + v:.3g}x"  # (a change stays within the 7-cell column)


def marker_text(c: OpComparison | None, busy: bool = False) -> str:
    """The marker cell; ``busy``: the comparison says the machine was busy (then every
    inconclusive op is ``? busy``, as the summary line above the table says)."""
    if c is None:
        return ""
    if c.verdict == Verdict.INCONCLUSIVE and c.why == COMMON and not busy:
        return MOVED_WITH_ALL
    return MARKERS.get(c.verdict, str(c.verdict))


class BaselineCells:
    """The ops table's baseline columns; their cells read the current view (set per
    snapshot), so the Column objects stay the same and the table only updates cells."""

    def __init__(self) -> None:
        self.view: BaselineView | None = None
        self._cols: dict[str, tuple[Column, ...]] = {}

    def get(self, full: str) -> OpComparison | None:
        return self.view.ops.get(full) if self.view is not None else None

    def busy(self) -> bool:
        return self.view is not None and self.view.busy is not None

    def columns(self, sort: str) -> tuple[Column, ...]:
        stat, label = SORTED_STAT.get(sort, DEFAULT_STAT)
        cols = self._cols.get(stat)
        if cols is None:
            cols = self._cols[stat] = (
                Column("base_p50", "Δp50", 7, _value(self, "median"),
                       lambda r: change_text(self.get(r.full), "median"), 0),
                Column(f"base_{stat}", label, 7, _value(self, stat), self._text(stat), 0),
                Column("base_mark", "vs base", 8, _zero,
                       lambda r: marker_text(self.get(r.full), self.busy()), 0),
            )
        return cols

    def _text(self, stat: str) -> Callable[[Any], str]:
        def text(r: Any) -> str:
            return change_text(self.get(r.full), stat)

        return text


def _value(cells: BaselineCells, stat: str) -> Any:
    def value(r: Any) -> float:
        c = cells.get(r.full)
        v = c.change.get(stat) if c is not None else None
        return v if v is not None else float("-inf")

    return value


def marker_style(text: str) -> str:
    """The colour of a marker cell (the rest are plain)."""
    if text.startswith("▲"):
        return "bold red"
    if text.startswith("▼"):
        return "bold green"
    return ""


def collect(comparator: BaselineComparator | None, state: Any, snap: Snapshot) -> None:
    """Refresher thread: add the baseline comparison (main screen) or the histogram
    overlay (drill-down) to the snapshot."""
    if comparator is None:
        return
    if isinstance(snap.request, MainRequest):
        snap.extra["baseline"] = comparator.compare(state)
    elif isinstance(snap.request, DrillRequest) and snap.drill is not None:
        comparator.compare(state)
        snap.extra["baseline_drill"] = comparator.drill_overlay(state, snap.drill.full, snap.request.bins)


def due(comparator: BaselineComparator | None, state: Any) -> bool:
    """Is a comparison of newer data due (the table would otherwise keep an older one
    once the data stops changing)?"""
    return comparator is not None and comparator.stale(state)


def _zero(_row: object) -> float:
    return 0.0
