"""A test program for the baseline comparison: a tiny inference-like loop whose one op
can be made slower by a tunable amount.

Each step measures four ops: ``prepare`` (a small matmul), ``target`` (a matmul followed
by a spin that adds ``--slowdown`` times the target matmul's median duration, measured
at start), ``score`` (softmax of a vector) and ``finish`` (a reduction). Runs for
``--seconds`` under ``zlprof record -- python slowdown_program.py ...``.

Run: python benchmarks/slowdown_program.py --seconds 30 --slowdown 0.10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import zlprof


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--slowdown", type=float, default=0.0, help="extra time of 'target', relative")
    ap.add_argument("--size", type=int, default=96)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    a = rng.standard_normal((args.size, args.size)).astype(np.float32)
    b = rng.standard_normal((args.size, args.size)).astype(np.float32)
    v = rng.standard_normal(4096).astype(np.float32)
    # the target matmul's typical duration, to size the injected extra time
    times = []
    for _ in range(200):
        t0 = time.perf_counter_ns()
        a @ b
        times.append(time.perf_counter_ns() - t0)
    extra_ns = int(np.median(times) * args.slowdown)
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        with zlprof.measure("prepare"):
            a[:32, :32] @ b[:32, :32]
        with zlprof.measure("target"):
            a @ b
            if extra_ns:
                stop = time.perf_counter_ns() + extra_ns
                while time.perf_counter_ns() < stop:
                    pass
        with zlprof.measure("score"):
            e = np.exp(v - v.max())
            e / e.sum()
        with zlprof.measure("finish"):
            float(np.sum(a[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
