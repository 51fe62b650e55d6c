"""``o``: the session browser. Recorded sessions, newest first; Enter replays one in this
app, ``m`` marks one and ``c`` compares another with it (or, none marked, the selected one
with the session on screen)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from ..model import SESSION_COLUMNS, SESSION_SHORT_DATE_BELOW, session_cells, session_column_widths
from ..widgets.footer import SteadyFooter


class SessionTable(DataTable):
    """One row per recording, keyed by its path."""

    DEFAULT_CSS = """
    SessionTable { height: 1fr; scrollbar-size-vertical: 1; scrollbar-size-horizontal: 0; }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Replay", key_display="⏎", tooltip="Replay the session in this app"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", **kwargs)

    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value


class SessionsScreen(Screen):
    """Recorded sessions in the sessions directory.

    ``current``: the file of the session on screen (marked ▶); ``baseline``: the one the
    baseline was read from (◆). What to do with a session goes to the app as a message
    (:class:`Replay`, :class:`Compare`, :class:`Baseline`)."""

    class Replay(Message):
        """Replay this recording in the app."""

        def __init__(self, path: Path) -> None:
            super().__init__()
            self.path = path

    class Compare(Message):
        """Compare session ``b`` (None: the one on screen) with ``a``."""

        def __init__(self, a: Path, b: Path | None) -> None:
            super().__init__()
            self.a, self.b = a, b

    class Baseline(Message):
        """Compare with this baseline from now on (a BaselineComparator; None: none)."""

        def __init__(self, comparator: Any, path: Path | None) -> None:
            super().__init__()
            self.comparator, self.path = comparator, path

    BINDINGS = [
        Binding("enter", "open", "Replay", key_display="⏎", tooltip="Replay the session in this app"),
        Binding("m", "mark", "Mark A", tooltip="Mark the session as A, the baseline of a comparison"),
        Binding("b", "baseline", "Baseline", tooltip="Compare the session on screen, and the next live or replay, with this one (again: none)"),
        Binding("c", "compare", "Compare", tooltip="Compare with the marked session A (none marked: the session on screen is B)"),
        Binding("r", "rescan", "Rescan", tooltip="List the directory again"),
        Binding("escape", "back", "Back", key_display="esc"),
    ]

    DEFAULT_CSS = """
    SessionsScreen #sessions-title {
        height: auto;
        padding: 0 1;
        background: $surface;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    SessionsScreen #sessions-empty { padding: 1 2; color: $text-muted; display: none; }
    SessionsScreen #sessions-empty.-shown { display: block; }
    """

    def __init__(
        self,
        directory: Path,
        current: Path | None = None,
        baseline: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.directory = Path(directory)
        self.current_path = current
        self.baseline_path = baseline
        self.infos: list[Any] = []
        self.by_path: dict[str, Any] = {}
        #: the session marked as A (``m``)
        self.marked: str | None = None
        self.loaded = False
        self._width = 0

    def compose(self) -> ComposeResult:
        yield Static(id="sessions-title")
        yield SessionTable(id="sessions")
        yield Static(id="sessions-empty")
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self._title()
        self.query_one(SessionTable).focus()
        self.action_rescan()

    def on_screen_resume(self) -> None:
        self.query_one(SessionTable).focus()

    # ------------------------------------------------------------------ listing

    def action_rescan(self) -> None:
        """List the directory in a thread (a scan reads only frame headers; cached)."""
        self.run_worker(self._scan, thread=True, exclusive=True, group="scan", exit_on_error=False)

    def _scan(self) -> None:
        from ...sessions import list_session_infos

        infos = list_session_infos(self.directory)
        self.app.call_from_thread(self.show_infos, infos)

    def show_infos(self, infos: list[Any]) -> None:
        self.infos = infos
        self.by_path = {str(i.path): i for i in infos}
        if self.marked not in self.by_path:
            self.marked = None
        self.loaded = True
        self._fill()
        empty = self.query_one("#sessions-empty", Static)
        empty.update(
            f"No recorded sessions in {self.directory}.\n"
            "`zlprof live` and `zlprof record` save every session there."
        )
        empty.set_class(not infos, "-shown")
        self._title()

    def _mark_of(self, path: str) -> str:
        if path == self.marked:
            return "A"
        base = self.baseline_path
        if base is not None and Path(path) == Path(base):
            return "◆"
        current = self.current_path
        if current is not None and Path(path).resolve() == current.resolve():
            return "▶"
        return ""

    def _fill(self) -> None:
        table = self.query_one(SessionTable)
        width = max(0, table.size.width - 1)
        self._width = width
        current = table.selected_key()
        table.clear(columns=True)
        widths = session_column_widths(width)
        for col in SESSION_COLUMNS:
            table.add_column(
                Text(col.label, justify="right" if col.right else "left"),
                width=widths[col.key],
                key=col.key,
            )
        short = width < SESSION_SHORT_DATE_BELOW
        for info in self.infos:
            key = str(info.path)
            cells = session_cells(info, self._mark_of(key), short_date=short)
            table.add_row(
                *(
                    Text(
                        cells[c.key],
                        justify="right" if c.right else "left",
                        no_wrap=True,
                        overflow="ellipsis",
                        style="bold" if c.key == "mark" else "",
                    )
                    for c in SESSION_COLUMNS
                ),
                key=key,
            )
        if current in self.by_path:
            table.move_cursor(row=table.get_row_index(current), animate=False)

    def on_resize(self) -> None:
        if self.loaded and max(0, self.query_one(SessionTable).size.width - 1) != self._width:
            self._fill()

    def _title(self) -> None:
        out = Text(no_wrap=True, overflow="ellipsis")
        out.append("recorded sessions", "bold")
        out.append(f"  {self.directory}", "dim")
        if self.loaded:
            out.append(f"  ·  {len(self.infos)}, newest first", "dim")
        out.append("\n")
        if self.marked:
            out.append("A: ", "bold")
            out.append(Path(self.marked).name)
            out.append("  ·  c on another session compares it with A", "dim")
        else:
            out.append("⏎ replays a session · m marks one as A, c compares another with it "
                       "(none marked: with the session on screen)", "dim")
        self.query_one("#sessions-title", Static).update(out)

    # ------------------------------------------------------------------ actions

    def selected(self) -> Any | None:
        key = self.query_one(SessionTable).selected_key()
        return self.by_path.get(key) if key else None

    def action_open(self) -> None:
        info = self.selected()
        if info is None:
            return
        if info.status == "unreadable":
            self.notify(info.warning or "not a recording", title="cannot open", severity="error")
            return
        self.post_message(self.Replay(Path(info.path)))

    @on(DataTable.RowSelected, "#sessions")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_mark(self) -> None:
        info = self.selected()
        if info is None:
            return
        key = str(info.path)
        self.marked = None if self.marked == key else key
        self._fill()
        self._title()

    def action_compare(self) -> None:
        info = self.selected()
        if info is None:
            return
        if info.status == "unreadable":
            self.notify(info.warning or "not a recording", title="cannot compare", severity="error")
            return
        if self.marked is not None:
            if self.marked == str(info.path):
                self.notify("move to another session to compare it with A", timeout=4)
                return
            self.post_message(self.Compare(Path(self.marked), Path(info.path)))
        else:
            self.post_message(self.Compare(Path(info.path), None))

    def action_baseline(self) -> None:
        """``b``: this session becomes the baseline (the same again: no baseline)."""
        info = self.selected()
        if info is None:
            return
        if info.status == "unreadable":
            self.notify(info.warning or "not a recording", title="cannot use as baseline", severity="error")
            return
        base = self.baseline_path
        if base is not None and Path(base) == Path(info.path):
            self._baseline_loaded(None, None)
            return
        self.run_worker(partial(self._load_baseline, Path(info.path)), thread=True,
                        group="baseline", exclusive=True, exit_on_error=False)

    def _load_baseline(self, path: Path) -> None:
        """Worker thread: read the recording (it may take a moment), then use it."""
        from ...baseline import BaselineComparator
        from ...recording import RecordingError

        try:
            comparator = BaselineComparator.load(path)
        except (RecordingError, OSError) as exc:
            self.app.call_from_thread(self.notify, str(exc), title="cannot use as baseline", severity="error")
            return
        self.app.call_from_thread(self._baseline_loaded, comparator, path)

    def _baseline_loaded(self, comparator: Any, path: Path | None) -> None:
        self.baseline_path = path
        self.post_message(self.Baseline(comparator, path))
        if self.is_mounted:
            self._fill()

    def action_back(self) -> None:
        self.dismiss()
