"""The base of every modal screen of the app: ``q`` quits, Escape closes.

Textual stops the app's bindings at a modal screen, so the app's ``q`` would do nothing
on the help or the output screen; every modal of zlprof derives from :class:`ZlprofModal`
instead, which binds both keys itself (a text box inside still types a ``q``).
"""

from __future__ import annotations

from typing import TypeVar

from textual.binding import Binding
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")

#: How often a modal that follows its source (output, processes) reads it (seconds).
FOLLOW_EVERY_S = 0.2


class ZlprofModal(ModalScreen[ResultT]):
    """A modal screen on which ``q`` quits the app and Escape closes the screen."""

    BINDINGS = [
        Binding("escape", "close", "Close", key_display="esc"),
        Binding("q", "app.quit", "Quit", tooltip="Quit (stops the child: SIGTERM, then SIGKILL)"),
    ]

    def action_close(self) -> None:
        """Escape: close with no result (a subclass may answer something else)."""
        self.dismiss(None)
