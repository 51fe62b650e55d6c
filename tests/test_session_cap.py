"""The cap on distinct call paths per session: the rest go to one "(other paths)" row."""

from __future__ import annotations

import numpy as np

from zlprof import protocol
from zlprof.session import OTHER_NAME, OTHER_PID, SessionState


def feed(state: SessionState, names: list[tuple[int, int, str]], pids: list[int]) -> None:
    t0 = np.arange(len(pids), dtype=np.int64) * 1000 + 1_000_000
    t1 = t0 + 500
    data = protocol.encode_names(names) + protocol.encode_measurements(1, np.array(pids), t0, t1)
    state.ingest_many(protocol.decode_stream(data))


def test_paths_past_the_cap_are_counted_as_other() -> None:
    st = SessionState(max_paths=3)
    names = [(i, 0, f"op{i}") for i in range(1, 7)]
    feed(st, names, [1, 2, 3, 4, 5, 6, 6])
    rows = {r.full: r for r in st.op_rows()}
    assert set(rows) == {"op1", "op2", "op3", OTHER_NAME}
    assert rows[OTHER_NAME].stats.count == 4  # op4, op5 and op6 twice
    assert rows["op1"].stats.count == 1
    assert st.measurements == 7
    assert len(st.warnings) == 1 and "more than 3 distinct call paths" in st.warnings[0]


def test_children_of_an_overflowed_path_overflow_too() -> None:
    st = SessionState(max_paths=2)
    feed(st, [(1, 0, "a"), (2, 0, "b"), (3, 0, "c"), (4, 3, "c_child"), (5, 1, "a_child")], [3, 4, 5])
    assert st.overflow == {3, 4, 5}
    assert [r.full for r in st.op_rows()] == [OTHER_NAME]
    assert st.op_rows()[0].stats.count == 3


def test_costs_of_overflowed_paths_go_to_other() -> None:
    st = SessionState(max_paths=1)
    feed(st, [(1, 0, "a"), (2, 0, "b")], [1, 2])
    st.ingest_many(protocol.decode_stream(protocol.encode_costs([(2, 1, 10, 20)])))
    assert st.costs[OTHER_PID] == [1, 10, 20]


def test_under_the_cap_nothing_changes() -> None:
    st = SessionState(max_paths=10)
    feed(st, [(1, 0, "a"), (2, 1, "b")], [1, 2, 2])
    assert [r.full for r in st.op_rows()] == ["a", "a/b"]
    assert not st.overflow and not st.warnings


def test_names_from_the_stream_are_mended_for_every_view() -> None:
    st = SessionState()
    feed(st, [(1, 0, "a/b"), (2, 1, "line1\nline2")], [1, 2])
    assert [r.full for r in st.op_rows()] == ["a\u2215b", "a\u2215b/line1\\nline2"]
