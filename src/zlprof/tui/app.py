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

Extension points: :meth:`ZlprofApp.make_source_controls` (a replay source's timeline
widget, issue 6) and the roofline / hints panels (issue 5), mounted when their modules
exist.
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

from ..sources import Source, SourceError
from ..themes import DEFAULT_THEME, THEME_NAMES, THEMES, VARIABLE_DEFAULTS, css_paths, next_theme
from . import model
from .model import Snapshot
from .screens.drilldown import DrillDownScreen
from .screens.help import HelpScreen
from .screens.main import MainScreen
from .screens.output import OutputScreen
from .widgets.status import CrashPanel, Panel, StatusBar

#: Screen refreshes per second (the issue asks for 4-10 Hz).
REFRESH_HZ = 5.0
#: The roofline and hints panels update at most this often (seconds): they read the
#: whole session and change slowly, so they must not cost what the table costs.
EXTRA_EVERY_S = 1.0
#: Default of ZlprofApp(peaks=...): load the cached machine peaks or measure them.
AUTO_PEAKS: Any = object()

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

    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


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
        self.taken = 0
        self.skipped = 0
        self.seconds = 0.0
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

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            req = self._pending
            t0 = time.perf_counter()
            try:
                version = self.state.version
                snap = model.collect(self.state, req)
                self.app.collect_extra(snap)
            except Exception as exc:  # never let a bad frame kill the display thread
                self.busy = False
                self.app.call_from_thread(self.app.notify, f"refresh failed: {exc}", severity="error")
                continue
            self.seconds += time.perf_counter() - t0
            self.taken += 1
            self.last_request, self.last_version = req, version
            if not self.app.post_message(SnapshotReady(snap)):
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
    ) -> None:
        """``peaks``: the machine peaks for the roofline; by default the cached ones, else
        measured in a background thread. Pass a MachinePeaks (or None: no roofline) to
        skip that (tests do)."""
        super().__init__()
        self.source = source
        self.refresh_hz = min(max(refresh_hz, 1.0), 30.0)
        for t in THEMES.values():
            self.register_theme(t)
        self.theme = theme if theme in THEMES else DEFAULT_THEME
        self.paused = False
        self.window = False
        self.refresher = Refresher(self)
        self.main_screen = MainScreen()
        self.last_snapshot: Snapshot | None = None
        self.rate_meter = model.RateMeter()
        self._seen_status = ""
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
        if RooflinePanel is not None and self._auto_peaks:
            self.run_worker(self._load_peaks, thread=True, name="peaks", exit_on_error=False)
        self.tick()

    def on_unmount(self) -> None:
        self.refresher.stop()

    def _load_peaks(self) -> None:
        """Worker thread: the cached machine peaks; measure them only when that is harmless.

        Measuring (STREAM and GEMM kernels on every core, seconds long) while a live child
        runs would disturb the very timings on screen, so a live session uses cached peaks
        only and says how to get them; a replay measures them in the background.
        """
        from .. import roofline

        try:
            peaks = roofline.get_peaks(measure_if_missing=False)
        except roofline.PeaksUnavailable:
            if getattr(self.source, "kind", "") == "live":
                self.call_from_thread(
                    self.notify,
                    "no machine peaks cached for the roofline: run `zlprof roofline --calibrate` "
                    "once (measuring now would disturb the program being profiled)",
                    title="roofline",
                    timeout=10,
                )
                return
            self.call_from_thread(
                self.notify, "measuring this machine's peaks for the roofline (once; cached)", timeout=6
            )
            try:
                peaks = roofline.get_peaks()
            except Exception as exc:
                self.call_from_thread(self.notify, f"roofline unavailable: {exc}", severity="warning")
                return
        except Exception as exc:
            self.call_from_thread(self.notify, f"roofline unavailable: {exc}", severity="warning")
            return
        self.peaks = peaks
        self.call_from_thread(self.request_refresh, True)

    # ------------------------------------------------------------------ refresh

    def tick(self) -> None:
        """Timer: follow the source's status, ask for a snapshot for the active screen."""
        self.ticks += 1
        self._watch_status()
        screen = self.screen
        if hasattr(screen, "on_tick"):
            screen.on_tick()
        if isinstance(screen, MainScreen | DrillDownScreen):
            self.update_status(screen)
            version = self.source.state.version
            self._hints_wanted = HintsPanel is not None and self._visible(screen, HintsPanel)
            # the hints are due: take a snapshot even if the table has nothing new
            force = self._hints_wanted and self._hints_version != version and self._extra_due(self._hints_at)
            self.refresher.request(screen.view_request(), force=force)
            self._update_roofline(screen, version)

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
            and self._roofline_version != version
        ):
            return False
        return True

    def request_refresh(self, force: bool = False) -> None:
        screen = self.screen
        if isinstance(screen, MainScreen | DrillDownScreen):
            self.refresher.request(screen.view_request(), force=force)

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        snap = self.rate_meter.apply(message.snapshot)
        try:
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
            recording=str(src.recording_path) if src.recording_path else None,
            snap=snap,
            paused=self.paused,
            window=self.window,
            waited_s=getattr(src, "_silent_after", 0.0) or 0.0,
        )
        try:
            screen.query_one(StatusBar).update_status(view)
        except Exception:
            pass

    def _watch_status(self) -> None:
        status = self.source.status
        if status == self._seen_status:
            return
        first = not self._seen_status
        self._seen_status = status
        if status == "crashed":
            self.show_crash()
            self.notify(
                f"the program {self.source.state.end_reason or 'crashed'}; its data is kept",
                title="crashed",
                severity="error",
                timeout=8,
            )
        elif status == "silent":
            self.notify(
                "the program has sent no measurements yet; is it using zlprof.measure?",
                title="silent",
                severity="warning",
                timeout=8,
            )
        elif status == "ended" and not first:
            # (a source that had already ended when the app opened needs no toast)
            self.notify("the program ended; its data stays on screen", title="ended", timeout=5)

    def show_crash(self) -> None:
        src = self.source
        lines = list(src.stderr_tail)
        if not lines:
            lines = [m for _t, lvl, m in list(src.state.logs) if lvl == "stderr"]
        reason = src.state.end_reason or (f"exit status {src.exit_code}" if src.exit_code else "")
        self.main_screen.query_one(CrashPanel).show_crash(reason, lines)

    # ------------------------------------------------------------------ extension points

    def make_source_controls(self) -> Widget | None:
        """Controls shown under the main panels for sources that have them.

        A replay source (``source.kind == "replay"``, issue 6) gets its timeline bar here:
        ``widgets/timeline.py`` defining ``TimelineBar(source)`` is picked up when present.
        """
        if getattr(self.source, "kind", "") != "replay":
            return None
        try:
            from .widgets.timeline import TimelineBar  # type: ignore[import-not-found]
        except ImportError:
            return None
        return TimelineBar(self.source)  # pragma: no cover

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
        key = (id(screen), highlight, id(self.peaks))
        if key == self._roofline_key and (version == self._roofline_version or not self._extra_due(self._roofline_at)):
            return
        self._roofline_key, self._roofline_version = key, version
        self._roofline_at = time.monotonic()
        with self.source.state.lock:
            for panel in screen.query(RooflinePanel):
                panel.update_view(self.source.state, self.peaks, highlight=highlight)

    # ------------------------------------------------------------------ actions

    def action_pause(self) -> None:
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

    def action_output(self) -> None:
        if not isinstance(self.screen, OutputScreen):
            self.push_screen(OutputScreen())

    def action_next_theme(self) -> None:
        self.theme = next_theme(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        groups = [
            ("main screen", list(MainScreen.BINDINGS)),  # type: ignore[arg-type]
            ("drill-down", list(DrillDownScreen.BINDINGS)),  # type: ignore[arg-type]
            ("everywhere", list(APP_BINDINGS)),
        ]
        self.push_screen(HelpScreen(groups))

    def open_drill(self, path_id: int) -> None:
        self.push_screen(DrillDownScreen(path_id), callback=lambda _r: self.request_refresh(force=True))

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        run = self.run_action

        def cmd(title: str, help_text: str, action: str, target: Any = None) -> SystemCommand:
            return SystemCommand(title, help_text, partial(run, action, target))

        yield cmd("Pause / resume view  (space)", "Freeze the panels; data keeps flowing and recording", "pause", self)
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
        yield cmd("Open drill-down  (enter)", "Histogram, recent durations, children of the op", "drill", main)
        if isinstance(screen, DrillDownScreen):
            yield cmd("Back to the main screen  (esc)", "Close the drill-down", "back", screen)
            yield cmd("Go to parent op  (u)", "Drill into the parent", "parent", screen)


# --------------------------------------------------------------------------- entry point


def run_app(source: Source, theme: str | None = None) -> int:
    """Start ``source``, run the app until the user quits, stop the source.

    Returns 1 if the source cannot start (one line on stderr), else 0: quitting is the
    user's choice even when the child crashed (the app showed that, and the recording
    keeps it). On the way out the child gets SIGTERM then SIGKILL after a grace period
    (Source.stop), the recording is closed, and its path is printed on stderr.
    """
    try:
        source.start()
    except SourceError as exc:
        print(f"zlprof: error: {exc}", file=sys.stderr)
        return 1
    app = ZlprofApp(source, theme=theme)

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
        source.stop()
    if source.recording_path is not None:
        print(f"zlprof: recorded {source.recording_path}", file=sys.stderr)
    if source.status == "crashed":
        print(f"zlprof: the program {source.state.end_reason or 'crashed'}", file=sys.stderr)
    return 0
