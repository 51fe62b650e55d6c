"""``?``: every key of the app, generated from the bindings themselves."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ... import __version__
from .modal import ZlprofModal

INTRO = (
    "zlprof shows where an inference loop spends its time and memory while it runs. "
    "Statistics are per call path; percentiles are nearest-rank, std dev over the "
    "population. Shares are of wall time since the start (or the last reset); with "
    "several threads or processes, of their summed wall time. p: the process tree."
)

EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓ PgUp PgDn", "move in the table"),
    ("- +", "collapse / expand a subtree (tree view; - on a leaf goes to its parent)"),
    ("← →", "live: collapse / expand too; replay: seek 5 s"),
    ("Home End", "live: first / last row; replay: seek to the start / end"),
    ("click", "replay: a click on the timeline seeks there"),
    ("v", "tree or flat view"),
    ("b", "time-share bars: by block (summed over layers) or by call path"),
    ("ctrl+p", "command palette (every action, searchable)"),
    ("ctrl+c", "quit (stops the child)"),
)


def key_rows(groups: list[tuple[str, list[Binding]]]) -> Group:
    """A titled section per group: key, what it does (keys aligned across sections)."""
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    for title, bindings in groups:
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        for b in bindings:
            if b.action in seen:
                continue
            seen.add(b.action)
            key = b.key_display or b.key.split(",")[0]
            key = {"␣": "space", "⏎": "enter", "question_mark": "?"}.get(key, key)
            key = {"left_square_bracket": "[", "right_square_bracket": "]"}.get(key, key)
            rows.append((key, b.tooltip or b.description))
        sections.append((title, rows))
    sections.append(("more", list(EXTRA_KEYS)))
    width = max(len(k) for _t, rows in sections for k, _d in rows)
    parts: list[Text | Table] = []
    for title, rows in sections:
        parts.append(Text(title, style="bold underline"))
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold", no_wrap=True, width=width)
        t.add_column()
        for key, text in rows:
            t.add_row(key, text)
        parts.append(t)
        parts.append(Text(""))
    return Group(*parts[:-1])


class HelpScreen(ZlprofModal[None]):
    """A modal listing every key; Escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%;
        max-width: 90;
        height: 90%;
        border: round $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    """

    BINDINGS = [
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, groups: list[tuple[str, list[Binding]]], replay: bool = False) -> None:
        super().__init__()
        self.groups = groups
        self.replay = replay

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"zlprof {__version__} · keys" + (" · replay" if self.replay else "")
            yield Static(Text(INTRO, style="dim"))
            yield Static("")
            yield Static(key_rows(self.groups))

