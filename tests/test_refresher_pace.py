"""Costly rebuilds of the op rows are spaced (issue 11: under a flood over 2,000 paths the
snapshot held the session's lock 40-130 ms five times a second): between rebuilds a
snapshot keeps the last rows, marked stale, and refreshes everything else; a changed view
rebuilds at once, and a stale snapshot never counts as up to date (tests' settle)."""

from __future__ import annotations

import numpy as np

from zlprof.protocol import Frame
from zlprof.session import SessionState
from zlprof.tui import model
from zlprof.tui.refresher import PACE


def fed(n: int, start: int = 0) -> Frame:
    p = np.arange(1, 4, dtype=np.int32).repeat(n)
    t0 = start + np.arange(len(p), dtype=np.int64) * 100
    return Frame("meas", {"n": len(p), "path": p, "t0": t0, "t1": t0 + 50})


def test_rows_not_due_keep_the_last_rows_and_say_so() -> None:
    st = SessionState()
    st.ingest(Frame("names", {"paths": [[1, 0, "a"], [2, 0, "b"], [3, 1, "c"]]}))
    st.ingest(fed(10))
    req = model.MainRequest(memory=False)
    first = model.collect(st, req)
    assert not first.rows_stale and first.ops_version == st.ops_version
    st.ingest(fed(10, 10**6))
    kept = model.collect(st, req, first, rows_due=False)
    assert kept.rows is first.rows and kept.rows_stale
    assert kept.ops_version == first.ops_version != st.ops_version
    assert kept.measurements == st.measurements  # the rest is fresh
    # due again: rebuilt, current
    fresh = model.collect(st, req, kept, rows_due=True)
    assert fresh.rows is not first.rows and not fresh.rows_stale
    assert fresh.ops_version == st.ops_version
    assert sum(r.stats.count for r in fresh.rows) == 60
    # another view is never served old rows
    other = model.collect(st, model.MainRequest(memory=False, window=True), fresh, rows_due=False)
    assert not other.rows_stale and other.rows is not fresh.rows
    assert PACE >= 2  # rows rebuilt at most a third of the time
