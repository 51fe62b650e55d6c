"""The headline under the header: the answer to "where does the time go?" in one line
(two on a narrow screen), e.g. ``forward_pass takes 90 % of the time; hottest:
forward_pass/lm_head 12 % self; decode is memory-bound at 78 % of the DRAM roof``.

The text comes ready-made in the snapshot (zlprof.headline, computed off the UI thread by
the Refresher); a state message about the data (no measurements yet) replaces it while
it applies.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class HeadlineBar(Widget):
    """The session's finding in words, with its numbers."""

    COMPONENT_CLASSES = {"headline--text", "headline--note"}
    DEFAULT_CSS = """
    HeadlineBar {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $surface;
    }
    HeadlineBar > .headline--text { color: $accent; text-style: bold; }
    HeadlineBar > .headline--note { color: $warning; text-style: bold; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.text = "no measurements yet"
        self.note = ""
        self._laid_out_height = -1

    def show(self, text: str | None = None, note: str | None = None) -> None:
        """Show ``text`` (the headline) or, while it is set, ``note`` (a state message)."""
        changed = False
        if text is not None and text != self.text:
            self.text, changed = text, True
        if note is not None and note != self.note:
            self.note, changed = note, True
        if changed:
            # the bar is as high as its text wrapped (at most 2 lines): the screen is laid
            # out again only when that height changes, not for every new percentage
            height = self._height()
            self.refresh(layout=height != self._laid_out_height)
            self._laid_out_height = height

    def _height(self) -> int:
        width = self.content_size.width
        if not width or not self.is_mounted:
            return -1
        return min(2, len(Text(self.shown).wrap(self.app.console, width)))

    @property
    def shown(self) -> str:
        """The text on show."""
        return self.note or self.text

    def render(self) -> Text:
        cls = "headline--note" if self.note else "headline--text"
        return Text(self.shown, style=self.get_component_rich_style(cls), overflow="ellipsis")
