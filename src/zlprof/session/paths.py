"""Call paths of a session: each process's path ids mapped to merged ones (the same
full path across processes), the cap on distinct paths, and measurement folding (per op,
per thread). Frames other than measurements are in fold.py; views in views.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..names import sanitize_block_name
from ..stats import DEFAULT_RECENT_CAPACITY, MIN_RECENT_CAPACITY, OpAccumulator
from .base import _StateBase
from .rows import OTHER_NAME, OTHER_PID, PathInfo


class _Paths(_StateBase):
    """Path mapping and measurement folding (a part of SessionState)."""

    def _name_path(self, stream: int, local: int, local_parent: int, name: str) -> None:
        """A sender's path id: map it to the merged id of the same full path."""
        if local <= 0:
            return
        lut = self._lut.get(stream)
        if lut is None or local >= len(lut):
            grown = np.full(max(local + 1, 2 * (len(lut) if lut is not None else 64)), -1,
                            np.int32)
            if lut is not None:
                grown[: len(lut)] = lut
            lut = self._lut[stream] = grown
        parent = self._merged_id(stream, local_parent) if local_parent > 0 else 0
        key = (parent, name)
        merged = self._by_key.get(key)
        if merged is None:
            # the sender's own id when it is free (one process: ids as sent)
            merged = local if local not in self._assigned else self._max_assigned + 1
            self._assigned.add(merged)
            self._max_assigned = max(self._max_assigned, merged)
            self._by_key[key] = merged
            self._add_path(merged, parent, name)
        lut[local] = merged

    def _merged_id(self, stream: int, local: int) -> int:
        lut = self._lut.get(stream)
        if lut is None or not 0 <= local < len(lut) or lut[local] < 0:
            return local
        return int(lut[local])

    def merged_paths(self, stream: int, path: np.ndarray) -> np.ndarray:
        """A sender's path id column mapped to merged path ids (unknown ids kept)."""
        lut = self._lut.get(stream)
        if lut is None or not len(path):
            return path
        ok = (path >= 0) & (path < len(lut))
        mapped = np.where(ok, lut[np.where(ok, path, 0)], -1)
        return np.where(mapped >= 0, mapped, path).astype(path.dtype, copy=False)

    def _add_path(self, pid: int, parent: int, name: str) -> None:
        if pid <= 0:
            return
        if pid not in self.paths and (
            parent in self.overflow or len(self.paths) - (OTHER_PID in self.paths) >= self.max_paths
        ):
            self._overflow_path(pid)
            return
        # a name from any writer (an older profiler, another tool) is shown on one line
        # and stays one path segment: the block-name rule of zlprof.names
        name = sanitize_block_name(name)
        p = self.paths.get(parent)
        if p is None:
            full, depth = name, 0
        else:
            full, depth = f"{p.full}/{name}", p.depth + 1
        self.paths[pid] = PathInfo(pid, parent, name, full, depth)

    def _overflow_path(self, pid: int) -> None:
        """Count ``pid`` (a path past the cap) as the OTHER_NAME row from now on."""
        if OTHER_PID not in self.paths:
            self.paths[OTHER_PID] = PathInfo(OTHER_PID, 0, OTHER_NAME, OTHER_NAME, 0)
            self.warnings.append(
                f"more than {self.max_paths:,} distinct call paths: the rest are counted "
                f"together as {OTHER_NAME!r}"
            )
        self.overflow.add(pid)
        self._overflow_ids = None  # built again at the next fold (not once a path)

    def fold_block(self) -> int:
        """Measurements folded at once: with many paths, a block holds a few dozen
        samples of each, so the per-op cost of a block (a few appends per op) is spread
        over more samples."""
        return min(FOLD_BLOCK_MAX, max(FOLD_BLOCK, FOLD_PER_PATH * len(self.paths)))

    def _fold_block(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        """Fold a run of measurement frames: about one ``fold_block`` of records at most,
        as ``ingest_many`` cuts them (a block's sort and gathers stay in the CPU cache: a
        10 M-record run folds twice as fast as in one pass)."""
        groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
        for stream, b in batch:
            if not b["n"]:
                continue
            groups.setdefault((stream, int(b.get("tid", 0))), []).append(b)
        if not groups:
            return
        cols = {}
        for key, bodies in groups.items():
            stream = key[0]
            c = _columns(bodies)
            c = (self.merged_paths(stream, c[0]), *c[1:])
            cols[key] = c
            p = self.processes.get(stream)
            if p is None:
                p = self._process(stream)
            n = len(c[0])
            p.measurements += n
            self.measurements += n
            p.last_ns = max(p.last_ns, int(c[2].max()))
        if len(groups) == 1 and not self.thread_ops and self._single_key in (
            None, next(iter(groups))
        ):
            # one thread of one process so far: its view is the merged one (no second
            # fold); it gets its own accumulators when another thread or process shows up
            self._single_key = next(iter(groups))
            self._fold_into(self.ops, *next(iter(cols.values())))
            self._keep_budgets()
            return
        self._split_single()
        if len(cols) == 1:
            self._fold_into(self.ops, *next(iter(cols.values())))
        else:
            self._fold_into(self.ops, *_join(list(cols.values())))
        for key, c in cols.items():
            self._fold_into(self.thread_ops.setdefault(key, {}), *c)
        self._keep_budgets()

    def _accumulators(self) -> list[OpAccumulator]:
        """Every accumulator holding samples: per op, per thread, the latencies."""
        out = [*self.ops.values(), self.ttft, self.tpot, self.itl]
        for ops in self.thread_ops.values():
            out.extend(ops.values())
        return out

    def exact_samples(self) -> int:
        """Exact samples held over the whole session (at most ``exact_budget`` after a fold)."""
        return sum(a.exact_count for a in self._accumulators())

    def _keep_budgets(self) -> None:
        """Hold the session's exact samples within ``exact_budget`` and its recent rings
        within ``recent_budget``, after every fold block (so after any fold the exact
        samples never exceed the budget; a ring keeps at least MIN_RECENT_CAPACITY).

        Exact samples: past the budget, the ops holding the most exact samples move to
        their histogram first, until the rest fit. The histogram's error (0.1 %) is
        smallest next to the sampling noise exactly where an op has most samples, each
        move frees the most memory, and the many ops with few samples, where the
        nearest-rank value of the samples themselves matters most, stay exact.
        Recent rings: each accumulator's share of the budget, rounded down to a power of
        two (so a growing number of paths resizes the rings only a few times)."""
        accs = self._accumulators()
        total = sum(a.exact_count for a in accs)
        if total > self.exact_budget:
            for a in sorted((a for a in accs if a.exact_count), key=lambda a: -a.exact_count):
                total -= a.spill()
                if total <= self.exact_budget:
                    break
        share = self.recent_budget // max(1, len(accs))
        cap = max(MIN_RECENT_CAPACITY, min(DEFAULT_RECENT_CAPACITY, 1 << max(0, share.bit_length() - 1)))
        if cap < DEFAULT_RECENT_CAPACITY:
            for a in accs:
                if a.recent_capacity > cap:
                    a.limit_recent(cap)

    def _split_single(self) -> None:
        """A second thread or process appeared: give the first one its own accumulators
        (a copy of the merged ones, which so far held only its samples)."""
        key = getattr(self, "_single_key", None)
        if key is None or self.thread_ops:
            return
        self.thread_ops[key] = {pid: a.clone() for pid, a in self.ops.items()}
        self._single_key = None

    def _fold_into(
        self,
        ops: dict[int, OpAccumulator],
        path: np.ndarray,
        t0: np.ndarray,
        t1: np.ndarray,
        m0: np.ndarray | None,
        m1: np.ndarray | None,
    ) -> None:
        n = len(path)
        if n == 0:
            return
        if self.overflow:
            if self._overflow_ids is None:
                self._overflow_ids = np.fromiter(self.overflow, np.int64, len(self.overflow))
            path = np.where(np.isin(path, self._overflow_ids), np.asarray(OTHER_PID, path.dtype), path)
        # One vectorised pass computes every op's moments; each op then only appends.
        order = np.argsort(_sort_key(path), kind="stable")
        sp = path[order]
        d = (t1 - t0)[order]
        te = t1[order]
        cuts = np.flatnonzero(sp[1:] != sp[:-1]) + 1
        starts = np.r_[0, cuts]
        ends = np.r_[cuts, n]
        counts = ends - starts
        totals = np.add.reduceat(d, starts)
        means = totals / counts
        dev = d - np.repeat(means, counts)
        m2s = np.add.reduceat(dev * dev, starts)
        mins = np.minimum.reduceat(d, starts)
        maxs = np.maximum.reduceat(d, starts)
        lasts = np.maximum.reduceat(te, starts)
        mem_cols = None
        if m0 is not None and m1 is not None:
            a = m0[order]
            b = m1[order]
            ok = (a >= 0) & (b >= 0)
            delta = np.where(ok, b - a, 0)
            mem_cols = (
                np.add.reduceat(np.where(delta > 0, delta, 0), starts).tolist(),
                np.add.reduceat(delta, starts).tolist(),
                np.maximum.reduceat(np.where(b >= 0, b, 0), starts).tolist(),
            )
        limit = self.exact_limit
        for i, (s, e, pid, c, tot, mean, m2, lo, hi, last) in enumerate(
            zip(
                starts.tolist(),
                ends.tolist(),
                sp[starts].tolist(),
                counts.tolist(),
                totals.tolist(),
                means.tolist(),
                m2s.tolist(),
                mins.tolist(),
                maxs.tolist(),
                lasts.tolist(),
                strict=True,
            )
        ):
            acc = ops.get(pid)
            if acc is None:
                acc = ops[pid] = OpAccumulator(exact_limit=limit)
            mem = (
                (mem_cols[0][i], mem_cols[1][i], mem_cols[2][i]) if mem_cols is not None else None
            )
            acc.add_group(d[s:e], te[s:e], (c, tot, mean, m2, lo, hi), mem, last)
        lo = int(t0.min())
        hi = int(t1.max())
        if self.first_ns is None or lo < self.first_ns:
            self.first_ns = lo
        if hi > self.last_ns:
            self.last_ns = hi


#: Records folded per block (see _Paths.fold_block): at least FOLD_BLOCK, FOLD_PER_PATH
#: a known path, at most FOLD_BLOCK_MAX.
FOLD_BLOCK = 1 << 16
FOLD_PER_PATH = 32
FOLD_BLOCK_MAX = 1 << 19
_I16 = np.iinfo(np.int16)


def _columns(
    bodies: list[dict[str, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(path, t0, t1, m0, m1) of measurement bodies, concatenated (m0/m1 None when no
    body has memory readings; -1, "not read", for the records of those without)."""
    if len(bodies) == 1:
        b = bodies[0]
        return b["path"], b["t0"], b["t1"], b.get("m0"), b.get("m1")
    path = np.concatenate([b["path"] for b in bodies])
    t0 = np.concatenate([b["t0"] for b in bodies])
    t1 = np.concatenate([b["t1"] for b in bodies])
    if not any("m0" in b for b in bodies):
        return path, t0, t1, None, None
    m0 = np.concatenate([b.get("m0", np.full(b["n"], -1, np.int64)) for b in bodies])
    m1 = np.concatenate([b.get("m1", np.full(b["n"], -1, np.int64)) for b in bodies])
    return path, t0, t1, m0, m1


def _join(
    cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Several groups' columns as one (memory columns as in :func:`_columns`)."""
    path = np.concatenate([c[0] for c in cols])
    t0 = np.concatenate([c[1] for c in cols])
    t1 = np.concatenate([c[2] for c in cols])
    if all(c[3] is None for c in cols):
        return path, t0, t1, None, None
    none = [np.full(len(c[0]), -1, np.int64) for c in cols]
    m0 = np.concatenate([c[3] if c[3] is not None else x for c, x in zip(cols, none, strict=True)])
    m1 = np.concatenate([c[4] if c[4] is not None else x for c, x in zip(cols, none, strict=True)])
    return path, t0, t1, m0, m1


def _sort_key(path: np.ndarray) -> np.ndarray:
    """The path ids as int16 when they fit (NumPy's stable sort is a radix sort then: the
    same order, ten times faster than on int32), else as they are."""
    if len(path) > 64 and int(path.min()) >= _I16.min and int(path.max()) <= _I16.max:
        return path.astype(np.int16)
    return path
