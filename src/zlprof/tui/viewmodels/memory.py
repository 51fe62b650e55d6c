"""The memory panel's model: RSS, traced and gauge series and their summary
(:func:`memory_view`). No widgets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MemoryView:
    t_s: np.ndarray
    rss: np.ndarray
    traced: np.ndarray
    gauges: dict[str, np.ndarray]
    peak_rss: int
    last_rss: int
    last_traced: int
    kv_bytes: int
    growth_per_s: float


def memory_view(series: dict[str, np.ndarray], origin_ns: int) -> MemoryView:
    """Memory over time (seconds since the session start) and its headline numbers."""
    t = series.get("t", np.zeros(0, np.int64))
    rss = series.get("rss", np.zeros(0, np.int64))
    traced = series.get("traced", np.zeros(0, np.int64))
    gauges = {k: v for k, v in series.items() if k not in ("t", "rss", "traced")}
    t_s = (t - origin_ns) / 1e9 if len(t) else np.zeros(0)
    ok = rss >= 0
    peak = int(rss[ok].max()) if ok.any() else 0
    last = int(rss[ok][-1]) if ok.any() else 0
    tr_ok = traced >= 0
    last_tr = int(traced[tr_ok][-1]) if tr_ok.any() else -1
    kv = -1
    for name, col in gauges.items():
        if "kv" in name.lower():
            good = col[col >= 0]
            if len(good):
                kv = int(good[-1])
            break
    growth = 0.0
    if ok.sum() >= 2:
        ts, rs = t_s[ok], rss[ok]
        # growth over the last third of the series (robust to start-up allocation)
        k = max(2, len(ts) // 3)
        dt = ts[-1] - ts[-k]
        if dt > 0:
            growth = float(rs[-1] - rs[-k]) / dt
    return MemoryView(t_s, rss, traced, gauges, peak, last, last_tr, kv, growth)
