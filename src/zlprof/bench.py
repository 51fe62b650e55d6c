"""Benchmarks: warm-ups, measured runs, enforced limits, sweeps, LLM latency metrics.

``BenchmarkRunner(config).benchmark_generation(...)`` runs a generator (the built-in
workload by default) in a **child process** (:mod:`zlprof.bench_child`), so the parent can
enforce the limits: a run that passes ``max_time_per_run_ms`` or whose resident set passes
``memory_limit`` is stopped (the child is killed), counted as failed with its reason, and
the child is restarted for the remaining runs (it warms up again; those warm-ups are not
counted). With ``command=[...]`` every run is one execution of the command instead, under
the same limits. Warm-up time never enters a statistic or a throughput.

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

import argparse
import itertools
import json
import math
import os
import platform
import queue
import re
import select
import shlex
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import protocol
from . import significance as sig
from .protocol import Frame
from .session import SessionState
from .stats import PERCENTILE_NOTE, PerformanceStats, nearest_rank, stats_from_durations

JSON_SCHEMA = "zlprof.bench/1"
LOG_LEVEL = "bench"  # the level of the child's run announcements (bench_child.LOG_LEVEL)
#: A child that has not started its first run after this long is stopped.
SETUP_TIMEOUT_S = 120.0
#: A child stopped for a time limit gets this long between SIGTERM and SIGKILL.
TIMEOUT_GRACE_S = 0.5
#: Children that end without finishing or failing a measured run, in a row, before the
#: remaining runs of a point are given up.
MAX_STALLS = 2
ALPHA = sig.ALPHA
#: --compare calls a metric faster/slower only if its median also moved this much (the
#: minimum effect of ``zlprof diff``)
MIN_CHANGE = sig.MIN_EFFECT
#: A run is stopped this long after its time limit (the limit itself decides failure:
#: a run whose measured duration passes it fails even if it finished).
KILL_SLACK_NS = 2_000_000

_now = time.perf_counter_ns


class BenchError(Exception):
    """A bench that cannot run (one line for the user); ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- results


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
    """Bytes; see the module docstring for the exact definitions.

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


# --------------------------------------------------------------------------- recording


class _PathMap:
    """Per-child translation of path and request ids into the recording's ids."""

    def __init__(self, req_offset: int) -> None:
        self.paths: dict[int, int] = {0: 0}
        self.req_offset = req_offset


class _Recorder:
    """One ``.zlp`` for a whole bench: frames of every child, ids made consistent.

    Children each number their call paths from 1 and their requests from 0; the recorder
    maps each child's paths to one global path table (by parent and name) and shifts
    each child's request ids past every id used before, so ``zlprof report``/``replay``
    read the bench as one session. Child ``hello``/``end`` frames become log lines; the
    recording's own hello and end describe the bench.
    """

    def __init__(self, path: Path | None, argv: list[str], config: dict[str, Any]) -> None:
        from .recording import RecordingWriter

        self.lock = threading.Lock()
        self._global: dict[tuple[int, str], int] = {}
        self._next_path = 1
        self._next_req = 0
        self.writer = RecordingWriter(path) if path is not None else None
        self.path = path
        #: frames recorded from children (a bench that never started one leaves no file)
        self.child_frames = 0
        self._write(
            protocol.encode_hello(
                pid=os.getpid(),
                argv=argv,
                start_ns=_now(),
                wall_time=time.time(),
                python=sys.version.split()[0],
                numpy_version=np.__version__,
                platform=sys.platform,
                config={"bench": config},
            )
        )

    def _write(self, data: bytes) -> None:
        if self.writer is not None and data:
            try:
                self.writer.write_raw(data)
            except OSError:
                self.writer.close()
                self.writer = None

    def new_child(self) -> _PathMap:
        with self.lock:
            return _PathMap(self._next_req)

    def log(self, msg: str, level: str = LOG_LEVEL) -> None:
        with self.lock:
            self._write(protocol.encode_log(_now(), level, msg))

    def close(self, status: int, reason: str) -> None:
        with self.lock:
            self._write(protocol.encode_end(status, reason))
            if self.writer is not None:
                self.writer.close()
                self.writer = None
                if self.child_frames == 0 and self.path is not None:
                    try:
                        self.path.unlink()
                    except OSError:
                        pass

    def translate(self, pm: _PathMap, frames: list[Frame]) -> list[Frame]:
        """Map ``frames`` of one child into global ids, record them, return them."""
        out: list[Frame] = []
        chunks: list[bytes] = []
        with self.lock:
            self.child_frames += len(frames)
            for fr in frames:
                k, b = fr.kind, fr.body
                if k == "names":
                    new: list[tuple[int, int, str]] = []
                    for pid, parent, name in b["paths"]:
                        gid = self._intern(pm, pm.paths.get(parent, 0), name, new)
                        pm.paths[pid] = gid
                    if new:
                        chunks.append(protocol.encode_names(new))
                        out.append(Frame("names", {"paths": [list(p) for p in new]}))
                elif k == "meas":
                    path = self._map_paths(pm, np.asarray(b["path"]), chunks, out)
                    m0, m1 = b.get("m0"), b.get("m1")
                    chunks.append(
                        protocol.encode_measurements(b["tid"], path, b["t0"], b["t1"], m0, m1)
                    )
                    body = dict(b)
                    body["path"] = path
                    out.append(Frame("meas", body))
                elif k == "costs":
                    rows = []
                    for pid, calls, flops, nbytes in b["rows"]:
                        gid = self._map_paths(pm, np.asarray([pid]), chunks, out)[0]
                        rows.append([int(gid), calls, flops, nbytes])
                    chunks.append(protocol.encode_costs([tuple(r) for r in rows]))
                    out.append(Frame("costs", {"rows": rows}))
                elif k == "tokens":
                    rows = []
                    for t, req, index, phase, piece in b["rows"]:
                        g = int(req) + pm.req_offset
                        if g >= self._next_req:
                            self._next_req = g + 1
                        rows.append([t, g, index, phase, piece])
                    chunks.append(protocol.encode_tokens([tuple(r) for r in rows]))
                    out.append(Frame("tokens", {"rows": rows}))
                elif k == "mem":
                    chunks.append(
                        protocol.encode_memory(b["t"], b["rss"], b["traced"], b["gauges"])
                    )
                    out.append(fr)
                elif k == "hello":
                    argv = " ".join(str(a) for a in b.get("argv") or [])
                    msg = f"child {b.get('pid')} started: {argv}"
                    chunks.append(protocol.encode_log(int(b["start_ns"]), "info", msg))
                    out.append(fr)
                elif k == "end":
                    msg = f"child ended: {b.get('reason') or b.get('status')}"
                    chunks.append(protocol.encode_log(_now(), "info", msg))
                    out.append(fr)
                else:  # log, meta
                    chunks.append(protocol.encode_frame(k, b))
                    out.append(fr)
            self._write(b"".join(chunks))
        return out

    def _intern(
        self, pm: _PathMap, gparent: int, name: str, new: list[tuple[int, int, str]]
    ) -> int:
        key = (gparent, name)
        gid = self._global.get(key)
        if gid is None:
            gid = self._global[key] = self._next_path
            self._next_path += 1
            new.append((gid, gparent, name))
        return gid

    def _map_paths(
        self, pm: _PathMap, path: np.ndarray, chunks: list[bytes], out: list[Frame]
    ) -> np.ndarray:
        uniq, inv = np.unique(path, return_inverse=True)
        mapped = np.empty(len(uniq), np.int32)
        new: list[tuple[int, int, str]] = []
        for i, pid in enumerate(uniq.tolist()):
            gid = pm.paths.get(pid)
            if gid is None:  # a path the child never named: keep it visible
                gid = pm.paths[pid] = self._intern(pm, 0, f"#{pid}", new)
            mapped[i] = gid
        if new:
            chunks.append(protocol.encode_names(new))
            out.append(Frame("names", {"paths": [list(p) for p in new]}))
        return mapped[inv.reshape(-1)]


