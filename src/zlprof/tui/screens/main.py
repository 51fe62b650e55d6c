"""The main screen: header, operations table, time-share bars, memory growth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from ..keys import REPLAY_BINDINGS, SPACE_BINDING
from ..model import (
    SHARE_MODES,
    SORT_LABELS,
    WINDOW_S,
    MainRequest,
    Snapshot,
    TableOptions,
    default_descending,
    next_sort,
    share_bars,
    share_title,
)
from ..widgets import baseline as baseline_widgets
from ..widgets.charts import MemoryGraph, ShareBars
from ..widgets.ops_table import OpsTable
from ..widgets.status import CrashPanel, Panel, StatusBar

if TYPE_CHECKING:
    from ..app import ZlprofApp


class MainScreen(Screen):
    """Everything at a glance; Enter opens an op's drill-down."""

    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (60, "-narrow"), (100, "-normal"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (18, "-medium"), (36, "-tall")]

    # In the Footer's order (it cuts what does not fit; at 80 columns a replay shows up to
    # "? Help"). The app's q / ? / t are repeated here to place them; every key is also
    # in the help screen and the command palette.
    BINDINGS = [
        SPACE_BINDING,
        *REPLAY_BINDINGS,
        Binding("s", "sort", "Sort", tooltip="Sort by the next column"),
        Binding("f", "filter", "Find", tooltip="Filter operations by name"),
        Binding("w", "app.window", "Window", tooltip="Cumulative statistics or the last 10 s"),
        Binding("o", "app.sessions", "Sessions", tooltip="Recorded sessions: replay one, compare two"),
        Binding("l", "app.output", "Log", tooltip="Show the child's output"),
        Binding("question_mark", "app.help", "Help", key_display="?", tooltip="All keys"),
        Binding("q", "app.quit", "Quit", tooltip="Quit (stops the child: SIGTERM, then SIGKILL)"),
        Binding("S", "reverse", "Rev", key_display="S", tooltip="Reverse the sort direction"),
        Binding("r", "app.reset", "Reset", tooltip="Reset the statistics"),
        Binding("t", "app.next_theme", "Theme", tooltip="Next theme (dark, light, high-contrast)"),
        Binding("enter", "drill", "Open", key_display="⏎", tooltip="Open the op's drill-down"),
        Binding("v", "flat", "Tree", tooltip="Tree or flat view", show=False),
        Binding("p", "app.processes", "Procs",
                tooltip="Process tree: show one process or thread, or all", show=False),
        Binding("b", "share_mode", "Bars", tooltip="Time-share bars: by block (summed over layers) or by call path", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = TableOptions()
        #: time-share bars: "block" (summed over layers) or "path"
        self.share_mode = SHARE_MODES[0]
        self.last: Snapshot | None = None
        self.applied_version = -1
        self.applied = 0
        #: the rows list the table shows (a snapshot reusing it needs no redraw)
        self._rendered_rows: list[Any] | None = None
        self._rendered_baseline: Any = None

    @property
    def zapp(self) -> ZlprofApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            with Panel(id="ops-panel", title="operations · ms"):
                yield baseline_widgets.BaselineLine(id="baseline-line")
                yield OpsTable(id="ops")
                yield Input(placeholder="filter ops by name (Enter keeps, Esc clears)", id="filter", compact=True)
            with Vertical(id="side"):
                with Panel(id="share-panel", title="time share · by block"):
                    yield ShareBars(id="shares")
                with Panel(id="memory-panel", title="memory"):
                    yield MemoryGraph(id="memory")
                yield from self.zapp.extra_main_panels()
        yield CrashPanel(id="crash")
        yield Container(id="source-controls")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        controls = self.zapp.make_source_controls()
        box = self.query_one("#source-controls", Container)
        if controls is not None:
            box.mount(controls)
        else:
            box.display = False
        self.query_one(OpsTable).focus()
        self._retitle()
        self.zapp.sync_crash_panel()  # a program that failed before this screen existed

    # ------------------------------------------------------------------ refresh

    def view_request(self) -> MainRequest:
        return MainRequest(window=self.zapp.window, view=self.zapp.proc_view)

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show a snapshot (the header always; the panels unless the view is paused)."""
        self.last = snap
        self.zapp.update_status(self)
        if self.zapp.paused:
            return
        self.applied_version = snap.version
        self.applied += 1
        baseline_widgets.show_main(self, snap, self.query_one(OpsTable))
        # unchanged rows (reused by model.collect) and the same baseline need no redraw
        if snap.rows is not self._rendered_rows or snap.extra.get("baseline") is not self._rendered_baseline:
            self._render_rows()
            self._render_shares()
        if snap.memory is not None:
            self.query_one(MemoryGraph).update_view(snap.memory)
        self.zapp.update_extra_panels(self, snap)

    def _render_shares(self) -> None:
        if self.last is not None:
            panel = self.query_one("#share-panel", Panel)
            panel.border_title, panel.border_subtitle = share_title(
                self.share_mode, self.last.extra.get("share_threads", 1))
            self.query_one(ShareBars).update_bars(share_bars(self.last.rows, by=self.share_mode))

    def action_share_mode(self) -> None:
        """Time-share bars by block (summed over layers) or one per call path."""
        i = SHARE_MODES.index(self.share_mode)
        self.share_mode = SHARE_MODES[(i + 1) % len(SHARE_MODES)]
        self._render_shares()

    def _render_rows(self) -> None:
        if self.last is None:
            return
        table = self.query_one(OpsTable)
        baseline_widgets.sync_columns(table, self.options.sort)
        table.show_ops(self.last.rows, self.options)
        self._rendered_rows = self.last.rows
        self._rendered_baseline = self.last.extra.get("baseline")
        self._retitle()

    def _retitle(self) -> None:
        o = self.options
        bits = ["operations · ms"]
        if self.zapp.window:
            bits.append(f"last {WINDOW_S:.0f} s")
        arrow = "▼" if o.descending else "▲"
        bits.append(f"sort {SORT_LABELS.get(o.sort, o.sort)} {arrow}")
        if not self.zapp.proc_view.whole:
            bits.append(self.zapp.proc_view_label)
        if o.flat:
            bits.append("flat")
        if o.filter:
            bits.append(f"filter “{o.filter}”")
        if self.zapp.paused:
            bits.append("PAUSED")
        table = self.query_one(OpsTable)
        if table.total_rows > table.row_count:
            bits.append(f"first {table.row_count:,} of {table.total_rows:,} rows (f filters)")
        self.query_one("#ops-panel", Panel).border_title = " · ".join(bits)

    def set_options(self, **changes: Any) -> None:
        from dataclasses import replace

        self.options = replace(self.options, **changes)
        self._retitle()
        # a view change shows at once, from the last snapshot, even when paused
        if self.last is not None:
            self._render_rows()

    # ------------------------------------------------------------------ actions

    def action_sort(self) -> None:
        key = next_sort(self.options.sort)
        self.set_options(sort=key, descending=default_descending(key))

    def action_reverse(self) -> None:
        self.set_options(descending=not self.options.descending)

    def action_flat(self) -> None:
        self.set_options(flat=not self.options.flat)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.value = self.options.filter
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.remove_class("-shown")
        self.set_options(filter="")
        self.query_one(OpsTable).focus()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.set_options(filter=event.value)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        box = self.query_one("#filter", Input)
        if not event.value:
            box.remove_class("-shown")
        self.query_one(OpsTable).focus()

    def action_drill(self) -> None:
        view = self.query_one(OpsTable).cursor_view()
        if view is not None:
            self.zapp.open_drill(view.path_id)

    @on(DataTable.RowSelected, "#ops")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        view = self.query_one(OpsTable).row_views.get(event.row_key.value or "")
        if view is not None:
            self.zapp.open_drill(view.path_id)

    @on(OpsTable.Collapse)
    def _collapse(self, event: OpsTable.Collapse) -> None:
        collapsed = set(self.options.collapsed)
        if event.collapse:
            collapsed.add(event.key)
        else:
            collapsed.discard(event.key)
        self.set_options(collapsed=frozenset(collapsed))

    def on_screen_resume(self) -> None:
        self.query_one(OpsTable).focus()
