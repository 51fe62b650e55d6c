"""A program that floods zlprof with measurements over many call paths (bench_many_ops).

    python benchmarks/flood_program.py [--names N] [--rate R] [--seconds S] [--idle S]

It names its N paths through the real API (one round of ``zlprof.measure`` blocks, 100
groups of 100 ops by default, as tests/programs/many_ops.py), then sends measurement
frames the way the real writer does (columnar batches of 8,192 measurements, encoded by
protocol.encode_measurements, stamped with the current clock) on its real connection to
zlprof, at ``--rate`` measurements a second (0: as fast as the connection takes them),
for ``--seconds``; then it idles. It prints what it offered ("sent N in S s") so the
bench can compare the offered rate with the rate the app folds.

``--null``: write the frames to /dev/null instead (the feeder's own ceiling).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

import zlprof
from zlprof import protocol
from zlprof.profiler.default import get_profiler

BATCH = 8192


def name_paths(n: int) -> None:
    groups = max(1, int(n ** 0.5))
    per = -(-n // groups)
    done = 0
    for g in range(groups):
        with zlprof.measure(f"group{g:03d}"):
            for i in range(min(per, n - done)):
                with zlprof.measure(f"op{g:03d}_{i:03d}"):
                    pass
                done += 1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=1e6)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--idle", type=float, default=600.0)
    ap.add_argument("--null", action="store_true")
    a = ap.parse_args()
    name_paths(a.names)
    prof = get_profiler()
    prof.flush()
    n_paths = len(prof._paths) - 1  # ids 1..n_paths were named above
    rng = np.random.default_rng(0)
    # 16 batches of (path, relative start, duration), stamped afresh when sent
    batches = []
    for _ in range(16):
        path = rng.integers(1, n_paths + 1, size=BATCH).astype(np.int32)
        dur = rng.lognormal(8, 1, size=BATCH).astype(np.int64)
        rel = np.cumsum(dur + 100) - dur - 100
        batches.append((path, rel, dur))
    tid = threading.get_native_id()
    if a.null:
        fd = os.open(os.devnull, os.O_WRONLY)

        def send(data: bytes) -> None:
            os.write(fd, data)
    else:
        sink = prof._sink

        def send(data: bytes) -> None:
            # under the profiler's lock, as its own writes: its flusher thread writes to
            # the same sink (unlocked, the two raced: BufferError, the program died and
            # the bench saw the fold "stall")
            with prof._lock:
                sink.write(data)
                sink.flush()

    print(f"flooding {n_paths} paths at {a.rate or 'max'} meas/s for {a.seconds:g} s", flush=True)
    t_start = time.perf_counter()
    end = t_start + a.seconds
    sent = 0
    i = 0
    while (now := time.perf_counter()) < end:
        if a.rate and sent > (now - t_start) * a.rate:
            time.sleep(min(0.002, sent / a.rate - (now - t_start)))
            continue
        path, rel, dur = batches[i % len(batches)]
        t0 = rel + time.perf_counter_ns()
        send(protocol.encode_measurements(tid, path, t0, t0 + dur))
        sent += BATCH
        i += 1
        if i % 128 == 0:
            el = time.perf_counter() - t_start
            print(f"sent {sent} in {el:.3f} s", flush=True)
    el = time.perf_counter() - t_start
    print(f"sent {sent} in {el:.3f} s", flush=True)
    print(f"idling {a.idle:g} s", flush=True)
    time.sleep(a.idle)


if __name__ == "__main__":
    main()
