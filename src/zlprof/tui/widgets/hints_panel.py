"""The hints panel: the bottleneck rules' findings, most severe first, with evidence.

``update_view(hints)`` re-renders only when the hints changed; the panel scrolls when they
do not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...diagnose import Hint

_BADGE = {"critical": "CRIT", "warning": "WARN", "info": "info"}


class HintsPanel(VerticalScroll):
    """Each hint: severity, title, its numbers, and what to do."""

    COMPONENT_CLASSES = {
        "hints--critical",
        "hints--warning",
        "hints--info",
        "hints--evidence",
        "hints--suggestion",
    }
    DEFAULT_CSS = """
    HintsPanel { height: 1fr; }
    HintsPanel > Static { width: 1fr; height: auto; }
    HintsPanel > .hints--critical { color: $error; text-style: bold; }
    HintsPanel > .hints--warning { color: $warning; text-style: bold; }
    HintsPanel > .hints--info { color: $text-muted; }
    HintsPanel > .hints--evidence { color: $foreground; }
    HintsPanel > .hints--suggestion { color: $success; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hints: list[Hint] = []
        self._key: tuple[Any, ...] | None = None
        self._body = Static(Text("no hints yet"), markup=False)
        self._styled_with: tuple[Any, ...] = ()
        #: (width, lines) the body was last laid out for: a text of the same height
        #: is shown without laying out the screen again
        self._laid_out: tuple[int, int] | None = None
        #: the text on show (with its colours)
        self.shown = Text("no hints yet")
        #: how many times the text was rebuilt (cheapness is testable)
        self.renders = 0

    def compose(self) -> Any:
        yield self._body

    def update_view(self, hints: Sequence[Hint]) -> bool:
        """Show ``hints``; returns whether the content changed."""
        key = tuple((h.rule, h.severity, h.title, h.evidence, h.suggestion) for h in hints)
        if key == self._key:
            return False
        self._key = key
        self.hints = list(hints)
        if self.is_mounted:  # before mounting, on_mount shows them
            self.renders += 1
            self._show(self.hints_text())
        return True

    def _show(self, text: Text) -> None:
        """Put ``text`` in the body; the screen is laid out again only when the text's
        height (wrapped at the body's width) changed."""
        width = self._body.content_size.width
        height = len(text.wrap(self.app.console, width)) if width else -1
        shape = (width, height)
        self._body.update(text, layout=shape != self._laid_out or width == 0)
        self._laid_out = shape

    def _style_key(self) -> tuple[Any, ...]:
        st = self.get_component_rich_style
        return tuple(st(name) for name in sorted(self.COMPONENT_CLASSES))

    def hints_text(self) -> Text:
        """The hints in the current theme's colours (kept as ``shown``)."""
        self._styled_with = self._style_key()
        self.shown = self._hints_text()
        return self.shown

    def _hints_text(self) -> Text:
        st = self.get_component_rich_style
        out = Text()
        if not self.hints:
            out.append("no hints yet", st("hints--info"))
            return out
        for i, h in enumerate(self.hints):
            if i:
                out.append("\n\n")
            sev = h.severity if h.severity in _BADGE else "info"
            out.append(f"{_BADGE[sev]} ", st(f"hints--{sev}"))
            out.append(h.title, st(f"hints--{sev}"))
            if h.evidence:
                out.append("\n  " + h.evidence, st("hints--evidence"))
            if h.suggestion:
                out.append("\n  -> " + h.suggestion, st("hints--suggestion"))
        return out

    def on_mount(self) -> None:
        # component styles exist once mounted: colour the text (hints or "no hints yet")
        if self.hints:
            self.renders += 1
        self._show(self.hints_text())

    def notify_style_update(self) -> None:
        """A theme change (``t``) recolours the hints.

        The text carries its colours, so it is rebuilt, after the refresh (when every
        component style has its new value), and only if those colours changed.
        """
        super().notify_style_update()
        if self.is_mounted:
            self.call_after_refresh(self._restyle)

    def _restyle(self) -> None:
        if self.is_mounted and self._style_key() != self._styled_with:
            self.renders += 1
            self._show(self.hints_text())
