"""``l``: the child's stdout and stderr (also kept in the recording as log frames)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Footer, RichLog

if TYPE_CHECKING:
    from ..app import ZlprofApp


class OutputScreen(ModalScreen[None]):
    """The last lines the child printed, stderr in the error colour; follows new output."""

    DEFAULT_CSS = """
    OutputScreen { align: center middle; }
    OutputScreen > RichLog {
        width: 95%;
        height: 90%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
    }
    """

    BINDINGS = [Binding("escape,l", "close", "Close", key_display="esc")]

    def __init__(self) -> None:
        super().__init__()
        self._seen: tuple[int, str, str] | None = None
        self._count = 0

    @property
    def zapp(self) -> ZlprofApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        log = RichLog(max_lines=5000, wrap=False, highlight=False, markup=False, id="output-log")
        log.border_title = "child output (stdout, stderr in red)"
        yield log
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.on_tick()
        self.query_one(RichLog).focus()

    def on_tick(self) -> None:
        """Append the lines that arrived since the last tick."""
        state = self.zapp.source.state
        with state.lock:
            logs = list(state.logs)
        if not logs:
            if self._count == 0:
                self.query_one(RichLog).write(Text("(the child has printed nothing yet)", style="dim"))
                self._count = -1
            return
        new = logs
        if self._seen is not None:
            # find where we were (the deque drops old lines, so search from the end)
            for i in range(len(logs) - 1, -1, -1):
                if logs[i] is self._seen:
                    new = logs[i + 1 :]
                    break
        log = self.query_one(RichLog)
        err = self.app.current_theme.error or "red"
        for _t, level, msg in new:
            log.write(Text(msg, style=err if level == "stderr" else ""))
        self._seen = logs[-1]
        self._count = max(self._count, 0) + len(new)

    def action_close(self) -> None:
        self.dismiss(None)
