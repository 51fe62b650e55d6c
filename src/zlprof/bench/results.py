"""Result types and the JSON document (schema ``zlprof.bench/1``): what a bench produces.

:class:`BenchmarkConfig` (how a bench runs), :class:`BenchmarkResult` (one sweep point)
and its parts, :func:`parse_size` (``--memory-limit``), :func:`results_document` (write)
and :func:`load_bench_json` (read, for ``--compare``).

Definitions
-----------

run duration
    Generator mode: the child's ``perf_counter_ns`` around the run's work (``requests``
    request batches). COMMAND mode: wall time from spawning the command to its exit, as
    hyperfine measures it (interpreter start-up included).
stats
    :class:`~zlprof.stats.PerformanceStats` of the durations of the successful measured
    runs (:func:`~zlprof.stats.stats_from_durations`: nearest-rank percentiles, population
    standard deviation).
throughput
    work of the successful measured runs divided by their summed durations:
    requests/s (rows served), tokens/s (generated tokens), characters/s (characters of
    generated text), batches/s (request batches; a COMMAND execution counts as one).
    In COMMAND mode tokens, characters and requests come from the program's token events
    (``zlprof.token``); a program without them counts one request per execution.
success_rate
    successful measured runs / measured runs.
total_duration_ms
    time spent in measured runs: successful ones in full, failed ones until they were
    stopped. Warm-ups, child start-up and restarts are excluded.
ttft_ms, tpot_ms, itl_ms
    time to first token, time per output token and inter-token latency of the requests
    of the successful measured runs, as :class:`~zlprof.session.SessionState` defines
    them (one definition for live, report and bench).
memory (bytes)
    RSS samples come from the parent polling the child's resident set (its whole process
    tree) with psutil every ``poll_interval_ms`` and from the child's own memory samples
    (at the start and end of every run, and every 50 ms).

    * ``peak_usage``: the largest RSS sample during a successful measured run.
    * ``average_usage``: the mean of the RSS samples taken during successful measured runs.
    * ``per_request_allocation``: the memory a request made the process commit beyond what
      was resident when its run started: mean over successful runs of
      ``max(0, peak RSS in the run - RSS at its start) / requests in the run``. 0 means
      the requests ran entirely in memory that was already resident (reused buffers).
    * ``efficiency``: useful bytes / peak RSS, where useful bytes are what the program
      itself accounts for holding: the largest sum, over one memory sample in a
      successful run, of its gauges named ``*_bytes`` (the workload reports
      ``weights_bytes`` and ``kv_cache_bytes``, so it is weights + KV cache at its peak),
      plus the config's ``weights_bytes`` when no ``weights_bytes`` gauge exists.
      ``null`` when the program reports none.

JSON (``zlprof bench --format json``), schema ``zlprof.bench/1``
---------------------------------------------------------------

::

    {
      "schema": "zlprof.bench/1",
      "zlprof": "0.1.0",
      "created": "2025-01-01T12:00:00Z",
      "host": {"platform", "python", "numpy", "cpus"},
      "command": ["python", "x.py"] | null,        # -- COMMAND, else null
      "config": {"warmup_runs", "measurement_runs", "max_time_per_run_ms",
                 "memory_limit"},                   # bytes or null
      "recording": "/path/session.zlp" | null,
      "statistics": "percentiles: nearest rank ...",
      "results": [                                  # one per sweep point (cross product)
        {
          "name": "preset=tiny batch=2",
          "params": {"preset": "tiny", "batch": 2}, # the point's WORKLOAD options
          "workload": {...},                        # the child's description (shapes ...)
          "config": {...},                          # as above
          "stats": {"count", "total_ms", "min_ms", "max_ms", "avg_ms", "median_ms",
                    "p95_ms", "p99_ms", "std_ms", ...},   # run durations, successful runs
          "throughput": {"requests_per_second", "tokens_per_second",
                         "characters_per_second", "batches_per_second"},
          "memory": {"peak_usage", "average_usage", "per_request_allocation",
                     "efficiency"},
          "success_rate": 1.0,
          "total_duration_ms": 123.4,
          "runs_ok": 3, "runs_failed": 0, "restarts": 0,
          "ttft_ms": {"count", "mean", "median", "p95", "p99", "min", "max", "std"},
          "tpot_ms": {...}, "itl_ms": {...},
          "failures": [{"run": 1, "reason": "exceeded the 200 ms time limit ..."}],
          "warmup_failures": [{"run": 0, "reason": "..."}],
          "runs": [                                 # per-run samples (--compare uses them)
            {"index", "ok", "reason", "duration_ms", "tokens", "characters",
             "requests", "batches", "tokens_per_second", "requests_per_second",
             "ttft_ms", "tpot_ms", "itl_ms",       # per-run means, null without tokens
             "peak_rss", "start_rss"}
          ],
          "comparison": {...}                       # only with --compare, see below
        }
      ]
    }

With ``--compare OLD.json`` the document gets ``"compare": {"against", "test", "alpha"}``
and every result whose ``name`` matches one in OLD (or the only result, when both files
hold one) gets
``"comparison": {"against": "OLD.json", "test": "mann-whitney-u", "alpha": 0.05,
"min_effect": 0.05, "fdr": "benjamini-hochberg", "metrics": {metric: {"old_median",
"new_median", "change", "p_value", "q_value", "prob_new_greater", "verdict", "changes"}}}``
for the per-run metrics duration_ms, tokens_per_second, requests_per_second, ttft_ms,
tpot_ms, itl_ms and peak_rss. ``change`` is new/old median - 1; ``changes`` (timing
metrics) has that of the median, p95, p99 and mean. The test is significance.py's, the
one ``zlprof diff`` uses: two-sided Mann-Whitney U on the per-run samples of the
successful runs (exact distribution without ties and up to 50 runs a side, else the
normal approximation with tie and continuity corrections), p-values adjusted over the
result's metrics (Benjamini-Hochberg, ``q_value``); the verdict is ``faster``/``slower``
(``smaller``/``larger`` for memory) when q < alpha and the median moved by at least the
minimum effect (5 %), ``not significant`` otherwise, and ``too few runs`` when even the
most extreme ordering could not reach alpha (fewer than 4 runs a side).

``--fail-on "[METRIC:]STAT>+N%"`` (with --compare; repeatable) exits 3 when a timing
metric (duration_ms, ttft_ms, tpot_ms, itl_ms, or the one named) is ``slower`` and its
STAT (p50, p95, p99, mean of the per-run values) grew by more than N %; one line per
violation on stderr, and ``"violations"`` in the JSON document.

Floats that are not finite are written as ``null``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..stats import PERCENTILE_NOTE, PerformanceStats

JSON_SCHEMA = "zlprof.bench/1"


class BenchError(Exception):
    """A bench that cannot run (one line for the user); ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class BenchmarkConfig:
    """How a benchmark runs (the seed's BenchmarkConfig).

    ``memory_limit`` is in bytes (``None`` = no limit); ``poll_interval_ms`` is how often
    the parent reads the child's RSS and checks the time limit.
    """

    warmup_runs: int = 5
    measurement_runs: int = 100
    max_time_per_run_ms: float = 10_000
    show_progress: bool = True
    memory_limit: int | None = None
    poll_interval_ms: float = 10.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "warmup_runs": self.warmup_runs,
            "measurement_runs": self.measurement_runs,
            "max_time_per_run_ms": self.max_time_per_run_ms,
            "memory_limit": self.memory_limit,
        }


