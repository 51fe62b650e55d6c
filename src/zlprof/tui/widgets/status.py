"""The header (program, pid, state, rates, recording) and the crash panel."""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.widget import Widget

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
    """The path's tail within ``width`` cells (home shown as ~)."""
    import os

    home = os.path.expanduser("~")
    if home and home != "/" and path.startswith(home + os.sep):
        path = "~" + path[len(home):]
    if len(path) <= width:
        return path
    if width <= 1:
        return "…"
    return "…" + path[-(width - 1):]


class StatusBar(Widget):
    """Two lines: what runs and its state; then its rates and the recording."""

    COMPONENT_CLASSES = {
        "status--running",
        "status--paused",
        "status--ended",
        "status--crashed",
        "status--silent",
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
    StatusBar > .status--starting { color: $text-muted; text-style: bold; }
    StatusBar > .status--key { color: $text-muted; }
    StatusBar > .status--value { color: $foreground; text-style: bold; }
    StatusBar > .status--dim { color: $text-muted; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view: StatusView | None = None

    def update_status(self, view: StatusView) -> None:
        if view != self.view:
            self.view = view
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
            "running", "paused", "ended", "crashed", "silent", "starting", "stopped"
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
        out.append("  ")
        out.append(v.program, val)
        out.append("\n")
        pairs = [
            ("tok/s ", v.tokens_per_s),
            ("TTFT ", v.ttft),
            ("TPOT ", v.tpot),
            ("meas/s ", v.meas_rate),
        ]
        line2 = Text(no_wrap=True, overflow="ellipsis")
        for i, (k, value) in enumerate(pairs):
            if i:
                line2.append("  ")
            line2.append(k, key)
            line2.append(value, val)
        # the recording path gets what is left (at least its file name's tail)
        room = width - line2.cell_len - 6
        if room >= 16:
            line2.append(f"  {v.recording_key} ", key)
            line2.append(_shorten_path(v.recording, room), dim)
        out.append_text(line2)
        return out


class CrashPanel(Widget):
    """Shown when the child crashed: its exit status and the last lines of its stderr."""

    DEFAULT_CSS = """
    CrashPanel {
        height: auto;
        max-height: 8;
        border: round $error;
        border-title-color: $error;
        border-title-style: bold;
        padding: 0 1;
        color: $text;
        display: none;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    CrashPanel.-shown { display: block; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lines: list[str] = []
        self.border_title = "child crashed"

    def hide(self) -> None:
        """Hide the panel (a replay seeking back from its crashed end)."""
        if self.has_class("-shown"):
            self.set_class(False, "-shown")
            self.refresh(layout=True)

    def show_crash(self, reason: str, lines: list[str], max_lines: int = 6) -> None:
        self.border_title = f"child crashed: {reason}" if reason else "child crashed"
        self.lines = lines[-max_lines:] or ["(no output on stderr)"]
        self.set_class(True, "-shown")
        self.refresh(layout=True)

    def render(self) -> Text:
        return Text("\n".join(self.lines), no_wrap=True, overflow="ellipsis")
