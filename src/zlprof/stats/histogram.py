"""The bounded log-bucket histogram that holds an op's samples past the exact limit.

Holds :class:`LogHistogram` only: bucketing, merging and nearest-rank quantiles over
buckets. It does not decide when an op switches to it (that is
:class:`zlprof.stats.accumulator.OpAccumulator`).
"""

from __future__ import annotations

import math

import numpy as np

from .summary import rank_index


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