@dataclass
class ThroughputMetrics:
    """Work of the successful measured runs per second of their summed durations."""

    requests_per_second: float = 0.0
    tokens_per_second: float = 0.0
    characters_per_second: float = 0.0
    batches_per_second: float = 0.0


@dataclass
class MemoryMetrics:
    """Bytes; see this module's docstring for the exact definitions.

    ``efficiency`` = useful bytes / peak RSS: useful bytes are the largest sum of the
    program's ``*_bytes`` gauges in one sample (weights + KV cache at its peak for the
    workload); ``None`` when the program reports no such gauge.
    """

    peak_usage: int = 0
    average_usage: int = 0
    per_request_allocation: int = 0
    efficiency: float | None = None


@dataclass
class LatencyStats:
    """Milliseconds: count, mean, median, p95, p99 (plus min, max, std)."""

    count: int = 0
    mean: float = math.nan
    median: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    min: float = math.nan
    max: float = math.nan
    std: float = math.nan

    @classmethod
    def of(cls, st: PerformanceStats) -> LatencyStats:
        return cls(
            count=st.count,
            mean=st.avg_ms,
            median=st.median_ms,
            p95=st.p95_ms,
            p99=st.p99_ms,
            min=st.min_ms,
            max=st.max_ms,
            std=st.std_ms,
        )


@dataclass
class RunSample:
    """One measured (or warm-up) run."""

    index: int
    phase: str = "measure"
    ok: bool = True
    reason: str = ""
    duration_ns: int = 0
    tokens: int = 0
    characters: int = 0
    requests: int = 0
    batches: int = 0
    peak_rss: int = 0
    start_rss: int = 0
    ttft_ms: float | None = None
    tpot_ms: float | None = None
    itl_ms: float | None = None

    @property
    def duration_ms(self) -> float:
        return self.duration_ns / 1e6

    def rate(self, amount: int) -> float | None:
        return amount / (self.duration_ns / 1e9) if self.duration_ns > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ok": self.ok,
            "reason": self.reason or None,
            "duration_ms": self.duration_ms,
            "tokens": self.tokens,
            "characters": self.characters,
            "requests": self.requests,
            "batches": self.batches,
            "tokens_per_second": self.rate(self.tokens),
            "requests_per_second": self.rate(self.requests),
            "ttft_ms": self.ttft_ms,
            "tpot_ms": self.tpot_ms,
            "itl_ms": self.itl_ms,
            "peak_rss": self.peak_rss,
            "start_rss": self.start_rss,
        }


