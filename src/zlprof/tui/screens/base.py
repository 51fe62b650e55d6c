"""The base of the screens that show snapshots (main, drill-down): the one route from
the session to the screen, and the one route back.

Down, in reactives the app sets: the Refresher thread builds one
:class:`~zlprof.tui.model.Snapshot` (op data, header, crash, hints, roofline placement)
and the app hands it to the screen on top in its ``snapshot`` reactive; the screen gives
each widget its part. The app's view settings (pause, window, which processes) arrive in
``settings``; the header's facts alone (a clock, a stall, the end, with no new data) in
``header``. A replay's seek reaches the timeline bar through the app's ``replay_moved``
signal, given to the screen at construction.

Up, in messages: what the screen shows (its request, which extra panels are on screen,
its pages of panels: :class:`~zlprof.tui.model.ScreenView`) is posted in
:class:`ViewChanged` whenever it changes, with ``force`` when the screen wants a snapshot
now (:meth:`SnapshotScreen.want_snapshot`). The app never queries a screen's widgets or
calls its methods for data.

Holds no statistics and computes nothing: what is shown is in the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.signal import Signal
from textual.widget import Widget

from ...source_caps import Seekable
from ..model import Snapshot, ViewSettings
from ..viewmodels.facts import Header, ScreenView, header_of
from ..widgets.hints_panel import HintsPanel
from ..widgets.roofline_panel import RooflinePanel
from ..widgets.status import Panel, StatusBar
from ..widgets.timeline import TimelineBar


class ViewChanged(Message):
    """A screen says what it shows (``view``), when that changes; ``force``: it wants a
    snapshot now (a new page of panels, another op). The app takes one when the request
    changed or ``force`` is set."""

    def __init__(self, screen: SnapshotScreen, view: ScreenView, force: bool = False) -> None:
        super().__init__()
        self.screen = screen
        self.view = view
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
    #: the header's facts, sent alone when nothing else changed (set by the app; the
    #: widgets that change repaint themselves, not the whole screen)
    header: reactive[Header | None] = reactive(None, always_update=True, init=False, repaint=False)

    def __init__(
        self,
        settings: ViewSettings | None = None,
        replay: Seekable | None = None,
        replay_moved: Signal[None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if settings is not None:
            self.set_reactive(SnapshotScreen.settings, settings)
        #: the replay's controls (a timeline bar) are shown for a seekable source
        self.replay = replay
        #: published by the app when the replay moved (a seek or speed key)
        self.replay_moved = replay_moved
        #: the view last posted up (ViewChanged)
        self._posted: ScreenView | None = None

    # ------------------------------------------------------------------ up: messages

    #: the request this screen's snapshots are taken with (a MainRequest or a
    #: DrillRequest): every subclass defines it (checked when the class is made)
    view_request: Callable[[], Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not callable(getattr(cls, "view_request", None)):
            raise TypeError(f"{cls.__name__} must define view_request()")

    def panel_pages(self) -> int:
        """How many pages of lower panels the screen has (``n`` cycles them)."""
        return 1

    def share_mode_shown(self) -> str | None:
        """How the screen groups its time-share bars (None: it shows none)."""
        return None

    def shows(self, widget_type: type[Widget]) -> bool:
        """Is a widget of this type shown (not display:none, not zero-sized)?"""
        return any(w.region.area > 0 for w in self.query(widget_type))

    def screen_view(self) -> ScreenView:
        """What this screen shows, as the app needs to know it."""
        return ScreenView(
            self.view_request(),
            hints=self.shows(HintsPanel),
            roofline=self.shows(RooflinePanel),
            pages=self.panel_pages(),
            share_mode=self.share_mode_shown(),
        )

    def post_view(self, force: bool = False) -> None:
        """Tell the app what this screen shows, if that changed (or ``force``: and take a
        snapshot now)."""
        if not self.is_attached:
            return  # being torn down
        view = self.screen_view()
        if force or view != self._posted:
            self._posted = view
            self.post_message(ViewChanged(self, view, force))

    def want_snapshot(self) -> None:
        """Ask for a snapshot of this screen's view now."""
        self.post_view(force=True)

    def watch_settings(self) -> None:
        self.post_view()  # a new request (window, processes): the app takes a snapshot

    def on_resize(self) -> None:
        self.call_after_refresh(self.post_view)  # panels shown or hidden, histogram bins

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self.post_view)

    # ------------------------------------------------------------------ down: reactives

    def watch_header(self, header: Header | None) -> None:
        if header is not None:
            self.show_header(header)

    def show_header(self, header: Header) -> None:
        """The header's facts: the status bar (a screen with more to show adds to it)."""
        if header.status is not None:
            for bar in self.query(StatusBar):
                bar.update_status(header.status)

    def shown(self, snap: Snapshot) -> None:
        """After a snapshot is shown: say what the screen now shows, if that changed
        (the panels may have come or gone with the layout)."""
        self.post_view()

    def source_controls(self) -> Widget | None:
        """The replay's timeline bar (position, speed, state); none for a live source."""
        if self.replay is None:
            return None
        return TimelineBar(self.replay, moved=self.replay_moved, id="timeline")

    @staticmethod
    def roofline_panel() -> Panel:
        return Panel(RooflinePanel(id="roofline"), id="roofline-panel", title="roofline")

    @staticmethod
    def hints_panel() -> Panel:
        return Panel(HintsPanel(id="hints"), id="hints-panel", title="hints")

    def show_status(self, snap: Snapshot) -> None:
        """The header the snapshot carries."""
        self.show_header(header_of(snap))

    def show_extra(self, snap: Snapshot) -> None:
        """The hints and the roofline placement, when the snapshot carries them."""
        if snap.hints is not None:
            for panel in self.query(HintsPanel):
                panel.update_view(snap.hints)
        r = snap.roofline
        if r is not None:
            for rpanel in self.query(RooflinePanel):
                rpanel.show(r.points, r.summary, r.peaks, r.highlight, r.message)
