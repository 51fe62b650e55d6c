"""Everything known about one operation, folded batch by batch: :class:`OpAccumulator`.

Keeps the samples exactly up to ``exact_limit``, then in a :class:`LogHistogram`; a ring of
the most recent samples for windowed statistics; memory counters; clone/refill for replay
checkpoints. The definitions of the statistics themselves live in :mod:`.summary`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..blocks import BlockMedians
from .histogram import LogHistogram
from .moments import _Moments
from .summary import NS_PER_MS, PerformanceStats, nearest_rank, stats_from_durations

DEFAULT_EXACT_LIMIT = 100_000
DEFAULT_RECENT_CAPACITY = 1 << 15
#: exact samples a whole session keeps, over all its ops (8 M durations: 64 MB); past it
#: the ops holding the most exact samples move to their histogram (SessionState)
DEFAULT_EXACT_BUDGET = 8_000_000
#: an op's unsorted batches are joined into one array once there are this many
CHUNKS_JOINED = 64
#: samples an op past its exact samples gathers before binning them into its histogram
HIST_BATCH = 1024
#: batches put aside for the recent ring before they are written (OpAccumulator._rpend)
RECENT_PENDING = 16
#: recent samples a whole session keeps, over all its ops' rings (4 M: 64 MB, an end time
#: and a duration each); each ring gets an equal share, a power of two, at least
#: MIN_RECENT_CAPACITY and at most DEFAULT_RECENT_CAPACITY
DEFAULT_RECENT_BUDGET = 4_000_000
MIN_RECENT_CAPACITY = 1 << 10


@dataclass
class OpAccumulator:
    """Everything known about one operation (one call path), folded batch by batch."""

    exact_limit: int = DEFAULT_EXACT_LIMIT
    recent_capacity: int = DEFAULT_RECENT_CAPACITY
    moments: _Moments = field(default_factory=_Moments)
    # exact mode: every sample so far, sorted, plus batches not merged in yet
    _sorted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _chunks: list[np.ndarray] = field(default_factory=list)
    _hist: LogHistogram | None = None
    #: batches for the histogram not yet binned (binned HIST_BATCH samples at a time:
    #: binning costs a few NumPy calls however small the batch)
    _hpend: list[np.ndarray] = field(default_factory=list)
    _n_hpend: int = 0
    mem_allocated: int = 0
    mem_peak: int = 0
    mem_delta: int = 0
    _r_t1: np.ndarray | None = None
    _r_d: np.ndarray | None = None
    _r_pos: int = 0
    _r_len: int = 0
    #: (t1, duration) batches for the ring not written yet (written when read, or
    #: once they hold a ring's worth or RECENT_PENDING batches: a fold of many ops then
    #: costs a list append per op, not a few NumPy slice assignments; the batches are
    #: views of fold blocks, so few are held, not to keep many blocks alive)
    _rpend: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    _n_rpend: int = 0
    last_t1: int = 0
    #: samples known only from a recording's summary (no raw values), and their histogram
    base_n: int = 0
    base_hist: LogHistogram | None = None
    #: medians of consecutive blocks of the raw samples, in arrival order (the unit of the
    #: baseline comparison's test, significance.py)
    blocks: BlockMedians = field(default_factory=BlockMedians)
    #: exact samples held (in _sorted and _chunks); 0 once the histogram holds them
    _n_exact: int = 0

    @property
    def count(self) -> int:
        return self.moments.n

    @property
    def hist(self) -> LogHistogram | None:
        """The histogram holding the samples (None while they are exact), every sample
        binned."""
        self._flush_hist()
        return self._hist

    def _flush_hist(self) -> None:
        if self._hpend:
            assert self._hist is not None
            pend = self._hpend
            self._hist.add(pend[0] if len(pend) == 1 else np.concatenate(pend))
            self._hpend, self._n_hpend = [], 0

    @property
    def exact_count(self) -> int:
        """Samples held exactly (what an exact-sample budget counts): 0 past the limit."""
        return self._n_exact

    @property
    def estimator(self) -> str:
        return "exact" if self._hist is None else "histogram"

    def add(
        self,
        durations: np.ndarray,
        t1: np.ndarray | None = None,
        m0: np.ndarray | None = None,
        m1: np.ndarray | None = None,
    ) -> None:
        d = np.asarray(durations, dtype=np.int64)
        if len(d) == 0:
            return
        self.moments.add(d)
        own = d.copy()
        self._keep(own)
        self.blocks.add(own, None if t1 is None else np.array(t1, dtype=np.int64))
        if t1 is not None:
            self._add_recent(np.array(t1, dtype=np.int64), own)  # copies: kept aside
            self.last_t1 = max(self.last_t1, int(t1.max()))
        if m0 is not None and m1 is not None:
            ok = (m0 >= 0) & (m1 >= 0)
            if ok.any():
                delta = m1[ok] - m0[ok]
                self.mem_allocated += int(delta[delta > 0].sum())
                self.mem_delta += int(delta.sum())
            seen = m1[m1 >= 0]
            if len(seen):
                self.mem_peak = max(self.mem_peak, int(seen.max()))

    def add_group(
        self,
        d: np.ndarray,
        t1: np.ndarray,
        agg: tuple[int, int, float, float, int, int],
        mem: tuple[int, int, int] | None = None,
        last_t1: int = 0,
    ) -> None:
        """Fold a batch whose moments were computed for many ops at once (SessionState).

        ``agg`` is (count, total, mean, M2, min, max); ``mem`` is (allocated, delta,
        peak) or None. ``d`` may be a view: it is only read (and kept until merged).
        """
        self.moments.add_aggregate(*agg)
        self._keep(d)
        self.blocks.add(d, t1)
        self._add_recent(t1, d)
        if last_t1 > self.last_t1:
            self.last_t1 = last_t1
        if mem is not None:
            self.mem_allocated += mem[0]
            self.mem_delta += mem[1]
            if mem[2] > self.mem_peak:
                self.mem_peak = mem[2]

    def absorb_summary(
        self,
        agg: tuple[int, int, float, float, int, int],
        buckets: np.ndarray,
        counts: np.ndarray,
        mem: tuple[int, int, int],
        last_t1: int,
    ) -> None:
        """Fold samples known only as a summary: (count, total, mean, M2, min, max) and
        the LogHistogram buckets they fell in. The op's percentiles come from the
        histogram from then on (raw values of the summarised samples are gone)."""
        self.moments.add_aggregate(*agg)
        base = LogHistogram()
        base.add_buckets(buckets, counts)
        if self.base_hist is None:
            self.base_hist = base
        else:
            self.base_hist.merge(base)
        self.base_n += agg[0]
        self.spill()
        assert self._hist is not None
        self._hist.merge(base)
        self.mem_allocated += mem[0]
        self.mem_delta += mem[1]
        self.mem_peak = max(self.mem_peak, mem[2])
        self.last_t1 = max(self.last_t1, last_t1)

    def histogram_buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket indices, counts) of every sample's LogHistogram bucket, non-empty only."""
        h = self.hist
        if h is None:
            h = LogHistogram()
            d = self.sorted_durations()
            if d is not None:
                h.add(d)
        idx, counts = h.nonzero()
        return idx.astype(np.uint32), counts

    def _keep(self, d: np.ndarray) -> None:
        """Keep samples exactly until past the limit, then in the bounded histogram."""
        if self._hist is not None:
            self._hpend.append(d)
            self._n_hpend += len(d)
            if self._n_hpend >= HIST_BATCH or len(self._hpend) >= CHUNKS_JOINED:
                self._flush_hist()
            return
        self._chunks.append(d)
        self._n_exact += len(d)
        if len(self._chunks) >= CHUNKS_JOINED:
            # small batches joined into one array: few array objects per op, and no view
            # keeps a whole fold block alive
            self._chunks = [np.concatenate(self._chunks)]
        if self.moments.n > self.exact_limit:
            self.spill()

    def spill(self) -> int:
        """Move the exact samples into the histogram (past the per-op limit, or when the
        session's exact-sample budget runs out: SessionState); the op's percentiles come
        from the histogram from then on. Returns the number of exact samples freed."""
        if self._hist is not None:
            return 0
        freed = self._n_exact
        self._hist = LogHistogram()
        self._hist.add(self._sorted)
        if self._chunks:
            self._hist.add(np.concatenate(self._chunks))
        self._chunks = []
        self._sorted = np.zeros(0, np.int64)
        self._n_exact = 0
        return freed

    def limit_recent(self, capacity: int) -> None:
        """Keep at most ``capacity`` recent samples from now on (the most recent ones
        stay): a session with many ops shares a budget for its recent rings."""
        if capacity >= self.recent_capacity:
            return
        self._flush_recent()
        if self._r_t1 is not None:
            t1, d = self.recent()
            t1, d = t1[len(t1) - min(len(t1), capacity) :], d[len(d) - min(len(d), capacity) :]
            k = len(d)
            self._r_t1, self._r_d = t1.copy(), d.copy()  # (shorter than capacity: grows)
            self._r_pos = k % capacity
            self._r_len = k
        self.recent_capacity = capacity

    def _add_recent(self, t1: np.ndarray, d: np.ndarray) -> None:
        """Put (t1, d) aside for the ring of recent samples (the arrays must not change
        afterwards: they may be views of a fold block, as the exact chunks are)."""
        if not len(d):
            return
        self._rpend.append((t1, d))
        self._n_rpend += len(d)
        if self._n_rpend >= self.recent_capacity or len(self._rpend) >= RECENT_PENDING:
            self._flush_recent()

    def _flush_recent(self) -> None:
        """Write the batches put aside into the ring."""
        pend = self._rpend
        if not pend:
            return
        self._rpend, self._n_rpend = [], 0
        if len(pend) == 1:
            self._write_recent(*pend[0])
        else:
            self._write_recent(np.concatenate([p[0] for p in pend]), np.concatenate([p[1] for p in pend]))

    def _write_recent(self, t1: np.ndarray, d: np.ndarray) -> None:
        """Append to the ring of recent samples. The ring's arrays grow (doubling) up to
        ``recent_capacity`` as samples come, so a rarely-called op holds a few of them,
        not a full ring; while they are shorter than the capacity, the ring has not
        wrapped (its samples are ``[0, _r_len)`` in order)."""
        cap = self.recent_capacity
        if len(d) >= cap:
            t1, d = t1[-cap:], d[-cap:]
        n = len(d)
        size = 0 if self._r_t1 is None else len(self._r_t1)
        if size < cap and self._r_len + n > size:
            grown = min(cap, max(2 * size, self._r_len + n, 16))
            new_t1 = np.zeros(grown, dtype=np.int64)
            new_d = np.zeros(grown, dtype=np.int64)
            if self._r_t1 is not None and self._r_d is not None:
                new_t1[: self._r_len] = self._r_t1[: self._r_len]
                new_d[: self._r_len] = self._r_d[: self._r_len]
            self._r_t1, self._r_d = new_t1, new_d
        assert self._r_t1 is not None and self._r_d is not None
        pos = self._r_pos
        first = min(n, cap - pos)
        self._r_t1[pos : pos + first] = t1[:first]
        self._r_d[pos : pos + first] = d[:first]
        rest = n - first
        if rest:
            self._r_t1[:rest] = t1[first:]
            self._r_d[:rest] = d[first:]
        self._r_pos = (pos + n) % cap
        self._r_len = min(cap, self._r_len + n)

    def recent(self) -> tuple[np.ndarray, np.ndarray]:
        """(t1, duration) of the most recent samples, oldest first."""
        self._flush_recent()
        if self._r_t1 is None or self._r_len == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        assert self._r_d is not None
        if self._r_len < self.recent_capacity:
            return self._r_t1[: self._r_len].copy(), self._r_d[: self._r_len].copy()
        order = np.r_[self._r_pos : self.recent_capacity, 0 : self._r_pos]
        return self._r_t1[order], self._r_d[order]

    def durations(self) -> np.ndarray | None:
        """All samples (exact mode only), in ascending order; None past the exact limit."""
        return self.sorted_durations()

    def sorted_durations(self) -> np.ndarray | None:
        """Every sample, sorted. New batches are sorted on their own and merged in, so a
        refresh costs O(n) copying, not an O(n log n) sort of everything."""
        if self._hist is not None:
            return None
        if self._chunks:
            new = np.sort(np.concatenate(self._chunks))
            self._chunks = []
            old = self._sorted
            if len(old) == 0:
                self._sorted = new
            else:
                # two sorted runs: NumPy's stable sort (timsort) merges them in O(n),
                # about 3x faster than np.insert at the positions searchsorted gives
                merged = np.concatenate((old, new))
                merged.sort(kind="stable")
                self._sorted = merged
        return self._sorted

    def quantiles_ns(self, qs: list[float]) -> list[float]:
        if self.moments.n == 0:
            return [math.nan for _ in qs]
        h = self.hist
        if h is not None:
            lo, hi = self.moments.lo, self.moments.hi
            return [min(max(v, lo), hi) for v in h.quantiles(qs)]
        s = self.sorted_durations()
        assert s is not None
        return [nearest_rank(s, q) for q in qs]

    def histogram_counts(self, edges_ns: np.ndarray) -> np.ndarray:
        """Counts of samples between the given bucket edges (for drill-down plots)."""
        if self._hist is None:
            d = self.durations()
            assert d is not None  # exact mode keeps every sample
            counts, _ = np.histogram(d, bins=edges_ns)
            return counts
        assert self._hist is not None
        self._flush_hist()
        idx, weights = self._hist.nonzero()
        reps = np.array([LogHistogram.representative(int(b)) for b in idx], dtype=np.float64)
        counts, _ = np.histogram(reps, bins=edges_ns, weights=weights)
        return counts.astype(np.int64)

    def stats(self, name: str = "", wall_ns: int = 0) -> PerformanceStats:
        m = self.moments
        if m.n == 0:
            return PerformanceStats(name=name, estimator=self.estimator)
        med, p95, p99 = self.quantiles_ns([50, 95, 99])
        return PerformanceStats(
            name=name,
            count=m.n,
            total_ms=m.total / NS_PER_MS,
            share=(m.total / wall_ns) if wall_ns > 0 else 0.0,
            min_ms=m.lo / NS_PER_MS,
            max_ms=m.hi / NS_PER_MS,
            avg_ms=m.mean / NS_PER_MS,
            median_ms=med / NS_PER_MS,
            p95_ms=p95 / NS_PER_MS,
            p99_ms=p99 / NS_PER_MS,
            std_ms=m.std / NS_PER_MS,
            mem_allocated_bytes=self.mem_allocated,
            mem_peak_bytes=self.mem_peak,
            mem_delta_bytes=self.mem_delta,
            estimator=self.estimator,
        )

    def window_stats(self, since_ns: int, name: str = "", wall_ns: int = 0) -> PerformanceStats:
        """Exact statistics of the recent samples that ended at or after ``since_ns``."""
        t1, d = self.recent()
        sel = d[t1 >= since_ns]
        st = stats_from_durations(sel, name=name, wall_ns=wall_ns)
        st.estimator = "window"
        return st

    def clone(self, samples: bool = True) -> OpAccumulator:
        """An independent copy, field by field (every field of this class is named here).

        ``samples=False`` (replay checkpoints): the moments, memory counters, summary base
        and the shape of the samples are copied, the samples themselves are not: the
        exact durations and the recent ring are left empty and the histogram, if any, is
        empty. :meth:`refill` puts them back from a log of the raw samples.
        """
        self._flush_recent()
        out = OpAccumulator.__new__(OpAccumulator)
        out._rpend, out._n_rpend = [], 0
        out.exact_limit = self.exact_limit
        out.recent_capacity = self.recent_capacity
        out.moments = replace(self.moments)
        out.mem_allocated = self.mem_allocated
        out.mem_peak = self.mem_peak
        out.mem_delta = self.mem_delta
        out.last_t1 = self.last_t1
        out.base_n = self.base_n
        out.base_hist = None if self.base_hist is None else self.base_hist.copy()
        out.blocks = self.blocks.copy() if samples else BlockMedians()
        out._hpend, out._n_hpend = [], 0
        out._n_exact = self._n_exact if samples else 0
        if samples:
            out._sorted = self._sorted.copy()
            out._chunks = [c.copy() for c in self._chunks]
            hist = self.hist
            out._hist = None if hist is None else hist.copy()
            out._r_t1 = None if self._r_t1 is None else self._r_t1.copy()
            out._r_d = None if self._r_d is None else self._r_d.copy()
            out._r_pos = self._r_pos
            out._r_len = self._r_len
        else:
            out._sorted = np.zeros(0, np.int64)
            out._chunks = []
            # the shape: past the exact limit (an empty histogram), a recent ring (empty
            # arrays) holding _r_len samples
            out._hist = None if self._hist is None else LogHistogram()
            ring = self._r_t1 is not None
            out._r_t1 = np.zeros(0, np.int64) if ring else None
            out._r_d = np.zeros(0, np.int64) if ring else None
            out._r_pos = 0
            out._r_len = self._r_len
        return out

    def refill(self, t1: np.ndarray, d: np.ndarray) -> None:
        """Put back the samples of a ``clone(samples=False)``: ``t1`` and ``d`` are the
        end times and durations of every raw sample folded (``count - base_n`` of them,
        in fold order), as the original had them."""
        self._rpend, self._n_rpend = [], 0
        self.blocks = BlockMedians()
        self.blocks.add(d, t1)
        if self._hist is not None:
            self._hpend, self._n_hpend = [], 0
            self._hist = LogHistogram()
            if self.base_hist is not None:
                self._hist.merge(self.base_hist)
            self._hist.add(d)
        else:
            self._chunks = [d.copy()] if len(d) else []
            self._n_exact = len(d)
        if self._r_t1 is not None:
            n, k, cap = len(d), self._r_len, self.recent_capacity
            self._r_t1 = t1[n - k : n].copy()  # (grows to the capacity as samples come)
            self._r_d = d[n - k : n].copy()
            self._r_pos = k % cap

    def merged(self, others: list[OpAccumulator]) -> OpAccumulator:
        """A new accumulator holding this one's samples and the others' (for name merges)."""
        out = OpAccumulator(exact_limit=self.exact_limit, recent_capacity=self.recent_capacity)
        for acc in [self, *others]:
            out.moments.merge(acc.moments)
            out.mem_allocated += acc.mem_allocated
            out.mem_delta += acc.mem_delta
            out.mem_peak = max(out.mem_peak, acc.mem_peak)
            out.last_t1 = max(out.last_t1, acc.last_t1)
        if all(a._hist is None for a in [self, *others]) and out.moments.n <= out.exact_limit:
            chunks = [a.sorted_durations() for a in [self, *others]]
            out._chunks = [c for c in chunks if c is not None]  # (all exact: none is None)
            out._n_exact = sum(len(c) for c in out._chunks)
        else:
            out._hist = LogHistogram()
            for a in [self, *others]:
                hist = a.hist
                if hist is not None:
                    out._hist.merge(hist)
                else:
                    d = a.durations()
                    if d is not None:
                        out._hist.add(d)
        ts, ds = zip(*(a.recent() for a in [self, *others]), strict=True)
        t = np.concatenate(ts)
        d = np.concatenate(ds)
        order = np.argsort(t, kind="stable")
        out._add_recent(t[order], d[order])
        return out

    def nbytes(self) -> int:
        n = sum(c.nbytes for c in self._chunks) + self._sorted.nbytes
        n += sum(p.nbytes for p in self._hpend)
        n += sum(t.nbytes + d.nbytes for t, d in self._rpend)
        if self._hist is not None:
            n += self._hist.nbytes()
        if self._r_t1 is not None and self._r_d is not None:
            n += self._r_t1.nbytes + self._r_d.nbytes
        return n
