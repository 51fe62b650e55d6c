"""The Refresher: the thread that takes snapshots of the source's SessionState for the
screen on top (model.collect, the headline's opening, the app's extra panels, the
baseline comparison) and posts each to the app as a :class:`SnapshotReady` message.

Only the thread and its message live here: what a snapshot holds is
``viewmodels.snapshot``; applying one to the screens is the app's (``app.py``).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from textual.message import Message

from . import baseline_view, model, opening
from .model import Snapshot

#: after a snapshot whose op rows took ``c`` seconds to build (under the session's lock),
#: the rows of the same view are rebuilt no sooner than ``PACE * c`` seconds later; the
#: snapshots between keep the last rows and refresh the rest. Rebuilding then holds the
#: lock at most 1 / (1 + PACE) of the time, and the thread folding a flood of measurements
#: keeps the rest. A changed view (a key) rebuilds at once.
PACE = 3.0

if TYPE_CHECKING:
    from .app import ZlprofApp


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
        #: snapshots that kept the last rows (PACE), and when rows may be rebuilt next
        self.paced = 0
        self._rows_at = 0.0
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

    def _warm_shares(self, snap: Snapshot, prev: Snapshot | None) -> None:
        """New rows on the main screen: their time-share bars, in the mode shown, are
        computed here so the UI thread finds them ready (model.share_bars keeps them)."""
        if not isinstance(snap.request, model.MainRequest) or (prev is not None and snap.rows is prev.rows):
            return
        view = self.app.views.get(self.app.main_screen)
        mode = view.share_mode if view is not None and view.share_mode else model.SHARE_MODES[0]
        model.warm_share_bars(snap.rows, (mode,))

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
                due = prev is None or req != self.last_request or t0 >= self._rows_at
                snap = model.collect(self.state, req, prev, rows_due=due)
                self._collect_opening(snap, prev)
                self._warm_shares(snap, prev)
                self.app.collect_extra(snap)
                baseline_view.collect(self.app.baseline, self.state, snap)
            except Exception as exc:  # never let a bad frame kill the display thread
                self.busy = False
                self.app.call_from_thread(self.app.notify, f"refresh failed: {exc}", severity="error")
                continue
            t1 = time.perf_counter()
            self.seconds += t1 - t0
            self.taken += 1
            if snap.rows_stale:
                # shown, but not current: up_to_date stays False and the timer asks again
                self.paced += 1
                version = -1
            elif prev is None or snap.rows is not prev.rows:
                self._rows_at = t1 + PACE * (t1 - t0)
            self.last_request, self.last_version = req, version
            self.prev, self.prev_generation = snap, generation
            if not self.app.post_message(SnapshotReady(snap, generation)):
                self.busy = False
