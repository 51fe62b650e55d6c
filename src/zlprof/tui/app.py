"""The zlprof Textual app and ``run_app``, its entry point from the command line.

Threads and timers (who does what):

* the **Source** (LiveSource / ReplaySource) reads frames and folds them into its
  SessionState on its own threads; the app never touches ingestion;
* a **Refresher** thread, woken by the app's refresh timer (``REFRESH_HZ``, 4-10 Hz), takes
  one snapshot of the state for the active screen (model.collect: op statistics, memory
  series or the drill-down model) and posts it to the app. Only one snapshot is in flight:
  when the UI is slower than the timer, display frames are skipped, never data; when the
  state's ``version`` and the request are unchanged, no snapshot is taken at all;
* the **UI thread** applies a snapshot: the operations table is diffed cell by cell, the
  charts redraw for their size. Keys are handled between snapshots, so they stay fast
  under any ingest load.

Sources. The app shows one Source at a time (``app.source``); a seekable one (a replay)
gets a timeline bar (:meth:`ZlprofApp.make_source_controls`) and the replay keys. The
session browser (``o``) opens a recording in place of the current source with
:meth:`ZlprofApp.open_source`: the old source is stopped, the new one started, the screens
start afresh; snapshots of the old source still in flight are dropped (each carries the
source generation it was taken of).

The roofline and hints panels (issue 5) are mounted when their modules exist.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input

from ..session import WHOLE, View
from ..sources import EXIT_PROGRAM_FAILED, Source, SourceError, program_failed
from ..themes import DEFAULT_THEME, THEME_NAMES, THEMES, VARIABLE_DEFAULTS, css_paths, next_theme
from . import baseline_view, model, opening
from .keys import REPLAY_ACTIONS, SEEK_STEP_S
from .model import Snapshot
from .screens.compare import CompareScreen
from .screens.confirm import ConfirmScreen
from .screens.drilldown import DrillDownScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.output import OutputScreen
from .screens.sessions import SessionsScreen
from .widgets.status import CrashPanel, Panel, StatusBar
from .widgets.timeline import TimelineBar

#: Screen refreshes per second (the issue asks for 4-10 Hz).
REFRESH_HZ = 5.0
#: The roofline and hints panels update at most this often (seconds): they read the
#: whole session and change slowly, so they must not cost what the table costs.
EXTRA_EVERY_S = 1.0
#: Default of ZlprofApp(peaks=...): load the cached machine peaks or measure them.
AUTO_PEAKS: Any = object()
#: The headline's note while a stalled program has sent no measurement.
NO_MEASUREMENTS = "the program has sent no measurements yet; is it using zlprof.measure?"
#: The roofline panel's note in a live session without cached peaks.
NO_PEAKS_LIVE = (
    "no machine peaks cached: run `zlprof roofline --calibrate` once "
    "(measuring now would disturb the program being profiled)"
)

# The roofline and hints panels (issue 5) are mounted when their modules are present.
try:
    from .widgets.roofline_panel import RooflinePanel
except ImportError:  # pragma: no cover
    RooflinePanel = None  # type: ignore[assignment,misc]
try:
    from .widgets.hints_panel import HintsPanel
except ImportError:  # pragma: no cover
    HintsPanel = None  # type: ignore[assignment,misc]


class SnapshotReady(Message):
    """A snapshot taken by the Refresher thread."""

    def __init__(self, snapshot: Snapshot, generation: int = 0) -> None:
        super().__init__()
        self.snapshot = snapshot
        #: the app's source generation the snapshot was taken of (see open_source)
        self.generation = generation


class Refresher:
    """Takes snapshots of a SessionState off the UI thread, one at a time.

    ``request`` returns at once; if a snapshot is still being taken or shown, the request
    is dropped (the next timer tick asks again), so a slow display skips frames while the
    source keeps ingesting every frame.
    """

    def __init__(self, app: ZlprofApp) -> None:
        self.app = app
        self._wake = threading.Event()
        self._stop = False
        self._pending: Any = None
        self.busy = False
        self.last_request: Any = None
        self.last_version = -1
        #: the last snapshot taken (its op rows are reused while they hold: model.collect)
        self.prev: Snapshot | None = None
        self.prev_generation = -1
        self.taken = 0
        self.skipped = 0
        self.seconds = 0.0
        #: the peaks the last opening (headline) was computed with
        self._opening_peaks: Any = None
        self._thread = threading.Thread(target=self._run, name="zlprof-refresher", daemon=True)

    @property
    def state(self):  # noqa: ANN201 - the source's state, read afresh (a source may swap it)
        return self.app.source.state

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=2)

    def request(self, req: Any, force: bool = False) -> bool:
        if self.busy:
            self.skipped += 1
            return False
        if not force and req == self.last_request and self.state.version == self.last_version:
            return False
        self.busy = True
        self._pending = req
        self._wake.set()
        return True

    def done(self) -> None:
        """Called by the UI once it has shown the snapshot."""
        self.busy = False

    def _collect_opening(self, snap: Snapshot, prev: Snapshot | None) -> None:
        """The headline and table defaults (tui.opening), for the main screen: computed
        afresh when the rows or the peaks changed, else carried over."""
        if not isinstance(snap.request, model.MainRequest):
            return
        peaks = self.app.peaks
        if prev is None:
            snap.opening = opening.opening(snap.rows, snap.rows_wall_ns, peaks)
        elif prev.opening is not None and snap.rows is prev.rows and self._opening_peaks is peaks:
            snap.opening = prev.opening
            return
        else:
            snap.opening = opening.opening(snap.rows, snap.rows_wall_ns, peaks, prev.opening)
        self._opening_peaks = peaks

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            req = self._pending
            generation = self.app.source_generation
            t0 = time.perf_counter()
            try:
                version = self.state.version
                prev = self.prev if self.prev is not None and self.prev_generation == generation else None
                snap = model.collect(self.state, req, prev)
                self._collect_opening(snap, prev)
                self.app.collect_extra(snap)
                baseline_view.collect(self.app.baseline, self.state, snap)
            except Exception as exc:  # never let a bad frame kill the display thread
                self.busy = False
                self.app.call_from_thread(self.app.notify, f"refresh failed: {exc}", severity="error")
                continue
            self.seconds += time.perf_counter() - t0
            self.taken += 1
            self.last_request, self.last_version = req, version
            self.prev, self.prev_generation = snap, generation
            if not self.app.post_message(SnapshotReady(snap, generation)):
                self.busy = False


APP_BINDINGS = [
    Binding("q", "quit", "Quit", tooltip="Quit (stops the child: SIGTERM, then SIGKILL)"),
    Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    Binding("t", "next_theme", "Theme", tooltip="Next theme (dark, light, high-contrast)"),
    Binding("question_mark", "help", "Help", key_display="?", tooltip="All keys"),
]


class ZlprofApp(App[int]):
    """The live profiler. Construct with a started Source; see :func:`run_app`."""

    TITLE = "zlprof"
    CSS_PATH = [Path(__file__).with_name("app.tcss"), *css_paths()]
    BINDINGS = APP_BINDINGS

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
        self.theme = theme if theme in THEMES else DEFAULT_THEME
        self.paused = False
        self.window = False
        #: which processes the main table shows (``p``): the whole tree by default
        self.proc_view: View = WHOLE
        self.refresher = Refresher(self)
        #: bumped by open_source: snapshots of an older source are not shown
        self.source_generation = 0
        #: sources replaced by open_source (stopped in background threads; see run_app)
        self.replaced: list[tuple[Source, threading.Thread]] = []
        #: what the roofline says while there are no peaks (None: the panel's default,
        #: "no machine peaks cached ...")
        self.peaks_note: str | None = None
        #: said under the roofline panel when the cached peaks predate per-level roofs
        self.peaks_stale: str | None = None
        self._peaks_loading = False
        self.main_screen = MainScreen()
        self.last_snapshot: Snapshot | None = None
        self.rate_meter = model.RateMeter()
        #: warnings of the state already shown
        self._warned = 0
        self._auto_peaks = peaks is AUTO_PEAKS
        self.peaks: Any = None if self._auto_peaks else peaks
        self.ticks = 0
        self._hints_wanted = False
        self._hints_at = -1e9
        self._hints_version = -1
        self._roofline_at = -1e9
        self._roofline_version = -1
        self._roofline_key: Any = None

    # ------------------------------------------------------------------ lifecycle

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        self.refresher.start()
        self.set_interval(1.0 / self.refresh_hz, self.tick, name="zlprof-refresh")
        self._start_peaks_loader()
        self.tick()

    def _start_peaks_loader(self) -> None:
        if RooflinePanel is None or not self._auto_peaks or self.peaks is not None or self._peaks_loading:
            return
        self._peaks_loading = True
        self.run_worker(self._load_peaks, thread=True, name="peaks", exit_on_error=False)

    def on_unmount(self) -> None:
        self.refresher.stop()

    def _load_peaks(self) -> None:
        """Worker thread: the cached machine peaks; measure them only when that is harmless.

        Measuring (STREAM and GEMM kernels on every core, seconds long) while a live child
        runs would disturb the very timings on screen, so a live session uses cached peaks
        only and says how to get them; a replay measures them in the background.
        """
        try:
            self._load_peaks_now()
        finally:
            self._peaks_loading = False

    def _load_peaks_now(self) -> None:
        from .. import roofline

        def note(text: str | None) -> None:
            self.peaks_note = text
            self._roofline_key = None  # redraw the panel's note

        # (what the peaks' state is goes in the roofline panel, never in a toast over the
        # data: the panel shows the note while it has no peaks)
        try:
            peaks = roofline.get_peaks(measure_if_missing=False)
        except roofline.PeaksUnavailable:
            if getattr(self.source, "kind", "") == "live":
                note(NO_PEAKS_LIVE)
                return
            note("roofline: measuring this machine's peaks (once; cached)…")
            try:
                peaks = roofline.get_peaks()
            except Exception as exc:
                note(f"roofline unavailable: {exc}")
                return
        except Exception as exc:
            note(f"roofline unavailable: {exc}")
            return
        self.peaks = peaks
        # an older peaks file (DRAM roof only): said under the roofline panel
        self.peaks_stale = peaks.stale_note or None
        note(None)
        self.call_from_thread(self.request_refresh, True)

    # ------------------------------------------------------------------ refresh

    def tick(self) -> None:
        """Timer: follow the source's status, ask for a snapshot for the active screen."""
        if not self.screen_stack:
            return  # shutting down (or not started): no screen to show anything on
        self.ticks += 1
        self.sync_crash_panel()
        self._show_state_notes()
        screen = self.screen
        if hasattr(screen, "on_tick"):
            screen.on_tick()
        if isinstance(screen, MainScreen | DrillDownScreen):
            self.update_status(screen)
            self.update_timeline(screen)
            version = self.source.state.version
            self._hints_wanted = HintsPanel is not None and self._visible(screen, HintsPanel)
            # the hints are due: take a snapshot even if the table has nothing new
            force = self._hints_wanted and self._hints_version != version and self._extra_due(self._hints_at)
            force = force or baseline_view.due(self.baseline, self.source.state)
            self.refresher.request(screen.view_request(), force=force)
            # (the roofline places ops: it follows ops_version, not memory readings)
            self._update_roofline(screen, self.source.state.ops_version)

    def up_to_date(self) -> bool:
        """Does the active screen show the state's current version (panels included)?

        For tests and benchmarks: True once the last snapshot of the current data has
        been applied and the hints / roofline (when on screen) have caught up.
        """
        screen = self.screen
        if not isinstance(screen, MainScreen | DrillDownScreen):
            return not self.refresher.busy
        version = self.source.state.version
        r = self.refresher
        if r.busy or r.last_version != version or r.last_request != screen.view_request():
            return False
        hints_shown = HintsPanel is not None and self._visible(screen, HintsPanel)
        if hints_shown and self._hints_version != version:
            return False
        if (
            RooflinePanel is not None
            and not self.paused
            and self._visible(screen, RooflinePanel)
            and self._roofline_version != self.source.state.ops_version
        ):
            return False
        return True

    def request_refresh(self, force: bool = False) -> None:
        if not self.screen_stack:
            return
        screen = self.screen
        if isinstance(screen, MainScreen | DrillDownScreen):
            self.refresher.request(screen.view_request(), force=force)

    def update_timeline(self, screen: Screen | None = None) -> None:
        """Show the replay's position, speed and state on the screen's timeline bar."""
        if not self.seekable:
            return
        timeline = self.source.timeline()  # type: ignore[attr-defined]
        for bar in (screen or self.screen).query(TimelineBar):
            bar.update_timeline(timeline)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        if message.generation != self.source_generation:
            self.refresher.done()  # taken of a source that has been replaced
            return
        snap = self.rate_meter.apply(message.snapshot)
        try:
            if not self.screen_stack:
                return  # shutting down: nothing to show it on
            screen = self.screen
            if isinstance(screen, MainScreen | DrillDownScreen) and snap.request == screen.view_request():
                self.last_snapshot = snap
                with self.batch_update():
                    try:
                        screen.apply_snapshot(snap)
                    except NoMatches:
                        pass  # the screen is being torn down (the app is closing)
            elif isinstance(snap.request, model.MainRequest):
                # keep the main screen's data current while another screen is on top
                self.last_snapshot = snap
                self.main_screen.last = snap
        finally:
            self.refresher.done()

    def update_status(self, screen: Screen) -> None:
        src = self.source
        snap = self.last_snapshot
        info = snap.info if snap else {}
        # the command as launched (python -m pkg ...) reads better than the child's sys.argv
        argv = getattr(src, "argv", None) or info.get("argv") or []
        pid = info.get("pid")
        if pid is None and getattr(src, "proc", None) is not None:
            pid = src.proc.pid  # type: ignore[attr-defined]
        view = model.status_view(
            status=src.status,
            exit_code=src.exit_code,
            end_reason=(snap.end_reason if snap else "") or src.state.end_reason,
            argv=list(argv),
            pid=pid,
            recording=(src.recording_failure.banner() if src.recording_failure is not None
                       else str(src.recording_path) if src.recording_path else None),
            snap=snap,
            paused=self.paused,
            window=self.window,
            waited_s=getattr(src, "stall_after_s", 0.0) or 0.0,
            replay=self.replay_name,
            wall_s=src.wall_elapsed_s(),
            quiet_s=src.quiet_s() if hasattr(src, "quiet_s") else None,
            ran_s=src.run_s(),
        )
        try:
            screen.query_one(StatusBar).update_status(view)
        except Exception:
            pass

    @property
    def seekable(self) -> bool:
        """Is the source a replay (pause, seek, speed)?"""
        return bool(getattr(self.source, "seekable", False))

    @property
    def replay_name(self) -> str | None:
        """The file name of the recording being replayed (None for a live session)."""
        if getattr(self.source, "kind", "") != "replay":
            return None
        path = getattr(self.source, "path", None)
        return Path(path).name if path is not None else "recording"

    def _show_state_notes(self) -> None:
        """State messages go in the panel they concern, never in a toast over the data
        (the child's state itself is the header's: running, stalled, stopped, ended,
        crashed with its status; a crash also opens the crash panel):

        * no measurement yet from a stalled program: the headline line says so;
        * the session's warnings (too many paths, a corrupt frame ...): under the
          operations panel, the latest one and how many there are.
        """
        main = self.main_screen
        if not main.is_mounted:
            return  # composed later; this runs on every tick
        state = self.source.state
        stalled = self.source.status in ("stalled", "silent") and state.measurements == 0
        main.show_note(NO_MEASUREMENTS if stalled else "")
        warnings = state.warnings
        if len(warnings) != self._warned and main.show_warnings(list(warnings)):
            self._warned = len(warnings)

    def sync_crash_panel(self) -> None:
        """Show the crash panel of the main screen when (and only while) the source has
        crashed: its exit status or signal and the tail of its stderr.

        Called on every tick and when the main screen mounts, so a program that fails
        before the screen exists (a missing file, an exception at import) is shown too;
        a replay seeking back from its crashed end hides the panel again.
        """
        try:
            panel = self.main_screen.query_one(CrashPanel)
        except NoMatches:
            return  # not composed yet: MainScreen.on_mount calls this again
        src = self.source
        if src.status != "crashed":
            panel.hide()
            return
        lines = list(src.stderr_tail)
        if not lines:
            lines = [m for _t, lvl, m in list(src.state.logs) if lvl == "stderr"]
        reason = src.state.end_reason or (f"exit status {src.exit_code}" if src.exit_code else "")
        panel.show_crash(reason, lines)

    show_crash = sync_crash_panel

    # ------------------------------------------------------------------ extension points

    def make_source_controls(self) -> Widget | None:
        """Controls shown under the main panels for sources that have them.

        A seekable source (a replay) gets its timeline bar (position, duration, speed,
        state); a live source has none.
        """
        if not self.seekable or not hasattr(self.source, "timeline"):
            return None
        return TimelineBar(self.source, id="timeline")

    def extra_main_panels(self) -> Iterator[Widget]:
        """Roofline and hints panels on the main screen, when issue 5's modules exist."""
        if RooflinePanel is not None:
            yield Panel(RooflinePanel(id="roofline"), id="roofline-panel", title="roofline")
        if HintsPanel is not None:
            yield Panel(HintsPanel(id="hints"), id="hints-panel", title="hints")

    def extra_drill_panels(self) -> Iterator[Widget]:
        if RooflinePanel is not None:
            yield Panel(RooflinePanel(id="roofline"), id="roofline-panel", title="roofline")

    def _visible(self, screen: Screen, widget_type: type) -> bool:
        """Is a widget of this type shown (not display:none, not zero-sized) on ``screen``?"""
        return any(w.region.area > 0 for w in screen.query(widget_type))

    @staticmethod
    def _extra_due(last: float) -> bool:
        return time.monotonic() - last >= EXTRA_EVERY_S

    def collect_extra(self, snap: Snapshot) -> None:
        """Refresher thread: the hints (diagnose takes the state's lock itself).

        The rules look at the whole session, so they run at most every EXTRA_EVERY_S and
        only while the hints panel is on screen: they must not slow the table down.
        """
        if HintsPanel is None or not isinstance(snap.request, model.MainRequest):
            return
        version = self.source.state.version
        if not self._hints_wanted or version == self._hints_version or not self._extra_due(self._hints_at):
            return
        self._hints_at, self._hints_version = time.monotonic(), version
        try:
            from .. import diagnose

            snap.extra["hints"] = diagnose.diagnose(self.source.state, self.peaks)
        except Exception as exc:  # a rule failing must not stop the display
            snap.extra["hints_error"] = str(exc)

    def update_extra_panels(self, screen: Screen, snap: Snapshot) -> None:
        """UI thread, with a snapshot: show the hints it carries."""
        if HintsPanel is not None and "hints" in snap.extra:
            for panel in screen.query(HintsPanel):
                panel.update_view(snap.extra["hints"])

    def _update_roofline(self, screen: Screen, version: int) -> None:
        """UI thread, on the timer: place the ops on the roofline when it is on screen.

        At most every EXTRA_EVERY_S while data flows (placement reads every op), at once
        when the highlighted op, the screen or the peaks change.
        """
        if RooflinePanel is None or self.paused or not self._visible(screen, RooflinePanel):
            return
        highlight = None
        if isinstance(screen, DrillDownScreen):
            highlight = self.source.state.name_of(screen.path_id)
        if isinstance(screen, MainScreen):
            screen.panel_note("roofline-panel", self.peaks_stale or "")
        key = (id(screen), highlight, id(self.peaks), self.peaks_note, id(self.source.state))
        if key == self._roofline_key and (version == self._roofline_version or not self._extra_due(self._roofline_at)):
            return
        self._roofline_key, self._roofline_version = key, version
        self._roofline_at = time.monotonic()
        with self.source.state.lock:
            for panel in screen.query(RooflinePanel):
                panel.update_view(self.source.state, self.peaks, highlight=highlight, note=self.peaks_note)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The replay keys exist only for a seekable source (hidden otherwise)."""
        if action in REPLAY_ACTIONS:
            # (priority bindings: a text box keeps its arrow keys)
            return self.seekable and not isinstance(self.focused, Input)
        return True

    def action_pause(self) -> None:
        """Space: pause / play a replay; in a live session, freeze the view."""
        if self.seekable:
            self.source.toggle_pause()  # type: ignore[attr-defined]
            self.update_timeline()
            return
        self.paused = not self.paused
        self.notify("view paused: data keeps flowing" if self.paused else "view resumed", timeout=2)
        if isinstance(self.screen, MainScreen):
            self.screen._retitle()
        self.request_refresh(force=True)

    def action_window(self) -> None:
        self.window = not self.window
        self.notify(
            f"statistics of the last {model.WINDOW_S:.0f} s" if self.window else "cumulative statistics",
            timeout=2,
        )
        if isinstance(self.screen, MainScreen):
            self.screen._retitle()
        self.request_refresh(force=True)

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
                self.request_refresh(force=True)

        self.push_screen(ProcessesScreen(), callback=picked)

    @property
    def proc_view_label(self) -> str:
        from .procview import view_label

        state = self.source.state
        with state.lock:
            return view_label(self.proc_view, state.process_rows())

    def action_output(self) -> None:
        if not isinstance(self.screen, OutputScreen):
            self.push_screen(OutputScreen())

    def action_seek(self, delta_s: float = SEEK_STEP_S) -> None:
        """Replay: seek ``delta_s`` seconds (negative: back)."""
        if self.seekable:
            self.source.seek_relative(float(delta_s))  # type: ignore[attr-defined]
            self.update_timeline()

    def action_seek_start(self) -> None:
        if self.seekable:
            self.source.seek_start()  # type: ignore[attr-defined]
            self.update_timeline()

    def action_seek_end(self) -> None:
        if self.seekable:
            self.source.seek_end()  # type: ignore[attr-defined]
            self.update_timeline()

    def action_slower(self) -> None:
        if self.seekable:
            self.source.slower()  # type: ignore[attr-defined]
            self.update_timeline()

    def action_faster(self) -> None:
        if self.seekable:
            self.source.faster()  # type: ignore[attr-defined]
            self.update_timeline()

    # ------------------------------------------------------------------ sessions

    def action_sessions(self) -> None:
        """Open the session browser (recorded sessions, newest first)."""
        if not isinstance(self.screen, SessionsScreen):
            self.push_screen(SessionsScreen(self.sessions_dir))

    @property
    def sessions_dir(self) -> Path:
        from ..recording import default_sessions_dir

        return default_sessions_dir()

    @property
    def current_path(self) -> Path | None:
        """The file of the session on screen: the replayed one, or the live recording."""
        path = getattr(self.source, "path", None) if self.seekable else self.source.recording_path
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
        live = getattr(self.source, "kind", "") == "live" and not self.source.finished
        if not live:
            self.open_source(src)
            return
        pid = getattr(getattr(self.source, "proc", None), "pid", None)

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
        self._warned = 0
        self._hints_version = self._roofline_version = -1
        self._hints_at = self._roofline_at = -1e9
        self._roofline_key = None
        self.refresher.last_request, self.refresher.last_version = None, -1
        stopper = threading.Thread(target=old.stop, name="zlprof-stop-old-source", daemon=True)
        stopper.start()
        self.replaced.append((old, stopper))
        main = MainScreen()
        if self.screen is self.main_screen:
            self.switch_screen(main)
        else:
            self.push_screen(main)
        self.main_screen = main
        self._start_peaks_loader()
        what = self.replay_name or source.describe()
        self.notify(f"opened {what}", timeout=3)
        if getattr(old, "recording_path", None) is not None and getattr(old, "kind", "") == "live":
            self.notify(f"the program was stopped; recorded {old.recording_path}", timeout=6)
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
        self.push_screen(CompareScreen(a, b))

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        from .keys import REPLAY_BINDINGS

        # the replay keys in a group of their own; the app's keys (repeated on the main
        # screen to place them in the Footer) under "everywhere"
        skip = {b.action for b in REPLAY_BINDINGS} | {f"app.{b.action}" for b in APP_BINDINGS}
        groups = [
            ("main screen", [b for b in MainScreen.BINDINGS if b.action not in skip]),  # type: ignore[union-attr]
            ("drill-down", [b for b in DrillDownScreen.BINDINGS if b.action not in skip]),  # type: ignore[union-attr]
            ("replay (zlprof replay, or a session opened with o)", list(REPLAY_BINDINGS)),
            ("session browser", list(SessionsScreen.BINDINGS)),  # type: ignore[arg-type]
            ("everywhere", list(APP_BINDINGS)),
        ]
        if self.seekable:  # a replay: its keys first
            groups.insert(0, groups.pop(2))
        self.push_screen(HelpScreen(groups, replay=self.seekable))

    def open_drill(self, path_id: int) -> None:
        self.push_screen(DrillDownScreen(path_id), callback=lambda _r: self.request_refresh(force=True))

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        run = self.run_action

        def cmd(title: str, help_text: str, action: str, target: Any = None) -> SystemCommand:
            return SystemCommand(title, help_text, partial(run, action, target))

        if self.seekable:
            yield cmd("Pause / play the replay  (space)", "Stop or continue the replay's clock", "pause", self)
            yield cmd("Seek back 5 s  (←)", "Replay: move back five seconds", "seek(-5)", self)
            yield cmd("Seek forward 5 s  (→)", "Replay: move on five seconds", "seek(5)", self)
            yield cmd("Replay slower  ([)", "Half the speed (down to 0.1x)", "slower", self)
            yield cmd("Replay faster  (])", "Double the speed (up to 128x, then max)", "faster", self)
            yield cmd("Seek to the start  (home)", "Replay from the beginning", "seek_start", self)
            yield cmd("Seek to the end  (end)", "Fold the whole recording", "seek_end", self)
        else:
            yield cmd("Pause / resume view  (space)", "Freeze the panels; data keeps flowing and recording", "pause", self)
        yield cmd("Recorded sessions  (o)", "Browse recordings: open one as a replay, compare two", "sessions", self)
        yield cmd("Window: cumulative / last 10 s  (w)", "Statistics of the whole run or the last 10 seconds", "window", self)
        yield cmd("Reset statistics  (r)", "Forget statistics gathered so far", "reset", self)
        yield cmd("Child output  (l)", "Show the program's stdout and stderr", "output", self)
        yield cmd("Next theme  (t)", f"Cycle {', '.join(THEME_NAMES)}", "next_theme", self)
        yield cmd("Help: keys  (?)", "Every key of the app", "help", self)
        yield cmd("Quit  (q)", "Stop the child and quit", "quit", self)
        main = self.main_screen
        yield cmd("Sort by next column  (s)", "Cycle the sort column", "sort", main)
        yield cmd("Reverse sort order  (S)", "Flip the sort direction", "reverse", main)
        yield cmd("Filter ops by name  (f)", "Show only ops whose path contains a text", "filter", main)
        yield cmd("Tree / flat view  (v)", "Nested tree or a flat list of full paths", "flat", main)
        if len(main.pages) > 1:
            yield cmd("Next lower panels  (n)", "Time share and memory, roofline, hints: one page at a time", "next_panels", main)
        yield cmd("Time share: by block / by path  (b)", "Sum each block over its layers, or one bar per call path", "share_mode", main)
        yield cmd("Open drill-down  (enter)", "Histogram, recent durations, children of the op", "drill", main)
        if isinstance(screen, DrillDownScreen):
            yield cmd("Back to the main screen  (esc)", "Close the drill-down", "back", screen)
            yield cmd("Go to parent op  (u)", "Drill into the parent", "parent", screen)


# --------------------------------------------------------------------------- entry point


def run_app(source: Source, theme: str | None = None, baseline: Any = None) -> int:
    """Start ``source``, run the app until the user quits, stop the source.

    Returns 1 if the source cannot start (one line on stderr); EXIT_PROGRAM_FAILED (3)
    if the live program failed by itself (a non-zero exit status or a signal; one line
    on stderr says which), else 0 (it succeeded, or the user quit while it ran). On the
    way out the child gets SIGTERM then SIGKILL after a grace period
    (Source.stop), the recording is closed, and its path is printed on stderr.
    """
    try:
        source.start()
    except SourceError as exc:
        print(f"zlprof: error: {exc}", file=sys.stderr)
        return 1
    app = ZlprofApp(source, theme=theme, baseline=baseline)

    def _exit_on_signal(signum: int, _frame: Any) -> None:
        # SIGTERM / SIGHUP to zlprof: leave the app normally so the child is stopped
        try:
            app.call_from_thread(app.exit)
        except RuntimeError:
            app.exit()

    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _exit_on_signal)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        # the source on screen, and any the session browser replaced (already stopping)
        app.source.stop()
        for _old, stopper in app.replaced:
            stopper.join(timeout=10)
        if app.source is not source:
            source.stop()
    if source.recording_failure is not None:
        print(f"zlprof: error: {source.recording_failure.describe()}", file=sys.stderr)
    elif source.recording_path is not None:
        print(f"zlprof: recorded {source.recording_path}", file=sys.stderr)
    if program_failed(source):
        print(f"zlprof: error: the program {source.state.end_reason or 'crashed'}", file=sys.stderr)
        return EXIT_PROGRAM_FAILED
    return 0
