"""SessionState: folds protocol frames into everything a view needs. Knows no screen.

Live and replay feed the same frames into the same SessionState; views read it (under
``lock`` when another thread ingests) and never compute statistics themselves.

SessionState is assembled from parts: base.py (its fields and copies), paths.py (path
ids, measurements), fold.py (other frames), views.py (what views read); this module adds
reset, throughput and the summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import rates
from ..stats import OpAccumulator
from .fold import _Folding
from .views import _Views


@dataclass
class SessionState(_Folding, _Views):
    """Everything known about one profiled session."""

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget statistics (ops, latencies, costs); keep names, config, memory series."""
        with self.lock:
            self.ops.clear()
            self.costs.clear()
            self.thread_ops.clear()
            self.proc_costs.clear()
            self._single_key = None
            for p in self.processes.values():
                p.measurements = 0
            self.ttft = OpAccumulator(exact_limit=self.exact_limit)
            self.tpot = OpAccumulator(exact_limit=self.exact_limit)
            self.itl = OpAccumulator(exact_limit=self.exact_limit)
            self.tokens_total = 0
            self.tokens_decode = 0
            self.token_times.clear()
            self.decode_spans = rates.SpanUnion()
            self.request_spans = rates.SpanUnion()
            self.measurements = 0
            self.reset_ns = self.last_ns
            self.version += 1
            self.ops_version += 1

    # throughput ---------------------------------------------------------------------

    def tokens_per_s(self, window_s: float | None = 10.0) -> float:
        """Output tokens per second (0.0 without a span): the recent rate over the last
        ``window_s`` seconds, or with None the end-to-end rate (:mod:`zlprof.rates`)."""
        if window_s is None:
            r = rates.end_to_end_rate(self)
        else:
            r = rates.recent_rate(self, window_s)
        return r.value or 0.0

    def measurements_per_s(self) -> float:
        span = self.wall_ns
        return self.measurements / (span / 1e9) if span > 0 else 0.0

    def memory_series(self) -> dict[str, np.ndarray]:
        with self.lock:
            return {name: self.memory.get(name).copy() for name in self.memory.names}

    def peak_rss(self) -> int:
        rss = self.memory.get("rss")
        return int(rss.max()) if len(rss) else 0

    def summary(self) -> dict[str, Any]:
        """Session facts for headers and report front matter."""
        with self.lock:
            ttft = self.ttft.stats("ttft")
            tpot = self.tpot.stats("tpot")
            itl = self.itl.stats("itl")
            return {
                "pid": self.info.get("pid"),
                "argv": self.info.get("argv", []),
                "python": self.info.get("python"),
                "numpy": self.info.get("numpy"),
                "wall_time": self.info.get("wall_time"),
                "config": dict(self.config),
                "elapsed_s": self.elapsed_ns / 1e9,
                "measurements": self.measurements,
                "tokens": self.tokens_total,
                "tokens_decode": self.tokens_decode,
                #: end-to-end: output tokens / wall time (kept under its old name)
                "tokens_per_s": self.tokens_per_s(None),
                **{r.key: r.value for r in rates.session_rates(self)},
                "ttft_ms": ttft.median_ms if ttft.count else None,
                "tpot_ms": tpot.median_ms if tpot.count else None,
                "itl_ms": itl.median_ms if itl.count else None,
                "peak_rss_bytes": self.peak_rss(),
                "end_status": self.end_status,
                "end_reason": self.end_reason,
                "warnings": list(self.warnings),
            }
