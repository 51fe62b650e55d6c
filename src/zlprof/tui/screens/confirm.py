"""A yes / no question (opening a recording while a live program runs stops it)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from .modal import ZlprofModal


class ConfirmScreen(ZlprofModal[bool]):
    """Dismissed with True (y, Enter) or False (n, Escape)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: round $warning;
        border-title-style: bold;
        border-title-color: $warning;
        background: $surface;
        padding: 0 1;
    }
    ConfirmScreen Static { width: 1fr; }
    """

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", key_display="y"),
        Binding("n", "answer(False)", "No", key_display="n"),
    ]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(Text(self.text))
            yield Static(Text.assemble(("y", "bold"), " / enter: yes    ", ("n", "bold"), " / esc: no"))

    def action_answer(self, yes: bool) -> None:
        self.dismiss(bool(yes))

    def action_close(self) -> None:
        """Escape: no."""
        self.dismiss(False)
