"""Block medians: an op's durations cut into consecutive blocks in arrival order.

The unit of replication of the baseline comparison (significance.py). Durations of one run
are a time series: neighbours are correlated and the whole level drifts (CPU frequency,
other load), so thousands of samples are not thousands of independent draws. The test
therefore compares the medians of consecutive blocks of samples, not the samples.

:class:`BlockMedians` is fed every raw duration of an op in arrival order (by
``stats.OpAccumulator``) and keeps between ``MAX_BLOCKS / BASE`` and ``MAX_BLOCKS`` block
statistics, however long the run (a remedian, Rousseeuw & Bassett 1990): blocks start one
sample long; when ``MAX_BLOCKS`` blocks are complete, every ``BASE`` neighbours merge into
one (the median of their medians) and new blocks are ``BASE`` times longer (the exact median
of their samples). Memory per op: at most ``MAX_BLOCKS`` floats and one partial block
(fewer samples than the current block length). Each sample is handled once.

Values are natural logarithms of nanoseconds (a duration of 0 counts as 1 ns): the
statistics are ratios, and the median commutes with the logarithm for odd block lengths.

Each block also keeps its end time (the ``t1`` of its last sample; :meth:`BlockMedians.spans`),
so that blocks of different ops can be set side by side in time: :func:`common_levels` is
the machine's part of every op's blocks (how slow the other ops ran over the same span)
and :func:`sensitivity` how much an op follows it (significance.py says why).
"""

from __future__ import annotations

import numpy as np

#: neighbours merged at once (odd: the median of a merged block is one of its blocks')
BASE = 3
#: complete blocks kept at most; after a merge there are MAX_BLOCKS / BASE
MAX_BLOCKS = 24
#: batches put aside before they are joined into one array
COALESCE = 32


