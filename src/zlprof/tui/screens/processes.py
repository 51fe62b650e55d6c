"""``p``: the process tree. Pick one process or thread for the main table, or all."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable

from ...session import View
from ...sources import Source
from ..procview import COLUMNS, SHARE_NOTE, proc_lines
from ..widgets.fitted_table import FittedTable
from ..widgets.footer import SteadyFooter
from .modal import FOLLOW_EVERY_S, ZlprofModal

_STYLE = {"running": "bold", "exited": "", "killed": "bold red", "ended": "yellow",
          "thread": "dim", "all": "bold"}


class ProcessesScreen(ZlprofModal[View | None]):
    """Each measuring process with its command, state (running, exited with code, killed
    by signal, ended with status unknown) and share; Enter shows it in the main table."""

    DEFAULT_CSS = """
    ProcessesScreen { align: center middle; }
    ProcessesScreen > DataTable {
        width: 95%;
        height: 80%;
        border: round $primary;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
    }
    """

    BINDINGS = [
        Binding("enter", "pick", "Show", key_display="⏎", tooltip="Show this process or thread"),
        Binding("a", "all", "All", tooltip="Show all processes (merged)"),
        Binding("escape,p", "close", "Close", key_display="esc"),
        Binding("q", "app.quit", "Quit", tooltip="Quit (stops the child: SIGTERM, then SIGKILL)"),
    ]

    def __init__(self, source: Source, current: View) -> None:
        """``current``: the view the main table shows now (the cursor starts on it)."""
        super().__init__()
        self.source = source
        self.current = current
        self._views: list[View] = []
        self._version = -1

    def compose(self) -> ComposeResult:
        table = FittedTable(cursor_type="row", zebra_stripes=True, id="procs")
        table.border_title = "processes"
        table.border_subtitle = SHARE_NOTE
        yield table
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        table = self.query_one(FittedTable)
        table.set_columns([(Text(c), c) for c in COLUMNS])
        self.follow()
        self.set_interval(FOLLOW_EVERY_S, self.follow, name="zlprof-processes")
        current = self.current
        if current in self._views:
            table.move_cursor(row=self._views.index(current))
        table.focus()

    def follow(self) -> None:
        """Rebuild the table when the state moved (on this screen's own timer)."""
        state = self.source.state
        if state.version == self._version:
            return
        self._version = state.version
        lines = proc_lines(state.process_rows())
        table = self.query_one(FittedTable)
        row = table.cursor_row
        table.fill([(None, [Text(c, style=_STYLE.get(line.kind, "") if i in (0, 3) else "")
                            for i, c in enumerate(line.cells)]) for line in lines])
        self._views = [line.view for line in lines]
        if 0 <= row < len(lines):
            table.move_cursor(row=row)
        n = len(lines) - 1 - sum(1 for ln in lines if ln.kind == "thread")
        table.border_title = f"processes ({n})"

    def action_pick(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self._views):
            self.dismiss(self._views[row])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_pick()

    def action_all(self) -> None:
        self.dismiss(View())

    def action_close(self) -> None:
        self.dismiss(None)
