"""The seek index: checkpoints of a SessionState along a recording, plus per-op logs of
the raw samples (the checkpoints hold states whose ops have no samples; a restore refills
them). The copies are SessionState.clone and OpAccumulator.clone/refill, owned next to
the fields they copy. Playback and seek planning are in player.py.
"""

from __future__ import annotations

import bisect
import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np

from ..protocol import Frame
from ..session import SessionState
from ..stats import OpAccumulator

#: Folding time between checkpoints, as measured while indexing: a seek refolds at most
#: about this much on top of restoring a checkpoint.
CHECKPOINT_FOLD_S = 0.05
#: More checkpoints than this: every other one is dropped and the spacing doubles.
MAX_CHECKPOINTS = 256


# --------------------------------------------------------------------------- copying
# (the copies themselves are owned by OpAccumulator.clone and SessionState.clone, next to
# the fields they copy)


def clone_accumulator(acc: OpAccumulator) -> OpAccumulator:
    """An independent copy of an OpAccumulator (samples, histogram, recent ring)."""
    return acc.clone()


def clone_state(state: SessionState) -> SessionState:
    """An independent copy of a SessionState (its own lock; taken under the source's)."""
    return state.clone()


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
