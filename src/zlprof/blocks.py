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

    __slots__ = ("size", "_logs", "_pending", "_n_pending")

    def __init__(self) -> None:
        #: samples in one new block (a power of BASE)
        self.size = 1
        self._logs: list[float] = []
        self._pending: list[np.ndarray] = []
        self._n_pending = 0

    def add(self, durations: np.ndarray) -> None:
        """Fold durations (ns), in arrival order. Until a block is complete a batch is only
        put aside (the common case once blocks are long: a list append). ``durations``
        must not change afterwards (it may be kept, as ``stats.OpAccumulator`` keeps its
        batches); every ``COALESCE`` batches put aside are joined into one array, so few
        batch arrays are held at once."""
        n = len(durations)
        if n == 0:
            return
        if self._n_pending + n < self.size:
            pending = self._pending
            pending.append(durations)
            self._n_pending += n
            if len(pending) >= COALESCE:
                self._pending = [np.concatenate(pending)]
            return
        d = np.asarray(durations, np.int64)
        if self._pending:
            d = np.concatenate([*self._pending, d])
            self._pending, self._n_pending = [], 0
        pos = 0
        while len(d) - pos >= self.size:
            k = min((len(d) - pos) // self.size, MAX_BLOCKS - len(self._logs))
            rows = d[pos : pos + k * self.size].reshape(k, self.size)
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

    def _merge(self) -> None:
        groups = np.asarray(self._logs).reshape(-1, BASE)
        self._logs = np.sort(groups, axis=1)[:, BASE // 2].tolist()
        self.size *= BASE

    def values(self) -> np.ndarray:
        """Log-median of every complete block, in arrival order."""
        return np.asarray(self._logs, np.float64)

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
        out._pending = [p.copy() for p in self._pending]
        out._n_pending = self._n_pending
        return out


def spread(logs: np.ndarray) -> float:
    """How far one run's block medians wander: max / min - 1 (0 with fewer than 2)."""
    if len(logs) < 2:
        return 0.0
    return float(np.expm1(np.max(logs) - np.min(logs)))
