"""Benchmarks: warm-ups, measured runs, enforced limits, sweeps, LLM latency metrics.

``BenchmarkRunner(config).benchmark_generation(...)`` runs a generator (the built-in
workload by default) in a **child process** (:mod:`zlprof.bench.worker`), so the parent
can enforce the limits: a run that passes ``max_time_per_run_ms`` or whose resident set
passes ``memory_limit`` is stopped (the child is killed), counted as failed with its
reason, and the child is restarted for the remaining runs (it warms up again; those
warm-ups are not counted). With ``command=[...]`` every run is one execution of the
command instead, under the same limits. Warm-up time never enters a statistic or a
throughput.

The rooms, in the order a bench passes through them:

* ``cli.py``: ``zlprof bench``'s options, the sweep's cross product, the progress bar,
  ``bench_main`` (also ``python -m zlprof.bench``).
* ``runner.py``: :class:`BenchmarkRunner`: warm-ups, measured runs, restarts, limits.
* ``child.py``: the parent's handle on one child process (start, stop, RSS) and the
  limit constants.
* ``worker.py``: the program that runs *inside* the child (``python -m
  zlprof.bench.worker``): builds the generator, announces every run.
* ``recorder.py``: every child's frames into one ``.zlp`` recording.
* ``point.py``: what one sweep point gathers, and the :class:`BenchmarkResult` of it.
* ``results.py``: the result types, their definitions, the JSON document
  (schema ``zlprof.bench/1``) written and read.
* ``compare.py``: ``--compare`` and ``--fail-on`` (the test itself: significance.py).
* ``render.py``: the document as text, markdown or JSON.
"""

from __future__ import annotations

from .child import KILL_SLACK_NS, LOG_LEVEL, MAX_STALLS, SETUP_TIMEOUT_S, TIMEOUT_GRACE_S
from .cli import (
    NO_SPLIT,
    add_bench_arguments,
    add_fail_on_argument,
    add_sweep_arguments,
    bench_main,
    main,
    sweep_points,
)
from .compare import (
    ALPHA,
    COMPARE_METRICS,
    MIN_CHANGE,
    TIME_METRICS,
    attach_comparisons,
    check_fail_on,
    compare_results,
)
from .render import render_markdown, render_text
from .results import (
    JSON_SCHEMA,
    BenchError,
    BenchmarkConfig,
    BenchmarkResult,
    LatencyStats,
    MemoryMetrics,
    RunSample,
    ThroughputMetrics,
    load_bench_json,
    parse_size,
    results_document,
)
from .runner import BenchmarkRunner, ProgressFn, command_name

__all__ = [
    "ALPHA",
    "COMPARE_METRICS",
    "JSON_SCHEMA",
    "KILL_SLACK_NS",
    "LOG_LEVEL",
    "MAX_STALLS",
    "MIN_CHANGE",
    "NO_SPLIT",
    "SETUP_TIMEOUT_S",
    "TIMEOUT_GRACE_S",
    "TIME_METRICS",
    "BenchError",
    "BenchmarkConfig",
    "BenchmarkResult",
    "BenchmarkRunner",
    "LatencyStats",
    "MemoryMetrics",
    "ProgressFn",
    "RunSample",
    "ThroughputMetrics",
    "add_bench_arguments",
    "add_fail_on_argument",
    "add_sweep_arguments",
    "attach_comparisons",
    "bench_main",
    "check_fail_on",
    "command_name",
    "compare_results",
    "load_bench_json",
    "main",
    "parse_size",
    "render_markdown",
    "render_text",
    "results_document",
    "sweep_points",
]
