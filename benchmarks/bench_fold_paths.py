"""Fold throughput over many call paths, by how many measurements are folded at once.

    python benchmarks/bench_fold_paths.py [--paths N] [--seconds S]

A SessionState names N paths (100 groups of N/100 ops; past the session's cap the rest
count as "other"), then folds frames of 8,192 measurements over random paths (as
benchmarks/flood_program.py sends them), 1, 4, 16 or 64 frames per ``ingest_many`` call,
round-robin in short turns so that the machine's load hits every size alike. Prints the
rate of each and its ratio to one frame per call: the gain the live reader gets by folding
what arrives within its fold window at once (sources/live.py, FOLD_WINDOW_S).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from zlprof import protocol
from zlprof.session import SessionState

FRAME = 8192
SIZES = (1, 4, 16, 64)


def named_state(n: int) -> tuple[SessionState, int]:
    st = SessionState()
    paths = []
    pid = 1
    groups = 100
    for g in range(groups):
        gp = pid
        paths.append((gp, 0, f"group{g:03d}"))
        pid += 1
        for i in range(max(1, n // groups)):
            paths.append((pid, gp, f"op{g:03d}_{i:03d}"))
            pid += 1
    st.ingest_bytes(protocol.encode_names(paths))
    return st, pid


def frames(n_ids: int, count: int = 64) -> list[list[protocol.Frame]]:
    rng = np.random.default_rng(0)
    t = 1_000_000_000
    dec = protocol.FrameDecoder()
    out = []
    for _ in range(count):
        p = rng.integers(1, n_ids, size=FRAME).astype(np.int32)
        d = rng.integers(1_000, 50_000, size=FRAME).astype(np.int64)
        t0 = t + np.arange(FRAME, dtype=np.int64) * 60_000
        out.append(dec.feed(protocol.encode_measurements(1, p, t0, t0 + d)))
        t += FRAME * 60_000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=40.0)
    a = ap.parse_args()
    states = {k: named_state(a.paths) for k in SIZES}
    decoded = frames(states[1][1])
    folded = dict.fromkeys(SIZES, 0)
    spent = dict.fromkeys(SIZES, 0.0)
    i = 0
    end = time.perf_counter() + a.seconds
    while time.perf_counter() < end:
        for k in SIZES:
            st = states[k][0]
            t0 = time.perf_counter()
            for _ in range(64 // k):  # 64 frames a turn for every size
                batch: list[protocol.Frame] = []
                for _ in range(k):
                    batch.extend(decoded[i % len(decoded)])
                    i += 1
                st.ingest_many(batch)
            spent[k] += time.perf_counter() - t0
            folded[k] += 64 * FRAME
    print(f"{a.paths:,} names ({len(states[1][0].paths):,} paths kept), load {os.getloadavg()[0]:.2f}")
    base = folded[1] / spent[1]
    for k in SIZES:
        rate = folded[k] / spent[k]
        print(f"  {k:3d} frames ({k * FRAME:>7,} measurements) a fold: {rate / 1e6:5.2f} M/s  x{rate / base:.2f}")


if __name__ == "__main__":
    main()
