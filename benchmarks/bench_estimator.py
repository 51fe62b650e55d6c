"""Percentile accuracy and memory of the bounded estimator after 10 M and 50 M samples.

One op receives lognormal durations (a realistic right-skewed latency shape) in batches of
64 k. After 10 M and 50 M samples the script prints the estimator's median/p95/p99
against the exact values (a full sort of every sample, kept aside for the check), their
relative errors (bound: 0.1 %), and the accumulator's own memory.

Run: python benchmarks/bench_estimator.py
"""

from __future__ import annotations

import time

import numpy as np

from zlprof.stats import OpAccumulator, rank_index


def main() -> None:
    rng = np.random.default_rng(42)
    acc = OpAccumulator()
    kept: list[np.ndarray] = []
    n = 0
    batch = 1 << 16
    t_fold = 0.0
    for target in (10_000_000, 50_000_000):
        while n < target:
            d = (rng.lognormal(12, 0.8, size=batch)).astype(np.int64) + 1
            kept.append(d)
            t = time.perf_counter()
            acc.add(d)
            t_fold += time.perf_counter() - t
            n += batch
        t = time.perf_counter()
        st = acc.stats()
        t_stats = time.perf_counter() - t
        exact = np.sort(np.concatenate(kept))
        print(f"after {n / 1e6:.1f} M samples  (estimator: {st.estimator}, "
              f"accumulator memory {acc.nbytes() / 1024:.0f} KiB, stats in {t_stats * 1e3:.1f} ms, "
              f"fold {n / t_fold / 1e6:.0f} M samples/s)")
        for q, got in ((50, st.median_ms), (95, st.p95_ms), (99, st.p99_ms)):
            want = exact[rank_index(len(exact), q)] / 1e6
            print(f"   p{q:<3} estimated {got:.6f} ms  exact {want:.6f} ms  "
                  f"rel. error {abs(got - want) / want * 100:.4f} %")
        print(f"   mean {st.avg_ms:.6f} ms (exact {exact.mean() / 1e6:.6f}), "
              f"std {st.std_ms:.6f} (exact {exact.std() / 1e6:.6f})")


if __name__ == "__main__":
    main()
