"""Machine peaks as zlprof measures them, and how stable they are.

Prints STREAM-style copy and triad bandwidth (GB/s, STREAM byte counting: copy 2 arrays,
triad 3) and float32 GEMM throughput (GFLOP/s) from ``zlprof.roofline.calibrate``:
best, worst and spread over the repetitions of each of several calibration runs, then the
spread of the *best* figure across runs (what the roof is drawn with). It also times a
large fp32 mat-vec (the decode op) and reports its bandwidth as a ratio of beta: a mat-vec
must sit at or below the roof (ratio <= 1) for the roofline to be trusted.

Nothing is written to the peaks cache.

Run: python benchmarks/bench_calibrate.py [--runs N] [--reps N] [--array-mb MB] [--gemm-n N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zlprof import roofline as rl


def matvec_gbps(mb: int = 256, reps: int = 10) -> tuple[float, float]:
    """Best GB/s of ``W @ x`` for a ``mb``-MiB fp32 matrix (bytes: W + x + y)."""
    k = 4096
    n = max(1, mb * (1 << 20) // (4 * k))
    W = np.random.default_rng(0).standard_normal((n, k), dtype=np.float32)
    x = np.ones(k, np.float32)
    c = rl.matmul_cost(1, n, k)  # y[1, n] = x[1, k] @ W^T[k, n]: same counts as W @ x
    W @ x
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        W @ x
        dt = time.perf_counter() - t0
        best = max(best, c.nbytes / dt / 1e9)
    return best, c.intensity


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--array-mb", type=float, default=None)
    ap.add_argument("--gemm-n", type=int, default=2048)
    args = ap.parse_args()

    threads, blas = rl.blas_info()
    mb = args.array_mb or rl.default_array_mb()
    print(f"BLAS: {blas}, {threads} thread(s); NumPy {np.__version__}")
    print(
        f"last-level cache {rl.fmt_bytes(rl.last_level_cache_bytes())}; "
        f"STREAM arrays {mb:.0f} MiB each; GEMM n={args.gemm_n}; {args.reps} reps per run"
    )
    print()
    print(f"{'run':>3} {'kernel':6} {'best':>9} {'worst':>9} {'spread':>7}  unit")
    runs: list[rl.MachinePeaks] = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        pk = rl.calibrate(array_mb=mb, gemm_n=args.gemm_n, reps=args.reps)
        took = time.perf_counter() - t0
        runs.append(pk)
        for k, unit in (("copy", "GB/s"), ("triad", "GB/s"), ("gemm", "GFLOP/s")):
            s = pk.samples[k]
            print(f"{i + 1:3d} {k:6} {max(s):9.1f} {min(s):9.1f} {pk.spread[k]:7.1%}  {unit}")
        print(f"    calibration took {took:.1f} s")
    print()
    print("best figure across runs (min .. max, spread):")
    for name, attr, unit in (
        ("copy", "copy_gbps", "GB/s"),
        ("triad", "triad_gbps", "GB/s"),
        ("triad, 5 passes NumPy moves", "triad_moved_gbps", "GB/s"),
        ("GEMM fp32", "gemm_gflops", "GFLOP/s"),
    ):
        v = [getattr(p, attr) for p in runs]
        print(
            f"  {name:28} {min(v):8.1f} .. {max(v):8.1f} {unit:8} "
            f"({(max(v) - min(v)) / max(v):.1%})"
        )
    best = max(runs, key=lambda p: p.gbps)
    print(f"  ridge pi/beta: {best.ridge:.2f} FLOP/byte")
    print()
    mv, intensity = matvec_gbps()
    print(
        f"fp32 mat-vec over 256 MiB: {mv:.1f} GB/s at {intensity:.3f} FLOP/byte "
        f"= {mv / best.gbps:.2f} x beta ({best.gbps:.1f} GB/s) -> "
        f"{'within' if mv <= best.gbps * (1 + rl.ABOVE_ROOF_TOLERANCE) else 'ABOVE'} the roof"
    )


if __name__ == "__main__":
    main()
