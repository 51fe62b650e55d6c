"""The roofline and hints panels' part of the app: loading the machine peaks (in a
worker thread; never measured while a live program runs), computing the hints on the
Refresher thread and placing the ops on the roofline there too, into the snapshot, each
at most every ``EXTRA_EVERY_S``; the UI thread only says which panels are on screen
(as the screens said: ScreenView). The
screens show what a snapshot carries (screens/base.py).

:class:`ExtraPanels` is the base class of ``ZlprofApp`` (app.py): the attributes below
are set by ``ZlprofApp.__init__``. The panels themselves are widgets
(widgets/roofline_panel.py, widgets/hints_panel.py); the statistics they show come from
zlprof.roofline and zlprof.diagnose, never from here.
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import App

from ..session import WHOLE
from ..sources import Source
from .model import DrillRequest, MainRequest, RooflineShown, Snapshot
from .viewmodels.facts import ScreenView
from .widgets.roofline_panel import placed_view

#: The roofline and hints panels update at most this often (seconds): they read the
#: whole session and change slowly, so they must not cost what the table costs.
EXTRA_EVERY_S = 1.0
#: The roofline panel's note in a live session without cached peaks.
NO_PEAKS_LIVE = (
    "no machine peaks cached: run `zlprof roofline --calibrate` once "
    "(measuring now would disturb the program being profiled)"
)




class ExtraPanels(App[int]):
    """The app's roofline and hints panels (the base of ZlprofApp)."""

    source: Source
    #: the machine peaks (a roofline.MachinePeaks; None: not known yet or none)
    peaks: Any
    peaks_note: str | None
    peaks_stale: str | None
    paused: bool
    _auto_peaks: bool
    _peaks_loading: bool
    _hints_wanted: bool
    _hints_at: float
    _hints_version: int
    _roofline_at: float
    _roofline_version: int
    _roofline_key: Any
    #: (highlighted op, placement key) while the roofline panel is on screen, else None
    _roofline_want: tuple[str | None, Any] | None

    def request_refresh(self, force: bool = False) -> None:
        """Ask for a snapshot of the screen on top: ZlprofApp defines it (declared here
        for the peaks loader, which calls it once the peaks are in)."""

    def _start_peaks_loader(self) -> None:
        if not self._auto_peaks or self.peaks is not None or self._peaks_loading:
            return
        self._peaks_loading = True
        self.run_worker(self._load_peaks, thread=True, name="peaks", exit_on_error=False)

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
            if self.source.kind == "live":
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

    @staticmethod
    def _extra_due(last: float) -> bool:
        return time.monotonic() - last >= EXTRA_EVERY_S

    def collect_extra(self, snap: Snapshot) -> None:
        """Refresher thread: the hints and the roofline placement, into the snapshot.

        Both look at the whole session, so they run at most every EXTRA_EVERY_S and only
        while their panel is on screen (the UI thread says so in ``_hints_wanted`` and
        ``_roofline_want``): they must not slow the table down. The roofline follows
        ``ops_version`` (new measurements, names or costs), not memory readings.
        """
        state = self.source.state
        # the snapshot's rows, when they are the whole session's (state.op_rows()): the
        # panels then reuse them rather than build every op's statistics again
        req = snap.request
        whole = (snap.rows if isinstance(req, MainRequest) and not req.window and req.view == WHOLE
                 else None)
        want = self._roofline_want
        if want is not None:
            highlight, key = want
            ops_version = state.ops_version
            if key != self._roofline_key or (
                ops_version != self._roofline_version and self._extra_due(self._roofline_at)
            ):
                self._roofline_key, self._roofline_version = key, ops_version
                self._roofline_at = time.monotonic()
                peaks = self.peaks
                try:
                    points, summary, message = placed_view(state, peaks, self.peaks_note, whole)
                except Exception as exc:  # a bad cost row must not stop the display
                    points, summary, message = [], None, f"roofline unavailable: {exc}"
                snap.roofline = RooflineShown(points, summary, message, peaks, highlight)
        if not isinstance(snap.request, MainRequest):
            return
        version = state.version
        if not self._hints_wanted or version == self._hints_version or not self._extra_due(self._hints_at):
            return
        self._hints_at, self._hints_version = time.monotonic(), version
        try:
            from .. import diagnose

            snap.hints = diagnose.diagnose(state, self.peaks, rows=whole)
        except Exception:  # a rule failing must not stop the display (the panel keeps
            pass  # the hints it shows; the next due refresh tries again)

    def _update_roofline(self, view: ScreenView, screen_key: int, version: int) -> bool:
        """UI thread, on the timer: say whether the roofline is wanted (on the screen on
        top, ``view``, as it said; not paused) and for which highlighted op (a drill-down's);
        True when a placement is due (the Refresher thread then places the ops into the
        next snapshot). ``screen_key``: the screen's identity (a new screen redraws)."""
        if self.paused or not view.roofline:
            self._roofline_want = None
            return False
        highlight = None
        if isinstance(view.request, DrillRequest):
            highlight = self.source.state.name_of(view.request.path_id)
        key = (screen_key, highlight, id(self.peaks), self.peaks_note, id(self.source.state))
        self._roofline_want = (highlight, key)
        return key != self._roofline_key or (
            version != self._roofline_version and self._extra_due(self._roofline_at)
        )
