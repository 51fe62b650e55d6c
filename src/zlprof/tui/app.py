"""The zlprof Textual app (its entry point from the command line, ``run_app``, is run.py).

Threads and timers (who does what):

* the **Source** (LiveSource / ReplaySource) reads frames and folds them into its
  SessionState on its own threads; the app never touches ingestion;
* a **Refresher** thread (refresher.py), woken by the app's refresh timer (``REFRESH_HZ``,
  4-10 Hz), takes one snapshot of the state for the active screen (model.collect: op
  statistics, memory series or the drill-down model; :meth:`ZlprofApp.collect_extra`:
  the header and the crash (source_view.py), the hints and the roofline placement) and
  posts it to the app, which sets it in the screen's ``snapshot`` reactive
  (screens/base.py): the one route from state to screen. The screens say what they show
  (their request, their panels on screen) in ViewChanged messages; the app keeps the
  latest of each (``views``) and never reads a screen for it. Only one snapshot is in
  flight: when the UI is slower than the timer, display frames are skipped, never data;
  when the state's ``version`` and the request are unchanged, no snapshot is taken at
  all: a change of the header's facts alone (the clock, a stall, the end) is sent to the
  screen by itself (:meth:`ZlprofApp.show_header`, in its ``header`` reactive);
* the **UI thread** applies a snapshot: the operations table is diffed cell by cell, the
  charts redraw for their size. Keys are handled between snapshots, so they stay fast
  under any ingest load.

Sources. The app shows one Source at a time (``app.source``); a seekable one (a replay)
gets a timeline bar (screens/base.py) and the replay keys. The session browser (``o``)
opens a recording in place of the current source with :meth:`ZlprofApp.open_source`:
the old source is stopped, the new one started, the screens start afresh; snapshots of
the old source still in flight are dropped (each carries the source generation it was
taken of).

The roofline and hints panels (peaks loading, hints, placement) are the app's base
class, :class:`~zlprof.tui.extra_panels.ExtraPanels`; the view models are
``tui.viewmodels`` (``tui.model`` re-exports them).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import SystemCommand
from textual.binding import BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Input

from ..session import WHOLE, View
from ..source_caps import HasProcess, Seekable
from ..sources import Source, SourceError
from ..themes import DEFAULT_THEME, THEMES, VARIABLE_DEFAULTS, css_paths, next_theme
from . import baseline_view, collector, model
from .actions import (
    APP_BINDINGS,
    APP_IDS,
    DRILL_IDS,
    MAIN_IDS,
    REPLAY_IDS,
    bindings,
    palette_entries,
    palette_title,
)
from .extra_panels import EXTRA_EVERY_S as EXTRA_EVERY_S  # (re-exported: tests, docs)
from .extra_panels import NO_PEAKS_LIVE as NO_PEAKS_LIVE
from .extra_panels import ExtraPanels
from .keys import REPLAY_ACTIONS, SEEK_STEP_S, bindings_of
from .model import Snapshot, ViewSettings
from .refresher import Refresher, SnapshotReady
from .run import run_app as run_app  # (re-exported: cli.py and tests import it from here)
from .screens.base import OpenDrill, SnapshotScreen, ViewChanged
from .screens.compare import CompareScreen
from .screens.confirm import ConfirmScreen
from .screens.drilldown import DrillDownScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.output import OutputScreen
from .screens.sessions import SessionsScreen
from .source_view import crash_view, header_facts, source_status
from .viewmodels.facts import Header, ScreenView

#: Screen refreshes per second (the issue asks for 4-10 Hz).
REFRESH_HZ = 5.0
#: after a key press, snapshots that only bring new data of the same view wait this long
#: (the key's own change is shown at once; under a flood the UI thread then serves keys)
KEY_QUIET_S = 0.3
#: Default of ZlprofApp(peaks=...): load the cached machine peaks or measure them.
AUTO_PEAKS: Any = object()
#: The screens fed by snapshots (screens/base.py), each with its own view_request.
FED_SCREENS = MainScreen | DrillDownScreen
#: The headline's note while a stalled program has sent no measurement.
NO_MEASUREMENTS = "the program has sent no measurements yet; is it using zlprof.measure?"




class ZlprofApp(ExtraPanels):
    """The live profiler. Construct with a started Source; see :func:`run_app`."""

    TITLE = "zlprof"
    #: tune the process's cycle collector once the first snapshot is shown (tui.collector)
    TUNE_COLLECTOR = True
    CSS_PATH = [Path(__file__).with_name("app.tcss"), *css_paths()]
    BINDINGS: ClassVar[list[BindingType]] = [*APP_BINDINGS]

    def __init__(
        self,
        source: Source,
        theme: str | None = None,
        refresh_hz: float = REFRESH_HZ,
        peaks: Any = AUTO_PEAKS,
        baseline: Any = None,
    ) -> None:
        """``peaks``: the machine peaks for the roofline; by default the cached ones, else
        measured in a background thread. Pass a MachinePeaks (or None: no roofline) to
        skip that (tests do). ``baseline``: a zlprof.baseline.BaselineComparator (the
        ops table then compares every op with it)."""
        super().__init__()
        self.source = source
        self.baseline = baseline
        #: the recording the baseline was read from (marked in the session browser)
        self.baseline_path: Path | None = None
        self.refresh_hz = min(max(refresh_hz, 1.0), 30.0)
        for t in THEMES.values():
            self.register_theme(t)
        self.theme = theme if theme is not None and theme in THEMES else str(DEFAULT_THEME)
        self.paused = False
        self.window = False
        #: which processes the main table shows (``p``): the whole tree by default
        self.proc_view: View = WHOLE
        self.refresher = Refresher(self)
        #: bumped by open_source: snapshots of an older source are not shown
        self.source_generation = 0
        #: the threads stopping the sources open_source replaced (run_app joins them); a
        #: replaced source is freed once stopped
        self.stoppers: list[threading.Thread] = []
        #: what the roofline says while there are no peaks (None: the panel's default,
        #: "no machine peaks cached ...")
        self.peaks_note: str | None = None
        #: said under the roofline panel when the cached peaks predate per-level roofs
        self.peaks_stale: str | None = None
        self._peaks_loading = False
        #: published when a replay moved (a seek or speed key): its timeline bars show it
        self.replay_moved: Signal[None] = Signal(self, "replay_moved")
        #: what each snapshot screen shows, as it last said (ViewChanged)
        self.views: weakref.WeakKeyDictionary[Screen[Any], ScreenView] = weakref.WeakKeyDictionary()
        self.main_screen = self._new_main_screen()
        self.last_snapshot: Snapshot | None = None
        #: applied to each snapshot on the Refresher thread (collect_extra)
        self.rate_meter = model.RateMeter()
        #: the header's facts the last requested snapshot was asked for (tick)
        self._header_asked: Any = None
        self._auto_peaks = peaks is AUTO_PEAKS
        self.peaks: Any = None if self._auto_peaks else peaks
        self.ticks = 0
        #: monotonic time of the last key press (tick: input first)
        self._key_at = 0.0
        self._hints_wanted = False
        self._hints_at = -1e9
        self._hints_version = -1
        self._roofline_at = -1e9
        self._roofline_version = -1
        self._roofline_key: Any = None
        self._roofline_want: tuple[str | None, Any] | None = None

    # ------------------------------------------------------------------ lifecycle

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        self.refresher.start()
        self.set_interval(1.0 / self.refresh_hz, self.tick, name="zlprof-refresh")
        self._start_peaks_loader()
        self.tick()

    def on_unmount(self) -> None:
        self.refresher.stop()
        collector.restore()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self._key_at = time.monotonic()
        await super().on_event(event)

    # ------------------------------------------------------------------ refresh

    def tick(self) -> None:
        """Timer: follow the source's status, ask for a snapshot for the active screen."""
        if not self.screen_stack:
            return  # shutting down (or not started): no screen to show anything on
        self.ticks += 1
        typing = time.monotonic() - self._key_at < KEY_QUIET_S
        collector.step(typing)  # the cycle collector runs here, between key bursts
        view = self.shown_view()
        if view is not None and view.request == self.refresher.last_request and typing:
            return  # input first: new data of the same view waits while keys come
        if view is not None:
            version = self.source.state.version
            self._hints_wanted = view.hints
            # the hints or the roofline are due: take a snapshot even if the table has
            # nothing new (the roofline follows ops_version, not memory readings)
            force = self._hints_wanted and self._hints_version != version and self._extra_due(self._hints_at)
            force = self._update_roofline(view, id(self.screen), self.source.state.ops_version) or force
            force = force or baseline_view.due(self.baseline, self.source.state)
            # the header (state, clock) comes with a snapshot, or alone when only it changed
            header = (header_facts(self.source), self.peaks_stale)
            if self.refresher.request(view.request, force=force):
                self._header_asked = header
            elif header != self._header_asked and not self.refresher.busy:
                self._header_asked = header
                self.show_header()

    def shown_view(self) -> ScreenView | None:
        """What the snapshot screen on top shows (as it said); None for another screen,
        or before the screen has said it."""
        screen = self.screen
        return self.views.get(screen) if isinstance(screen, FED_SCREENS) else None

    def show_header(self) -> None:
        """The header's facts changed, nothing else: show them from the last snapshot's
        counters and the source's facts now, without taking a snapshot (a clock shown in
        tenths would otherwise take five whole snapshots a second of an idle session)."""
        screen, view, snap = self.screen, self.shown_view(), self.last_snapshot
        if not isinstance(screen, FED_SCREENS) or view is None or snap is None or snap.request != view.request:
            self.request_refresh(force=True)
            return
        screen.header = self.header(snap)

    def header(self, snap: Snapshot) -> Header:
        """The header's facts: the source's status with ``snap``'s counters, the crash, the
        note in place of the headline, the peaks' age (either thread)."""
        stalled = self.source.status in ("stalled", "silent") and snap.measurements == 0
        return Header(
            status=source_status(
                self.source, snap, paused=self.paused, window=self.window, replay=self.replay_name
            ),
            crash=crash_view(self.source),
            note=NO_MEASUREMENTS if stalled else "",
            peaks_stale=self.peaks_stale or "",
        )

    def up_to_date(self) -> bool:
        """Does the active screen show the state's current version (panels included)?

        For tests and benchmarks: True once the last snapshot of the current data has
        been applied and the hints / roofline (when on screen) have caught up.
        """
        if not isinstance(self.screen, FED_SCREENS):
            return not self.refresher.busy
        view = self.shown_view()
        if view is None:
            return False  # the screen has not said what it shows yet
        version = self.source.state.version
        r = self.refresher
        if r.busy or r.last_version != version or r.last_request != view.request:
            return False
        if view.hints and self._hints_version != version:
            return False
        if not self.paused and view.roofline:
            # placed for this data, and for this screen and op (a drill-down opened over
            # a main screen whose placement is current wants its own)
            ops_version = self.source.state.ops_version
            if self._update_roofline(view, id(self.screen), ops_version) or self._roofline_version != ops_version:
                return False
        return True

    def request_refresh(self, force: bool = False) -> None:
        if not self.screen_stack:
            return
        view = self.shown_view()
        if view is not None:
            # the roofline wanted for this screen (a new screen's placement comes with its
            # first snapshot, not one tick later)
            self._update_roofline(view, id(self.screen), self.source.state.ops_version)
            self.refresher.request(view.request, force=force)

    def on_view_changed(self, message: ViewChanged) -> None:
        """A screen says what it shows: kept; a new request (or ``force``) is taken now."""
        message.stop()
        before = self.views.get(message.screen)
        self.views[message.screen] = message.view
        if message.force or before is None or before.request != message.view.request:
            self.request_refresh(force=True)
        if before is None or before.pages != message.view.pages:
            self.refresh_bindings()

    def update_timeline(self) -> None:
        """Show the replay's position at once (after a seek or a speed key; the timeline
        bar follows its replay on its own timer otherwise): the bars subscribe to
        ``replay_moved``."""
        if self.replay is not None:
            self.replay_moved.publish(None)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if message.generation != self.source_generation:
            self.refresher.done()  # taken of a source that has been replaced
            return
        snap = message.snapshot
        try:
            if not self.screen_stack:
                return  # shutting down: nothing to show it on
            screen = self.screen
            view = self.shown_view()
            if isinstance(screen, FED_SCREENS) and view is not None and snap.request == view.request:
                if self.last_snapshot is None and self.TUNE_COLLECTOR:
                    self.call_after_refresh(collector.tune)  # the first screen is up
                self.last_snapshot = snap
                with self.batch_update():
                    try:
                        screen.snapshot = snap  # the screen shows it (screens/base.py)
                    except NoMatches:
                        pass  # the screen is being torn down (the app is closing)
            else:
                self._not_shown(snap)
                if isinstance(snap.request, model.MainRequest):
                    # keep the main screen's data current while another screen is on top
                    self.last_snapshot = snap
                    self.main_screen.set_reactive(MainScreen.snapshot, snap)  # held, not shown
        finally:
            self.refresher.done()

    def _not_shown(self, snap: Snapshot) -> None:
        """A snapshot no screen shows (its view changed meanwhile: a drill-down that
        learned its width, another screen on top): the roofline placement or hints it
        carried are due again, or a finished session would never show them."""
        if snap.roofline is not None:
            self._roofline_key = None
        if snap.hints is not None:
            self._hints_version = -1

    def collect_extra(self, snap: Snapshot) -> None:
        """Refresher thread: what the screens show besides the op data, into the
        snapshot: the measurement rate, the header, the crash, the note in place of the
        headline, the peaks' age; then the hints and the roofline (ExtraPanels)."""
        snap.measurements_per_s = self.rate_meter.apply(snap).measurements_per_s
        h = self.header(snap)
        snap.status, snap.crash, snap.note, snap.peaks_stale = h.status, h.crash, h.note, h.peaks_stale
        super().collect_extra(snap)

    @property
    def seekable(self) -> bool:
        """Is the source a replay (pause, seek, speed)?"""
        return isinstance(self.source, Seekable)

    @property
    def replay(self) -> Seekable | None:
        """The source as a replay (pause, seek, speed, timeline); None in a live session."""
        return self.source if isinstance(self.source, Seekable) else None

    @property
    def replay_name(self) -> str | None:
        """The file name of the recording being replayed (None for a live session)."""
        replay = self.replay
        return None if replay is None else Path(replay.path).name

    def _new_main_screen(self) -> MainScreen:
        return MainScreen(settings=self.view_settings(), replay=self.replay, replay_moved=self.replay_moved)

    def view_settings(self) -> ViewSettings:
        """The view settings the screens show and ask with (pause, window, processes)."""
        label = "" if self.proc_view.whole else self.proc_view_label
        return ViewSettings(self.paused, self.window, self.proc_view, label)

    def _push_settings(self) -> None:
        """Hand the changed view settings to the snapshot screens (their reactive)."""
        settings = self.view_settings()
        for screen in {*self.screen_stack, self.main_screen}:
            if isinstance(screen, SnapshotScreen):
                screen.settings = settings

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The replay keys exist only for a seekable source (hidden otherwise)."""
        if action in REPLAY_ACTIONS:
            # (priority bindings: a text box keeps its arrow keys)
            return self.seekable and not isinstance(self.focused, Input)
        return True

    def action_pause(self) -> None:
        """Space: pause / play a replay; in a live session, freeze the view."""
        if (replay := self.replay) is not None:
            replay.toggle_pause()
            self.update_timeline()
            return
        self.paused = not self.paused
        self.notify("view paused: data keeps flowing" if self.paused else "view resumed", timeout=2)
        self._push_settings()
        self.request_refresh(force=True)

    def action_window(self) -> None:
        self.window = not self.window
        self.notify(
            f"statistics of the last {model.WINDOW_S:.0f} s" if self.window else "cumulative statistics",
            timeout=2,
        )
        self._push_settings()  # a new request: the screen says so (ViewChanged), a snapshot follows

    def action_reset(self) -> None:
        self.source.state.reset()
        self.last_snapshot = None
        self.rate_meter = model.RateMeter()
        self.notify("statistics reset", timeout=2)
        self.request_refresh(force=True)

    def action_processes(self) -> None:
        """``p``: the process tree; picking a row shows that process (or thread) only."""
        from .screens.processes import ProcessesScreen

        if isinstance(self.screen, ProcessesScreen):
            return

        def picked(view: View | None) -> None:
            if view is not None and view != self.proc_view:
                self.proc_view = view
                self.notify(f"showing {self.proc_view_label}", timeout=2)
                self._push_settings()  # (a new request: ViewChanged takes the snapshot)

        self.push_screen(ProcessesScreen(self.source, self.proc_view), callback=picked)

    @property
    def proc_view_label(self) -> str:
        from .procview import view_label

        state = self.source.state
        with state.lock:
            return view_label(self.proc_view, state.process_rows())

    def action_output(self) -> None:
        if not isinstance(self.screen, OutputScreen):
            self.push_screen(OutputScreen(self.source))

    def action_seek(self, delta_s: float = SEEK_STEP_S) -> None:
        """Replay: seek ``delta_s`` seconds (negative: back)."""
        if (replay := self.replay) is not None:
            replay.seek_relative(float(delta_s))
            self.update_timeline()

    def action_seek_start(self) -> None:
        if (replay := self.replay) is not None:
            replay.seek_start()
            self.update_timeline()

    def action_seek_end(self) -> None:
        if (replay := self.replay) is not None:
            replay.seek_end()
            self.update_timeline()

    def action_slower(self) -> None:
        if (replay := self.replay) is not None:
            replay.slower()
            self.update_timeline()

    def action_faster(self) -> None:
        if (replay := self.replay) is not None:
            replay.faster()
            self.update_timeline()

    # ------------------------------------------------------------------ sessions

    def action_sessions(self) -> None:
        """Open the session browser (recorded sessions, newest first)."""
        if not isinstance(self.screen, SessionsScreen):
            self.push_screen(SessionsScreen(self.sessions_dir, self.current_path, self.baseline_path))

    @property
    def sessions_dir(self) -> Path:
        from ..recording import default_sessions_dir

        return default_sessions_dir()

    @property
    def current_path(self) -> Path | None:
        """The file of the session on screen: the replayed one, or the live recording."""
        replay = self.replay
        path = replay.path if replay is not None else self.source.recording_path
        return Path(path) if path is not None else None

    def open_recording(self, path: Path) -> None:
        """Replay ``path`` in this app (after a confirmation if a live program would stop)."""
        from ..recording import RecordingError
        from ..replay import ReplaySource

        try:
            src = ReplaySource(path, speed=1.0)
        except (RecordingError, OSError) as exc:
            self.notify(str(exc), title="cannot open", severity="error", timeout=8)
            return
        live = self.source.kind == "live" and not self.source.finished
        if not live:
            self.open_source(src)
            return
        proc = self.source.proc if isinstance(self.source, HasProcess) else None
        pid = proc.pid if proc is not None else None

        def answered(yes: bool | None) -> None:
            if yes:
                self.call_later(self.open_source, src)

        self.push_screen(
            ConfirmScreen(
                f"Open {Path(path).name}?",
                f"The running program{f' (pid {pid})' if pid else ''} will be stopped; "
                "its recording is kept.",
            ),
            callback=answered,
        )

    def open_source(self, source: Source) -> None:
        """Show ``source`` from now on: stop the current one, start this one, start the
        screens afresh (main screen on top, same theme and window setting)."""
        old = self.source
        try:
            source.start()
        except SourceError as exc:
            self.notify(str(exc), title="cannot open", severity="error", timeout=8)
            return
        while len(self.screen_stack) > 1 and self.screen is not self.main_screen:
            self.pop_screen()
        self.source = source
        self.source_generation += 1
        self.paused = False
        self.proc_view = WHOLE
        self.last_snapshot = None
        self.rate_meter = model.RateMeter()
        self._header_asked = None
        self._hints_version = self._roofline_version = -1
        self._hints_at = self._roofline_at = -1e9
        self._roofline_key = None
        self.refresher.last_request, self.refresher.last_version = None, -1
        stopper = threading.Thread(target=old.stop, name="zlprof-stop-old-source", daemon=True)
        stopper.start()
        self.stoppers.append(stopper)
        recorded = old.recording_path if old.kind == "live" else None
        del old
        # what was frozen with the old session becomes collectable; the new session's
        # first screen freezes again (on_snapshot_ready)
        collector.restore()
        main = self._new_main_screen()
        if self.screen is self.main_screen:
            self.switch_screen(main)
        else:
            self.push_screen(main)
        self.main_screen = main
        self._start_peaks_loader()
        what = self.replay_name or source.describe()
        self.notify(f"opened {what}", timeout=3)
        if recorded is not None:
            self.notify(f"the program was stopped; recorded {recorded}", timeout=6)
        self.refresh_bindings()

    def set_baseline(self, comparator: Any, path: Path | None = None) -> None:
        """Compare the session on screen, and every one opened next, with ``comparator``
        (a zlprof.baseline.BaselineComparator; None: no baseline)."""
        self.baseline = comparator
        self.baseline_path = path
        self.refresher.last_request = None
        self.notify(f"baseline: {comparator.label}" if comparator else "no baseline", timeout=3)
        self.request_refresh(force=True)

    def compare(self, a: Path, b: Path | None) -> None:
        """Compare session ``b`` (None: the one on screen) with ``a`` in the compare screen."""
        self.push_screen(CompareScreen(a, b, self.source))

    def on_sessions_screen_replay(self, message: SessionsScreen.Replay) -> None:
        self.open_recording(message.path)

    def on_sessions_screen_compare(self, message: SessionsScreen.Compare) -> None:
        self.compare(message.a, message.b)

    def on_sessions_screen_baseline(self, message: SessionsScreen.Baseline) -> None:
        self.set_baseline(message.comparator, message.path)

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        # the replay keys in a group of their own; the app's keys (repeated on the main
        # screen to place them in the Footer) under "everywhere"
        groups = [
            ("main screen", bindings(tuple(i for i in MAIN_IDS if i not in REPLAY_IDS + APP_IDS), "main")),
            ("drill-down", bindings(tuple(i for i in DRILL_IDS if i not in REPLAY_IDS), "drill")),
            ("replay (zlprof replay, or a session opened with o)", bindings(REPLAY_IDS, "main")),
            ("session browser", bindings_of(SessionsScreen)),
            ("everywhere", list(APP_BINDINGS)),
        ]
        if self.seekable:  # a replay: its keys first
            groups.insert(0, groups.pop(2))
        self.push_screen(HelpScreen(groups, replay=self.seekable))

    def open_drill(self, path_id: int) -> None:
        screen = DrillDownScreen(
            path_id,
            full=self.source.state.name_of(path_id),
            settings=self.view_settings(),
            replay=self.replay,
            replay_moved=self.replay_moved,
        )
        self.push_screen(screen, callback=lambda _r: self.request_refresh(force=True))

    def on_open_drill(self, message: OpenDrill) -> None:
        self.open_drill(message.path_id)

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: the app's, then every action of the registry (tui/actions.py)
        that applies here (the replay's keys in a replay, the drill-down's on it)."""
        yield from super().get_system_commands(screen)
        targets = {"app": self, "main": self.main_screen, "drill": screen}
        entries = palette_entries(
            replay=self.seekable,
            pages=(main.pages if (main := self.views.get(self.main_screen)) else 1) > 1,
            drill=isinstance(screen, DrillDownScreen),
        )
        for a in entries:
            run = partial(self.run_action, a.action, targets[a.target])
            yield SystemCommand(palette_title(a), a.palette_help, run)
