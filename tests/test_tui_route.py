"""One route from state to screen: the snapshot screens show what they are given.

The main and drill-down screens run here inside a bare Textual App (not ZlprofApp): they
get a snapshot in their ``snapshot`` reactive and view settings in ``settings``, and show
them without asking any app for data."""

from __future__ import annotations

from textual.app import App
from zlprof.themes import VARIABLE_DEFAULTS

from fixtures.tui_support import FIXTURE
from zlprof.recording import load_session
from zlprof.tui import model
from zlprof.tui.model import CrashView, DrillRequest, MainRequest, ViewSettings
from zlprof.tui.screens.base import ViewChanged
from zlprof.tui.screens.drilldown import DrillDownScreen
from zlprof.tui.screens.main import MainScreen
from zlprof.tui.viewmodels.facts import ScreenView
from zlprof.tui.widgets.ops_table import OpsTable
from zlprof.tui.widgets.status import CrashPanel, StatusBar


class Bare(App[None]):
    """Holds one screen; records what the screens ask of it."""

    def __init__(self, screen: MainScreen | DrillDownScreen) -> None:
        super().__init__()
        self.first = screen
        #: the force flags of the ViewChanged messages, and the views they carried
        self.wanted: list[bool] = []
        self.views: list[ScreenView] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)  # the widgets' colour variables ($zl-running ...)

    def on_mount(self) -> None:
        self.push_screen(self.first)

    def on_view_changed(self, message: ViewChanged) -> None:
        self.wanted.append(message.force)
        self.views.append(message.view)


def status_of(snap: model.Snapshot) -> model.StatusView:
    return model.status_view(
        status="crashed", exit_code=3, end_reason="exit status 3", argv=["prog.py"],
        pid=42, recording=None, snap=snap,
    )


async def test_the_main_screen_shows_the_snapshot_it_is_given() -> None:
    state = load_session(FIXTURE)
    snap = model.collect(state, MainRequest())
    snap.status = status_of(snap)
    snap.crash = CrashView("exit status 3", ("Traceback", "ValueError: boom"))
    screen = MainScreen()
    app = Bare(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert screen.view_request() == MainRequest()
        screen.snapshot = snap
        await pilot.pause()
        assert screen.query_one(StatusBar).view == snap.status
        crash = screen.query_one(CrashPanel)
        assert crash.has_class("-shown") and crash.lines[-1] == "ValueError: boom"
        assert "forward_pass" in screen.query_one(OpsTable).row_views
        # the settings come the same way: the title follows them, the request too
        screen.settings = ViewSettings(paused=True, window=True)
        await pilot.pause()
        title = str(screen.query_one("#ops-panel").border_title)
        assert "PAUSED" in title and "last 10 s" in title
        assert screen.view_request() == MainRequest(window=True)
        # a paused view still shows the header, and the crash going away
        later = model.collect(state, MainRequest(window=True))
        later.status = status_of(later)
        screen.snapshot = later
        await pilot.pause()
        assert not crash.has_class("-shown")
        # a new page of panels asks for a snapshot (a message, not a call into the app)
        app.wanted.clear()
        screen.pages = [("share-panel",), ("memory-panel",)]
        screen.action_next_panels()
        await pilot.pause()
        assert app.wanted == [True]


async def test_the_drill_down_titles_itself_from_what_it_is_given() -> None:
    state = load_session(FIXTURE)
    pid = state.path_id("forward_pass")
    assert pid is not None
    screen = DrillDownScreen(pid, full="forward_pass")
    app = Bare(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "forward_pass" in str(screen.query_one("#drill-title").render())
        assert app.wanted  # it asked for its first snapshot once mounted
        snap = model.collect(state, DrillRequest(pid, screen.view_request().bins))
        screen.snapshot = snap
        await pilot.pause()
        assert screen.view is not None and screen.view.full == "forward_pass"
        child = screen.view.children[0]
        assert child.full.startswith("forward_pass/")


def test_the_header_and_crash_facts_come_from_the_source() -> None:
    """source_view: what the header and the crash panel show of a source, and the raw
    facts whose change asks for a snapshot (a crash is one, with no new data)."""
    from fixtures.tui_support import FeedSource
    from zlprof.tui.source_view import crash_view, header_facts, source_status

    src = FeedSource()
    src.start()
    src.feed(3)
    snap = model.collect(src.state, MainRequest())
    view = source_status(src, snap, paused=True, window=False, replay=None)
    assert view.state == "paused" and view.state_text == "view paused · running"
    assert view.program == "feed.py" and view.measurements == "15"
    assert crash_view(src) is None
    before = header_facts(src)
    assert header_facts(src) == before  # nothing moved: no snapshot is asked for
    src.stderr_tail.append("ValueError: boom")
    src.exit_code = 1
    src._set_status("crashed")
    assert header_facts(src) != before
    crash = crash_view(src)
    assert crash == CrashView("exit status 1", ("ValueError: boom",))


async def test_the_screens_say_what_they_show_in_messages() -> None:
    """Up, the screen posts what it shows (its request, its extra panels on screen, its
    pages of panels) when that changes: the app never reads a screen for it."""
    screen = MainScreen()
    app = Bare(screen)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.views[-1] == ScreenView(MainRequest(), hints=True, roofline=True, pages=1,
                                           share_mode="block")
        screen.settings = ViewSettings(window=True)  # the app's settings, down
        await pilot.pause()
        assert app.views[-1].request == MainRequest(window=True)  # the new request, up
        n = len(app.views)
        screen.settings = ViewSettings(window=True)  # the same: nothing to say
        await pilot.pause()
        assert len(app.views) == n
        # narrower: the lower panels come in pages; only the shown ones are said shown
        await pilot.resize_terminal(80, 40)
        await pilot.pause()
        await pilot.pause()
        last = app.views[-1]
        assert last.pages == len(screen.pages) > 1
        shown = set(screen.pages[screen.panel_page])
        assert last.hints == ("hints-panel" in shown)
        assert last.roofline == ("roofline-panel" in shown)
        await pilot.press("b")  # the share bars' grouping, up (the refresher warms that mode)
        await pilot.pause()
        assert app.views[-1].share_mode == screen.share_mode != "block"


async def test_a_header_change_alone_takes_no_snapshot() -> None:
    """The header's facts (here: the program ended) reach the screen alone, in its
    ``header`` reactive, from the last snapshot's counters; no snapshot is taken. New
    data takes one, carrying the header."""
    from fixtures.tui_support import FeedSource, settle
    from zlprof.tui.app import ZlprofApp

    src = FeedSource()
    src.start()
    src.feed(3)
    app = ZlprofApp(src, peaks=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        bar = app.screen.query_one(StatusBar)
        assert bar.view is not None and bar.view.state == "running"
        taken = app.refresher.taken
        src._set_status("ended")
        for _ in range(100):
            await pilot.pause(0.02)
            if bar.view.state == "ended":
                break
        assert bar.view.state == "ended" and bar.view.measurements == "15"
        assert app.refresher.taken == taken
        assert isinstance(app.screen, MainScreen) and app.screen.header is not None
        src.feed(1)
        await settle(pilot)
        assert app.refresher.taken > taken and bar.view.measurements == "20"
