"""The drill-down screen's model: one op's histogram edges, recent durations,
children and statistic texts (:func:`drill_view`). No widgets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...session import SessionState
from ...stats import PerformanceStats
from .common import WINDOW_S, _count, _ms, _share

# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class ChildRow:
    path_id: int
    name: str
    count: int
    total_ms: float
    self_ms: float
    share_of_parent: float
    #: the child's whole path (the drill-down's title when it opens the child)
    full: str = ""


@dataclass
class DrillView:
    path_id: int
    full: str
    name: str
    parent_id: int
    parent_full: str
    cumulative: PerformanceStats
    window: PerformanceStats
    self_ms: float
    self_share: float
    hist_edges_ms: np.ndarray
    hist_counts: np.ndarray
    recent_t_s: np.ndarray
    recent_ms: np.ndarray
    children: list[ChildRow]
    flops: int
    nbytes: int
    cost_calls: int
    estimator: str


def log_edges(lo_ns: float, hi_ns: float, bins: int) -> np.ndarray:
    """``bins + 1`` log-spaced bucket edges covering [lo, hi] (ns)."""
    bins = max(1, int(bins))
    lo = max(float(lo_ns), 1.0)
    hi = max(float(hi_ns), lo)
    if hi <= lo * 1.0001:
        lo, hi = lo / 1.1, hi * 1.1
    edges = np.geomspace(lo, hi, bins + 1)
    edges[-1] = np.nextafter(edges[-1], np.inf)  # the max falls inside the last bucket
    return edges


def drill_view(state: SessionState, pid: int, bins: int = 60, window_s: float = WINDOW_S) -> DrillView | None:
    """Everything the drill-down screen shows for one op (None if it is unknown)."""
    with state.lock:
        info = state.paths.get(pid)
        if info is None and pid not in state.ops:
            return None
        rows = {r.path_id: r for r in state.op_rows()}
        me = rows.get(pid)
        cum = state.stats_for(pid)
        win = state.stats_for(pid, window_s)
        acc = state.ops.get(pid)
        if acc is not None and acc.count:
            edges = log_edges(acc.moments.lo, acc.moments.hi, bins)
            counts = acc.histogram_counts(edges)
            t1, d = acc.recent()
        else:
            edges = log_edges(1e3, 1e6, bins)
            counts = np.zeros(len(edges) - 1, np.int64)
            t1, d = np.zeros(0, np.int64), np.zeros(0, np.int64)
        kids = []
        total = cum.total_ms
        for c in sorted(state.children_of(pid)):
            r = rows.get(c)
            if r is None:
                continue
            kids.append(
                ChildRow(
                    c,
                    r.name,
                    r.stats.count,
                    r.stats.total_ms,
                    r.self_ms,
                    (r.stats.total_ms / total) if total > 0 else 0.0,
                    r.full,
                )
            )
        kids.sort(key=lambda k: k.total_ms, reverse=True)
        parent = info.parent if info else 0
        return DrillView(
            path_id=pid,
            full=state.name_of(pid),
            name=info.name if info else f"#{pid}",
            parent_id=parent if parent in state.paths else 0,
            parent_full=state.name_of(parent) if parent in state.paths else "",
            cumulative=cum,
            window=win,
            self_ms=me.self_ms if me else 0.0,
            self_share=me.self_share if me else 0.0,
            hist_edges_ms=edges / 1e6,
            hist_counts=np.asarray(counts, np.int64),
            recent_t_s=(t1 - state.origin_ns) / 1e9,
            recent_ms=d / 1e6,
            children=kids,
            flops=me.flops if me else 0,
            nbytes=me.nbytes if me else 0,
            cost_calls=me.cost_calls if me else 0,
            estimator=cum.estimator,
        )


STAT_FIELDS: tuple[tuple[str, str], ...] = (
    ("count", "count"),
    ("total", "total ms"),
    ("share", "share"),
    ("min_ms", "min"),
    ("avg_ms", "avg"),
    ("median_ms", "p50"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("max_ms", "max"),
    ("std_ms", "std dev"),
)


def stat_text(st: PerformanceStats, name: str) -> str:
    if name == "count":
        return _count(st.count)
    if name == "total":
        return _ms(st.total_ms) if st.count else "-"
    if name == "share":
        return _share(st.share) if st.count else "-"
    return _ms(getattr(st, name))