class _TapState(SessionState):
    """A child's SessionState that also hands every frame to the runner."""

    def __init__(self, sink: Callable[[list[Frame]], None]) -> None:
        super().__init__()
        self._sink = sink

    def ingest_many(self, frames: list[Frame]) -> None:
        if frames:
            self._sink(frames)
        super().ingest_many(frames)


# --------------------------------------------------------------------------- child


class _RssProbe:
    """RSS of a process and (optionally) its descendants, via psutil."""

    def __init__(self, pid: int, tree: bool) -> None:
        import psutil

        self._psutil = psutil
        try:
            self.proc: Any = psutil.Process(pid)
        except psutil.Error:
            self.proc = None
        self.tree = tree
        self._kids: list[Any] = []
        self._kids_at = 0.0

    def read(self) -> int:
        if self.proc is None:
            return -1
        ps = self._psutil
        try:
            total = int(self.proc.memory_info().rss)
        except ps.Error:
            return -1
        if self.tree:
            now = time.monotonic()
            if now - self._kids_at > 0.1:
                self._kids_at = now
                try:
                    self._kids = self.proc.children(recursive=True)
                except ps.Error:
                    self._kids = []
            for k in self._kids:
                try:
                    total += int(k.memory_info().rss)
                except ps.Error:
                    pass
        return total


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


class _Child:
    """One child process and the plumbing the runner watches it through."""

    def __init__(self, runner: BenchmarkRunner, argv: list[str], tree: bool) -> None:
        from .sources import LiveSource, SourceError

        self.gen = runner._next_gen()
        self.q = runner._q
        self.pm = runner._rec.new_child()
        rec = runner._rec
        wake_w = runner._wake_w

        def sink(frames: list[Frame]) -> None:
            out = rec.translate(self.pm, frames)
            self.q.put((self.gen, out))
            try:
                os.write(wake_w, b"x")
            except OSError:  # the wake pipe is full: the runner is awake anyway
                pass

        self.src = LiveSource(argv, None, state=_TapState(sink), env=runner._env)
        self.t_spawn = _now()
        try:
            self.src.start()
        except SourceError as e:
            raise BenchError(str(e), 1) from None
        proc = self.src.proc
        assert proc is not None
        self.pid = proc.pid
        self.probe = _RssProbe(self.pid, tree)
        self.pidfd: int | None = None
        try:
            self.pidfd = os.pidfd_open(self.pid)  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            self.pidfd = None

    def exited(self) -> bool:
        proc = self.src.proc
        return proc is not None and proc.poll() is not None

    def stop(self, grace_s: float) -> None:
        self.src.stop(grace_s=grace_s)
        self.close()

    def finish(self) -> None:
        self.src.wait(10)
        self.src.stop(grace_s=0.1)  # joins the reader threads; the child has exited
        self.close()

    def close(self) -> None:
        if self.pidfd is not None:
            try:
                os.close(self.pidfd)
            except OSError:
                pass
            self.pidfd = None

    def stderr_line(self) -> str:
        for line in reversed(self.src.stderr_tail):
            if line.strip():
                return line.strip()[:300]
        return ""


# --------------------------------------------------------------------------- runner


ProgressFn = Callable[..., None]


