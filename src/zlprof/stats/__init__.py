"""Per-operation statistics: the one definition used by the app, the reports and bench.

Definitions (as in the seed profiler):

* percentiles by nearest rank on the sorted durations: ``p_q = sorted[min(n*q//100, n-1)]``
  (so the median of an even count is the upper middle element);
* standard deviation over the population (divide by n), accumulated with Chan et al.'s
  parallel update so it stays exact for any number of batches;
* durations in integer nanoseconds; views convert to milliseconds.

Each op keeps its samples exactly while it has at most ``exact_limit`` of them (default
100,000). Past that the samples move into a bounded log-bucket histogram (bucket ratio
1.002, representative value the bucket's geometric middle, so any percentile is within
0.1 % of the true sample value) and memory stays flat however long a session runs.
``PerformanceStats.estimator`` says which is in force.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

DEFAULT_EXACT_LIMIT = 100_000
DEFAULT_RECENT_CAPACITY = 1 << 15
NS_PER_MS = 1e6

PERCENTILE_NOTE = (
    "percentiles: nearest rank on sorted durations, index n*q//100 (clamped to n-1); "
    "std dev over the population"
)


def nearest_rank(sorted_values: np.ndarray, q: float) -> float:
    """The seed's percentile: ``sorted[n*q//100]`` clamped to the last element."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    return float(sorted_values[min(int(n * q // 100), n - 1)])


