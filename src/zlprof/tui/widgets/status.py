"""The header (program, pid, state, rates, recording) and the crash panel."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from ...names import display_text
from ...textwidth import cell_len, cut
from ..model import StatusView


class Panel(Vertical):
    """A bordered, titled container for one panel of the screen."""

    DEFAULT_CSS = """
    Panel {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        height: 1fr;
    }
    Panel:focus-within { border: round $primary; }
    """

    def __init__(self, *children: Widget, title: str = "", **kwargs: object) -> None:
        super().__init__(*children, **kwargs)  # type: ignore[arg-type]
        self.border_title = title


def _shorten_path(path: str, width: int) -> str:
    """The path's tail within ``width`` terminal cells (home shown as ~)."""
    import os

    home = os.path.expanduser("~")
    if home and home != "/" and path.startswith(home + os.sep):
        path = "~" + path[len(home):]
    return cut(path, width, "start")


class StatusBar(Widget):
    """Two lines: what runs and its state; then its rates and the recording."""

    COMPONENT_CLASSES = {
        "status--running",
        "status--paused",
        "status--ended",
        "status--crashed",
        "status--silent",
        "status--stalled",
        "status--suspended",
        "status--starting",
        "status--stopped",
        "status--key",
        "status--value",
        "status--dim",
    }
    DEFAULT_CSS = """
    StatusBar {
        height: 2;
        background: $surface;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    StatusBar > .status--running { color: $zl-running; text-style: bold; }
    StatusBar > .status--paused { color: $zl-paused; text-style: bold; }
    StatusBar > .status--ended { color: $zl-ended; text-style: bold; }
    StatusBar > .status--stopped { color: $zl-ended; text-style: bold; }
    StatusBar > .status--crashed { color: $zl-crashed; text-style: bold; }
    StatusBar > .status--silent { color: $zl-silent; text-style: bold; }
    StatusBar > .status--stalled { color: $zl-silent; text-style: bold; }
    StatusBar > .status--suspended { color: $zl-paused; text-style: bold; }
    StatusBar > .status--starting { color: $text-muted; text-style: bold; }
    StatusBar > .status--key { color: $text-muted; }
    StatusBar > .status--value { color: $foreground; text-style: bold; }
    StatusBar > .status--dim { color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view: StatusView | None = None
        #: how many times a new view was shown (benchmarks/bench_idle_cpu.py counts them)
        self.updates = 0

    def update_status(self, view: StatusView) -> None:
        if view != self.view:
            self.view = view
            self.updates += 1
            self.refresh()

    def render(self) -> Text:
        v = self.view
        width = self.content_size.width
        out = Text(no_wrap=True, overflow="ellipsis")
        if v is None:
            out.append("starting…")
            return out
        st = self.get_component_rich_style
        state_cls = f"status--{v.state}" if v.state in (
            "running", "paused", "ended", "crashed", "silent", "stalled", "suspended", "starting", "stopped"
        ) else "status--value"
        key, val, dim = st("status--key"), st("status--value"), st("status--dim")
        # state, clock and pid first: the command line is what gets cut when narrow
        out.append("● " + v.state_text, st(state_cls))
        out.append("  elapsed ", key)
        out.append(v.elapsed, val)
        if v.window:
            out.append("  [last 10 s]", st("status--paused"))
        out.append("  pid ", key)
        out.append(v.pid, val)
        if v.processes:
            out.append("  " + v.processes, val)
        out.append("  ")
        out.append(v.program, val)
        out.append("\n")
        # tok/s says what it divides (zlprof.rates); meas/s goes first when narrow
        pairs = [
            ("tok/s ", v.tokens_per_s, f" ({v.tokens_divides})" if v.tokens_divides else ""),
            ("TTFT ", v.ttft, ""),
            ("TPOT ", v.tpot, ""),
            ("meas/s ", v.meas_rate, ""),
        ]
        if sum(cell_len(f"{k}{x}{d}  ") for k, x, d in pairs) > width:
            pairs = pairs[:-1]
        line2 = Text(no_wrap=True, overflow="ellipsis")
        for i, (k, value, divides) in enumerate(pairs):
            if i:
                line2.append("  ")
            line2.append(k, key)
            line2.append(value, val)
            if divides:
                line2.append(divides, dim)
        # the recording path gets what is left (at least its file name's tail)
        room = width - line2.cell_len - 6
        if room >= 16:
            line2.append(f"  {v.recording_key} ", key)
            line2.append(_shorten_path(v.recording, room), dim)
        out.append_text(line2)
        return out


class CrashPanel(VerticalScroll):
    """Shown when the program failed: its exit status or signal and the tail of its
    stderr, wrapped (never clipped) and scrollable, held at the last line until the user
    scrolls."""

    DEFAULT_CSS = """
    CrashPanel {
        height: auto;
        max-height: 50%;
        border: round $error;
        border-title-color: $error;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        padding: 0 1;
        display: none;
    }
    CrashPanel.-shown { display: block; }
    CrashPanel > Static { width: 1fr; height: auto; color: $text; }
    """

    #: stderr lines kept in the panel (the output screen, l, has all of them)
    MAX_LINES = 200

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[str] = []
        self.hint = ""
        self.border_title = "program failed"
        self._shown: tuple[str, tuple[str, ...], str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="crash-text", markup=False)

    def hide(self) -> None:
        """Hide the panel (a replay seeking back from its crashed end)."""
        self._shown = None
        self.anchor(False)
        if self.has_class("-shown"):
            self.set_class(False, "-shown")
            self.refresh(layout=True)

    def show_crash(self, reason: str, lines: list[str], max_lines: int | None = None,
                   hint: str = "") -> None:
        """Show ``reason`` in the border, the last lines of stderr and, under them (where
        the panel is held), zlprof's ``hint`` about the failure (idempotent)."""
        keep = max_lines or self.MAX_LINES
        lines = [display_text(line.expandtabs()) for line in lines[-keep:]] or ["(no output on stderr)"]
        key = (reason, tuple(lines), hint)
        if key == self._shown:
            return
        self._shown = key
        self.lines = lines
        self.hint = hint
        self.border_title = f"program failed: {reason}" if reason else "program failed"
        self.border_subtitle = "l: all its output"
        text = Text("\n".join(lines))
        if hint:
            text.append("\n\nzlprof: ", style="bold")
            text.append(hint, style="bold")
        self.query_one("#crash-text", Static).update(text)
        self.set_class(True, "-shown")
        self.refresh(layout=True)
        # held at its end through every layout (the screen's -crashed class changes its
        # height, the scrollbar its wrapping) until the user scrolls
        self.anchor()
