"""Key constants shared by the app and its action registry (tui/actions.py, where every
binding is defined).

The replay keys are bound on the screens that show a session (so the Footer lists them
right after the table's own keys) and act on the app; ``ZlprofApp.check_action`` hides and disables them
unless the source is seekable and no text box has the focus. They are priority bindings:
a focused table would otherwise take left/right/Home/End (and hide them from the Footer);
in a live session, where they are disabled, the table gets those keys as usual.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.dom import DOMNode

SEEK_STEP_S = 5.0

#: Actions that exist only for a seekable source (replay).
REPLAY_ACTIONS = frozenset({"seek", "seek_start", "seek_end", "slower", "faster"})


def bindings_of(owner: type[DOMNode]) -> list[Binding]:
    """The Binding objects of a screen's (or app's) ``BINDINGS``, for the help screen
    (Textual also allows bare tuples there; zlprof writes Binding objects only)."""
    return [b for b in owner.BINDINGS if isinstance(b, Binding)]
