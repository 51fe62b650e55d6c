"""Cost of one measured block *in situ*: right after a large mat-vec (caches cold), as in
the model loop, next to the warm tight-loop figure of bench_block_cost.py.

Each round runs a mat-vec over a matrix larger than the last-level cache (the profiler's
data, the block objects and the interpreter's own state are evicted), then times one
``with blk: pass`` with perf_counter_ns around it; the same is done, interleaved, for an
empty ``with`` on a ``__slots__`` class (the timer's and the ``with``'s own cost), for
the pure-Python block and, when built, the C block. Medians over many rounds; the block's
cost is the difference to the empty ``with``. The profiler is a streaming one, as under
``zlprof record`` (sampler thread, writes to /dev/null), so flushes happen as in a run.

    .venv/bin/python benchmarks/bench_block_insitu.py [--rounds N] [--mb 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from zlprof import profiler as P
from zlprof.profiler import accel

_now = time.perf_counter_ns


class Empty:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3000)
    ap.add_argument("--mb", type=int, default=64, help="matrix size in MiB (> LLC)")
    args = ap.parse_args()
    n = int((args.mb * 2**20 / 4) ** 0.5)
    w = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    x = np.ones(n, np.float32)
    impls = ["py", "c"] if P.SPEEDUPS else ["py"]
    blocks = {}
    profs = []
    for impl in impls:
        saved = accel.Block, accel._CCost
        if impl == "py":
            accel.Block, accel._CCost = P._PyBlock, None
        try:
            prof = P.Profiler(memory="blocks", sample_interval_ms=50.0,
                              sink=P.StreamSink(os.open(os.devnull, os.O_WRONLY)))
            blocks[impl] = prof.measure("x")
            with blocks[impl]:
                pass
        finally:
            accel.Block, accel._CCost = saved
        profs.append(prof)
    cases = {"empty with": Empty(), **{f"block ({i})": b for i, b in blocks.items()}}
    times: dict[str, list[int]] = {k: [] for k in cases}
    warm: dict[str, list[int]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for k, blk in cases.items():
            w @ x  # evicts the caches (and releases the GIL, as BLAS does in the model)
            t0 = _now()
            with blk:
                pass
            t1 = _now()
            with blk:  # the same again, now warm
                pass
            t2 = _now()
            times[k].append(t1 - t0)
            warm[k].append(t2 - t1)
    for prof in profs:
        prof.close()
    base = statistics.median(times["empty with"])
    wbase = statistics.median(warm["empty with"])
    print(f"matrix {n}x{n} float32 ({args.mb} MiB), {args.rounds} rounds, medians")
    print(f"{'case':16} {'cold ns':>8} {'cold - empty':>13} {'warm ns':>8} {'warm - empty':>13}")
    for k in cases:
        c = statistics.median(times[k])
        h = statistics.median(warm[k])
        print(f"{k:16} {c:8.0f} {c - base:13.0f} {h:8.0f} {h - wbase:13.0f}")


if __name__ == "__main__":
    main()
