"""The cost of one live baseline comparison (what a refresh of ``--baseline`` pays).

Builds two sessions of OPS ops with N samples each (log-normal durations, folded as the
app folds them), then times, in one run:

* ``BaselineComparator.compare_now``: the comparison a live refresh makes (statistics of
  every op, the U test on at most 24 block medians a side, Benjamini-Hochberg, verdicts);
* the U test on every sample of every op (what the comparison ranked before the unit of
  replication became the block; ``significance.mann_whitney_u`` on the sorted durations).

Prints the best of REPEAT timings of each and their ratio. The block test's cost grows
with the number of ops, not with the number of samples.

Run: python benchmarks/bench_baseline_cost.py [--ops 100] [--samples 50000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zlprof import protocol
from zlprof import significance as sig
from zlprof.baseline import BaselineComparator
from zlprof.session import SessionState


def session(ops: int, n: int, seed: int) -> SessionState:
    rng = np.random.default_rng(seed)
    st = SessionState()
    st.ingest_many(protocol.decode_stream(
        protocol.encode_names([(i, 0, f"op{i}") for i in range(1, ops + 1)])))
    step = 2000
    for s in range(0, n, step):
        ids = np.repeat(np.arange(1, ops + 1, dtype=np.int32), step)
        t0 = np.arange(len(ids), dtype=np.int64) * 10 + s * 10**4
        d = rng.lognormal(10, 0.2, len(ids)).astype(np.int64)
        st.ingest_many(protocol.decode_stream(protocol.encode_measurements(1, ids, t0, t0 + d)))
    return st


def best(fn: object, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=100)
    ap.add_argument("--samples", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    a, b = session(args.ops, args.samples, 1), session(args.ops, args.samples, 2)
    cmp_ = BaselineComparator(a, "a", every_s=0)
    live = best(lambda: cmp_.compare_now(b), args.repeat)

    def every_sample() -> None:
        for pid, acc in b.ops.items():
            da, db = a.ops[pid].sorted_durations(), acc.sorted_durations()
            if da is not None and db is not None:
                sig.mann_whitney_u(da, db)

    ranked = best(every_sample, args.repeat)
    print(f"{args.ops} ops x {args.samples:,} samples a side (best of {args.repeat}):")
    print(f"  one live comparison (compare_now, block medians): {live * 1e3:8.1f} ms")
    print(f"  the U test on every sample of every op:           {ranked * 1e3:8.1f} ms")
    print(f"  ratio: {ranked / live:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
