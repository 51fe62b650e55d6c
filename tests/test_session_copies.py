"""Copies owned next to their fields: OpAccumulator.clone/refill, SessionState.clone/
take_over (replay checkpoints use them), and op_rows' self times (stats.self_times)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from zlprof import protocol
from zlprof.session import SessionState
from zlprof.stats import OpAccumulator, self_times


def busy_accumulator(exact_limit: int = 100_000) -> OpAccumulator:
    """An accumulator with every kind of state: samples, a recent ring, memory counters,
    a summary base (histogram) when asked."""
    acc = OpAccumulator(exact_limit=exact_limit, recent_capacity=16)
    rng = np.random.default_rng(3)
    for k in range(5):
        d = rng.integers(1_000, 90_000, 10).astype(np.int64)
        t1 = np.arange(10, dtype=np.int64) * 100_000 + k * 1_000_000
        m0 = np.full(10, 100, np.int64)
        acc.add(d, t1, m0, m0 + 7)
    return acc


def with_summary(acc: OpAccumulator) -> OpAccumulator:
    acc.absorb_summary((3, 3000, 1000.0, 0.0, 1000, 1000), np.array([3460]), np.array([3]),
                       (1, 2, 3), 99)
    return acc


def distinct_objects(a: object, b: object) -> list[str]:
    """Names of the mutable attributes ``a`` and ``b`` share (a clone shares none)."""
    return [k for k, v in vars(a).items()
            if v is not None and not isinstance(v, int | float | str | bool | frozenset)
            and vars(b)[k] is v]


@pytest.mark.parametrize("limit", [100_000, 20])
def test_accumulator_clone_carries_every_field(limit: int) -> None:
    acc = busy_accumulator(limit)
    twin = acc.clone()
    fields = {f.name for f in dataclasses.fields(OpAccumulator)}
    # a field added to OpAccumulator and not copied by clone() is missing here
    assert set(vars(twin)) == set(vars(acc)) == fields
    assert distinct_objects(acc, twin) == []
    assert twin.stats("x") == acc.stats("x")
    assert all(np.array_equal(a, b) for a, b in zip(twin.recent(), acc.recent(), strict=True))
    twin.add(np.array([5, 6], np.int64), np.array([10**9, 10**9], np.int64))
    assert twin.count == acc.count + 2 and acc.count == 50


@pytest.mark.parametrize("limit", [100_000, 20])
@pytest.mark.parametrize("summary", [False, True])
def test_accumulator_without_samples_refills_to_the_original(limit: int, summary: bool) -> None:
    acc = OpAccumulator(exact_limit=limit, recent_capacity=16)
    if summary:
        with_summary(acc)
    raw_t1: list[np.ndarray] = []
    raw_d: list[np.ndarray] = []
    for k in range(4):
        d = np.arange(1, 11, dtype=np.int64) * (k + 1) * 1000
        t1 = np.arange(10, dtype=np.int64) + k * 100
        acc.add(d, t1)
        raw_t1.append(t1)
        raw_d.append(d)
    bare = acc.clone(samples=False)
    assert set(vars(bare)) == set(vars(acc))
    assert bare.sorted_durations() is None or len(bare.sorted_durations()) == 0
    again = bare.clone(samples=False)  # a checkpoint's copy of a checkpoint
    again.refill(np.concatenate(raw_t1), np.concatenate(raw_d))
    assert again.stats("x") == acc.stats("x")
    assert again.estimator == acc.estimator
    assert all(np.array_equal(a, b) for a, b in zip(again.recent(), acc.recent(), strict=True))
    assert np.array_equal(again.histogram_buckets()[1], acc.histogram_buckets()[1])


def two_thread_state() -> SessionState:
    st = SessionState()
    data = protocol.encode_names([(1, 0, "a"), (2, 1, "b")])
    for tid in (1, 2):
        t0 = np.arange(4, dtype=np.int64) * 1000 + 10_000
        data += protocol.encode_measurements(tid, np.array([1, 2, 1, 2]), t0, t0 + 500)
    st.ingest_many(protocol.decode_stream(data))
    return st


def test_state_clone_carries_every_attribute() -> None:
    st = two_thread_state()
    st.warnings.append("w")
    twin = st.clone()
    # an attribute added to SessionState and not carried by clone() is missing here
    assert set(vars(twin)) == set(vars(st))
    assert twin.lock is not st.lock
    assert [r.stats for r in twin.op_rows()] == [r.stats for r in st.op_rows()]
    shared = [k for k in distinct_objects(st, twin) if k not in ("lock", "_decoder")]
    assert shared == []
    bare = st.clone(op_samples=False)
    assert set(vars(bare)) == set(vars(st))


def test_take_over_keeps_the_object_and_grows_the_version() -> None:
    st = SessionState()
    st.version = 50
    lock = st.lock
    other = two_thread_state()
    st.take_over(other)
    assert st.lock is lock
    assert st.version == 51
    assert st.measurements == other.measurements == 8
    assert [r.full for r in st.op_rows()] == ["a", "a/b"]


def test_self_times_look_through_a_path_with_no_measurements() -> None:
    # a > mid > leaf, with mid never measured itself: leaf's time is a's nested time,
    # subtracted once (the old rule subtracted measured direct children only, so a kept it)
    st = SessionState()
    data = protocol.encode_names([(1, 0, "a"), (2, 1, "mid"), (3, 2, "leaf"), (4, 0, "z")])
    t0 = np.array([0, 100, 1000], np.int64)
    t1 = np.array([900, 700, 1500], np.int64)
    data += protocol.encode_measurements(1, np.array([1, 3, 4]), t0, t1)
    st.ingest_many(protocol.decode_stream(data))
    rows = {r.full: r for r in st.op_rows()}
    assert set(rows) == {"a", "a/mid/leaf", "z"}
    assert rows["a"].self_ms == pytest.approx((900 - 600) / 1e6)
    assert rows["a/mid/leaf"].self_ms == pytest.approx(600 / 1e6)
    top = rows["a"].stats.total_ms + rows["z"].stats.total_ms
    assert sum(r.self_ms for r in rows.values()) == pytest.approx(top)
    paths = list(rows)
    assert [rows[p].self_ms for p in paths] == self_times(
        paths, [rows[p].stats.total_ms for p in paths])
