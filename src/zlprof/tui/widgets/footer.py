"""A Footer that is rebuilt only when what it shows changes.

Textual's Footer recomposes (removes and mounts all its keys, then the screen is laid out
again) whenever the screen's active bindings change, which includes every focus change:
opening the filter box (``f``) and leaving it (Escape) rebuilt the footer with the very
same keys. Under a flood over 10,000 paths that cost 40-100 ms of the key press
(benchmarks/bench_many_ops.py). This one compares what it would show (key, label,
enabled, tooltip, group, in order) with what it shows and recomposes only on a change.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


def shown_bindings(screen: Screen[Any]) -> tuple[Any, ...]:
    """What a Footer on ``screen`` shows: the active bindings it displays, in order."""
    return tuple(
        (b.key, b.action, b.description, enabled, tooltip, b.group.description if b.group else None)
        for (_, b, enabled, tooltip) in screen.active_bindings.values()
        if b.show
    )


class SteadyFooter(Footer):
    """Footer that skips recomposing when its bindings are unchanged (see the module doc)."""

    _shown: tuple[Any, ...] | None = None

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            shown = shown_bindings(screen)
            if shown == self._shown:
                return
            self._shown = shown
        super().bindings_changed(screen)
