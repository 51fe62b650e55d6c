"""ReplaySource's machinery: reading the recording, due times, the playback thread,
seek planning and applying seeks (fold on, restore a checkpoint, or wait for the index).
The public controls and properties are in source.py; the index in index.py.
"""

from __future__ import annotations

import bisect
import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..recording import read_recording
from ..session import SessionState
from ..sources import Source, describe_exit
from .index import _Index
from .timing import _origin_ns, frame_time, in_time_order

#: Folding work of a frame beyond its measurements, in measurements (seek planning only).
FRAME_WORK = 40
#: Work of restoring a checkpoint, in measurements (seek planning only).
RESTORE_WORK = 20_000
#: A playback thread folds for at most this long before it looks at its controls again.
FOLD_SLICE_S = 0.02
#: The longest the playback thread sleeps between checks while a frame is not yet due.
MAX_SLEEP_S = 0.1


class _Player(Source):
    """A recording's frames and the thread that plays them into ``state`` (the base of
    ReplaySource; see it for the constructor's arguments)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        speed: float | None = 1.0,
        start_s: float = 0.0,
        *,
        state: SessionState | None = None,
        paused: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(state)
        self._clock = clock  # wall seconds; tests pass a fake one
        res = read_recording(path)  # RecordingError for a non-recording / newer schema
        self.path = Path(path)
        # recording_path stays None: a replay records nothing (the app prints
        # "recorded PATH" on exit for a source that has one); ``path`` is the file played
        self.file_size = res.size
        self.warning = res.warning
        frames, ends = in_time_order(res.frames, res.ends)
        res.frames = frames
        self._frames = frames
        self.damage = res.damage
        # bytes of the file read once each frame is folded (the end of its chunk, or of a
        # later one the frame was stored before)
        self._ends = list(itertools.accumulate(ends, max))
        self.origin_ns = _origin_ns(res.frames)
        times: list[int] = []
        t = 0
        for fr in res.frames:
            ft = frame_time(fr)
            if ft is not None:
                t = max(t, ft - self.origin_ns)
            times.append(t)
        self._times = times
        self._duration_ns = times[-1] if times else 0
        # cumulative folding work before each frame, for choosing how to seek
        work = [0]
        for fr in res.frames:
            work.append(work[-1] + FRAME_WORK + (fr.body["n"] if fr.kind == "meas" else 0))
        self._work = work
        # standard and error output of the child, as LiveSource keeps them
        self._output: list[tuple[int, str, str]] = [
            (i, fr.body.get("level", ""), fr.body["msg"])
            for i, fr in enumerate(res.frames)
            if fr.kind == "log" and fr.body.get("level") in ("stdout", "stderr")
        ]
        self.state.source_path = str(self.path)  # type: ignore[attr-defined]
        self._base_warnings = [d.describe() for d in res.damage]
        self.state.warnings[:0] = [w for w in self._base_warnings if w not in self.state.warnings]

        self._cond = threading.Condition()
        self._build_lock = threading.Lock()  # held while the index is built
        self._fold_lock = threading.Lock()  # one seek or fold sequence at a time
        self._index: _Index | None = None
        self._thread: threading.Thread | None = None
        self._index_thread: threading.Thread | None = None
        self._set_speed_checked(speed)
        self._speed: float | None = speed
        self._paused = bool(paused)
        self._stopping = False
        self._clock_running = False  # the playback thread is up and the clock ticks
        # a bounded recording starts where its raw measurements do (unless asked otherwise)
        self.full_from_s = max(
            [(int(fr.body["upto"]) - self.origin_ns) / 1e9 for fr in res.frames
             if fr.kind == "summary" and fr.body["n"]] or [0.0])
        if start_s == 0.0 and self.full_from_s > 0:
            start_s = self.full_from_s
        self._anchor_ns = float(min(max(0.0, start_s) * 1e9, self._duration_ns))
        self._anchor_wall = self._clock()
        self._next = 0  # frames [0, _next) are in state
        self._seek_target: float | None = None
        self._seek_seq = 0
        self._applied_seq = 0
        self._ended = threading.Event()
        self._at_end = False
        self.last_seek_s = 0.0  # how long the last seek took

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _set_speed_checked(speed: float | None) -> None:
        if speed is not None and not (isinstance(speed, int | float) and speed > 0
                                      and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number or None, not {speed!r}")

    def _position_ns(self, now: float) -> float:
        if self._seek_target is not None:
            return self._seek_target
        if not self._clock_running or self._paused or self._speed is None:
            return self._anchor_ns
        return min(
            float(self._duration_ns),
            self._anchor_ns + (now - self._anchor_wall) * 1e9 * self._speed,
        )

    def _due_locked(self) -> bool:
        """A frame is waiting to be folded at the current position."""
        if self._next >= len(self._times):
            return False
        if self._speed is None and not self._paused:
            return True
        return self._times[self._next] <= self._position_ns(self._clock())

    def _at_end_locked(self) -> bool:
        return (
            self._next >= len(self._times)
            and self._position_ns(self._clock()) >= self._duration_ns
        )

    def _update_status(self) -> None:
        with self._cond:
            if not self._clock_running:
                return
            at_end = self._at_end_locked() and self._seek_target is None
            if at_end:
                status = self._final_status()
            elif self._stopping:
                status = "stopped"
            elif self._paused:
                status = "paused"
            else:
                status = "running"
            self._at_end = at_end
        self.exit_code = self.state.end_status if at_end else None
        self._set_status(status)
        if at_end or self._stopping:
            self._ended.set()
        else:
            self._ended.clear()

    def _final_status(self) -> str:
        """At the end, the status the live session ended with (as LiveSource reports it)."""
        code = self.state.end_status
        if code is None or code == 0:
            return "ended"
        if self.state.end_reason.startswith("stopped"):
            return "stopped"
        return describe_exit(code)[0]

    def _ensure_index(self) -> _Index:
        """The complete seek index: built here if nothing builds it, else waited for."""
        with self._build_lock:
            if self._index is None:
                self._index = _Index(self._frames, self.state.exact_limit)
                self._index.build()
        index = self._index
        index.wait_until(len(self._frames) + 1, give_up=lambda: False)
        return index

    def _fold(self, state: SessionState, lo: int, hi: int, live: bool) -> None:
        """Fold frames [lo, hi) into ``state`` one by one (as the index pass does)."""
        frames = self._frames
        with state.lock:
            for i in range(lo, hi):
                fr = frames[i]
                state.ingest_many([fr])
                if live and fr.kind == "log":
                    level = fr.body.get("level")
                    if level == "stdout":
                        self.stdout_tail.append(fr.body["msg"])
                    elif level == "stderr":
                        self.stderr_tail.append(fr.body["msg"])

    def _count_read(self, n: int) -> None:
        self.frames_read = n
        self.bytes_read = self._ends[n - 1] if n else 0

    def _apply_pending_seek(self) -> None:
        """Apply the newest seek request (any thread; folding is serialised).

        Of folding on from the current position, restoring the nearest checkpoint and
        folding from it, or (while the index is still being built short of the target)
        waiting for the index to get there, it takes the least folding work.
        """
        with self._fold_lock:
            with self._cond:
                target = self._seek_target
                seq = self._seek_seq
                nxt = self._next
            if target is None:
                return
            t0 = time.perf_counter()
            k = bisect.bisect_right(self._times, target)
            index = self._index
            if index is None:  # not started: seeking here and now
                index = self._ensure_index()
            work = self._work
            cp = index.checkpoint_before(k)
            costs = {"restore": work[k] - work[cp.frame] + RESTORE_WORK}
            if nxt <= k:
                costs["fold"] = work[k] - work[nxt]
            upto = index.upto
            if not index.done and upto < k:
                costs["wait"] = work[k] - work[upto] + RESTORE_WORK
            how = min(costs, key=costs.__getitem__)
            if how == "wait":
                index.wait_until(k, give_up=lambda: self._stopping or self._seek_seq != seq)
                if self._stopping or self._seek_seq != seq:
                    return  # a newer request (or stop) replaces this one
                cp = index.checkpoint_before(k)
                how = "fold" if nxt <= k and work[k] - work[nxt] <= work[k] - work[cp.frame] else "restore"
            if how == "fold":
                self._fold(self.state, nxt, k, live=True)
            else:
                scratch = index.restore(cp)
                self._fold(scratch, cp.frame, k, live=False)
                scratch.warnings[:0] = [w for w in self._base_warnings if w not in scratch.warnings]
                self.state.take_over(scratch)
                self._rebuild_output_tails(k)
            self._count_read(k)
            self.last_seek_s = time.perf_counter() - t0
            with self._cond:
                self._next = k
                self._anchor_ns = target
                self._anchor_wall = self._clock()
                if self._seek_seq == seq:
                    self._seek_target = None
                self._applied_seq = max(self._applied_seq, seq)
                self._cond.notify_all()
        self._update_status()

    def _rebuild_output_tails(self, k: int) -> None:
        for level, tail in (("stdout", self.stdout_tail), ("stderr", self.stderr_tail)):
            msgs = [m for i, lv, m in self._output if i < k and lv == level]
            tail.clear()
            tail.extend(msgs[-(tail.maxlen or len(msgs)) :])

    def _build_index_quietly(self, index: _Index) -> None:
        try:
            with self._build_lock:
                index.build(stop=lambda: self._stopping)
        except Exception as exc:  # a bug must not pass silently, nor kill the app
            self.state.warnings.append(f"replay: cannot build the seek index: {exc!r}")
            with index.cond:
                index.done = True  # seeks fall back to folding from the checkpoints made
                index.cond.notify_all()

    def _run(self) -> None:
        try:
            self._play()
        except Exception as exc:  # a bug must not pass silently, nor kill the app
            self.state.warnings.append(f"replay stopped: {exc!r}")
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
        self._update_status()
        self._ended.set()

    def _play(self) -> None:
        with self._cond:
            if self._seek_target is None and self._next == 0:
                # the start position (reaching it is a seek from frame 0)
                self._seek_seq += 1
                self._seek_target = self._anchor_ns
            self._clock_running = True
        while True:
            with self._cond:
                if self._stopping:
                    return
                pending = self._seek_target is not None
            if pending:
                self._apply_pending_seek()
                continue
            delay = MAX_SLEEP_S
            with self._cond:
                if self._stopping:
                    return
                if self._due_locked():
                    lo = self._next
                    max_speed = self._speed is None and not self._paused
                    limit = math.inf if max_speed else self._position_ns(self._clock())
                else:
                    lo = -1
                    if (
                        not self._paused
                        and self._speed is not None
                        and self._next < len(self._times)
                    ):
                        gap = self._times[self._next] - self._position_ns(self._clock())
                        delay = min(MAX_SLEEP_S, max(0.0, gap / 1e9 / self._speed))
            if lo < 0:
                self._update_status()
                with self._cond:
                    if self._stopping or self._seek_target is not None or self._due_locked():
                        continue
                    if self._at_end_locked() or self._paused:
                        self._cond.wait()
                    else:
                        self._cond.wait(delay)
                continue
            # fold what is due, for at most FOLD_SLICE_S, then look at the controls again
            t_end = time.perf_counter() + FOLD_SLICE_S
            hi = lo
            times = self._times
            n = len(times)
            with self._fold_lock:
                with self._cond:
                    if self._seek_target is not None or self._next != lo:
                        continue
                while hi < n and times[hi] <= limit and time.perf_counter() < t_end:
                    self._fold(self.state, hi, hi + 1, live=True)
                    hi += 1
                    if self._seek_target is not None:
                        break
                self._count_read(hi)
                with self._cond:
                    self._next = hi
                    if max_speed and hi:
                        self._anchor_ns = max(self._anchor_ns, float(times[hi - 1]))
                        if hi >= n:
                            self._anchor_ns = float(self._duration_ns)
                    self._cond.notify_all()
            self._update_status()
