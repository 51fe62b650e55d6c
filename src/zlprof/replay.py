"""ReplaySource: a recording played back into a SessionState at its recorded pace.

A replay is a Source like a live child: it owns ``state`` and folds frames into it from a
background thread, so the app reads ``source.state`` exactly as for a live session. On top
of the Source surface it can pause, change speed and seek.

Timing. Every frame is due at the latest timestamp it carries (measurement ends, memory
sample times, token times, log times) on the child's ``perf_counter`` clock, relative to
the ``hello`` frame's ``start_ns``; a frame without a timestamp (names, costs, meta, end)
is due with the frame before it. Due times are made non-decreasing, so frames are always
folded in file order. At speed ``x`` the playback clock advances ``x`` session seconds
per wall second; at speed ``None`` ("max") every frame is due at once.

Seeking. Construction reads and decodes the file (a corrupt or truncated tail becomes a
warning naming the byte offset, and everything before it is replayed). ``start()`` starts
playing at once and, in a second thread, builds an *index*: one pass folds every frame,
one at a time, into a private SessionState and publishes a checkpoint every
``CHECKPOINT_FOLD_S`` seconds of folding (measured, so the spacing adapts to the machine
and to how many ops a frame touches; past ``MAX_CHECKPOINTS`` every other one is dropped).
A checkpoint holds a copy of everything in the state except the per-op samples: those
are rebuilt on restore from per-op logs of (end time, duration) in fold order, appended
as the pass goes (16 bytes a measurement, shared by every checkpoint). Checkpoints are
usable as soon as they are published. A seek to t takes the least folding work of:
folding on from the current position (forwards), restoring the last checkpoint at or
before t into a scratch state and folding from there, or, while the index has not got to
t yet, waiting until it has. A restored state is swapped into ``state`` under its lock,
so the app's reference to ``state`` stays valid. Playback folds one frame per
``ingest_many`` call, as the index pass does, so a seek yields exactly the state of
playing to that point (running means and variances included, bit for bit).

Public surface for the app (besides Source's): ``timeline()`` (all of the next four at
once), ``position_s``, ``duration_s``, ``speed`` (``None`` = max), ``speed_text``,
``paused``, ``seekable``, ``path``, ``pause()``, ``resume()``,
``toggle_pause()``, ``set_speed(x)``, ``faster()``, ``slower()``, ``seek(s)``,
``seek_relative(ds)``, ``seek_start()``, ``seek_end()``, ``settle()``, ``wait()``.
Control methods never block on folding: a seek is applied by the playback thread (the
latest request wins) unless ``wait=True``.

Status: ``starting`` until the playback thread runs, then ``running`` or ``paused``; at
the end of the recording, the status the recorded session ended with, as LiveSource
reported it: ``ended`` (exit 0, or no end frame), ``crashed`` (non-zero exit or a
signal; ``exit_code`` is then the recorded one) or ``stopped`` (stopped by zlprof).
Seeking back from the end makes it ``running``/``paused`` again. ``stop()`` before the
end: ``stopped``.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .protocol import Frame
from .recording import read_recording
from .session import SessionState
from .sources import Source, describe_exit
from .stats import OpAccumulator

#: Folding time between checkpoints, as measured while indexing: a seek refolds at most
#: about this much on top of restoring a checkpoint.
CHECKPOINT_FOLD_S = 0.05
#: Folding work of a frame beyond its measurements, in measurements (seek planning only).
FRAME_WORK = 40
#: Work of restoring a checkpoint, in measurements (seek planning only).
RESTORE_WORK = 20_000
#: More checkpoints than this: every other one is dropped and the spacing doubles.
MAX_CHECKPOINTS = 256
#: The speed ladder of faster()/slower(); past the top is "max" (None).
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
#: A playback thread folds for at most this long before it looks at its controls again.
FOLD_SLICE_S = 0.02
#: The longest the playback thread sleeps between checks while a frame is not yet due.
MAX_SLEEP_S = 0.1



# --------------------------------------------------------------------------- copying
# (the copies themselves are owned by OpAccumulator.clone and SessionState.clone, next to
# the fields they copy)


def clone_accumulator(acc: OpAccumulator) -> OpAccumulator:
    """An independent copy of an OpAccumulator (samples, histogram, recent ring)."""
    return acc.clone()


def clone_state(state: SessionState) -> SessionState:
    """An independent copy of a SessionState (its own lock; taken under the source's)."""
    return state.clone()


# --------------------------------------------------------------------------- index


def frame_time(fr: Frame) -> int | None:
    """The latest timestamp (ns, child clock) a frame carries, or None."""
    b = fr.body
    k = fr.kind
    if k == "meas":
        t1 = b["t1"]
        return int(t1.max()) if len(t1) else None
    if k == "mem":
        t = b["t"]
        return int(t.max()) if len(t) else None
    if k == "tokens":
        rows = b["rows"]
        return max(int(r[0]) for r in rows) if rows else None
    if k == "log":
        t = b.get("t")
        return int(t) if isinstance(t, int) and not isinstance(t, bool) and t > 0 else None
    return None


#: Frame kinds later frames of the same process refer to.
_DEFINING = frozenset({"hello", "names", "threads", "meta"})


def in_time_order(frames: list[Frame], ends: list[int]) -> tuple[list[Frame], list[int]]:
    """Frames in the order they were sent, as far as their timestamps tell.

    A 2.1 recorder stores a flush window's measurement chunk after its other frames
    (tokens, logs), up to ``recording.FLUSH_SPAN_NS`` apart; this restores the interleaving
    for playback: a stable sort by each frame's timestamp, a frame without one staying
    right after the frame before it. Files of other recorders are already in that order
    (the sort then moves nothing that a replay's due times would not have held back).
    """
    keys = []
    t = -(1 << 63)
    for fr in frames:
        ft = frame_time(fr)
        if ft is not None and fr.kind in ("meas", "mem", "tokens"):
            t = ft
        keys.append(t)
    # A frame that defines what later frames of its process refer to (path ids, threads,
    # the process itself) never moves after any of them: with several processes in one
    # file, the time of "the frame before it" may be another process's.
    later: dict[int, int] = {}
    for i in range(len(frames) - 1, -1, -1):
        fr = frames[i]
        low = later.get(fr.stream)
        if fr.kind in _DEFINING and low is not None and low < keys[i]:
            keys[i] = low
        if low is None or keys[i] < low:
            later[fr.stream] = keys[i]
    order = sorted(range(len(frames)), key=keys.__getitem__)
    if all(i == j for i, j in enumerate(order)):
        return frames, ends
    return [frames[i] for i in order], [ends[i] for i in order]


def _origin_ns(frames: list[Frame]) -> int:
    """Session time zero: the hello frame's start, else the earliest timestamp."""
    for fr in frames:
        if fr.kind == "hello":
            return int(fr.body["start_ns"])
    lo: int | None = None
    for fr in frames:
        if fr.kind == "meas" and len(fr.body["t0"]):
            t = int(fr.body["t0"].min())
        else:
            t = frame_time(fr)  # type: ignore[assignment]
        if t is not None and (lo is None or t < lo):
            lo = t
    return lo or 0


@dataclasses.dataclass
class _Checkpoint:
    frame: int  # frames [0, frame) are folded
    #: a copy of the state then, its ops without their samples (rebuilt on restore
    #: from the index's per-op logs)
    state: SessionState


class _Index:
    """Checkpoints of a SessionState along the recording, plus the per-op sample logs.

    Built progressively (``build``, in its own thread): checkpoints are usable as soon
    as they are published, so a seek behind the frontier need not wait for the rest.
    """

    def __init__(self, frames: list[Frame], exact_limit: int) -> None:
        self.frames = frames
        self.exact_limit = exact_limit
        self.checkpoints: list[_Checkpoint] = []
        self.frames_at: list[int] = []
        # per op: (t1, duration) segments in fold order, and their cumulative lengths
        self.segs: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.seg_ends: dict[int, list[int]] = {}
        self.upto = 0  # frames folded so far
        self.done = False
        self.seconds = 0.0
        self.cond = threading.Condition()
        self._publish(self._snap(SessionState(exact_limit=exact_limit), 0))

    def build(self, stop: Callable[[], bool] = lambda: False) -> None:
        t_start = time.perf_counter()
        st = SessionState(exact_limit=self.exact_limit)
        spacing = CHECKPOINT_FOLD_S
        folding = 0.0
        logged = 0
        frames = self.frames
        n = len(frames)
        clock = time.perf_counter
        for i, fr in enumerate(frames):
            t = clock()
            st.ingest_many([fr])
            folding += clock() - t
            if folding >= spacing and i + 1 < n:
                self._log(logged, i + 1, st)
                logged = i + 1
                self._publish(self._snap(st, i + 1))
                folding = 0.0
                if len(self.checkpoints) > MAX_CHECKPOINTS:
                    self._thin()
                    spacing *= 2
                if stop():
                    break
            if not i & 31:
                self.upto = i + 1
        else:
            self.upto = n
        with self.cond:
            self.done = True
            self.seconds = time.perf_counter() - t_start
            self.cond.notify_all()

    def _publish(self, cp: _Checkpoint) -> None:
        with self.cond:
            # new lists, so a reader holding the old ones sees a consistent pair
            self.checkpoints = [*self.checkpoints, cp]
            self.frames_at = [*self.frames_at, cp.frame]
            self.upto = max(self.upto, cp.frame)
            self.cond.notify_all()

    def _thin(self) -> None:
        with self.cond:
            self.checkpoints = self.checkpoints[::2]
            self.frames_at = [cp.frame for cp in self.checkpoints]

    def _snap(self, st: SessionState, frame: int) -> _Checkpoint:
        return _Checkpoint(frame, st.clone(op_samples=False))

    def _log(self, lo: int, hi: int, st: SessionState) -> None:
        """Append frames [lo, hi)'s measurements to the per-op logs, in fold order (path
        ids mapped to the merged ids ``st`` gave each process's paths)."""
        meas = [fr for fr in self.frames[lo:hi] if fr.kind == "meas" and fr.body["n"]]
        if not meas:
            return
        bodies = [fr.body for fr in meas]
        path = np.concatenate([st.merged_paths(fr.stream, fr.body["path"]) for fr in meas])
        t0 = np.concatenate([b["t0"] for b in bodies])
        t1 = np.concatenate([b["t1"] for b in bodies])
        order = np.argsort(path, kind="stable")
        sp = path[order]
        cuts = np.flatnonzero(sp[1:] != sp[:-1]) + 1
        starts = np.r_[0, cuts]
        ends = np.r_[cuts, len(sp)]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            idx = order[s:e]
            pid = int(sp[s])
            a = t1[idx]
            self.segs.setdefault(pid, []).append((a, a - t0[idx]))
            cum = self.seg_ends.setdefault(pid, [])
            cum.append((cum[-1] if cum else 0) + len(idx))

    def checkpoint_before(self, frame: int) -> _Checkpoint:
        """The latest published checkpoint at or before ``frame``."""
        with self.cond:
            cps, at = self.checkpoints, self.frames_at
        return cps[bisect.bisect_right(at, frame) - 1]

    def wait_until(self, frame: int, give_up: Callable[[], bool]) -> None:
        """Block until the build has folded ``frame`` frames (or is done, or ``give_up``)."""
        with self.cond:
            while not self.done and self.upto < frame and not give_up():
                self.cond.wait(0.05)

    def _samples(self, pid: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` (t1, duration) samples of an op (n is a segment boundary)."""
        if n == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty
        cum = self.seg_ends[pid]
        j = bisect.bisect_left(cum, n)
        segs = self.segs[pid][: j + 1]
        if len(segs) == 1:
            return segs[0][0][:n], segs[0][1][:n]
        return (np.concatenate([s[0] for s in segs])[:n],
                np.concatenate([s[1] for s in segs])[:n])

    def restore(self, cp: _Checkpoint) -> SessionState:
        """A fresh SessionState equal to the indexed one after ``cp.frame`` frames."""
        st = cp.state.clone(op_samples=False)
        for pid, acc in st.ops.items():
            # a summary's samples have no raw values
            acc.refill(*self._samples(pid, acc.count - acc.base_n))
        return st


# --------------------------------------------------------------------------- source


def speed_label(speed: float | None) -> str:
    return "max" if speed is None else f"{speed:g}x"


@dataclasses.dataclass(frozen=True)
class Timeline:
    """What a timeline bar shows, read consistently in one go."""

    position_s: float
    duration_s: float
    #: session seconds per wall second; None = as fast as possible
    speed: float | None
    speed_text: str
    paused: bool
    status: str
    #: the seek index is built (until then a backward seek waits for it)
    indexed: bool

    @property
    def fraction(self) -> float:
        """Position as a fraction of the duration, 0..1."""
        return min(1.0, self.position_s / self.duration_s) if self.duration_s > 0 else 1.0


class ReplaySource(Source):
    """Plays a ``.zlp`` recording into ``state`` at its recorded pace (or faster, slower).

    ``speed``: session seconds per wall second, ``None`` for as fast as possible.
    ``start_s``: where playback starts. Raises ``RecordingError`` (one line) for a file
    that is not a recording; a damaged tail is a warning in ``state.warnings``.
    """

    kind = "replay"
    seekable = True

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

    # ------------------------------------------------------------------ properties

    @property
    def duration_s(self) -> float:
        """Length of the recording in session seconds."""
        return self._duration_ns / 1e9

    @property
    def position_s(self) -> float:
        """Where playback is (session seconds; a pending seek's target counts already)."""
        with self._cond:
            return self._position_ns(self._clock()) / 1e9

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def speed_text(self) -> str:
        """``1x``, ``0.5x``, ``max``."""
        return speed_label(self._speed)

    @property
    def paused(self) -> bool:
        return self._paused

    def timeline(self) -> Timeline:
        """Position, duration, speed and pause state for a timeline bar."""
        with self._cond:
            pos = self._position_ns(self._clock()) / 1e9
            paused = self._paused
            speed = self._speed
        index = self._index
        return Timeline(pos, self.duration_s, speed, speed_label(speed), paused, self.status,
                        index is not None and index.done)

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    @property
    def checkpoints(self) -> int:
        return len(self._index.checkpoints) if self._index is not None else 0

    @property
    def index_s(self) -> float:
        """How long building the seek index took (0 until it is complete)."""
        return self._index.seconds if self._index is not None else 0.0

    def describe(self) -> str:
        for fr in self._frames:
            if fr.kind == "hello":
                argv = fr.body.get("argv") or []
                if argv:
                    return " ".join(str(a) for a in argv)
        return self.path.name

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start playing, and building the seek index, in background threads."""
        if self._thread is not None:
            return
        if self._index is None:
            self._index = _Index(self._frames, self.state.exact_limit)
            self._index_thread = threading.Thread(
                target=self._build_index_quietly, args=(self._index,),
                name="zlprof-replay-index", daemon=True,
            )
            self._index_thread.start()
        self._thread = threading.Thread(target=self._run, name="zlprof-replay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        if not self._at_end:
            self._set_status("stopped")
        self._ended.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until playback reaches the end (or stops); True if it did."""
        return self._ended.wait(timeout)

    def wait_indexed(self, timeout: float | None = None) -> bool:
        """Wait until the seek index is complete (seeks are fastest from then on)."""
        index = self._index
        if index is None:
            if self._thread is None:
                self._ensure_index()
                return True
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        index.wait_until(
            len(self._frames) + 1,
            give_up=lambda: deadline is not None and time.monotonic() >= deadline,
        )
        return index.done

    def settle(self, timeout: float | None = 10.0) -> bool:
        """Wait until pending seeks are applied and every frame due now is folded."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()  # wake the player: the clock may have moved
            while True:
                if self._stopping:
                    return True
                if self._clock_running and self._seek_target is None and not self._due_locked():
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(0.05 if left is None else min(left, 0.05))

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        with self._cond:
            if not self._paused:
                now = self._clock()
                self._anchor_ns = self._position_ns(now)
                self._anchor_wall = now
                self._paused = True
            self._cond.notify_all()
        self._update_status()

    def resume(self) -> None:
        """Play on; at the end, play again from the start."""
        restart = False
        with self._cond:
            if self._paused:
                self._paused = False
                self._anchor_wall = self._clock()
            if self._at_end_locked() and self._seek_target is None:
                restart = True
            self._cond.notify_all()
        if restart:
            self.seek(0.0)
        self._update_status()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns the new ``paused``."""
        if self._paused or self._at_end:
            self.resume()
        else:
            self.pause()
        return self._paused

    def set_speed(self, speed: float | None) -> None:
        """Session seconds per wall second; ``None`` plays as fast as possible."""
        self._set_speed_checked(speed)
        with self._cond:
            now = self._clock()
            self._anchor_ns = self._position_ns(now)
            self._anchor_wall = now
            self._speed = None if speed is None else float(speed)
            self._cond.notify_all()

    def faster(self) -> float | None:
        """The next speed up the ladder (0.1x ... 128x, then max); returns it."""
        s = self._speed
        if s is not None:
            up = [x for x in SPEEDS if x > s * 1.0001]
            self.set_speed(up[0] if up else None)
        return self._speed

    def slower(self) -> float | None:
        """The next speed down the ladder (max, 128x ... 0.1x); returns it."""
        s = self._speed
        if s is None:
            self.set_speed(SPEEDS[-1])
        else:
            down = [x for x in SPEEDS if x < s * 0.9999]
            self.set_speed(down[-1] if down else SPEEDS[0])
        return self._speed

    def seek(self, seconds: float, *, wait: bool = False) -> None:
        """Move playback to ``seconds`` (clamped to the recording), forwards or backwards.

        The playback thread applies it (a newer request replaces an older one); with
        ``wait`` this returns once ``state`` shows that position. Without a running
        thread the seek is applied here and now.
        """
        if isinstance(seconds, float) and math.isnan(seconds):
            raise ValueError("cannot seek to NaN")
        target = float(min(max(0.0, seconds) * 1e9, self._duration_ns))
        with self._cond:
            self._seek_seq += 1
            seq = self._seek_seq
            self._seek_target = target
            self._cond.notify_all()
            alive = self._thread is not None and self._thread.is_alive()
        if not alive:
            self._apply_pending_seek()
            return
        if wait:
            with self._cond:
                while self._applied_seq < seq and not self._stopping:
                    self._cond.wait(0.1)

    def seek_relative(self, delta_s: float, *, wait: bool = False) -> None:
        """Seek ``delta_s`` seconds from the current (or already requested) position."""
        self.seek(self.position_s + delta_s, wait=wait)

    def seek_start(self, *, wait: bool = False) -> None:
        self.seek(0.0, wait=wait)

    def seek_end(self, *, wait: bool = False) -> None:
        self.seek(self.duration_s, wait=wait)

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
