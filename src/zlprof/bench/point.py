"""What one sweep point gathers: the run in progress, its samples, and the result.

:class:`_PointAcc` collects the :class:`~zlprof.bench.results.RunSample` of every run of a
point (memory samples, token rows) and turns them into a
:class:`~zlprof.bench.results.BenchmarkResult` (the definitions: results.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import Frame
from ..session import SessionState
from ..stats import stats_from_durations
from .results import (
    BenchmarkConfig,
    BenchmarkResult,
    LatencyStats,
    MemoryMetrics,
    RunSample,
    ThroughputMetrics,
)


@dataclass
class _Run:
    """The run in progress, as the parent sees it."""

    phase: str
    index: int
    t_start: int
    deadline: int
    rows: list[list[Any]] = field(default_factory=list)
    rss: list[tuple[int, int]] = field(default_factory=list)
    useful: list[int] = field(default_factory=list)


def _memory_of(sample: RunSample, run: _Run) -> None:
    """Peak and baseline (first sample at or after the run's start) RSS of a run."""
    run.rss.sort()
    vals = [v for t, v in run.rss if v >= 0 and t >= run.t_start]
    if vals:
        sample.peak_rss = max(vals)
        sample.start_rss = vals[0]


class _PointAcc:
    """What one sweep point has gathered so far."""

    def __init__(self) -> None:
        self.runs: list[RunSample] = []
        self.warmup_failures: list[tuple[int, str]] = []
        self.restarts = 0
        self.children = 0
        self.ever_started = False
        self.workload: dict[str, Any] = {}
        self.tokens_state = SessionState()
        self.rss_samples: list[int] = []
        self.useful_peak = -1
        self._weights_gauge = False

    def next_index(self) -> int:
        """The first measured run not yet done (runs finish in index order)."""
        return max((r.index for r in self.runs), default=-1) + 1

    def see_memory(self, body: dict[str, Any], run: _Run | None) -> None:
        if run is None:
            return
        t = np.asarray(body["t"])
        rss = np.asarray(body["rss"])
        gauges = {k: np.asarray(v) for k, v in body["gauges"].items() if k.endswith("_bytes")}
        sel = t >= run.t_start
        for tt, rr in zip(t[sel].tolist(), rss[sel].tolist(), strict=True):
            if rr >= 0:
                run.rss.append((tt, rr))
        if gauges:
            if "weights_bytes" in gauges:
                self._weights_gauge = True
            stacked = np.stack([np.where(g >= 0, g, 0) for g in gauges.values()])[:, sel]
            if stacked.size:
                run.useful.append(int(stacked.sum(axis=0).max()))

    def add_run(self, sample: RunSample, run: _Run | None = None) -> None:
        self.runs.append(sample)
        if not sample.ok or run is None:
            return
        self.rss_samples += [v for t, v in run.rss if v >= 0 and t >= run.t_start]
        if run.useful:
            self.useful_peak = max(self.useful_peak, max(run.useful))
        if run.rows:
            one = SessionState()
            one.ingest(Frame("tokens", {"rows": run.rows}))
            sample.ttft_ms = _finite(one.ttft.stats().avg_ms)
            sample.tpot_ms = _finite(one.tpot.stats().avg_ms)
            sample.itl_ms = _finite(one.itl.stats().avg_ms)
            self.tokens_state.ingest(Frame("tokens", {"rows": run.rows}))

    def result(self, name: str, config: BenchmarkConfig, params: dict[str, Any]) -> BenchmarkResult:
        runs = sorted(self.runs, key=lambda r: r.index)
        ok = [r for r in runs if r.ok]
        dur = np.asarray([r.duration_ns for r in ok], np.int64)
        stats = stats_from_durations(dur, name=name)
        secs = float(dur.sum()) / 1e9 if len(dur) else 0.0

        def per_s(x: float) -> float:
            return x / secs if secs > 0 else 0.0

        thr = ThroughputMetrics(
            requests_per_second=per_s(sum(r.requests for r in ok)),
            tokens_per_second=per_s(sum(r.tokens for r in ok)),
            characters_per_second=per_s(sum(r.characters for r in ok)),
            batches_per_second=per_s(sum(r.batches for r in ok)),
        )
        mem = MemoryMetrics()
        if ok:
            mem.peak_usage = max(r.peak_rss for r in ok)
        if self.rss_samples:
            mem.average_usage = int(round(float(np.mean(self.rss_samples))))
        allocs = [
            max(0, r.peak_rss - r.start_rss) / r.requests
            for r in ok
            if r.requests > 0 and r.peak_rss > 0
        ]
        if allocs:
            mem.per_request_allocation = int(round(float(np.mean(allocs))))
        useful = self.useful_peak
        wb = self.workload.get("weights_bytes")
        if not self._weights_gauge and isinstance(wb, int) and wb > 0:
            useful = max(useful, 0) + wb
        if useful > 0 and mem.peak_usage > 0:
            mem.efficiency = useful / mem.peak_usage
        st = self.tokens_state
        return BenchmarkResult(
            name=name,
            config=config,
            stats=stats,
            throughput=thr,
            memory=mem,
            success_rate=len(ok) / len(runs) if runs else 0.0,
            total_duration_ms=sum(r.duration_ns for r in runs) / 1e6,
            ttft=LatencyStats.of(st.ttft.stats("ttft")),
            tpot=LatencyStats.of(st.tpot.stats("tpot")),
            itl=LatencyStats.of(st.itl.stats("itl")),
            failures=[(r.index, r.reason) for r in runs if not r.ok],
            warmup_failures=list(self.warmup_failures),
            runs=runs,
            restarts=self.restarts,
            params=dict(params),
            workload=dict(self.workload),
        )


def _finite(x: float) -> float | None:
    return x if isinstance(x, float) and math.isfinite(x) else None
