"""One op's statistics as numbers: :class:`PerformanceStats`, the nearest-rank percentile
and the exact statistics of an array of durations.

Holds the definitions every view and report quotes (``PERCENTILE_NOTE``); it does not keep
samples (that is :mod:`zlprof.stats.accumulator`) nor bucket them (:mod:`.histogram`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

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