def rank_index(n: int, q: float) -> int:
    return min(int(n * q // 100), n - 1)


@dataclass(slots=True)
class PerformanceStats:
    """Statistics of one operation; durations in milliseconds, memory in bytes."""

    name: str = ""
    count: int = 0
    total_ms: float = 0.0
    share: float = 0.0
    min_ms: float = math.nan
    max_ms: float = math.nan
    avg_ms: float = math.nan
    median_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    std_ms: float = math.nan
    mem_allocated_bytes: int = 0
    mem_peak_bytes: int = 0
    mem_delta_bytes: int = 0
    estimator: str = "exact"

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def stats_from_durations(
    durations_ns: np.ndarray, name: str = "", wall_ns: int = 0
) -> PerformanceStats:
    """Exact statistics of an array of durations (ns)."""
    d = np.asarray(durations_ns, dtype=np.int64)
    n = len(d)
    if n == 0:
        return PerformanceStats(name=name)
    s = np.sort(d)
    total = int(d.sum())
    mean = total / n
    std = float(np.sqrt(np.mean((d - mean) ** 2)))
    return PerformanceStats(
        name=name,
        count=n,
        total_ms=total / NS_PER_MS,
        share=(total / wall_ns) if wall_ns > 0 else 0.0,
        min_ms=float(s[0]) / NS_PER_MS,
        max_ms=float(s[-1]) / NS_PER_MS,
        avg_ms=mean / NS_PER_MS,
        median_ms=nearest_rank(s, 50) / NS_PER_MS,
        p95_ms=nearest_rank(s, 95) / NS_PER_MS,
        p99_ms=nearest_rank(s, 99) / NS_PER_MS,
        std_ms=std / NS_PER_MS,
    )


class LogHistogram:
    """Bounded log-bucket histogram of non-negative integer durations (ns).

    Bucket k >= 1 holds values in [B^(k-1), B^k) with B = 1.002; bucket 0 holds 0. The
    representative of a bucket is its geometric middle, so the relative error of any
    reported value is at most sqrt(B) - 1 < 0.1 %. Values above ``MAX_VALUE`` (about 2.8
    hours) fall in the last bucket.
    """

    BASE = 1.002
    MAX_VALUE = 10**13
    _LOG_BASE = math.log(BASE)
    NBUCKETS = int(math.ceil(math.log(MAX_VALUE) / math.log(BASE))) + 2

    def __init__(self) -> None:
        self.counts = np.zeros(self.NBUCKETS, dtype=np.int64)

    @classmethod
    def bucket_of(cls, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        idx = np.zeros(len(v), dtype=np.int64)
        pos = v >= 1
        idx[pos] = np.floor(np.log(v[pos]) / cls._LOG_BASE).astype(np.int64) + 1
        np.clip(idx, 0, cls.NBUCKETS - 1, out=idx)
        return idx

    @classmethod
    def representative(cls, bucket: int) -> float:
        if bucket <= 0:
            return 0.0
        return cls.BASE ** (bucket - 0.5)

    def add(self, values: np.ndarray) -> None:
        if len(values):
            self.counts += np.bincount(self.bucket_of(values), minlength=self.NBUCKETS)

    def merge(self, other: LogHistogram) -> None:
        self.counts += other.counts

    def copy(self) -> LogHistogram:
        """An independent copy."""
        out = LogHistogram.__new__(LogHistogram)
        out.counts = self.counts.copy()
        return out

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def quantiles(self, qs: list[float]) -> list[float]:
        n = self.total
        if n == 0:
            return [math.nan for _ in qs]
        cum = np.cumsum(self.counts)
        out = []
        for q in qs:
            i = rank_index(n, q)
            b = int(np.searchsorted(cum, i, side="right"))
            out.append(self.representative(b))
        return out

    def nbytes(self) -> int:
        return self.counts.nbytes


@dataclass(slots=True)
class _Moments:
    n: int = 0
    total: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: int = 0
    hi: int = 0

    def add(self, d: np.ndarray) -> None:
        nb = len(d)
        if nb == 0:
            return
        tb = int(d.sum())
        mb = tb / nb
        df = d - mb
        self.add_aggregate(nb, tb, mb, float(np.dot(df, df)), int(d.min()), int(d.max()))

    def add_aggregate(self, nb: int, tb: int, mb: float, m2b: float, lo: int, hi: int) -> None:
        """Fold a batch given as its count, total, mean, M2, min and max."""
        if nb == 0:
            return
        if self.n == 0:
            self.n, self.total, self.mean, self.m2, self.lo, self.hi = nb, tb, mb, m2b, lo, hi
            return
        n = self.n + nb
        delta = mb - self.mean
        self.mean += delta * nb / n
        self.m2 += m2b + delta * delta * self.n * nb / n
        self.n = n
        self.total += tb
        if lo < self.lo:
            self.lo = lo
        if hi > self.hi:
            self.hi = hi

    def merge(self, o: _Moments) -> None:
        if o.n == 0:
            return
        if self.n == 0:
            self.n, self.total, self.mean, self.m2, self.lo, self.hi = (
                o.n, o.total, o.mean, o.m2, o.lo, o.hi
            )
            return
        n = self.n + o.n
        delta = o.mean - self.mean
        self.mean += delta * o.n / n
        self.m2 += o.m2 + delta * delta * self.n * o.n / n
        self.n = n
        self.total += o.total
        self.lo = min(self.lo, o.lo)
        self.hi = max(self.hi, o.hi)

    @property
    def std(self) -> float:
        return math.sqrt(max(self.m2, 0.0) / self.n) if self.n else math.nan


@dataclass
class OpAccumulator:
    """Everything known about one operation (one call path), folded batch by batch."""

    exact_limit: int = DEFAULT_EXACT_LIMIT
    recent_capacity: int = DEFAULT_RECENT_CAPACITY
    moments: _Moments = field(default_factory=_Moments)
    # exact mode: every sample so far, sorted, plus batches not merged in yet
    _sorted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _chunks: list[np.ndarray] = field(default_factory=list)
    hist: LogHistogram | None = None
    mem_allocated: int = 0
    mem_peak: int = 0
    mem_delta: int = 0
    _r_t1: np.ndarray | None = None
    _r_d: np.ndarray | None = None
    _r_pos: int = 0
    _r_len: int = 0
    last_t1: int = 0
    #: samples known only from a recording's summary (no raw values), and their histogram
    base_n: int = 0
    base_hist: LogHistogram | None = None

    @property
    def count(self) -> int:
        return self.moments.n

    @property
    def estimator(self) -> str:
        return "exact" if self.hist is None else "histogram"

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
        self._keep(d.copy())
        if t1 is not None:
            self._add_recent(np.asarray(t1, dtype=np.int64), d)
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
        np.add.at(base.counts, np.clip(buckets.astype(np.int64), 0, LogHistogram.NBUCKETS - 1),
                  counts)
        if self.base_hist is None:
            self.base_hist = base
        else:
            self.base_hist.merge(base)
        self.base_n += agg[0]
        if self.hist is None:
            self.hist = LogHistogram()
            self.hist.add(self._sorted)
            if self._chunks:
                self.hist.add(np.concatenate(self._chunks))
            self._chunks = []
            self._sorted = np.zeros(0, np.int64)
        self.hist.merge(base)
        self.mem_allocated += mem[0]
        self.mem_delta += mem[1]
        self.mem_peak = max(self.mem_peak, mem[2])
        self.last_t1 = max(self.last_t1, last_t1)

    def histogram_buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket indices, counts) of every sample's LogHistogram bucket, non-empty only."""
        if self.hist is not None:
            counts = self.hist.counts
        else:
            h = LogHistogram()
            d = self.sorted_durations()
            if d is not None:
                h.add(d)
            counts = h.counts
        idx = np.flatnonzero(counts)
        return idx.astype(np.uint32), counts[idx]

    def _keep(self, d: np.ndarray) -> None:
        """Keep samples exactly until past the limit, then in the bounded histogram."""
        if self.hist is not None:
            self.hist.add(d)
            return
        self._chunks.append(d)
        if self.moments.n > self.exact_limit:
            self.hist = LogHistogram()
            self.hist.add(self._sorted)
            self.hist.add(np.concatenate(self._chunks))
            self._chunks = []
            self._sorted = np.zeros(0, np.int64)

    def _add_recent(self, t1: np.ndarray, d: np.ndarray) -> None:
        cap = self.recent_capacity
        if self._r_t1 is None:
            self._r_t1 = np.zeros(cap, dtype=np.int64)
            self._r_d = np.zeros(cap, dtype=np.int64)
        assert self._r_d is not None
        if len(d) >= cap:
            t1, d = t1[-cap:], d[-cap:]
        n = len(d)
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
        if self.hist is not None:
            return None
        if self._chunks:
            new = np.sort(np.concatenate(self._chunks))
            self._chunks = []
            old = self._sorted
            if len(old) == 0:
                self._sorted = new
            else:
                self._sorted = np.insert(old, np.searchsorted(old, new, side="right"), new)
        return self._sorted

    def quantiles_ns(self, qs: list[float]) -> list[float]:
        if self.moments.n == 0:
            return [math.nan for _ in qs]
        if self.hist is not None:
            lo, hi = self.moments.lo, self.moments.hi
            return [min(max(v, lo), hi) for v in self.hist.quantiles(qs)]
        s = self.sorted_durations()
        assert s is not None
        return [nearest_rank(s, q) for q in qs]

    def histogram_counts(self, edges_ns: np.ndarray) -> np.ndarray:
        """Counts of samples between the given bucket edges (for drill-down plots)."""
        if self.hist is None:
            d = self.durations()
            assert d is not None  # exact mode keeps every sample
            counts, _ = np.histogram(d, bins=edges_ns)
            return counts
        reps = np.array(
            [LogHistogram.representative(b) for b in range(LogHistogram.NBUCKETS)]
        )
        counts, _ = np.histogram(reps, bins=edges_ns, weights=self.hist.counts)
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
        out = OpAccumulator.__new__(OpAccumulator)
        out.exact_limit = self.exact_limit
        out.recent_capacity = self.recent_capacity
        out.moments = replace(self.moments)
        out.mem_allocated = self.mem_allocated
        out.mem_peak = self.mem_peak
        out.mem_delta = self.mem_delta
        out.last_t1 = self.last_t1
        out.base_n = self.base_n
        out.base_hist = None if self.base_hist is None else self.base_hist.copy()
        if samples:
            out._sorted = self._sorted.copy()
            out._chunks = [c.copy() for c in self._chunks]
            out.hist = None if self.hist is None else self.hist.copy()
            out._r_t1 = None if self._r_t1 is None else self._r_t1.copy()
            out._r_d = None if self._r_d is None else self._r_d.copy()
            out._r_pos = self._r_pos
            out._r_len = self._r_len
        else:
            out._sorted = np.zeros(0, np.int64)
            out._chunks = []
            # the shape: past the exact limit (an empty histogram), a recent ring (empty
            # arrays) holding _r_len samples
            out.hist = None if self.hist is None else LogHistogram()
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
        if self.hist is not None:
            self.hist = LogHistogram()
            if self.base_hist is not None:
                self.hist.merge(self.base_hist)
            self.hist.add(d)
        else:
            self._chunks = [d.copy()] if len(d) else []
        if self._r_t1 is not None:
            n, k, cap = len(d), self._r_len, self.recent_capacity
            self._r_t1 = np.zeros(cap, np.int64)
            self._r_d = np.zeros(cap, np.int64)
            self._r_t1[:k] = t1[n - k : n]
            self._r_d[:k] = d[n - k : n]
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
        if all(a.hist is None for a in [self, *others]) and out.moments.n <= out.exact_limit:
            chunks = [a.sorted_durations() for a in [self, *others]]
            out._chunks = [c for c in chunks if c is not None]  # (all exact: none is None)
        else:
            out.hist = LogHistogram()
            for a in [self, *others]:
                if a.hist is not None:
                    out.hist.merge(a.hist)
                else:
                    d = a.durations()
                    if d is not None:
                        out.hist.add(d)
        ts, ds = zip(*(a.recent() for a in [self, *others]), strict=True)
        t = np.concatenate(ts)
        d = np.concatenate(ds)
        order = np.argsort(t, kind="stable")
        out._add_recent(t[order], d[order])
        return out

    def nbytes(self) -> int:
        n = sum(c.nbytes for c in self._chunks) + self._sorted.nbytes
        if self.hist is not None:
            n += self.hist.nbytes()
        if self._r_t1 is not None and self._r_d is not None:
            n += self._r_t1.nbytes + self._r_d.nbytes
        return n


def self_times(paths: Sequence[str], totals: Sequence[float]) -> list[float]:
    """Self (exclusive) time of each call path: its total minus the totals of its nearest
    *measured* descendants, i.e. the nearest ones among ``paths``. A path part with no
    measurement of its own (``a/b`` of ``a``, ``a/b/c``, while ``a/b`` has none) is looked
    through, so nested time is never counted twice: the self times add up to the totals of
    the paths with no measured ancestor. Never negative."""
    index = {p: i for i, p in enumerate(paths)}
    inner = [0.0] * len(paths)
    for p, t in zip(paths, totals, strict=True):
        parts = p.split("/")
        for k in range(len(parts) - 1, 0, -1):
            j = index.get("/".join(parts[:k]))
            if j is not None:
                inner[j] += t
                break
    return [max(0.0, t - c) for t, c in zip(totals, inner, strict=True)]


@dataclass(frozen=True, slots=True)
class Groups:
    """Equal keys gathered by one stable sort: the group-by of a column (path ids of a batch
    of measurements, tied sample values). Group ``i`` is ``order[starts[i]:starts[i] +
    counts[i]]``, in first-seen order within the group."""

    order: np.ndarray  # the stable argsort of the keys
    keys: np.ndarray  # each group's key, ascending
    starts: np.ndarray  # each group's first position in sorted order
    counts: np.ndarray  # members per group

    def reduce(self, values: np.ndarray, ufunc: np.ufunc = np.add) -> np.ndarray:
        """``ufunc`` over each group's ``values`` (given in the keys' order; rows of a 2-D
        array reduce per group): sums by default, ``np.minimum``/``np.maximum`` too."""
        v = np.asarray(values)[self.order]
        if not len(self.starts):
            return np.zeros((0, *v.shape[1:]), v.dtype)
        return ufunc.reduceat(v, self.starts, axis=0)


def group_by(keys: np.ndarray) -> Groups:
    """Group equal ``keys`` (a 1-D array; NaNs stay apart) with one stable sort."""
    k = np.asarray(keys)
    order = np.argsort(k, kind="stable")
    sk = k[order]
    first = np.empty(len(sk), bool)
    first[:1] = True
    np.not_equal(sk[1:], sk[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, len(sk)])
    return Groups(order, sk[starts], starts, counts)


def linear_fit(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R^2 of y on x.

    With ``groups`` each group gets its own intercept and the slope is shared (a
    within-group fit: the KV cache restarts with every request).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if groups is None:
        groups = np.zeros(len(x), np.int64)
    xd = x.copy()
    yd = y.copy()
    for g in np.unique(groups):
        m = groups == g
        xd[m] -= x[m].mean()
        yd[m] -= y[m].mean()
    sxx = float(np.dot(xd, xd))
    if sxx <= 0:
        return 0.0, float(y.mean()) if len(y) else 0.0, 0.0
    slope = float(np.dot(xd, yd)) / sxx
    ss_tot = float(np.dot(yd, yd))
    resid = yd - slope * xd
    ss_res = float(np.dot(resid, resid))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    intercept = float(y.mean() - slope * x.mean())
    return slope, intercept, r2

