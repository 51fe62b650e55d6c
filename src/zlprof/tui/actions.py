"""One registry of the app's actions: each key, what it does and where it is offered.

Every :class:`Action` says once: its key(s), the action it runs and on what (the app,
the main screen, the drill-down), its Footer label (and whether the Footer shows it), its
help text, and its command-palette title. From :data:`ACTIONS` are generated:

* the bindings of the app (:data:`APP_BINDINGS`), the main screen and the drill-down
  (:func:`bindings`; each screen lists its actions in its Footer order);
* the help screen (built from those bindings by ``ZlprofApp.action_help``);
* the command palette (:func:`palette_entries`; each title ends with the key, read from
  the action's key, never written twice).

Only the table of actions and these generators live here: what an action does is the
app's or the screen's ``action_*`` method. The session browser's own keys stay on its
screen (they act on its list, not on a session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.binding import Binding

from ..themes import THEME_NAMES
from .keys import SEEK_STEP_S

#: What an action runs on: the app, the main screen or the drill-down on top.
Target = Literal["app", "main", "drill"]
#: When the palette offers an action: always, only in a replay, only in a live session,
#: only while the main screen has several pages of lower panels.
When = Literal["always", "replay", "live", "pages"]

_SEEK = Binding.Group("seek", compact=True)
_SPEED = Binding.Group("speed", compact=True)

#: How a key is named in the help screen and the palette, when its binding's
#: ``key_display`` is a symbol.
_KEY_NAMES = {"␣": "space", "⏎": "enter", "question_mark": "?"}


@dataclass(frozen=True)
class Action:
    """One action of the app (see the module docstring)."""

    #: the registry's name for it (several entries may run one action: ``seek(-5)``, ``seek(5)``)
    id: str
    #: Textual key(s), comma-separated
    key: str
    #: the action with its parameters, without the ``app.`` prefix
    action: str
    target: Target
    #: the Footer's label
    label: str
    #: the help screen's text (and the Footer's tooltip); "" = the label
    tooltip: str = ""
    show: bool = True
    key_display: str | None = None
    priority: bool = False
    group: Binding.Group | None = None
    #: the palette's title and help text; "" = not in the palette (a key that only
    #: moves inside a widget, an alias)
    palette: str = ""
    palette_help: str = ""
    when: When = "always"

    @property
    def key_name(self) -> str:
        """The key as the help screen and the palette name it (``space``, ``←``, ``?``)."""
        key = self.key_display or self.key.split(",")[0]
        return _KEY_NAMES.get(key, key)

    def binding(self, on: Target) -> Binding:
        """The Textual binding of this action on a screen (or the app) ``on``."""
        action = self.action if self.target == on else f"{self.target}.{self.action}"
        return Binding(
            self.key, action, self.label, show=self.show, key_display=self.key_display,
            priority=self.priority, tooltip=self.tooltip, group=self.group,
        )


_STEP = f"{SEEK_STEP_S:g}"
_SPACE_HELP = "Replay: pause or play the replay. Live: freeze the view (data keeps flowing)"

ACTIONS: tuple[Action, ...] = (
    # ---------------------------------------------------------------- replay and pause
    Action("pause", "space", "pause", "app", "Pause", key_display="␣", tooltip=_SPACE_HELP,
           palette="Pause / resume view", palette_help="Freeze the panels; data keeps flowing and recording",
           when="live"),
    # space in a replay: the palette words it so (the key is bound once, by "pause")
    Action("play", "space", "pause", "app", "Pause", key_display="␣", tooltip=_SPACE_HELP,
           palette="Pause / play the replay", palette_help="Stop or continue the replay's clock",
           when="replay"),
    Action("seek_back", "left", f"seek(-{_STEP})", "app", "seek", key_display="←", group=_SEEK,
           tooltip=f"Replay: back {_STEP} s", priority=True,
           palette=f"Seek back {_STEP} s", palette_help="Replay: move back five seconds", when="replay"),
    Action("seek_forward", "right", f"seek({_STEP})", "app", "seek", key_display="→", group=_SEEK,
           tooltip=f"Replay: forward {_STEP} s", priority=True,
           palette=f"Seek forward {_STEP} s", palette_help="Replay: move on five seconds", when="replay"),
    Action("slower", "[", "slower", "app", "speed", key_display="[", group=_SPEED,
           tooltip="Replay: slower (0.1x ... 128x, max)", priority=True,
           palette="Replay slower", palette_help="Half the speed (down to 0.1x)", when="replay"),
    Action("faster", "]", "faster", "app", "speed", key_display="]", group=_SPEED,
           tooltip="Replay: faster (0.1x ... 128x, max)", priority=True,
           palette="Replay faster", palette_help="Double the speed (up to 128x, then max)", when="replay"),
    Action("seek_start", "home", "seek_start", "app", "Start", show=False,
           tooltip="Replay: back to the start", priority=True,
           palette="Seek to the start", palette_help="Replay from the beginning", when="replay"),
    Action("seek_end", "end", "seek_end", "app", "End", show=False, tooltip="Replay: to the end",
           priority=True, palette="Seek to the end", palette_help="Fold the whole recording", when="replay"),
    # ---------------------------------------------------------------- everywhere (the app)
    Action("sessions", "o", "sessions", "app", "Sessions", tooltip="Recorded sessions: replay one, compare two",
           palette="Recorded sessions", palette_help="Browse recordings: open one as a replay, compare two"),
    Action("window", "w", "window", "app", "Window", tooltip="Cumulative statistics or the last 10 s",
           palette="Window: cumulative / last 10 s",
           palette_help="Statistics of the whole run or the last 10 seconds"),
    Action("reset", "r", "reset", "app", "Reset", tooltip="Reset the statistics",
           palette="Reset statistics", palette_help="Forget statistics gathered so far"),
    Action("output", "l", "output", "app", "Log", tooltip="Show the child's output",
           palette="Child output", palette_help="Show the program's stdout and stderr"),
    Action("processes", "p", "processes", "app", "Procs", show=False,
           tooltip="Process tree: show one process or thread, or all",
           palette="Process tree", palette_help="Show one process or thread, or all"),
    Action("next_theme", "t", "next_theme", "app", "Theme", tooltip="Next theme (dark, light, high-contrast)",
           palette="Next theme", palette_help=f"Cycle {', '.join(THEME_NAMES)}"),
    Action("help", "question_mark", "help", "app", "Help", key_display="?", tooltip="All keys",
           palette="Help: keys", palette_help="Every key of the app"),
    Action("quit", "q", "quit", "app", "Quit", tooltip="Quit (stops the child: SIGTERM, then SIGKILL)",
           palette="Quit", palette_help="Stop the child and quit"),
    Action("quit_ctrl_c", "ctrl+c", "quit", "app", "Quit", show=False, priority=True),
    # ---------------------------------------------------------------- the main screen
    Action("sort", "s", "sort", "main", "Sort", tooltip="Sort by the next column",
           palette="Sort by next column", palette_help="Cycle the sort column"),
    Action("reverse", "S", "reverse", "main", "Rev", key_display="S", tooltip="Reverse the sort direction",
           palette="Reverse sort order", palette_help="Flip the sort direction"),
    Action("filter", "f", "filter", "main", "Find", tooltip="Filter operations by name",
           palette="Filter ops by name", palette_help="Show only ops whose path contains a text"),
    Action("clear_filter", "escape", "clear_filter", "main", "Clear filter", show=False,
           palette="Clear the filter", palette_help="Show every op again"),
    Action("flat", "v", "flat", "main", "Tree", show=False, tooltip="Tree or flat view",
           palette="Tree / flat view", palette_help="Nested tree or a flat list of full paths"),
    Action("next_panels", "n", "next_panels", "main", "Panels",
           tooltip="Next lower panels (time share and memory, roofline, hints)",
           palette="Next lower panels", palette_help="Time share and memory, roofline, hints: one page at a time",
           when="pages"),
    Action("share_mode", "b", "share_mode", "main", "Bars", show=False,
           tooltip="Time-share bars: by block (summed over layers) or by call path",
           palette="Time share: by block / by path",
           palette_help="Sum each block over its layers, or one bar per call path"),
    Action("drill", "enter", "drill", "main", "Open", key_display="⏎", tooltip="Open the op's drill-down",
           palette="Open drill-down", palette_help="Histogram, recent durations, children of the op"),
    # ---------------------------------------------------------------- the drill-down
    Action("back", "escape", "back", "drill", "Back", key_display="esc", tooltip="Back to the main screen",
           palette="Back to the main screen", palette_help="Close the drill-down"),
    Action("parent", "u,backspace", "parent", "drill", "Parent", key_display="u", tooltip="Drill into the parent op",
           palette="Go to parent op", palette_help="Drill into the parent"),
    Action("child", "enter", "child", "drill", "Child", key_display="⏎", tooltip="Drill into the selected child",
           palette="Open the selected child", palette_help="Drill into the child op under the cursor"),
)

ACTION_BY_ID = {a.id: a for a in ACTIONS}

#: The replay keys (bound on the main screen and the drill-down, hidden in a live session).
REPLAY_IDS = ("seek_back", "seek_forward", "slower", "faster", "seek_start", "seek_end")
#: The app's own bindings (the main screen repeats q, ?, t to place them in its Footer).
APP_IDS = ("quit", "quit_ctrl_c", "next_theme", "help")
#: The main screen's bindings, in the Footer's order (it cuts what does not fit; at 80
#: columns a replay shows up to "? Help").
MAIN_IDS = (
    "pause", *REPLAY_IDS, "sort", "next_panels", "filter", "sessions", "output", "help", "window",
    "quit", "reverse", "reset", "next_theme", "drill", "flat", "processes", "share_mode", "clear_filter",
)
#: The drill-down's bindings, in its Footer's order.
DRILL_IDS = ("back", "parent", "child", "pause", *REPLAY_IDS, "reset", "output")


def bindings(ids: tuple[str, ...], on: Target) -> list[Binding]:
    """The bindings of the actions ``ids`` on ``on`` (the app or a screen), in that order."""
    return [ACTION_BY_ID[i].binding(on) for i in ids]


APP_BINDINGS = bindings(APP_IDS, "app")


def palette_entries(replay: bool, pages: bool, drill: bool) -> list[Action]:
    """The palette's actions, in its order: the replay's (or the live pause) first, the
    app's, the main screen's, then the drill-down's when it is on top. ``pages``: the
    main screen has several pages of lower panels."""
    wanted = {"always", "replay" if replay else "live"} | ({"pages"} if pages else set())
    out = [a for a in ACTIONS if a.palette and a.when in wanted and a.target != "drill"]
    if drill:
        out += [a for a in ACTIONS if a.palette and a.target == "drill"]
    return out


def palette_title(a: Action) -> str:
    """``Sort by next column  (s)``: the palette's title with the action's key."""
    return f"{a.palette}  ({a.key_name})"