class BenchmarkRunner:
    """Runs benchmarks under a :class:`BenchmarkConfig`; see the module docstring.

    ``record``: a ``.zlp`` path that every benchmark of this runner is recorded to (one
    session; ``close()`` finishes it), or None. ``progress(event, **info)`` is called
    with ``"point"`` (name, runs, warmups), ``"run"`` (phase, index, ok) and
    ``"restart"`` (warmups) events.
    """

    def __init__(
        self,
        config: BenchmarkConfig | None = None,
        *,
        record: str | os.PathLike[str] | None = None,
        progress: ProgressFn | None = None,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.config = config or BenchmarkConfig()
        c = self.config
        if c.warmup_runs < 0:
            raise BenchError("--warmup must be 0 or more")
        if c.measurement_runs < 1:
            raise BenchError("--runs must be at least 1")
        if not c.max_time_per_run_ms > 0:
            raise BenchError("--timeout-ms must be positive")
        if c.memory_limit is not None and c.memory_limit <= 0:
            raise BenchError("--memory-limit must be positive")
        self.progress = progress
        self.record_path = Path(record) if record is not None else None
        self._argv = argv or ["zlprof", "bench"]
        self._env = dict(os.environ if env is None else env)
        self._rec_obj: _Recorder | None = None
        self._gen = 0
        self._q: queue.Queue[tuple[int, list[Frame]]] = queue.Queue()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._current: _Child | None = None
        self.results: list[BenchmarkResult] = []

    # lifecycle ----------------------------------------------------------------------

    @property
    def _rec(self) -> _Recorder:
        if self._rec_obj is None:
            self._rec_obj = _Recorder(self.record_path, self._argv, self.config.as_dict())
        return self._rec_obj

    def __enter__(self) -> BenchmarkRunner:
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        self.close(interrupted=et is not None)

    def close(self, interrupted: bool = False) -> None:
        """Stop a child still running, finish the recording, release the wake pipe."""
        if self._current is not None:
            self._current.stop(0.0)
            self._current = None
        if self._rec_obj is not None:
            ok = sum(r.runs_ok for r in self.results)
            n = sum(len(r.runs) for r in self.results)
            reason = "bench interrupted" if interrupted else "bench finished"
            self._rec_obj.close(130 if interrupted else 0, f"{reason}: {ok}/{n} runs ok")
            self._rec_obj = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._wake_r = self._wake_w = -1

    def _next_gen(self) -> int:
        self._gen += 1
        return self._gen

    def _emit(self, event: str, **info: Any) -> None:
        if self.progress is not None:
            try:
                self.progress(event, **info)
            except Exception:  # a broken progress display must not break the bench
                pass

    # the API --------------------------------------------------------------------------

    def benchmark_generation(
        self,
        workload_args: Sequence[str] = (),
        *,
        command: Sequence[str] | None = None,
        generator: str | None = None,
        name: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> BenchmarkResult:
        """Benchmark one configuration.

        ``workload_args``: WORKLOAD options for the generator (the built-in workload by
        default, e.g. ``["--preset=tiny", "--batch=2"]``). ``generator``:
        ``"MODULE:FUNCTION"`` of another generator (see :mod:`zlprof.bench_child`).
        ``command``: run this program once per run instead (COMMAND mode).
        """
        if command:
            label = name or command_name(command)
        else:
            label = name or (" ".join(workload_args) or "workload")
        c = self.config
        self._emit("point", name=label, runs=c.measurement_runs, warmups=c.warmup_runs)
        self._rec.log(json.dumps({"event": "point_start", "name": label,
                                  "params": _clean(params or {})}))
        acc = _PointAcc()
        if command:
            self._command_point(list(command), acc)
        else:
            self._generator_point(list(workload_args), generator, acc)
        res = acc.result(label, c, params or {})
        self.results.append(res)
        self._rec.log(json.dumps({"event": "point_end", "name": label,
                                  "success_rate": res.success_rate,
                                  "tokens_per_second": _clean(res.throughput.tokens_per_second)}))
        return res

    # generator mode -------------------------------------------------------------------

    def _generator_point(self, wargs: list[str], generator: str | None, acc: _PointAcc) -> None:
        c = self.config
        n = c.measurement_runs
        stalls = 0
        while acc.next_index() < n:
            first = acc.next_index()
            argv = [sys.executable, "-m", "zlprof.bench_child", f"--warmup={c.warmup_runs}",
                    f"--runs={n - first}", f"--first-index={first}"]
            if generator:
                argv.append(f"--generator={generator}")
            argv += ["--", *wargs]
            if acc.children:
                acc.restarts += 1
                self._emit("restart", warmups=c.warmup_runs)
                self._rec.log(f"restarting the child for runs {first}..{n - 1}", "warning")
            acc.children += 1
            child = self._start(argv, tree=False)
            outcome = self._watch(child, acc)
            if outcome.finished:
                continue
            if outcome.setup_error is not None:
                raise BenchError(outcome.setup_error, outcome.code)
            stalls = 0 if acc.next_index() > first else stalls + 1
            if stalls >= MAX_STALLS:
                reason = (f"not run: the child failed {stalls} times in a row before "
                          f"finishing a measured run ({outcome.reason})")
                for i in range(acc.next_index(), n):
                    acc.add_run(RunSample(i, ok=False, reason=reason))
                    self._emit("run", phase="measure", index=i, ok=False)

    def _start(self, argv: list[str], tree: bool) -> _Child:
        child = _Child(self, argv, tree)
        self._current = child
        return child

    def _wait(self, child: _Child, timeout_s: float) -> None:
        """Sleep until a frame arrives, the child exits, or ``timeout_s`` passes."""
        fds = [self._wake_r]
        if child.pidfd is not None:
            fds.append(child.pidfd)
        try:
            ready, _, _ = select.select(fds, [], [], max(0.0, timeout_s))
        except InterruptedError:
            return
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except (BlockingIOError, OSError):
                pass

    def _watch(
        self, child: _Child, acc: _PointAcc, command_run: tuple[str, int] | None = None
    ) -> _Outcome:
        """Follow one child until it exits or is stopped; fold what it reports.

        Generator mode: runs begin and end with the child's announcements. COMMAND mode
        (``command_run`` = (phase, index)): the run is the whole execution.
        """
        c = self.config
        command_mode = command_run is not None
        poll_s = c.poll_interval_ms / 1000.0
        if child.pidfd is None and command_mode:
            poll_s = min(poll_s, 0.002)  # the exit time is the run's end
        limit_ns = int(c.max_time_per_run_ms * 1e6)
        run: _Run | None = None
        if command_run is not None:
            run = _Run(command_run[0], command_run[1], child.t_spawn, child.t_spawn + limit_ns)
        next_poll = 0
        setup_deadline = child.t_spawn + int(SETUP_TIMEOUT_S * 1e9)
        out = _Outcome()
        while True:
            deadline = run.deadline + KILL_SLACK_NS if run is not None else setup_deadline
            self._wait(child, (min(next_poll, deadline) - _now()) / 1e9)
            exited = child.exited()
            t_exit = _now()
            if exited:
                child.finish()
                self._current = None
            run = self._drain(child, acc, run, out, events=not command_mode)
            if exited:
                return self._ended(child, acc, run, out, t_exit, command_mode)
            now = _now()
            if now >= next_poll:
                rss = child.probe.read()
                if rss >= 0:
                    if run is not None:
                        run.rss.append((now, rss))
                    if c.memory_limit is not None and rss > c.memory_limit:
                        reason = (f"exceeded the memory limit: RSS {_mib(rss)} > "
                                  f"{_mib(c.memory_limit)}")
                        return self._stop(child, acc, run, out, reason, now, 0.0)
                next_poll = now + int(poll_s * 1e9)
            if run is not None and now >= run.deadline + KILL_SLACK_NS:
                reason = (f"exceeded the {c.max_time_per_run_ms:g} ms time limit "
                          f"(stopped at {(now - run.t_start) / 1e6:.0f} ms)")
                return self._stop(child, acc, run, out, reason, now, TIMEOUT_GRACE_S)
            if run is None and now >= setup_deadline:
                reason = f"the child started no run within {SETUP_TIMEOUT_S:.0f} s"
                if not acc.ever_started:
                    out.setup_error = reason
                return self._stop(child, acc, run, out, reason, now, TIMEOUT_GRACE_S)

    def _stop(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        reason: str,
        t_stop: int,
        grace_s: float,
    ) -> _Outcome:
        """Stop the child for a limit; the run in progress (if any) fails with ``reason``."""
        child.stop(grace_s)
        self._current = None
        # its last frames: memory samples count, announcements no longer do
        self._drain(child, acc, run, out, events=False)
        if run is not None:
            self._fail(acc, run, reason, t_stop)
        out.reason = reason
        return out

    def _ended(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        t_exit: int,
        command_mode: bool,
    ) -> _Outcome:
        """The child exited on its own."""
        from .sources import describe_exit

        code = child.src.exit_code
        if command_mode:
            out.exit_code = code
            out.t_exit = t_exit
            out.run = run
            out.finished = True
            return out
        if out.completed_all:
            out.finished = True
            return out
        tail = child.stderr_line()
        if code == 0:
            reason = "the child exited before finishing its runs"
        else:
            reason = f"the child {describe_exit(code if code is not None else -9)[1]}"
        if tail:
            reason += f": {tail}"
        if run is not None:
            self._fail(acc, run, reason, t_exit)
        elif not acc.ever_started:
            out.setup_error = tail or reason
            out.code = 2 if code == 2 else 1
        out.reason = reason
        return out

    def _check_peak(self, sample: RunSample) -> None:
        """A run that finished although a memory sample passed the limit (a spike the
        parent's polls missed, seen in the child's own samples) fails too."""
        lim = self.config.memory_limit
        if sample.ok and lim is not None and sample.peak_rss > lim:
            sample.ok = False
            sample.reason = (f"exceeded the memory limit: peak RSS {_mib(sample.peak_rss)} > "
                             f"{_mib(lim)} (between two polls; not stopped)")

    def _fail(self, acc: _PointAcc, run: _Run, reason: str, t_stop: int) -> None:
        dur = max(0, t_stop - run.t_start)
        if run.phase == "warmup":
            acc.warmup_failures.append((run.index, reason))
            self._emit("run", phase="warmup", index=run.index, ok=False)
            return
        sample = RunSample(run.index, ok=False, reason=reason, duration_ns=dur)
        _memory_of(sample, run)
        acc.add_run(sample, run)
        self._emit("run", phase="measure", index=run.index, ok=False)

    def _drain(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        out: _Outcome,
        events: bool = True,
    ) -> _Run | None:
        """Fold the queued frames of ``child``; returns the run in progress."""
        limit_ns = int(self.config.max_time_per_run_ms * 1e6)
        while True:
            try:
                gen, frames = self._q.get_nowait()
            except queue.Empty:
                return run
            if gen != child.gen:
                continue  # a stopped child's last frames (already recorded)
            for fr in frames:
                k, b = fr.kind, fr.body
                if k == "log" and b.get("level") == LOG_LEVEL:
                    if not events:
                        continue
                    try:
                        ev = json.loads(b["msg"])
                    except (ValueError, TypeError):
                        continue
                    if not isinstance(ev, dict):
                        continue
                    run = self._event(child, acc, run, ev, limit_ns, out)
                elif k == "tokens":
                    if run is not None:
                        run.rows.extend(b["rows"])
                elif k == "mem":
                    acc.see_memory(b, run)
                elif k == "meta":
                    acc.workload.update(
                        {kk: vv for kk, vv in b["config"].items() if kk != "bench"}
                    )

    def _event(
        self,
        child: _Child,
        acc: _PointAcc,
        run: _Run | None,
        ev: dict[str, Any],
        limit_ns: int,
        out: _Outcome,
    ) -> _Run | None:
        kind = ev.get("event")
        if kind == "run_start":
            t = int(ev.get("t", _now()))
            acc.ever_started = True
            acc.started_children.add(child.gen)
            return _Run(str(ev.get("phase", "measure")), int(ev.get("index", 0)), t, t + limit_ns)
        if kind == "run_end" and run is not None:
            dur = int(ev.get("duration_ns", 0))
            sample = RunSample(
                run.index,
                phase=run.phase,
                duration_ns=dur,
                tokens=int(ev.get("tokens", 0)),
                characters=int(ev.get("characters", 0)),
                requests=int(ev.get("requests", 0)),
                batches=int(ev.get("batches", 0)),
            )
            if dur > limit_ns:  # finished before the parent could stop it
                sample.ok = False
                sample.reason = (f"exceeded the {self.config.max_time_per_run_ms:g} ms time "
                                 f"limit (took {dur / 1e6:.0f} ms)")
            _memory_of(sample, run)
            self._check_peak(sample)
            if run.phase == "warmup":
                if not sample.ok:
                    acc.warmup_failures.append((run.index, sample.reason))
                self._emit("run", phase="warmup", index=run.index, ok=sample.ok)
            else:
                acc.add_run(sample, run)
                self._emit("run", phase="measure", index=run.index, ok=sample.ok)
                if acc.next_index() >= self.config.measurement_runs:
                    out.completed_all = True
            return None
        return run

    # COMMAND mode ---------------------------------------------------------------------

    def _command_point(self, command: list[str], acc: _PointAcc) -> None:
        from .sources import describe_exit

        c = self.config
        plan = [("warmup", i) for i in range(c.warmup_runs)]
        plan += [("measure", i) for i in range(c.measurement_runs)]
        for phase, index in plan:
            acc.children += 1
            child = self._start(command, tree=True)
            out = self._watch(child, acc, (phase, index))
            run = out.run
            if run is None:  # stopped for a limit: _stop counted it
                continue
            toks = [r for r in run.rows if r[3] not in ("start", "end")]
            reqs = {r[1] for r in run.rows}
            sample = RunSample(
                index,
                phase=phase,
                duration_ns=max(0, out.t_exit - run.t_start),
                tokens=len(toks),
                characters=sum(len(r[4]) for r in toks),
                requests=len(reqs) if reqs else 1,
                batches=1,
            )
            code = out.exit_code
            if code != 0:
                why = describe_exit(code if code is not None else -9)[1]
                tail = child.stderr_line()
                sample.ok = False
                sample.reason = f"the command {why}" + (f": {tail}" if tail else "")
            _memory_of(sample, run)
            self._check_peak(sample)
            if phase == "warmup":
                if not sample.ok:
                    acc.warmup_failures.append((index, sample.reason))
            else:
                acc.add_run(sample, run)
            self._emit("run", phase=phase, index=index, ok=sample.ok)


@dataclass
class _Outcome:
    finished: bool = False
    completed_all: bool = False
    reason: str = ""
    setup_error: str | None = None
    code: int = 1
    exit_code: int | None = None
    t_exit: int = 0
    run: _Run | None = None


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


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
        self.started_children: set[int] = set()
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


# --------------------------------------------------------------------------- compare


#: per-run metrics --compare tests: (key in a run entry, lower is better, unit word pair)
COMPARE_METRICS: tuple[tuple[str, bool, tuple[str, str]], ...] = (
    ("duration_ms", True, ("faster", "slower")),
    ("tokens_per_second", False, ("faster", "slower")),
    ("requests_per_second", False, ("faster", "slower")),
    ("ttft_ms", True, ("faster", "slower")),
    ("tpot_ms", True, ("faster", "slower")),
    ("itl_ms", True, ("faster", "slower")),
    ("peak_rss", True, ("smaller", "larger")),
)


def _samples(result: dict[str, Any], key: str) -> list[float]:
    out = []
    for r in result.get("runs") or []:
        if not isinstance(r, dict) or not r.get("ok"):
            continue
        v = r.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            if key == "peak_rss" and v <= 0:
                continue
            out.append(float(v))
    return out


#: the per-run timing metrics a --fail-on rule applies to (any, or the one it names)
TIME_METRICS = ("duration_ms", "ttft_ms", "tpot_ms", "itl_ms")
_QUANTILES = {"median": 50, "p95": 95, "p99": 99}


def _stat(values: list[float], stat: str) -> float:
    """A statistic of per-run samples: nearest-rank percentile (stats.py), or the mean."""
    if stat == "mean":
        return float(np.mean(values))
    return nearest_rank(np.sort(np.asarray(values, np.float64)), _QUANTILES[stat])


def compare_results(
    new: dict[str, Any], old: dict[str, Any], against: str, alpha: float = ALPHA,
    min_effect: float = MIN_CHANGE,
) -> dict[str, Any]:
    """The ``comparison`` object of one result against its match in an older file.

    The test, the false-discovery control (Benjamini-Hochberg over this result's metrics)
    and the verdict are significance.py's, as for ``zlprof diff``.
    """
    tested: list[tuple[str, bool, tuple[str, str], list[float], list[float], Any]] = []
    for key, lower_better, words in COMPARE_METRICS:
        a, b = _samples(old, key), _samples(new, key)
        if not a or not b:
            continue
        tested.append((key, lower_better, words, a, b, sig.mann_whitney_u(a, b)))
    enough = [t for t in tested if sig.min_p_value(len(t[3]), len(t[4])) < alpha]
    qs = dict(zip((t[0] for t in enough),
                  sig.benjamini_hochberg([t[5].p_value for t in enough]), strict=True))
    metrics: dict[str, Any] = {}
    for key, lower_better, (better, worse), a, b, test in tested:
        om, nm = _stat(a, "median"), _stat(b, "median")
        change = sig.relative_change(om, nm)
        if key not in qs:
            verdict = "too few runs"
        else:
            v = sig.decide(qs[key], change, alpha=alpha, min_effect=min_effect,
                           lower_is_better=lower_better)
            verdict = str(v) if not v.significant else (
                worse if v == sig.Verdict.SLOWER else better)
        entry: dict[str, Any] = {
            "old_median": om,
            "new_median": nm,
            "change": change,
            "p_value": test.p_value,
            "q_value": qs.get(key),
            "prob_new_greater": test.prob_b_greater,
            "verdict": verdict,
            "old_runs": len(a),
            "new_runs": len(b),
        }
        if key in TIME_METRICS:
            entry["changes"] = {st: sig.relative_change(_stat(a, st), _stat(b, st))
                                for st in ("median", "p95", "p99", "mean")}
        metrics[key] = entry
    return _clean({"against": against, "test": "mann-whitney-u", "alpha": alpha,
                   "min_effect": min_effect, "fdr": "benjamini-hochberg", "metrics": metrics})


def check_fail_on(doc: dict[str, Any], rules: list[sig.FailRule]) -> list[sig.Violation]:
    """--fail-on against every compared result: a rule applies to the per-run timing
    metrics (duration_ms, ttft_ms, tpot_ms, itl_ms; the one it names, else all); a
    violation is a metric found ``slower`` whose statistic grew past the threshold.
    Violations are added to the document (``"violations"``)."""
    rows: list[tuple[str, sig.Verdict, dict[str, float | None]]] = []
    for r in doc["results"]:
        cmp_ = r.get("comparison") or {}
        for key, m in (cmp_.get("metrics") or {}).items():
            if key not in TIME_METRICS:
                continue
            verdict = sig.Verdict.SLOWER if m["verdict"] == "slower" else sig.Verdict.SAME
            name = key if len(doc["results"]) == 1 else f"{r['name']}/{key}"
            rows.append((name, verdict, m.get("changes") or {}))
    found = sig.violations(rules, rows)
    doc["fail_on"] = [r.text for r in rules]
    doc["violations"] = [v.as_dict() for v in found]
    return found


def load_bench_json(path: str) -> dict[str, Any]:
    """An earlier ``zlprof bench --format json`` file; BenchError (one line) otherwise."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchError(f"--compare: {p}: no such file") from None
    except IsADirectoryError:
        raise BenchError(f"--compare: {p} is a directory") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BenchError(f"--compare: cannot read {p}: {getattr(e, 'strerror', None) or e}") from None
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


def attach_comparisons(doc: dict[str, Any], old: dict[str, Any], against: str) -> None:
    """Add a ``comparison`` to every result of ``doc`` that has a namesake in ``old``."""
    by_name = {r["name"]: r for r in old["results"]}
    for r in doc["results"]:
        o = by_name.get(r["name"])
        if o is None and len(old["results"]) == 1 and len(doc["results"]) == 1:
            o = old["results"][0]  # one point against one point: compare whatever it was
        if o is not None:
            r["comparison"] = compare_results(r, o, against)
    doc["compare"] = {"against": against, "test": "mann-whitney-u", "alpha": ALPHA}


# --------------------------------------------------------------------------- output


def results_document(
    results: Sequence[BenchmarkResult],
    config: BenchmarkConfig,
    command: Sequence[str] | None = None,
    recording: Path | None = None,
) -> dict[str, Any]:
    """The JSON document (schema ``zlprof.bench/1``) of a bench."""
    from . import __version__

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


def _f(v: Any, spec: str = ".2f", none: str = "-") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return none
    return format(v, spec)


def _table_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    from . import fmt

    head = ["point", "ok", "median ms", "p95 ms", "tok/s", "req/s", "TTFT ms", "TPOT ms",
            "ITL p50 ms", "peak RSS", "eff"]
    rows = []
    for r in doc["results"]:
        st, th, mem = r["stats"], r["throughput"], r["memory"]
        n = r["runs_ok"] + r["runs_failed"]
        if not r["runs_ok"]:
            rows.append([r["name"], f"0/{n}"] + ["-"] * (len(head) - 2))
            continue
        tokens = sum(x.get("tokens") or 0 for x in r["runs"] if x.get("ok"))
        rows.append([
            r["name"],
            f"{r['runs_ok']}/{n}",
            fmt.ms(st["median_ms"]) if st["median_ms"] is not None else "-",
            fmt.ms(st["p95_ms"]) if st["p95_ms"] is not None else "-",
            _f(th["tokens_per_second"], ".1f") if tokens else "-",
            _f(th["requests_per_second"], ".2f"),
            fmt.ms(r["ttft_ms"]["median"]) if r["ttft_ms"]["median"] is not None else "-",
            fmt.ms(r["tpot_ms"]["median"]) if r["tpot_ms"]["median"] is not None else "-",
            fmt.ms(r["itl_ms"]["median"]) if r["itl_ms"]["median"] is not None else "-",
            fmt.nbytes(mem["peak_usage"]) if mem["peak_usage"] else "-",
            _f(mem["efficiency"], ".2f"),
        ])
    return head, rows


def _compare_lines(doc: dict[str, Any], markdown: bool) -> list[str]:
    lines: list[str] = []
    for r in doc["results"]:
        cmp_ = r.get("comparison")
        if not cmp_:
            continue
        if markdown:
            lines += ["", f"**{r['name']}** vs `{cmp_['against']}` (Mann-Whitney U, "
                      f"alpha {cmp_['alpha']})", "",
                      "| metric | old median | new median | change | p | verdict |",
                      "|---|---:|---:|---:|---:|---|"]
        else:
            lines += ["", f"{r['name']} vs {cmp_['against']} "
                      f"(Mann-Whitney U on per-run samples, alpha {cmp_['alpha']}):"]
        for key, m in cmp_["metrics"].items():
            ch = f"{m['change'] * 100:+.1f}%" if m["change"] is not None else "-"
            cells = [key, _f(m["old_median"], ".4g"), _f(m["new_median"], ".4g"), ch,
                     _f(m["p_value"], ".3g"), m["verdict"]]
            if markdown:
                lines.append("| " + " | ".join(cells) + " |")
            else:
                lines.append(f"  {cells[0]:<20} {cells[1]:>12} -> {cells[2]:>12}  {cells[3]:>8}"
                             f"  p={cells[4]:<8} {cells[5]}")
    return lines


def render_text(doc: dict[str, Any]) -> str:
    c = doc["config"]
    limit = "none" if c["memory_limit"] is None else _mib(c["memory_limit"])
    out = [
        f"zlprof bench: {len(doc['results'])} point(s) x {c['measurement_runs']} run(s) "
        f"after {c['warmup_runs']} warm-up(s); time limit {c['max_time_per_run_ms']:g} ms, "
        f"memory limit {limit}",
        f"{doc['statistics']}; throughput over successful runs, warm-ups excluded",
        "",
    ]
    head, rows = _table_rows(doc)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt_row = lambda cells: "  ".join(  # noqa: E731
        (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    out.append(fmt_row(head))
    out.append("  ".join("-" * w for w in widths))
    out += [fmt_row(r) for r in rows]
    fails = [(r["name"], f) for r in doc["results"] for f in r["failures"]]
    wfails = [(r["name"], f) for r in doc["results"] for f in r["warmup_failures"]]
    if fails or wfails:
        out += ["", "failed runs:"]
        out += [f"  {n}: run {f['run']}: {f['reason']}" for n, f in fails]
        out += [f"  {n}: warm-up {f['run']}: {f['reason']}" for n, f in wfails]
    restarts = [(r["name"], r["restarts"]) for r in doc["results"] if r["restarts"]]
    if restarts:
        out.append("restarts: " + ", ".join(f"{n}: {k}" for n, k in restarts))
    out += _compare_lines(doc, markdown=False)
    return "\n".join(out) + "\n"


def render_markdown(doc: dict[str, Any]) -> str:
    head, rows = _table_rows(doc)
    c = doc["config"]
    out = [
        f"zlprof bench: {c['measurement_runs']} run(s) after {c['warmup_runs']} warm-up(s) "
        f"per point; {doc['statistics']}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    fails = [(r["name"], f) for r in doc["results"] for f in r["failures"]]
    if fails:
        out += ["", "Failed runs:", ""]
        out += [f"- {n}, run {f['run']}: {f['reason']}" for n, f in fails]
    out += _compare_lines(doc, markdown=True)
    return "\n".join(out) + "\n"


def render(doc: dict[str, Any], fmt_name: str) -> str:
    if fmt_name == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt_name == "markdown":
        return render_markdown(doc)
    return render_text(doc)


# --------------------------------------------------------------------------- sweeps


#: WORKLOAD options whose values are never split on commas (free text and paths).
NO_SPLIT = frozenset({"prompt", "weights", "tokenizer"})


class _OptionError(Exception):
    pass


class _CheckParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _OptionError(message)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The WORKLOAD options for ``zlprof bench``: each takes a comma list (kept as text
    here; :func:`sweep_points` splits, checks and expands them)."""
    from .workload.options import WORKLOAD_OPTIONS

    g = parser.add_argument_group(
        "workload (each option takes a comma list; the bench runs the cross product)"
    )
    for dest, flag in WORKLOAD_OPTIONS:
        if dest == "no_profile":
            g.add_argument(flag, dest=dest, action="store_true", default=None,
                           help="no measure blocks (token events stay, for TTFT/ITL)")
        else:
            g.add_argument(flag, dest=dest, default=None, metavar="LIST")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Every ``zlprof bench`` option (for cli.py's ``bench`` sub-parser)."""
    add_sweep_arguments(parser)
    parser.add_argument("--warmup", type=int, default=5, metavar="N",
                        help="warm-up runs before measuring (default 5)")
    parser.add_argument("--runs", type=int, default=100, metavar="N",
                        help="measured runs per point (default 100)")
    parser.add_argument("--timeout-ms", type=float, default=10_000, metavar="N",
                        help="stop a run after N ms and count it failed (default 10000)")
    parser.add_argument("--memory-limit", metavar="SIZE",
                        help="stop a run whose RSS passes SIZE (512M, 2G) and count it failed")
    parser.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    parser.add_argument("--out", metavar="PATH", help="write the results to PATH")
    parser.add_argument("--compare", metavar="OLD.json",
                        help="mark each metric faster/slower/not significant against OLD")
    add_fail_on_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _values(v: Any, dest: str) -> list[Any]:
    if isinstance(v, list | tuple):
        return list(v)
    if isinstance(v, str) and dest not in NO_SPLIT:
        parts = [p.strip() for p in v.split(",")]
        if any(p == "" for p in parts):
            raise BenchError(f"--{dest.replace('_', '-')}: empty item in the list {v!r}")
        return parts
    return [v]


def sweep_points(args: argparse.Namespace) -> list[tuple[str, dict[str, Any], list[str]]]:
    """(name, params, workload argv) for every point of the cross product of the
    WORKLOAD options' comma lists, each checked as the workload would check it."""
    from .workload.options import WORKLOAD_OPTIONS, add_workload_arguments, resolve
    from .workload.presets import WorkloadError

    axes: list[tuple[str, str, list[Any]]] = []
    for dest, flag in WORKLOAD_OPTIONS:
        v = getattr(args, dest, None)
        if v is None or v is False:
            continue
        if v is True:
            axes.append((dest, flag, [True]))
        else:
            axes.append((dest, flag, _values(v, dest)))
    checker = _CheckParser(prog="zlprof bench", add_help=False, allow_abbrev=False)
    add_workload_arguments(checker)
    points = []
    for combo in itertools.product(*(vals for _, _, vals in axes)):
        argv: list[str] = []
        for (_dest, flag, _), val in zip(axes, combo, strict=True):
            if val is True:
                argv.append(flag)
            elif val is not False:
                argv.append(f"{flag}={val}")
        try:
            ns = checker.parse_args(argv)
        except _OptionError as e:
            raise BenchError(str(e)) from None
        if getattr(ns, "requests", None) == 0:
            raise BenchError("--requests 0 (until stopped) cannot be benchmarked; "
                             "give the request batches per run")
        try:
            resolve(ns)
        except WorkloadError as e:
            raise BenchError(str(e)) from None
        params = {dest: getattr(ns, dest) for dest, _, _ in axes}
        name = " ".join(
            dest if val is True else f"{dest}={val}" for dest, val in params.items()
        ) or "workload defaults"
        points.append((name, params, argv))
    return points


# --------------------------------------------------------------------------- main


class _Progress:
    """A rich progress bar on stderr (one bar for the whole bench)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.p = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.task = self.p.add_task("bench", total=total, status="")
        self.name = ""
        self.failed = 0

    def __enter__(self) -> _Progress:
        self.p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.p.stop()

    def __call__(self, event: str, **info: Any) -> None:
        if event == "point":
            self.name = info["name"]
            self.p.update(self.task, description=self.name[:40], status="warming up")
        elif event == "restart":
            t = self.p.tasks[0]
            self.p.update(self.task, total=(t.total or 0) + info["warmups"],
                          status="restarted")
        elif event == "run":
            if not info["ok"]:
                self.failed += 1
            phase = "warm-up" if info["phase"] == "warmup" else "run"
            status = f"{phase} {info['index']}" + (f", {self.failed} failed" if self.failed else "")
            self.p.update(self.task, advance=1, status=status)


def command_name(command: Sequence[str]) -> str:
    """A short name for a COMMAND point: the program's base name and its arguments."""
    return " ".join([Path(command[0]).name, *(shlex.quote(a) for a in command[1:])])


def _config_from_args(args: argparse.Namespace) -> BenchmarkConfig:
    warm = getattr(args, "warmup", 5)
    runs = getattr(args, "runs", 100)
    tmo = getattr(args, "timeout_ms", 10_000)
    if warm is None or warm < 0:
        raise BenchError(f"--warmup must be 0 or more, got {warm}")
    if runs is None or runs < 1:
        raise BenchError(f"--runs must be at least 1, got {runs}")
    if tmo is None or not tmo > 0:
        raise BenchError(f"--timeout-ms must be positive, got {tmo}")
    ml = getattr(args, "memory_limit", None)
    return BenchmarkConfig(
        warmup_runs=int(warm),
        measurement_runs=int(runs),
        max_time_per_run_ms=float(tmo),
        show_progress=not getattr(args, "no_progress", False),
        memory_limit=parse_size(ml) if ml is not None else None,
    )


def _record_path(out: Path | None, program: str) -> Path:
    from .recording import SUFFIX, new_session_path

    if out is not None:
        p = out.with_suffix(SUFFIX)
        if p != out and not p.exists():
            return p
        return new_session_path(out.stem, out.parent if str(out.parent) else Path("."))
    return new_session_path(program)


def add_fail_on_argument(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` of ``zlprof bench`` (cli.py's parser and this module's)."""
    parser.add_argument(
        "--fail-on", action="append", metavar="RULE",
        help='with --compare: exit 3 when a timing metric got significantly slower by more '
             'than a threshold, e.g. "p50>+5%%" or "duration_ms:p95>+10%%" (repeatable)')


def bench_main(args: argparse.Namespace, command: list[str]) -> int:
    """``zlprof bench``: returns the exit status (2 for a usage mistake, one line)."""
    from .recording import RecordingError

    def fail(msg: str, code: int = 2) -> int:
        print(f"zlprof: error: {msg}", file=sys.stderr)
        return code

    try:
        config = _config_from_args(args)
        try:
            rules = [sig.parse_fail_on(t) for t in getattr(args, "fail_on", None) or []]
        except sig.FailRuleError as e:
            raise BenchError(str(e)) from None
        if rules and not getattr(args, "compare", None):
            raise BenchError("--fail-on needs --compare OLD.json")
        bad = [r for r in rules if r.op is not None and r.op not in TIME_METRICS]
        if bad:
            raise BenchError(f"--fail-on {bad[0].text!r}: {bad[0].op!r} is not a timing metric "
                             f"({', '.join(TIME_METRICS)})")
        old = load_bench_json(args.compare) if getattr(args, "compare", None) else None
        if command:
            from .workload.options import WORKLOAD_OPTIONS

            given = [flag for dest, flag in WORKLOAD_OPTIONS
                     if getattr(args, dest, None) not in (None, False)]
            if given:
                raise BenchError(f"{given[0]} is a WORKLOAD option; it cannot be combined "
                                 "with '-- COMMAND'")
            points = [(command_name(command), {}, [])]
            program = f"bench-{Path(command[-1] if len(command) > 1 else command[0]).stem}"
        else:
            points = sweep_points(args)
            presets = sorted({str(p[1].get("preset", "small")) for p in points})
            program = "bench-" + "-".join(presets)
        fmt_name = getattr(args, "format", "text") or "text"
        out = Path(args.out) if getattr(args, "out", None) else None
        if out is not None and out.is_dir():
            raise BenchError(f"--out: {out} is a directory")
        rec_path = _record_path(out, program)
    except BenchError as e:
        return fail(str(e), e.code)

    show = config.show_progress and sys.stderr.isatty()
    total = len(points) * (config.warmup_runs + config.measurement_runs)
    bar = _Progress(total) if show else None
    argv = ["zlprof", "bench", *sys.argv[2:]] if sys.argv[1:2] == ["bench"] else ["zlprof", "bench"]
    results: list[BenchmarkResult] = []
    interrupted = False
    try:
        runner = BenchmarkRunner(config, record=rec_path, progress=bar, argv=argv)
    except (BenchError, RecordingError) as e:
        return fail(str(e), getattr(e, "code", 1))
    try:
        if bar is not None:
            bar.__enter__()
        for name, params, wargs in points:
            if command:
                results.append(runner.benchmark_generation(command=command, name=name))
            else:
                results.append(
                    runner.benchmark_generation(wargs, name=name, params=params)
                )
    except BenchError as e:
        runner.close(interrupted=True)
        return fail(str(e), e.code)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    runner.close(interrupted=interrupted)
    if interrupted and not results:
        print(f"zlprof: interrupted; recorded {rec_path}", file=sys.stderr)
        return 130

    doc = results_document(results, config, command or None, rec_path)
    found: list[sig.Violation] = []
    if old is not None:
        attach_comparisons(doc, old, str(args.compare))
        if rules:
            found = check_fail_on(doc, rules)
    text = render(doc, fmt_name)
    try:
        if out is not None:
            out.write_text(text, encoding="utf-8")
            if fmt_name != "text":
                sys.stdout.write(render_text(doc))
            else:
                sys.stdout.write(text)
            print(f"zlprof: wrote {out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as e:
        return fail(f"cannot write {out}: {e.strerror or e}", 1)
    print(f"zlprof: recorded {rec_path}", file=sys.stderr)
    for v in found:
        print(f"zlprof: {v.line()}", file=sys.stderr)
    if interrupted:
        print("zlprof: interrupted; results cover the finished points", file=sys.stderr)
        return 130
    if any(r.runs_ok == 0 for r in results):
        return 1
    return sig.EXIT_REGRESSION if found else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zlprof.bench [OPTIONS] [-- COMMAND ...]``: bench without cli.py."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1 :]
    parser = _CheckParser(prog="zlprof bench", allow_abbrev=False)
    add_bench_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except _OptionError as e:
        print(f"zlprof: error: {e}", file=sys.stderr)
        return 2
    return bench_main(args, command)


if __name__ == "__main__":
    raise SystemExit(main())