@dataclass
class BenchmarkResult:
    """The outcome of one benchmark (one sweep point)."""

    name: str
    config: BenchmarkConfig
    stats: PerformanceStats
    throughput: ThroughputMetrics
    memory: MemoryMetrics
    success_rate: float
    total_duration_ms: float
    ttft: LatencyStats = field(default_factory=LatencyStats)
    tpot: LatencyStats = field(default_factory=LatencyStats)
    itl: LatencyStats = field(default_factory=LatencyStats)
    failures: list[tuple[int, str]] = field(default_factory=list)
    warmup_failures: list[tuple[int, str]] = field(default_factory=list)
    runs: list[RunSample] = field(default_factory=list)
    restarts: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    workload: dict[str, Any] = field(default_factory=dict)
    comparison: dict[str, Any] | None = None

    @property
    def runs_ok(self) -> int:
        return sum(1 for r in self.runs if r.ok)

    @property
    def runs_failed(self) -> int:
        return sum(1 for r in self.runs if not r.ok)

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "params": dict(self.params),
            "workload": dict(self.workload),
            "config": self.config.as_dict(),
            "stats": self.stats.as_dict(),
            "throughput": asdict(self.throughput),
            "memory": asdict(self.memory),
            "success_rate": self.success_rate,
            "total_duration_ms": self.total_duration_ms,
            "runs_ok": self.runs_ok,
            "runs_failed": self.runs_failed,
            "restarts": self.restarts,
            "ttft_ms": asdict(self.ttft),
            "tpot_ms": asdict(self.tpot),
            "itl_ms": asdict(self.itl),
            "failures": [{"run": i, "reason": r} for i, r in self.failures],
            "warmup_failures": [{"run": i, "reason": r} for i, r in self.warmup_failures],
            "runs": [r.as_dict() for r in self.runs],
        }
        if self.comparison is not None:
            d["comparison"] = self.comparison
        return _clean(d)


def _clean(v: Any) -> Any:
    """JSON-safe: non-finite floats -> None, NumPy scalars -> Python."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


# --------------------------------------------------------------------------- sizes


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``512M``, ``2G``, ``1.5GiB``, ``1048576``: K/M/G/T are powers of 1024
    (``KB``, ``KiB`` alike). Raises :class:`BenchError` with a one-line message."""
    m = _SIZE_RE.match(str(text))
    if not m or (m.group(3) and m.group(3).lower() == "ib" and not m.group(2)):
        raise BenchError(
            f"--memory-limit: cannot read {text!r} as a size (e.g. 512M, 2G, 1.5GiB, 1048576)"
        )
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]
    if value < 1:
        raise BenchError(f"--memory-limit must be positive, got {text!r}")
    return int(value)


def load_bench_json(path: str) -> dict[str, Any]:
    """An earlier ``zlprof bench --format json`` file; BenchError (one line) otherwise."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"--compare: {p}: no such file") from None
    except IsADirectoryError:
        raise BenchError(f"--compare: {p} is a directory") from None
    except UnicodeDecodeError:
        hint = " (a recording? compare those with zlprof diff)" if p.suffix == ".zlp" else ""
        raise BenchError(f"--compare: {p} is not a zlprof bench JSON file (not text){hint}") from None
    except OSError as e:
        raise BenchError(f"--compare: cannot read {p}: {e.strerror or e}") from None
    try:
        doc = json.loads(text)
    except ValueError:
        raise BenchError(f"--compare: {p} is not a zlprof bench JSON file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("schema") != JSON_SCHEMA:
        raise BenchError(
            f"--compare: {p} is not a zlprof bench JSON file (no \"schema\": \"{JSON_SCHEMA}\")"
        )
    if not isinstance(doc.get("results"), list) or not all(
        isinstance(r, dict) and isinstance(r.get("name"), str) for r in doc["results"]
    ):
        raise BenchError(f"--compare: {p} has no valid \"results\" list")
    return doc


# --------------------------------------------------------------------------- output


def results_document(
    results: Sequence[BenchmarkResult],
    config: BenchmarkConfig,
    command: Sequence[str] | None = None,
    recording: Path | None = None,
) -> dict[str, Any]:
    """The JSON document (schema ``zlprof.bench/1``) of a bench."""
    from .. import __version__

    return _clean({
        "schema": JSON_SCHEMA,
        "zlprof": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "cpus": os.cpu_count(),
        },
        "command": list(command) if command else None,
        "config": config.as_dict(),
        "recording": str(recording) if recording is not None else None,
        "statistics": PERCENTILE_NOTE,
        "results": [r.as_dict() for r in results],
    })
