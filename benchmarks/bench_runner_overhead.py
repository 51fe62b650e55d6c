"""What the bench harness costs: run times under BenchmarkRunner vs the same loop in-process.

Prints ratios from one run (DESIGN: speed is measured as ratios, never by a test):

* median run time under the runner (child process, profiler pipe, parent polling RSS every
  10 ms and folding/recording frames) / median run time of the same generator driven
  in-process with an in-memory profiler, interleaved in rounds so load drifts hit both;
* the parent's CPU time per second of measured runs (what the harness takes from the
  machine while it measures);
* the same with polling slowed to 1 s, to separate polling from frame handling.

    .venv/bin/python benchmarks/bench_runner_overhead.py [--preset tiny] [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

from zlprof.bench import BenchmarkConfig, BenchmarkRunner


def in_process(wargs: list[str], warmup: int, runs: int) -> list[float]:
    os.environ.pop("ZLPROF_FD", None)
    from zlprof.bench.worker import builtin_generator

    gen = builtin_generator(wargs)
    out = []
    for k in range(warmup + runs):
        t0 = time.perf_counter_ns()
        gen.run_request(k)
        if k >= warmup:
            out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def under_runner(wargs: list[str], warmup: int, runs: int, poll_ms: float) -> tuple[list[float], float]:
    cfg = BenchmarkConfig(warmup_runs=warmup, measurement_runs=runs, poll_interval_ms=poll_ms)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    with BenchmarkRunner(cfg) as runner:
        res = runner.benchmark_generation(wargs)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    durs = [r.duration_ms for r in res.runs if r.ok]
    return durs, cpu / (sum(durs) / 1000.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    wargs = [f"--preset={a.preset}", f"--max-tokens={a.max_tokens}", f"--threads={a.threads}"]
    direct: list[float] = []
    runner: list[float] = []
    slow: list[float] = []
    cpu_fast: list[float] = []
    cpu_slow: list[float] = []
    for _ in range(a.rounds):
        direct += in_process(wargs, 2, a.runs)
        d, c = under_runner(wargs, 2, a.runs, 10.0)
        runner += d
        cpu_fast.append(c)
        d, c = under_runner(wargs, 2, a.runs, 1000.0)
        slow += d
        cpu_slow.append(c)
    md, mr, ms = (statistics.median(x) for x in (direct, runner, slow))
    print(f"load average {os.getloadavg()[0]:.2f}, cpus {os.cpu_count()}, {wargs}")
    print(f"median run: in-process {md:.2f} ms, runner (10 ms poll) {mr:.2f} ms, "
          f"runner (1 s poll) {ms:.2f} ms")
    print(f"ratio runner/in-process: {mr / md:.3f} (10 ms poll), {ms / md:.3f} (1 s poll)")
    print(f"parent CPU per second of measured runs: {statistics.median(cpu_fast):.3f} s "
          f"(10 ms poll), {statistics.median(cpu_slow):.3f} s (1 s poll)")


if __name__ == "__main__":
    main()
