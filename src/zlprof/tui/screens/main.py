"""The main screen: header, headline, operations table, time-share bars, memory growth,
roofline and hints.

It opens on the answer (tui.opening): the table sorted by total time with the cursor on
the dominant op and small subtrees collapsed, under a headline that says where the time
goes. The defaults follow the data until the user collapses, expands or moves the
cursor; from then on the user's choices stick. Narrower than 100 columns the lower
panels come in pages that ``n`` cycles.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Input
from textual.widgets.data_table import RowDoesNotExist

from ..actions import MAIN_IDS, bindings
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
from ..opening import DEFAULT_DESCENDING, DEFAULT_SORT, Opening, cursor_after_sort, panel_pages
from ..viewmodels.facts import Header
from ..widgets import baseline as baseline_widgets
from ..widgets.charts import MemoryGraph, ShareBars
from ..widgets.footer import SteadyFooter
from ..widgets.headline import HeadlineBar
from ..widgets.ops_table import FilterInput, OpsTable
from ..widgets.status import CrashPanel, Panel, StatusBar
from .base import OpenDrill, SnapshotScreen

#: Screens less tall than this show no lower panel (the "-short" breakpoint).
SHORT_BELOW = 18
#: The lower panels' names in the ``n ▸`` hint.
PANEL_NAMES = {
    "share-panel": "time share",
    "memory-panel": "memory",
    "roofline-panel": "roofline",
    "hints-panel": "hints",
}


class MainScreen(SnapshotScreen):
    """Everything at a glance; Enter opens an op's drill-down.

    Shows the snapshots the app sets in ``snapshot`` (screens/base.py): the header, the
    crash panel, the session's warnings, then (unless the view is paused) the panels."""

    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (60, "-narrow"), (100, "-normal"), (150, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (SHORT_BELOW, "-medium"), (36, "-tall")]

    # From the action registry (tui/actions.py), in the Footer's order (it cuts what does
    # not fit; at 80 columns a replay shows up to "? Help"). The app's q / ? / t are
    # repeated here to place them; every key is also in the help screen and the palette.
    BINDINGS: ClassVar[list[BindingType]] = [*bindings(MAIN_IDS, "main")]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.options = TableOptions(sort=DEFAULT_SORT, descending=DEFAULT_DESCENDING)
        #: has the user collapsed or expanded a subtree? Until then the subtrees open
        #: and closed follow tui.opening's defaults
        self.user_tree = False
        #: the lower panels' page (``n``) and the pages for the current width
        self.panel_page = 0
        self.pages: list[tuple[str, ...]] = []
        #: a state message under a lower panel, by panel id (the peaks' age ...)
        self.panel_notes: dict[str, str] = {}
        #: time-share bars: "block" (summed over layers) or "path"
        self.share_mode = SHARE_MODES[0]
        self.applied_version = -1
        self.applied = 0
        #: the rows list the table shows (a snapshot reusing it needs no redraw)
        self._rendered_rows: list[Any] | None = None
        self._rendered_baseline: Any = None
        #: the session's warnings shown under the operations panel
        self._warned: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield HeadlineBar(id="headline")
        with Horizontal(id="body"):
            with Panel(id="ops-panel", title="operations · ms"):
                yield baseline_widgets.BaselineLine(id="baseline-line")
                yield OpsTable(id="ops")
                yield FilterInput(placeholder="filter ops by name (Enter keeps, Esc clears)", id="filter", compact=True)
            with Vertical(id="side"):
                with Panel(id="share-panel", title="time share · by block"):
                    yield ShareBars(id="shares")
                with Panel(id="memory-panel", title="memory"):
                    yield MemoryGraph(id="memory")
                yield self.roofline_panel()
                yield self.hints_panel()
        yield CrashPanel(id="crash")
        yield Container(id="source-controls")
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        controls = self.source_controls()
        box = self.query_one("#source-controls", Container)
        if controls is not None:
            box.mount(controls)
        else:
            box.display = False
        self.query_one(OpsTable).focus()
        self._retitle()
        self.layout_panels()
        if self.last is not None:  # a snapshot came while another screen was on top
            self.show_facts(self.last)

    # ------------------------------------------------------------------ refresh

    def view_request(self) -> MainRequest:
        return MainRequest(window=self.settings.window, view=self.settings.view)

    @property
    def last(self) -> Snapshot | None:
        """The snapshot held: the one shown, or the newest kept while another screen was
        on top (the app holds it without showing it)."""
        return self.snapshot

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is not None:
            self.apply_snapshot(snap)
            self.shown(snap)

    def watch_settings(self) -> None:
        self._retitle()
        super().watch_settings()

    def panel_pages(self) -> int:
        return max(1, len(self.pages))

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Show a snapshot (the header always; the panels unless the view is paused)."""
        self.show_facts(snap)
        if self.settings.paused:
            return
        self.applied_version = snap.version
        self.applied += 1
        opening: Opening | None = snap.opening
        if opening is not None:
            self.query_one(HeadlineBar).show(opening.headline.text)
            if not self.user_tree and opening.collapsed != self.options.collapsed:
                from dataclasses import replace

                self.options = replace(self.options, collapsed=opening.collapsed)
                self._rendered_rows = None  # the same rows, shown another way
        baseline_widgets.show_main(self, snap, self.query_one(OpsTable))
        # unchanged rows (reused by model.collect) and the same baseline need no redraw
        if snap.rows is not self._rendered_rows or snap.extra.get("baseline") is not self._rendered_baseline:
            self._render_rows()
            self._render_shares()
        if opening is not None:
            self._place_cursor(opening)
        if snap.memory is not None:
            self.query_one(MemoryGraph).update_view(snap.memory)
        self.show_extra(snap)

    def show_facts(self, snap: Snapshot) -> None:
        """What is shown even while the view is paused: the header (show_header), the
        session's warnings."""
        self.show_status(snap)
        if snap.warnings != self._warned and self.show_warnings(snap.warnings):
            self._warned = snap.warnings

    def show_header(self, header: Header) -> None:
        """The header's facts: the status bar, the crash panel, the note in place of the
        headline, the peaks' age under the roofline."""
        super().show_header(header)
        try:
            crash = self.query_one(CrashPanel)
        except NoMatches:
            return  # not composed yet (or being torn down): the next header says it
        if self.has_class("-crashed") != (header.crash is not None):
            # first: the panel's height follows (app.tcss: room for the table), and it
            # scrolls to its end once laid out at that height
            self.set_class(header.crash is not None, "-crashed")
            self.refresh_bindings()  # n has no panels to cycle while they give way
        if header.crash is None:
            crash.hide()
        else:
            crash.show_crash(header.crash.reason, list(header.crash.lines), hint=header.crash.hint)
        self.show_note(header.note)
        self.panel_note("roofline-panel", header.peaks_stale)

    def _place_cursor(self, opening: Opening) -> None:
        """Until the user moves it, the cursor sits on the dominant op (tui.opening), when
        that op is on the first page (the top of the table stays in view, whatever the
        sort)."""
        table = self.query_one(OpsTable)
        key = opening.cursor_key
        if table.user_moved or key is None or table.cursor_key() == key:
            return
        try:
            index = table.get_row_index(key)
        except RowDoesNotExist:
            return
        if index < table.page_rows():
            table.select_key(key, user=False)

    def _render_shares(self) -> None:
        if self.last is not None:
            panel = self.query_one("#share-panel", Panel)
            panel.border_title, subtitle = share_title(
                self.share_mode, self.last.extra.get("share_threads", 1))
            self.panel_note("share-panel", subtitle)  # the page hint shares the border
            self.query_one(ShareBars).update_bars(share_bars(self.last.rows, by=self.share_mode))

    def share_mode_shown(self) -> str | None:
        return self.share_mode

    def action_share_mode(self) -> None:
        """Time-share bars by block (summed over layers) or one per call path."""
        i = SHARE_MODES.index(self.share_mode)
        self.share_mode = SHARE_MODES[(i + 1) % len(SHARE_MODES)]
        self._render_shares()
        self.post_view()  # the refresher warms the bars in this mode from now on

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
        if self.settings.window:
            bits.append(f"last {WINDOW_S:.0f} s")
        arrow = "▼" if o.descending else "▲"
        bits.append(f"sort {SORT_LABELS.get(o.sort, o.sort)} {arrow}")
        if not self.settings.view.whole:
            bits.append(self.settings.view_label)
        if o.flat:
            bits.append("flat")
        table = self.query_one(OpsTable)
        if o.filter:
            # an empty table says why (a name past the path cap is in '(other paths)')
            none = self.last is not None and self.last.rows and not table.row_count
            bits.append(f"filter “{o.filter}”" + (": no op matches" if none else ""))
        if self.settings.paused:
            bits.append("PAUSED")
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
        self._top_in_view()

    def action_reverse(self) -> None:
        self.set_options(descending=not self.options.descending)
        self._top_in_view()

    def _top_in_view(self) -> None:
        """After a new order: the top of the table in view, the cursor on its op if that
        is on the first page, else on the first row (tui.opening.cursor_after_sort)."""
        table = self.query_one(OpsTable)
        if not table.row_count:
            return
        row = cursor_after_sort(table.cursor_row, table.page_rows())
        if row != table.cursor_row:
            table.move_cursor(row=row, animate=False, scroll=False)
        table.scroll_to(y=0, animate=False, immediate=True)
        table.call_after_refresh(table.scroll_to, y=0, animate=False)

    # ------------------------------------------------------------------ lower panels

    def _lower_panels(self) -> list[Panel]:
        return list(self.query("#side > Panel").results(Panel))

    def layout_panels(self) -> None:
        """Show the lower panels of the current page (all of them when they fit)."""
        panels = self._lower_panels()
        ids = [p.id or "" for p in panels]
        # (a short screen shows no lower panel: MainScreen.-short hides them)
        pages = panel_pages(self.size.width, ids) if self.size.height >= SHORT_BELOW else []
        if pages != self.pages:
            self.pages = pages
            self.panel_page = 0
            self.refresh_bindings()
            self.call_after_refresh(self.post_view)
        if not pages:
            return
        self.panel_page %= len(pages)
        shown = pages[self.panel_page]
        nxt = pages[(self.panel_page + 1) % len(pages)]
        for p in panels:
            p.display = p.id in shown
            bits = [self.panel_notes.get(p.id or "", "")]
            if p.id == shown[-1] and len(pages) > 1:
                bits.append(f"n ▸ {' · '.join(PANEL_NAMES.get(i, i) for i in nxt)}")
            p.border_subtitle = " · ".join(b for b in bits if b)

    def panel_note(self, panel_id: str, text: str) -> None:
        """A state message under a lower panel ("" removes it)."""
        if self.panel_notes.get(panel_id, "") != text:
            self.panel_notes[panel_id] = text
            self.layout_panels()

    def show_note(self, text: str) -> None:
        """A state message about the data in place of the headline ("" : the headline)."""
        try:
            self.query_one(HeadlineBar).show(note=text)
        except NoMatches:
            pass  # not composed yet (or being torn down): the next tick says it

    def show_warnings(self, warnings: list[str]) -> bool:
        """The session's warnings under the operations panel: the latest, and how many
        came before it. False if the panel is not there (yet)."""
        try:
            panel = self.query_one("#ops-panel", Panel)
        except NoMatches:
            return False
        more = f" (+{len(warnings) - 1} earlier)" if len(warnings) > 1 else ""
        panel.border_subtitle = f"⚠ {warnings[-1]}{more}" if warnings else ""
        return True

    def action_next_panels(self) -> None:
        """``n``: the next page of lower panels."""
        if len(self.pages) > 1:
            self.panel_page = (self.panel_page + 1) % len(self.pages)
            self.layout_panels()
            self.call_after_refresh(self.want_snapshot)  # once the new panels are laid out

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "next_panels":
            # (a crash's traceback takes the lower panels' place on a medium screen)
            hidden = self.has_class("-crashed") and self.has_class("-medium") and not self.has_class("-wide")
            return len(self.pages) > 1 and not hidden
        return True

    def on_resize(self) -> None:
        self.layout_panels()

    def action_flat(self) -> None:
        self.set_options(flat=not self.options.flat)
        self._top_in_view()  # a new order, as a sort

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
            self.post_message(OpenDrill(view.path_id))

    @on(OpsTable.RowSelected, "#ops")
    def _row_selected(self, event: OpsTable.RowSelected) -> None:
        event.stop()
        view = self.query_one(OpsTable).row_views.get(event.key)
        if view is not None:
            self.post_message(OpenDrill(view.path_id))

    @on(OpsTable.Collapse)
    def _collapse(self, event: OpsTable.Collapse) -> None:
        self.user_tree = True  # the user's own choice: no more defaults
        collapsed = set(self.options.collapsed)
        if event.collapse:
            collapsed.add(event.key)
        else:
            collapsed.discard(event.key)
        self.set_options(collapsed=frozenset(collapsed))

    def on_screen_resume(self) -> None:
        self.query_one(OpsTable).focus()
