"""Statistics: percentiles, moments, the bounded estimator, the recent window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlprof.stats import (
    LogHistogram,
    OpAccumulator,
    nearest_rank,
    stats_from_durations,
)


def reference_percentile(values: list[int], q: int) -> int:
    """The seed's definition, written independently: sort, index n*q//100, clamp."""
    s = sorted(values)
    i = len(s) * q // 100
    return s[min(i, len(s) - 1)]


@given(st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=400))
@settings(max_examples=200, deadline=None)
def test_percentiles_match_independent_computation(values: list[int]) -> None:
    acc = OpAccumulator()
    # fold in uneven batches
    for i in range(0, len(values), 37):
        acc.add(np.asarray(values[i : i + 37], dtype=np.int64))
    st_ = acc.stats()
    assert st_.count == len(values)
    assert st_.median_ms == reference_percentile(values, 50) / 1e6
    assert st_.p95_ms == reference_percentile(values, 95) / 1e6
    assert st_.p99_ms == reference_percentile(values, 99) / 1e6
    assert st_.min_ms == min(values) / 1e6
    assert st_.max_ms == max(values) / 1e6
    mean = sum(values) / len(values)
    assert st_.avg_ms == pytest.approx(mean / 1e6, rel=1e-12, abs=1e-12)
    pop_std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    assert st_.std_ms == pytest.approx(pop_std / 1e6, rel=1e-9, abs=1e-9)
    assert st_.estimator == "exact"


def test_even_count_median_is_upper_middle() -> None:
    s = np.array([1, 2, 3, 4])
    assert nearest_rank(s, 50) == 3
    assert nearest_rank(s, 99) == 4
    assert nearest_rank(np.array([7]), 99) == 7


def test_stats_from_durations_equals_accumulator() -> None:
    rng = np.random.default_rng(1)
    d = rng.integers(1000, 10**7, size=5000)
    a = stats_from_durations(d)
    acc = OpAccumulator()
    acc.add(d[:100])
    acc.add(d[100:])
    b = acc.stats()
    for f in ("count", "min_ms", "max_ms", "median_ms", "p95_ms", "p99_ms"):
        assert getattr(a, f) == getattr(b, f)
    assert a.std_ms == pytest.approx(b.std_ms, rel=1e-9)


def test_histogram_takes_over_past_limit_within_0_1_percent() -> None:
    rng = np.random.default_rng(7)
    d = rng.lognormal(mean=13, sigma=1.0, size=30_000).astype(np.int64) + 1
    acc = OpAccumulator(exact_limit=10_000)
    for i in range(0, len(d), 4096):
        acc.add(d[i : i + 4096])
    st_ = acc.stats()
    assert st_.estimator == "histogram"
    assert acc.durations() is None
    for q, got in ((50, st_.median_ms), (95, st_.p95_ms), (99, st_.p99_ms)):
        want = reference_percentile(d.tolist(), q) / 1e6
        assert abs(got - want) / want <= 0.001
    # exact moments are kept regardless of the estimator
    assert st_.avg_ms == pytest.approx(d.mean() / 1e6, rel=1e-9)
    assert st_.min_ms == d.min() / 1e6 and st_.max_ms == d.max() / 1e6


def test_histogram_memory_is_bounded() -> None:
    acc = OpAccumulator(exact_limit=1000)
    acc.add(np.arange(1, 50_000, dtype=np.int64))
    size1 = acc.nbytes()
    for _ in range(20):
        acc.add(np.arange(1, 50_000, dtype=np.int64))
    assert acc.nbytes() == size1
    # the histogram holds the buckets its values span, never more than all of them
    ring = acc.nbytes() - acc.hist.nbytes()
    acc.add(np.array([0, 10**14], np.int64))
    assert acc.hist.nbytes() <= LogHistogram.NBUCKETS * 8
    assert acc.nbytes() - ring == acc.hist.nbytes()


