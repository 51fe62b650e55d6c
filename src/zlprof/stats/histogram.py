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
        #: counts of buckets ``_lo .. _lo + len(_c) - 1`` only (the range the op's values
        #: span, with some slack): an op's durations span a few thousand buckets at most,
        #: so a histogram holds kilobytes, not ``NBUCKETS`` counters, and an add touches
        #: only its own range
        self._lo = 0
        self._c = np.zeros(0, dtype=np.int64)

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

    @property
    def counts(self) -> np.ndarray:
        """The count of every bucket 0 .. NBUCKETS - 1 (a new array)."""
        out = np.zeros(self.NBUCKETS, dtype=np.int64)
        out[self._lo : self._lo + len(self._c)] = self._c
        return out

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """(bucket indices, counts) of the non-empty buckets, in bucket order."""
        idx = np.flatnonzero(self._c)
        return idx + self._lo, self._c[idx]

    def _cover(self, lo: int, hi: int) -> None:
        """Make buckets ``lo .. hi`` addressable (growing by half the width again, so a
        range that creeps outwards is copied a logarithmic number of times)."""
        width = len(self._c)
        if width == 0:
            self._lo, self._c = lo, np.zeros(hi - lo + 1, dtype=np.int64)
            return
        clo, chi = self._lo, self._lo + width - 1
        if lo >= clo and hi <= chi:
            return
        nlo = clo if lo >= clo else max(0, min(lo, clo - width // 2))
        nhi = chi if hi <= chi else min(self.NBUCKETS - 1, max(hi, chi + width // 2))
        grown = np.zeros(nhi - nlo + 1, dtype=np.int64)
        grown[clo - nlo : clo - nlo + width] = self._c
        self._lo, self._c = nlo, grown

    def add(self, values: np.ndarray) -> None:
        if len(values):
            b = self.bucket_of(values)
            self._cover(int(b.min()), int(b.max()))
            got = np.bincount(b - self._lo)
            self._c[: len(got)] += got

    def add_buckets(self, buckets: np.ndarray, counts: np.ndarray) -> None:
        """Add ``counts[i]`` samples to bucket ``buckets[i]`` (a recording's summary)."""
        b = np.clip(np.asarray(buckets).astype(np.int64), 0, self.NBUCKETS - 1)
        if len(b):
            self._cover(int(np.min(b)), int(np.max(b)))
            np.add.at(self._c, b - self._lo, np.asarray(counts, dtype=np.int64))

    def merge(self, other: LogHistogram) -> None:
        if len(other._c) == 0:
            return
        self._cover(other._lo, other._lo + len(other._c) - 1)
        at = other._lo - self._lo
        self._c[at : at + len(other._c)] += other._c

    def copy(self) -> LogHistogram:
        """An independent copy."""
        out = LogHistogram.__new__(LogHistogram)
        out._lo = self._lo
        out._c = self._c.copy()
        return out

    @property
    def total(self) -> int:
        return int(self._c.sum())

    def quantiles(self, qs: list[float]) -> list[float]:
        n = self.total
        if n == 0:
            return [math.nan for _ in qs]
        cum = np.cumsum(self._c)
        out = []
        for q in qs:
            i = rank_index(n, q)
            b = self._lo + int(np.searchsorted(cum, i, side="right"))
            out.append(self.representative(b))
        return out

    def nbytes(self) -> int:
        return self._c.nbytes
