"""Cost of one memory reading by each source, as ratios to time.perf_counter_ns().

Decides which source the profiler uses for per-block readings (documented in
profiler.py and the README).

Run: python benchmarks/bench_memory_read.py
"""

from __future__ import annotations

import time
import timeit
import tracemalloc

import psutil

from zlprof.profiler import MemoryReader


def best(fn, number: int = 20000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    reader = MemoryReader()
    proc = psutil.Process()
    base = best(time.perf_counter_ns)
    rows = [
        ("time.perf_counter_ns()", base),
        ("RSS: pread of kept-open /proc/self/statm", best(reader.rss)),
        ("RSS: psutil.Process().memory_info()", best(proc.memory_info, 5000)),
    ]
    tracemalloc.start()
    rows.append(("tracemalloc.get_traced_memory()", best(tracemalloc.get_traced_memory)))
    lst = list(range(1000))
    tracemalloc.stop()
    t_off = best(lambda: [x + 1 for x in lst], 2000)
    tracemalloc.start()
    t_on = best(lambda: [x + 1 for x in lst], 2000)
    tracemalloc.stop()
    print(f"{'source':45} {'us/read':>8} {'x perf_counter_ns':>18}")
    for name, t in rows:
        print(f"{name:45} {t * 1e6:8.2f} {t / base:18.1f}")
    print(f"tracemalloc running slows a Python-allocating loop by {t_on / t_off:.2f}x "
          "(why it is opt-in: ZLPROF_OPTIONS=traced)")


if __name__ == "__main__":
    main()
