"""The session-wide bounds on kept samples (issue 11: memory stays bounded under a flood).

A SessionState keeps at most ``exact_budget`` exact durations over all its accumulators:
past it, the ops holding the most exact samples move to their log-bucket histogram. The
recent rings share ``recent_budget``. Statistics stay within the histogram's precision
of the exact answer, and everything that reads samples keeps working.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zlprof.protocol import Frame
from zlprof.session import SessionState
from zlprof.stats import (
    DEFAULT_EXACT_BUDGET,
    MIN_RECENT_CAPACITY,
    LogHistogram,
    OpAccumulator,
    stats_from_durations,
)

QS = [0, 1, 50, 95, 99, 100]


def meas(path: np.ndarray, t0: np.ndarray, d: np.ndarray, tid: int = 0) -> Frame:
    body: dict[str, Any] = {"n": len(path), "path": path.astype(np.int32), "t0": t0,
                            "t1": t0 + d, "tid": tid}
    return Frame("meas", body)


def names(n: int) -> Frame:
    return Frame("names", {"paths": [[i, 0, f"op{i}"] for i in range(1, n + 1)]})


batch = st.tuples(
    st.lists(st.integers(1, 6), min_size=1, max_size=300),  # path id per record
    st.integers(0, 1),  # thread id
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(batch, min_size=1, max_size=12), st.integers(1, 400), st.integers(0, 2**31))
def test_exact_samples_never_exceed_the_budget(
    data: list[tuple[list[int], int]], budget: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    st_ = SessionState(exact_budget=budget)
    st_.ingest(names(6))
    truth: dict[int, list[np.ndarray]] = {}
    t = 0
    for paths, tid in data:
        p = np.asarray(paths, np.int64)
        d = rng.lognormal(10, 1, len(p)).astype(np.int64)
        t0 = t + np.arange(len(p), dtype=np.int64) * 10**7
        t = int(t0[-1]) + 10**7
        st_.ingest(meas(p, t0, d, tid))
        assert st_.exact_samples() <= budget
        for pid in np.unique(p):
            truth.setdefault(int(pid), []).append(d[p == pid])
    for pid, parts in truth.items():
        acc = st_.ops[pid]
        d = np.concatenate(parts)
        want = stats_from_durations(d)
        got = acc.stats()
        assert got.count == want.count and got.total_ms == want.total_ms
        assert got.min_ms == want.min_ms and got.max_ms == want.max_ms
        for q, v in zip(QS, acc.quantiles_ns(QS), strict=True):
            exact = np.sort(d)[min(len(d) * q // 100, len(d) - 1)]
            if acc.estimator == "exact":
                assert v == exact
            else:  # within the histogram's bucket (< 0.1 % relative)
                assert v == pytest.approx(exact, rel=1.001e-3)
        # drill-down histograms and blocks still answer, whichever estimator holds
        edges = np.geomspace(1, 2 * max(1, int(d.max())), 20)
        assert acc.histogram_counts(edges).sum() == np.count_nonzero((d >= 1) & (d < edges[-1]))
        assert len(acc.blocks) + acc.blocks.pending > 0


def test_many_paths_keep_the_session_within_its_budgets() -> None:
    """2,000 paths flooded: the exact samples stay within the budget, the hottest ops
    by sample count move to the histogram first, the rings share their budget, and a
    clone, a replay checkpoint (clone without samples + refill) and the rows still work."""
    n_paths, per_round, rounds = 2_000, 40, 6
    st_ = SessionState(exact_budget=400_000, recent_budget=5_000_000)
    st_.ingest(names(n_paths))
    rng = np.random.default_rng(1)
    t = 0
    hot = np.arange(1, 11)  # ten paths get 30x the samples of the others
    for _ in range(rounds):
        p = np.concatenate([np.repeat(np.arange(1, n_paths + 1), per_round),
                            np.repeat(hot, 30 * per_round)])
        rng.shuffle(p)
        d = rng.integers(1_000, 100_000, len(p))
        t0 = t + np.arange(len(p), dtype=np.int64) * 1000
        t = int(t0[-1]) + 1000
        st_.ingest(meas(p, t0, d))
        assert st_.exact_samples() <= 400_000
    assert st_.measurements == rounds * (n_paths + 300) * per_round
    assert all(st_.ops[int(h)].estimator == "histogram" for h in hot)
    exact = [a for a in st_.ops.values() if a.estimator == "exact"]
    assert len(exact) > n_paths // 2  # the cold ops stay exact
    # rings: an equal power-of-two share of the budget (5 M / 2,003 accumulators)
    caps = {a.recent_capacity for a in st_.ops.values()}
    assert caps == {2_048} and 2_048 >= MIN_RECENT_CAPACITY
    hot_acc = st_.ops[1]
    rt, rd = hot_acc.recent()
    assert len(rd) == 2_048 and int(rt.max()) == hot_acc.last_t1
    rows = st_.op_rows()
    assert len(rows) >= n_paths
    # a replay checkpoint: a clone without samples, refilled, answers as the original
    cp = st_.ops[5].clone(samples=False)
    assert cp.exact_count == 0
    assert st_.ops[500].clone().exact_count == st_.ops[500].exact_count
    copy = st_.clone()
    assert copy.exact_samples() == st_.exact_samples()
    assert copy.ops[1].stats().p99_ms == st_.ops[1].stats().p99_ms


def test_default_budget_is_stated() -> None:
    assert SessionState().exact_budget == DEFAULT_EXACT_BUDGET == 8_000_000


def test_spill_keeps_statistics_within_histogram_precision() -> None:
    rng = np.random.default_rng(7)
    d = rng.lognormal(12, 0.7, 5_000).astype(np.int64)
    acc = OpAccumulator()
    acc.add(d[:2_000])
    assert acc.exact_count == 2_000
    assert acc.spill() == 2_000 and acc.exact_count == 0 and acc.estimator == "histogram"
    acc.add(d[2_000:])
    assert acc.exact_count == 0 and acc.hist is not None and acc.hist.total == len(d)
    s = np.sort(d)
    for q, v in zip(QS, acc.quantiles_ns(QS), strict=True):
        assert v == pytest.approx(s[min(len(s) * q // 100, len(s) - 1)], rel=1.001e-3)
    idx, counts = acc.histogram_buckets()
    assert counts.sum() == len(d)
    assert np.array_equal(idx, np.unique(LogHistogram.bucket_of(d)))


def test_limit_recent_keeps_the_newest() -> None:
    acc = OpAccumulator()
    t1 = np.arange(5_000, dtype=np.int64)
    acc.add(t1 * 2, t1)
    acc.limit_recent(1_024)
    rt, rd = acc.recent()
    assert list(rt) == list(range(5_000 - 1_024, 5_000)) and list(rd) == [2 * x for x in rt]
    acc.add(np.array([7, 8], np.int64), np.array([6_000, 6_001], np.int64))
    rt, rd = acc.recent()
    assert len(rt) == 1_024 and list(rt[-3:]) == [4_999, 6_000, 6_001]
