"""The base of the screens that show snapshots (main, drill-down): the one route from
the session to the screen.

The Refresher thread builds one :class:`~zlprof.tui.model.Snapshot` (op data, header,
crash, hints, roofline placement); the app hands it to the screen on top by setting the
screen's ``snapshot`` reactive, and the screen gives each widget its part. The app's view
settings (pause, window, which processes) arrive the same way, in the ``settings``
reactive. A screen never calls back into the app for data: when it needs a fresh
snapshot (its view changed) it posts :class:`SnapshotWanted`.

Holds no statistics and computes nothing: what is shown is in the snapshot.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget

from ...source_caps import Seekable
from ..model import Snapshot, ViewSettings
from ..widgets.hints_panel import HintsPanel
from ..widgets.roofline_panel import RooflinePanel
from ..widgets.status import Panel, StatusBar
from ..widgets.timeline import TimelineBar


class SnapshotWanted(Message):
    """A screen asks for a snapshot now (its view changed); the app takes one."""

    def __init__(self, force: bool = True) -> None:
        super().__init__()
        self.force = force


class OpenDrill(Message):
    """Open the drill-down of an op (navigation: the app pushes the screen)."""

    def __init__(self, path_id: int) -> None:
        super().__init__()
        self.path_id = path_id


class SnapshotScreen(Screen[None]):
    """A screen fed by the Refresher's snapshots (see the module's docstring)."""

    #: the snapshot the screen shows (set by the app; always applied, never compared)
    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, init=False, repaint=False)
    #: the app's view settings this screen shows and asks with
    settings: reactive[ViewSettings] = reactive(ViewSettings(), init=False)

    def __init__(
        self, settings: ViewSettings | None = None, replay: Seekable | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if settings is not None:
            self.set_reactive(SnapshotScreen.settings, settings)
        #: the replay's controls (a timeline bar) are shown for a seekable source
        self.replay = replay

    def want_snapshot(self, force: bool = True) -> None:
        """Ask for a snapshot of this screen's view now."""
        self.post_message(SnapshotWanted(force))

    def source_controls(self) -> Widget | None:
        """The replay's timeline bar (position, speed, state); none for a live source."""
        return None if self.replay is None else TimelineBar(self.replay, id="timeline")

    @staticmethod
    def roofline_panel() -> Panel:
        return Panel(RooflinePanel(id="roofline"), id="roofline-panel", title="roofline")

    @staticmethod
    def hints_panel() -> Panel:
        return Panel(HintsPanel(id="hints"), id="hints-panel", title="hints")

    def show_status(self, snap: Snapshot) -> None:
        """The header the snapshot carries."""
        if snap.status is not None:
            for bar in self.query(StatusBar):
                bar.update_status(snap.status)

    def show_extra(self, snap: Snapshot) -> None:
        """The hints and the roofline placement, when the snapshot carries them."""
        if snap.hints is not None:
            for panel in self.query(HintsPanel):
                panel.update_view(snap.hints)
        r = snap.roofline
        if r is not None:
            for rpanel in self.query(RooflinePanel):
                rpanel.show(r.points, r.summary, r.peaks, r.highlight, r.message)