class BlockMedians:
    """Medians of consecutive blocks of durations (see the module doc)."""

    __slots__ = ("size", "_logs", "_ends", "_first", "_pending", "_tpending", "_n_pending")

    def __init__(self) -> None:
        #: samples in one new block (a power of BASE)
        self.size = 1
        self._logs: list[float] = []
        #: end time (ns, the t1 of its last sample) of every complete block; None once a
        #: batch came without end times (then no block has a time span)
        self._ends: list[int] | None = []
        #: end time of the first sample (the start of the first block); -1: none yet
        self._first = -1
        self._pending: list[np.ndarray] = []
        self._tpending: list[np.ndarray] = []
        self._n_pending = 0

    def add(self, durations: np.ndarray, t1: np.ndarray | None = None) -> None:
        """Fold durations (ns), in arrival order, and (optionally) their end times ``t1``
        (ns, the same length: each block then knows when it ended, :meth:`spans`). Until
        a block is complete a batch is only put aside (the common case once blocks are
        long: a list append). ``durations`` and ``t1`` must not change afterwards (they
        may be kept, as ``stats.OpAccumulator`` keeps its batches); every ``COALESCE``
        batches put aside are joined into one array, so few batch arrays are held at
        once. A batch without ``t1`` drops every block's time span for good."""
        n = len(durations)
        if n == 0:
            return
        ends = self._ends
        if t1 is None:
            if ends is not None:
                self._ends = ends = None
                self._tpending = []
        elif self._first < 0 and ends is not None:
            self._first = int(t1[0])
        if self._n_pending + n < self.size:
            pending = self._pending
            pending.append(durations)
            if ends is not None and t1 is not None:
                self._tpending.append(t1)
            self._n_pending += n
            if len(pending) >= COALESCE:
                self._pending = [np.concatenate(pending)]
                if ends is not None:
                    self._tpending = [np.concatenate(self._tpending)]
            return
        timed = ends is not None
        d = np.asarray(durations, np.int64)
        t = np.asarray(t1, np.int64) if timed else None
        if self._pending:
            d = np.concatenate([*self._pending, d])
            if t is not None:
                t = np.concatenate([*self._tpending, t])
            self._pending, self._tpending, self._n_pending = [], [], 0
        pos = 0
        while len(d) - pos >= self.size:
            k = min((len(d) - pos) // self.size, MAX_BLOCKS - len(self._logs))
            rows = d[pos : pos + k * self.size].reshape(k, self.size)
            if t is not None and self._ends is not None:
                self._ends.extend(t[pos + self.size - 1 : pos + k * self.size : self.size].tolist())
            pos += k * self.size
            # the exact median of each block (its length is odd: the middle element);
            # np.partition costs a fraction of np.median's overhead on small blocks
            mid = self.size // 2
            med = rows[:, 0] if self.size == 1 else np.partition(rows, mid, axis=1)[:, mid]
            self._logs.extend(np.log(np.maximum(med, 1)).tolist())
            if len(self._logs) == MAX_BLOCKS:
                self._merge()
        if pos < len(d):
            rest = d[pos:].copy()
            self._pending, self._n_pending = [rest], len(rest)
            if t is not None:
                self._tpending = [t[pos:].copy()]

    def _merge(self) -> None:
        groups = np.asarray(self._logs).reshape(-1, BASE)
        self._logs = np.sort(groups, axis=1)[:, BASE // 2].tolist()
        if self._ends is not None:
            self._ends = self._ends[BASE - 1 :: BASE]
        self.size *= BASE

    def values(self) -> np.ndarray:
        """Log-median of every complete block, in arrival order."""
        return np.asarray(self._logs, np.float64)

    def spans(self) -> np.ndarray | None:
        """Start and end time (ns) of every complete block, shape (blocks, 2), in arrival
        order: a block starts where the one before it ended (the first: at its first
        sample's end); None when a batch came without end times."""
        if self._ends is None or self._first < 0:
            return None
        ends = np.asarray(self._ends, np.int64)
        starts = np.concatenate([[self._first], ends[:-1]]).astype(np.int64)
        return np.stack([starts, ends], axis=1).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self._logs)

    @property
    def pending(self) -> int:
        """Samples of the block not yet complete."""
        return self._n_pending

    def copy(self) -> BlockMedians:
        out = BlockMedians()
        out.size = self.size
        out._logs = list(self._logs)
        out._ends = None if self._ends is None else list(self._ends)
        out._first = self._first
        out._pending = [p.copy() for p in self._pending]
        out._tpending = [p.copy() for p in self._tpending]
        out._n_pending = self._n_pending
        return out


def spread(logs: np.ndarray) -> float:
    """How far one run's block medians wander: max / min - 1 (0 with fewer than 2)."""
    if len(logs) < 2:
        return 0.0
    return float(np.expm1(np.max(logs) - np.min(logs)))


# --------------------------------------------------------------------------- the machine

#: segments of a run's time the common level is computed on (each op's block medians,
#: time-averaged over a segment)
GRID = 96
#: ops up to which each op's common level leaves the op itself out (beyond, one median)
LEAVE_ONE_OUT = 64
#: the prior of an op's sensitivity to the common level (beta = 1: it moves as the
#: typical op does) and its weight, in units of squared log deviations of the common
#: level within a run: with the machine steady within both runs (less within-run
#: variation of the common level than this), beta stays near 1
BETA_PRIOR = 1.0
BETA_WEIGHT = 0.01
#: beta is kept within these bounds
BETA_RANGE = (0.0, 2.0)


def common_levels(
    runs: tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]]],
    min_blocks: int = 5,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The machine's part of every op's block medians in two runs (see significance.py).

    ``runs``: for run A and run B, op name -> (log block medians, spans (blocks, 2) ns).
    For every op with at least ``min_blocks`` timed blocks in both runs: each of its
    blocks' **common level**, the level of the *other* ops over the same time: every op's
    block medians, less that op's median over both runs, as a step function of time,
    averaged over each of ``GRID`` segments of the run; the median over the other ops
    (every op beyond ``LEAVE_ONE_OUT`` ops) per segment; averaged over the op's block's
    span. The same reference (each op's median over both runs) on both sides, so a
    common level also carries how the runs differ as a whole. Returns op -> (levels of
    A's blocks, levels of B's blocks); NaN where no other op covered a block.
    """
    a, b = runs
    names = [n for n in a if n in b and len(a[n][0]) >= min_blocks and len(b[n][0]) >= min_blocks]
    if len(names) < 2:
        return {}
    refs = {n: median(np.concatenate([a[n][0], b[n][0]])) for n in names}
    out: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for run in (a, b):
        lo = min(int(run[n][1][0, 0]) for n in names)
        hi = max(int(run[n][1][-1, 1]) for n in names)
        if hi <= lo:
            return {}
        edges = np.linspace(lo, hi, GRID + 1)
        mat = _segment_matrix([run[n][1] for n in names], [run[n][0] - refs[n] for n in names], edges)
        loo = len(names) <= LEAVE_ONE_OUT
        width = np.diff(edges)
        if not loo:  # one common level for every op: every op's blocks at once
            f, w = _cumulative(_nanmedian(mat), width)
            spans = np.concatenate([run[n][1] for n in names]).astype(np.float64)
            levels = _span_means(spans, edges, f, w, lo, hi)
            cuts = np.cumsum([len(run[n][1]) for n in names])[:-1]
            for n, lv in zip(names, np.split(levels, cuts), strict=True):
                out[n].append(lv)
            continue
        for i, n in enumerate(names):
            f, w = _cumulative(_nanmedian(np.delete(mat, i, axis=0)), width)
            out[n].append(_span_means(run[n][1].astype(np.float64), edges, f, w, lo, hi))
    return {n: (v[0], v[1]) for n, v in out.items()}


def _segment_matrix(spans: list[np.ndarray], vals: list[np.ndarray], edges: np.ndarray) -> np.ndarray:
    """(ops, segments): each op's step function (``vals[i]`` over the blocks ``spans[i]``)
    time-averaged over each segment between ``edges``; NaN where the op's blocks cover
    less than half of a segment. Every op at once: the block bounds of all ops, each row
    shifted past the one before, are searched in one sorted array."""
    n = len(spans)
    m = max(len(v) for v in vals)
    lo = float(edges[0])
    bounds = np.empty((n, m + 1))
    val = np.zeros((n, m))
    for i, (sp, v) in enumerate(zip(spans, vals, strict=True)):
        nb = len(v)
        bounds[i, 0] = sp[0, 0] - lo
        bounds[i, 1 : nb + 1] = sp[:, 1] - lo
        bounds[i, nb + 1 :] = bounds[i, nb]  # padding: zero-width blocks
        val[i, :nb] = v
    width = np.diff(bounds, axis=1)
    f = np.concatenate([np.zeros((n, 1)), np.cumsum(val * width, axis=1)], axis=1)
    e = np.clip((edges - lo)[None, :], bounds[:, :1], bounds[:, -1:])  # (n, segments + 1)
    step = float(max(bounds.max(), e.max())) + 1.0
    offset = (np.arange(n) * step)[:, None]
    found = np.searchsorted((bounds + offset).ravel(), (e + offset).ravel(), side="right").reshape(e.shape)
    idx = np.clip(found - 1 - np.arange(n)[:, None] * (m + 1), 0, m - 1)
    rows = np.arange(n)[:, None]
    at = f[rows, idx] + val[rows, idx] * (e - bounds[rows, idx])
    num = np.diff(at, axis=1)
    cov = np.diff(e, axis=1)
    seg = np.diff(edges)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = num / np.where(cov > 0, cov, 1.0)
    return np.where(cov >= 0.5 * seg, mean, np.nan)


def _span_means(spans: np.ndarray, edges: np.ndarray, f: np.ndarray, w: np.ndarray, lo: float,
                hi: float) -> np.ndarray:
    """The common level (running integrals ``f`` and ``w`` over ``edges``) averaged over
    each span (rows of ``spans``); NaN where it covers less than half of one."""
    s = np.clip(spans[:, 0], lo, hi)
    e = np.clip(spans[:, 1], lo, hi)
    num = np.interp(e, edges, f) - np.interp(s, edges, f)
    den = np.interp(e, edges, w) - np.interp(s, edges, w)
    length = e - s
    good = (length > 0) & (den >= 0.5 * length)
    out = np.full(len(spans), np.nan)
    out[good] = num[good] / den[good]
    return out


def median(v: np.ndarray) -> float:
    """The median of a few values (np.median's overhead is ten times the work here)."""
    s = np.sort(v)
    n = len(s)
    return float(s[n // 2]) if n % 2 else float((s[n // 2 - 1] + s[n // 2]) / 2.0)


def _cumulative(common: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running integrals of a per-segment level (NaN: no level) and of the time it covers."""
    ok = np.isfinite(common)
    f = np.concatenate([[0.0], np.cumsum(np.where(ok, common, 0.0) * width)])
    w = np.concatenate([[0.0], np.cumsum(np.where(ok, width, 0.0))])
    return f, w


def _nanmedian(mat: np.ndarray) -> np.ndarray:
    """Column medians ignoring NaN (NaN where a column has none), without NumPy's warning."""
    out = np.full(mat.shape[1], np.nan)
    have = np.isfinite(mat).any(axis=0)
    if have.any():
        out[have] = np.nanmedian(mat[:, have], axis=0)
    return out


def sensitivity(ya: np.ndarray, yb: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> float:
    """How much an op moves with the common level (significance.py): the slope of its
    block medians on their common levels within each run (both runs' deviations from
    their own means pooled: how the runs differ as a whole does not enter), shrunk
    towards ``BETA_PRIOR`` with weight ``BETA_WEIGHT``, within ``BETA_RANGE``."""
    dc = np.concatenate([ca - ca.mean(), cb - cb.mean()])
    dy = np.concatenate([ya - ya.mean(), yb - yb.mean()])
    beta = (float(dc @ dy) + BETA_WEIGHT * BETA_PRIOR) / (float(dc @ dc) + BETA_WEIGHT)
    return min(max(beta, BETA_RANGE[0]), BETA_RANGE[1])
