"""``l``: the child's stdout and stderr (also kept in the recording as log frames)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import RichLog

from ...names import display_text
from ...sources import Source
from ..widgets.footer import SteadyFooter
from .modal import FOLLOW_EVERY_S, ZlprofModal

#: Lines the output screen keeps while it is open (the session keeps the last 2,000).
MAX_LINES = 5000


def dropped_note(seen: int, shown: int) -> str:
    """The log's subtitle: how many lines it shows of how many the child printed."""
    if seen <= shown:
        return f"{seen:,} lines" if seen != 1 else "1 line"
    return f"last {shown:,} of {seen:,} lines · {seen - shown:,} older dropped (the recording keeps all)"


class OutputScreen(ZlprofModal[None]):
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

    BINDINGS = [Binding("l", "close", "Close", show=False)]

    def __init__(self, source: Source) -> None:
        super().__init__()
        #: the session whose output is shown (its state's log lines)
        self.source = source
        self._seen: tuple[int, str, str] | None = None
        self._count = 0

    def compose(self) -> ComposeResult:
        log = RichLog(max_lines=MAX_LINES, wrap=False, highlight=False, markup=False, id="output-log")
        log.border_title = "child output (stdout, stderr in red)"
        yield log
        yield SteadyFooter(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.follow()
        self.set_interval(FOLLOW_EVERY_S, self.follow, name="zlprof-output")
        self.query_one(RichLog).focus()

    def follow(self) -> None:
        """Append the lines that arrived since the last look (on this screen's own timer)."""
        try:
            log = self.query_one(RichLog)
        except NoMatches:
            return  # the screen is being torn down
        state = self.source.state
        with state.lock:
            logs = list(state.logs)
        if not logs:
            if self._count == 0:
                log.write(Text("(the child has printed nothing yet)", style="dim"))
                self._count = -1
            return
        new = logs
        if self._seen is not None:
            # find where we were (the deque drops old lines, so search from the end)
            for i in range(len(logs) - 1, -1, -1):
                if logs[i] is self._seen:
                    new = logs[i + 1 :]
                    break
        if new:
            err = self.app.current_theme.error or "red"
            for _t, level, msg in new:
                log.write(Text(display_text(msg.expandtabs()), style=err if level == "stderr" else ""))
            self._seen = logs[-1]
            self._count = max(self._count, 0) + len(new)
        log.border_subtitle = dropped_note(state.logs_seen, min(self._count, MAX_LINES))

    def dropped(self) -> int:
        """Lines the child printed that this screen no longer shows."""
        return max(0, self.source.state.logs_seen - min(max(self._count, 0), MAX_LINES))

