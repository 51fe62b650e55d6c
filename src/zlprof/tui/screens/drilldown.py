"""One operation in depth: histogram, recent durations, full statistics, children."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from ..actions import DRILL_IDS, bindings
from ..model import DrillRequest, DrillView, Snapshot
from ..widgets import baseline as baseline_widgets
from ..widgets.charts import DurationHistogram, RecentPlot
from ..widgets.details import ChildrenTable, StatsPanel
from ..widgets.footer import SteadyFooter
from ..widgets.status import Panel, StatusBar
from .base import SnapshotScreen


class DrillDownScreen(SnapshotScreen):
    """Escape returns to the main screen; Enter on a child opens it; u goes to the parent.

    ``full``: the op's whole path, the title until its first snapshot comes."""

    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (60, "-narrow"), (100, "-normal"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (18, "-medium"), (36, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [*bindings(DRILL_IDS, "drill")]  # (tui/actions.py)

    def __init__(self, path_id: int, full: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path_id = path_id
        self.full = full
        self.view: DrillView | None = None
        self.last: Snapshot | None = None
        self.applied = 0
        #: ops visited from here (id, path), so ``u`` after a child returns along the same path
        self.trail: list[tuple[int, str]] = []

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="drill-title")
        with Horizontal(id="drill-top"):
            with Panel(id="stats-panel", title="statistics"):
                with VerticalScroll(id="stats-scroll"):
                    yield StatsPanel(id="stats")
            with Vertical(id="drill-plots"):
                with Panel(id="hist-panel", title="durations · log scale"):
                    yield baseline_widgets.OverlayHistogram(id="hist")
                with Panel(id="recent-panel", title="recent durations over time"):
                    yield RecentPlot(id="recent")
        with Horizontal(id="drill-bottom"):
            with Panel(id="children-panel", title="children · self vs total"):
                yield ChildrenTable(id="children")
            yield self.roofline_panel()
        controls = self.source_controls()
        if controls is not None:
            yield controls
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(ChildrenTable).focus()
        self._title(None)
        # ask for data once the plots know their size
        self.call_after_refresh(self.want_snapshot)

    # ------------------------------------------------------------------ refresh

    def view_request(self) -> DrillRequest:
        try:
            bins = self.query_one(DurationHistogram).bins_wanted()
        except Exception:  # not mounted yet
            bins = 60
        return DrillRequest(self.path_id, bins)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is not None:
            self.apply_snapshot(snap)
            self.shown(snap)

    def apply_snapshot(self, snap: Snapshot) -> None:
        self.last = snap
        self.show_status(snap)
        if self.settings.paused or snap.drill is None or snap.drill.path_id != self.path_id:
            return
        d = self.view = snap.drill
        self.applied += 1
        self._title(d)
        self.query_one(StatsPanel).show(d)
        st = d.cumulative
        self.query_one(DurationHistogram).update_data(
            d.hist_edges_ms, d.hist_counts, {"p50": st.median_ms, "p95": st.p95_ms, "p99": st.p99_ms}
        )
        baseline_widgets.show_drill(self, snap)
        self.query_one(RecentPlot).update_data(d.recent_t_s, d.recent_ms)
        self.query_one(ChildrenTable).show(d.children)
        self.query_one("#children-panel", Panel).border_subtitle = (
            f"{len(d.children)} children" if d.children else "no children"
        )
        self.show_extra(snap)

    def _title(self, d: DrillView | None) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        if d is None:
            title.append(self.full or f"#{self.path_id}", "bold")
        else:
            title.append(d.full, "bold")
            if d.parent_full:
                title.append("   parent ", "dim")
                title.append(d.parent_full)
                title.append(" (u)", "dim")
        self.query_one("#drill-title", Static).update(title)

    # ------------------------------------------------------------------ navigation

    def show_op(self, path_id: int, full: str) -> None:
        """Switch this screen to another op (a child or the parent; ``full``: its path)."""
        self.path_id = path_id
        self.full = full
        self.view = None
        self._title(None)
        self.want_snapshot()

    def action_back(self) -> None:
        self.dismiss()

    def action_parent(self) -> None:
        if self.trail:
            self.show_op(*self.trail.pop())
        elif self.view is not None and self.view.parent_id:
            self.show_op(self.view.parent_id, self.view.parent_full)

    def action_child(self) -> None:
        child = self.query_one(ChildrenTable).selected()
        if child is not None:
            self.trail.append((self.path_id, self.view.full if self.view else self.full))
            self.show_op(child.path_id, child.full)

    @on(DataTable.RowSelected, "#children")
    def _child_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_child()
