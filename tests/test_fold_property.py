"""The vectorised fold (``SessionState.ingest_many`` -> ``_fold_block``) against the reference
accumulator (``OpAccumulator.add``, one record at a time): same statistics for any batches.

``_fold_block`` computes every op's moments in one NumPy pass per run of measurement frames
and hands each op its group; the reference folds each record on its own. Counts, totals,
minima, maxima, percentiles, recent samples and memory figures must agree exactly, mean
and standard deviation up to float rounding. Small exact limits exercise the switch to
the bounded histogram as well.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zlprof.protocol import Frame
from zlprof.session import SessionState
from zlprof.stats import OpAccumulator

QS = [0, 1, 25, 50, 90, 95, 99, 100]

record = st.tuples(
    st.integers(1, 4),  # path id
    st.integers(0, 10**12),  # t0 (ns)
    st.integers(0, 10**9),  # duration (ns)
    st.integers(-1, 10**9),  # m0 (-1: not read)
    st.integers(-1, 10**9),  # m1
)
batch = st.tuples(st.lists(record, max_size=40), st.booleans())  # (records, with memory)
batches = st.lists(batch, min_size=1, max_size=8)


def meas_frame(records: list[tuple[int, int, int, int, int]], mem: bool) -> Frame:
    """A decoded "meas" frame (columns as protocol.parse_frame returns them)."""
    cols = np.array(records, dtype=np.int64).reshape(-1, 5)
    body: dict[str, Any] = {
        "n": len(records),
        "path": cols[:, 0].astype(np.int32),
        "t0": cols[:, 1],
        "t1": cols[:, 1] + cols[:, 2],
    }
    if mem:
        body["m0"], body["m1"] = cols[:, 3], cols[:, 4]
    return Frame("meas", body)


def reference(
    data: list[tuple[list[tuple[int, int, int, int, int]], bool]], exact_limit: int
) -> dict[int, OpAccumulator]:
    ops: dict[int, OpAccumulator] = {}
    for records, mem in data:
        for path, t0, d, m0, m1 in records:
            acc = ops.setdefault(path, OpAccumulator(exact_limit=exact_limit))
            one = np.array
            acc.add(
                one([d]),
                one([t0 + d]),
                one([m0]) if mem else None,
                one([m1]) if mem else None,
            )
    return ops


def assert_same(got: OpAccumulator, ref: OpAccumulator) -> None:
    g, r = got.moments, ref.moments
    assert (g.n, g.total, g.lo, g.hi) == (r.n, r.total, r.lo, r.hi)
    assert g.mean == pytest.approx(r.mean, rel=1e-9, abs=1e-6)
    assert g.std == pytest.approx(r.std, rel=1e-6, abs=1e-3)
    assert got.estimator == ref.estimator
    assert got.quantiles_ns(QS) == ref.quantiles_ns(QS)
    if ref.estimator == "exact":
        assert np.array_equal(got.sorted_durations(), ref.sorted_durations())
    for a, b in zip(got.recent(), ref.recent(), strict=True):
        assert np.array_equal(a, b)
    assert got.last_t1 == ref.last_t1
    assert (got.mem_allocated, got.mem_delta, got.mem_peak) == (
        ref.mem_allocated,
        ref.mem_delta,
        ref.mem_peak,
    )
    s = got.stats("x")
    assert s.count == r.n and s.median_ms == ref.stats("x").median_ms


def fold_and_compare(
    data: list[tuple[list[tuple[int, int, int, int, int]], bool]], exact_limit: int
) -> None:
    state = SessionState(exact_limit=exact_limit)
    state.ingest_many([meas_frame(records, mem) for records, mem in data])
    ref = reference(data, exact_limit)
    assert state.measurements == sum(len(records) for records, _ in data)
    assert set(state.ops) == set(ref)
    for pid, acc in ref.items():
        assert_same(state.ops[pid], acc)
    everything = [r for records, _ in data for r in records]
    if everything:
        assert state.first_ns == min(t0 for _, t0, _, _, _ in everything)
        assert state.last_ns == max(t0 + d for _, t0, d, _, _ in everything)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=batches, exact_limit=st.sampled_from([3, 20, 100_000]))
def test_vectorised_fold_matches_the_reference_accumulator(
    data: list[tuple[list[tuple[int, int, int, int, int]], bool]], exact_limit: int
) -> None:
    fold_and_compare(data, exact_limit)


def test_frames_split_or_joined_fold_alike() -> None:
    """One frame or the same records over several frames: the same statistics."""
    rng = np.random.default_rng(7)
    records = [
        (int(p), int(t), int(d), -1, -1)
        for p, t, d in zip(
            rng.integers(1, 4, 300),
            rng.integers(0, 10**9, 300),
            rng.integers(0, 10**7, 300),
            strict=True,
        )
    ]
    whole = SessionState()
    whole.ingest_many([meas_frame(records, False)])
    parts = SessionState()
    parts.ingest_many([meas_frame(records[i : i + 7], False) for i in range(0, 300, 7)])
    for pid, acc in whole.ops.items():
        assert_same(parts.ops[pid], acc)


def test_the_comparison_catches_a_broken_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Positive control: a fold that drops each group's last sample is caught."""
    original = OpAccumulator.add_group

    def lossy(self: OpAccumulator, d: np.ndarray, t1: np.ndarray, agg: Any, *a: Any) -> None:
        c, tot, _mean, _m2, lo, hi = agg
        if c > 1:
            d, t1 = d[:-1], t1[:-1]
            tot = int(d.sum())
            agg = (
                c - 1,
                tot,
                tot / (c - 1),
                float(((d - tot / (c - 1)) ** 2).sum()),
                int(d.min()),
                int(d.max()),
            )
        original(self, d, t1, agg, *a)

    monkeypatch.setattr(OpAccumulator, "add_group", lossy)
    data = [([(1, 0, 10, -1, -1), (1, 5, 30, -1, -1), (2, 7, 4, -1, -1)], False)]
    with pytest.raises(AssertionError):
        fold_and_compare(data, 100)


def test_nan_free_on_single_samples() -> None:
    data = [([(3, 100, 0, -1, -1)], True)]
    fold_and_compare(data, 3)
    state = SessionState()
    state.ingest_many([meas_frame(*data[0])])
    assert not math.isnan(state.ops[3].moments.std)
