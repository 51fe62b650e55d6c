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

This module holds ReplaySource's public surface (properties, lifecycle, controls); the
reading, playback thread and seek planning are in player.py, the seek index in index.py,
due times and frame order in timing.py.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time

from .index import _Index
from .player import _Player

#: The speed ladder of faster()/slower(); past the top is "max" (None).
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)


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


class ReplaySource(_Player):
    """Plays a ``.zlp`` recording into ``state`` at its recorded pace (or faster, slower).

    ``speed``: session seconds per wall second, ``None`` for as fast as possible.
    ``start_s``: where playback starts. Raises ``RecordingError`` (one line) for a file
    that is not a recording; a damaged tail is a warning in ``state.warnings``.
    """

    kind = "replay"
    seekable = True

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
