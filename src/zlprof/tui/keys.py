"""Key bindings shared by the screens that show a session (main screen, drill-down).

The replay keys are bound on those screens (so the Footer lists them right after the
table's own keys) and act on the app; ``ZlprofApp.check_action`` hides and disables them
unless the source is seekable and no text box has the focus. They are priority bindings:
a focused table would otherwise take left/right/Home/End (and hide them from the Footer);
in a live session, where they are disabled, the table gets those keys as usual.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.dom import DOMNode

SEEK_STEP_S = 5.0

_SEEK = Binding.Group("seek", compact=True)
_SPEED = Binding.Group("speed", compact=True)

#: Actions that exist only for a seekable source (replay).
REPLAY_ACTIONS = frozenset({"seek", "seek_start", "seek_end", "slower", "faster"})

REPLAY_BINDINGS = [
    Binding("left", f"app.seek(-{SEEK_STEP_S:g})", "seek", key_display="←", group=_SEEK,
            tooltip=f"Replay: back {SEEK_STEP_S:g} s", priority=True),
    Binding("right", f"app.seek({SEEK_STEP_S:g})", "seek", key_display="→", group=_SEEK,
            tooltip=f"Replay: forward {SEEK_STEP_S:g} s", priority=True),
    Binding("[", "app.slower", "speed", key_display="[", group=_SPEED,
            tooltip="Replay: slower (0.1x ... 128x, max)", priority=True),
    Binding("]", "app.faster", "speed", key_display="]", group=_SPEED,
            tooltip="Replay: faster (0.1x ... 128x, max)", priority=True),
    Binding("home", "app.seek_start", "Start", show=False, tooltip="Replay: back to the start",
            priority=True),
    Binding("end", "app.seek_end", "End", show=False, tooltip="Replay: to the end",
            priority=True),
]

SPACE_BINDING = Binding(
    "space", "app.pause", "Pause", key_display="␣",
    tooltip="Replay: pause or play the replay. Live: freeze the view (data keeps flowing)",
)


def bindings_of(owner: type[DOMNode]) -> list[Binding]:
    """The Binding objects of a screen's (or app's) ``BINDINGS``, for the help screen
    (Textual also allows bare tuples there; zlprof writes Binding objects only)."""
    return [b for b in owner.BINDINGS if isinstance(b, Binding)]
