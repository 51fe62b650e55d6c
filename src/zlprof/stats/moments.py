"""Running count, total, mean, M2, min and max of durations (Chan et al.'s parallel update).

Holds :class:`_Moments` only (private to the package: :class:`OpAccumulator` owns one); no
percentiles, no samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


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