def test_sparse_histogram_matches_dense_buckets() -> None:
    """Counts, merges and quantiles over the histogram's own range equal a dense count
    of every bucket."""
    rng = np.random.default_rng(3)
    parts = [rng.integers(10**3, 10**5, 500), rng.integers(1, 50, 200),
             rng.integers(10**8, 10**9, 300), np.array([0, 10**14])]
    h = LogHistogram()
    other = LogHistogram()
    for i, p in enumerate(parts):
        (h if i % 2 == 0 else other).add(p)
    h.merge(other)
    allv = np.concatenate(parts)
    dense = np.bincount(LogHistogram.bucket_of(allv), minlength=LogHistogram.NBUCKETS)
    assert np.array_equal(h.counts, dense)
    idx, counts = h.nonzero()
    assert np.array_equal(idx, np.flatnonzero(dense)) and np.array_equal(counts, dense[idx])
    assert h.total == len(allv)
    s = np.sort(allv)
    for q, v in zip([1, 50, 95, 99], h.quantiles([1, 50, 95, 99]), strict=True):
        exact = s[min(len(s) * q // 100, len(s) - 1)]
        assert v == pytest.approx(max(exact, 0), rel=1e-3, abs=1)
    b = LogHistogram()
    b.add_buckets(np.array([5, 900, 5]), np.array([2, 3, 4]))
    assert b.counts[5] == 6 and b.counts[900] == 3 and b.total == 9


def test_histogram_bucket_error_bound() -> None:
    vals = np.unique(np.geomspace(1, 1e12, 20_000).astype(np.int64))
    b = LogHistogram.bucket_of(vals)
    reps = np.array([LogHistogram.representative(int(k)) for k in b])
    rel = np.abs(reps - vals) / vals
    assert rel.max() <= 0.001


def test_window_stats_only_recent_samples() -> None:
    acc = OpAccumulator()
    t1 = np.arange(0, 20_000_000_000, 1_000_000_000, dtype=np.int64)  # 20 samples, 1 s apart
    d = np.where(t1 < 10_000_000_000, 1_000_000, 5_000_000).astype(np.int64)
    acc.add(d, t1)
    w = acc.window_stats(since_ns=10_000_000_000)
    assert w.count == 10
    assert w.median_ms == 5.0
    assert acc.stats().count == 20


def test_recent_ring_wraps_in_order() -> None:
    acc = OpAccumulator(recent_capacity=8)
    for start in range(0, 30, 3):
        t = np.arange(start, start + 3, dtype=np.int64)
        acc.add(t + 100, t)
    t1, d = acc.recent()
    assert t1.tolist() == list(range(22, 30))
    assert d.tolist() == [x + 100 for x in range(22, 30)]


def test_memory_allocated_and_peak() -> None:
    acc = OpAccumulator()
    acc.add(
        np.array([1, 1, 1]),
        np.array([1, 2, 3]),
        np.array([100, 200, -1]),
        np.array([150, 180, 500]),
    )
    st_ = acc.stats()
    assert st_.mem_allocated_bytes == 50
    assert st_.mem_delta_bytes == 30
    assert st_.mem_peak_bytes == 500


def test_merged_accumulators() -> None:
    a, b = OpAccumulator(), OpAccumulator()
    a.add(np.array([1, 2, 3]), np.array([1, 2, 3]))
    b.add(np.array([10, 20]), np.array([4, 5]))
    m = a.merged([b])
    st_ = m.stats()
    assert st_.count == 5
    assert st_.median_ms == 3 / 1e6
    assert st_.max_ms == 20 / 1e6


def test_self_times_subtract_the_nearest_measured_descendants() -> None:
    from zlprof.stats import self_times

    # a/b has no measurement of its own: a's self time excludes a/b/c all the same
    paths = ["a", "a/b/c", "a/b/c/d", "a/e", "z"]
    totals = [10.0, 6.0, 1.0, 2.0, 3.0]
    own = self_times(paths, totals)
    assert own == [2.0, 5.0, 1.0, 2.0, 3.0]
    assert sum(own) == 10.0 + 3.0  # nested time counted once: the roots' totals
    assert self_times(["a", "a/b"], [1.0, 1.5]) == [0.0, 1.5]  # never negative
    assert self_times([], []) == []


def test_group_by_gathers_equal_keys() -> None:
    from zlprof.stats import group_by

    g = group_by(np.array([3, 1, 3, 2, 1]))
    assert g.keys.tolist() == [1, 2, 3] and g.counts.tolist() == [2, 1, 2]
    v = np.array([10, 20, 30, 40, 50])
    assert g.reduce(v).tolist() == [70, 40, 40]
    assert g.reduce(v, np.maximum).tolist() == [50, 40, 30]
    two = np.array([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]])
    assert g.reduce(two).tolist() == [[12, 14], [7, 8], [6, 8]]  # rows summed per group
    assert g.order[g.starts].tolist() == [1, 3, 0]  # the first of each group, stable
    empty = group_by(np.zeros(0, np.int64))
    assert len(empty.keys) == 0 and empty.reduce(np.zeros((0, 2))).shape == (0, 2)
    nan = group_by(np.array([np.nan, 1.0, np.nan]))
    assert nan.counts.tolist() == [1, 1, 1]  # NaNs are never equal
