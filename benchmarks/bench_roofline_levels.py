"""The cache-aware roofline's measured goals, in one run.

1. Calibrate (as ``zlprof roofline --calibrate`` does; the cache is not written) and time
   it; print every level's read / copy bandwidth and check L1 > L2 > L3 > DRAM (read).
2. Right after, an independent STREAM-style NumPy copy (``np.copyto`` over two arrays of
   the calibration's DRAM size, one call, best of N, 2 arrays counted) and the ratio of the
   calibrated DRAM copy to it (goal: within 15 %).
3. With ``--presets tiny,medium``: record each preset (``zlprof record --max-tokens N``)
   and place it against the peaks just measured: decode ops above their level's roof
   (goal for tiny: none), the level and bound of every decode mat-vec (goal for medium:
   DRAM, memory-bound) and the forward pass's share of its level's roof (goal for
   medium: >= 70 %).

Run: python benchmarks/bench_roofline_levels.py [--reps N] [--presets tiny,medium]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zlprof import roofline as rl
from zlprof.recording import load_session

MATVECS = ("attention.qkv", "attention.out", "mlp.gate_up", "mlp.down", "lm_head")


def numpy_copy_gbps(nbytes: int, reps: int = 7) -> float:
    a = np.full(nbytes // 8, 1.0)
    b = np.empty_like(a)
    np.copyto(b, a)
    best = 0.0
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t0) / 1e9)
    return best


def record(preset: str, tokens: int, out: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ZLPROF_FD"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "zlprof",
            "record",
            "--preset",
            preset,
            "--max-tokens",
            str(tokens),
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=900,
        env=env,
    )


def check_preset(preset: str, tokens: int, peaks: rl.MachinePeaks, tmp: Path) -> None:
    path = tmp / f"{preset}.zlp"
    t0 = time.perf_counter()
    record(preset, tokens, path)
    print(f"\n== {preset}: recorded {tokens} tokens in {time.perf_counter() - t0:.1f} s")
    rows = load_session(path).op_rows()
    points = rl.place(rows, peaks)
    decode = [p for p in points if p.in_loop]
    above = [p for p in decode if p.above_roof]
    for p in decode:
        if p.key.rsplit("/", 1)[-1] in MATVECS:
            print(
                f"  {p.key:34} {p.level:4} {p.bound:7} {p.gbps:6.1f} GB/s = "
                f"{p.roof_share:4.0%} of {p.level} ({p.level_reason})"
            )
    print(
        f"  decode ops above their level's roof: {len(above)} "
        f"{[p.key for p in above] if above else ''}"
    )
    mv = [p for p in decode if p.key.rsplit("/", 1)[-1] in MATVECS]
    at_dram = sum(p.level == rl.DRAM and p.bound == "memory" for p in mv)
    print(f"  decode mat-vecs at DRAM and memory-bound: {at_dram} of {len(mv)}")
    s = rl.stream_summary(rows, peaks)
    if s is not None:
        print(f"  headline: {s.text()}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--presets", default="")
    ap.add_argument("--tokens", type=int, default=16)
    args = ap.parse_args()
    t0 = time.perf_counter()
    pk = rl.calibrate(reps=args.reps)
    took = time.perf_counter() - t0
    print(
        f"calibration: {took:.1f} s, {pk.reps} reps, "
        f"cpu busy before {max(pk.cpu_busy, 0):.0%} (load {pk.loadavg:.1f})"
    )
    print(rl.peaks_report(pk, None))
    reads = [lv.read_gbps for lv in pk.levels]
    names = [lv.name for lv in pk.levels]
    ordered = all(a > b for a, b in zip(reads, reads[1:], strict=False))
    print(
        "read bandwidth by level: "
        + " > ".join(f"{n} {r:.1f}" for n, r in zip(names, reads, strict=True))
        + f"  -> strictly decreasing: {ordered}"
    )
    dram = pk.level(rl.DRAM)
    indep = numpy_copy_gbps(dram.working_set_bytes if dram else 256 << 20)
    ratio = pk.copy_gbps / indep
    print(
        f"DRAM copy: calibrated {pk.copy_gbps:.1f} GB/s, independent NumPy copy right after "
        f"{indep:.1f} GB/s: ratio {ratio:.2f} ({abs(ratio - 1):.0%} apart; goal <= 15 %)"
    )
    if args.presets:
        with tempfile.TemporaryDirectory(prefix="zlprof-bench-") as tmp:
            for preset in args.presets.split(","):
                check_preset(preset, args.tokens, pk, Path(tmp))


if __name__ == "__main__":
    main()
