"""A one-hour synthetic session recorded under a size budget.

Streams an hour of session time (default 22,000 measurements a second, the tiny preset's
rate in the issue: 70 ops, 1024 records a frame, a memory sample, costs and a token per
frame) through RecordingWriter with ``--max-size`` (default 100 MB), then prints the
largest size the file reached, how often it was compacted, the final size, and checks that
the file still holds the whole session's per-op counts and totals.

Run: python benchmarks/bench_budget.py [--minutes 60] [--rate 22000] [--max-size-mb 100]
     [--inline]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from zlprof import protocol
from zlprof.recording import RecordingWriter, load_session

OPS = 70
BATCH = 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--rate", type=int, default=22_000, help="measurements per second")
    ap.add_argument("--max-size-mb", type=float, default=100.0)
    ap.add_argument("--inline", action="store_true",
                    help="compact in the writing thread (the file never passes the budget "
                         "by more than a chunk; the default compacts in the background, "
                         "and this script writes far faster than a live session, so the "
                         "file grows while a compaction runs)")
    args = ap.parse_args()
    budget = int(args.max_size_mb * 1e6)
    n_total = int(args.minutes * 60 * args.rate)
    rng = np.random.default_rng(0)
    start = 10**12
    step_ns = int(BATCH / args.rate * 1e9)  # session time a frame covers
    medians = rng.uniform(9, 12, OPS + 1)
    counts = np.zeros(OPS + 1, np.int64)
    totals = np.zeros(OPS + 1, np.int64)
    peak = 0
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "hour.zlp"
        t_wall = time.perf_counter()
        with RecordingWriter(path, max_size=budget, background=not args.inline) as w:
            w.write_raw(protocol.encode_hello(
                pid=1, argv=["bench_budget"], start_ns=start, wall_time=time.time(),
                python="3", numpy_version=np.__version__, platform="linux"))
            w.write_raw(protocol.encode_names(
                [(i, 0 if i == 1 else 1 + (i - 2) // 10, f"op{i}") for i in range(1, OPS + 1)]))
            t = start
            done = 0
            tok = 0
            while done < n_total:
                k = min(BATCH, n_total - done)
                path_ids = rng.integers(1, OPS + 1, size=k).astype(np.int32)
                dur = rng.lognormal(medians[path_ids], 0.3).astype(np.int64)
                t0 = t + np.sort(rng.integers(0, step_ns, size=k))
                t1 = t0 + dur
                np.add.at(counts, path_ids, 1)
                np.add.at(totals, path_ids, dur)
                w.write_raw(protocol.encode_measurements(1, path_ids, t0, t1))
                w.write_raw(protocol.encode_memory([t], [(1 << 29) + done], [-1],
                                                   {"kv_cache_bytes": [done * 16]}))
                w.write_raw(protocol.encode_costs([(5, k // OPS, 10**6, 10**5)]))
                tok += 1
                w.write_raw(protocol.encode_tokens([(t + step_ns, 0, tok, "decode", "x")]))
                t += step_ns
                done += k
                peak = max(peak, w.bytes_written)
            w.write_raw(protocol.encode_end(0, "exited normally"))
        wall = time.perf_counter() - t_wall
        size = path.stat().st_size
        st = load_session(path)
        ok = all(st.ops[p].count == counts[p] and st.ops[p].moments.total == totals[p]
                 for p in range(1, OPS + 1) if counts[p])
        print(f"session: {args.minutes:g} min, {n_total:,} measurements "
              f"({args.rate:,}/s), written in {wall:.0f} s ({n_total / wall / 1e6:.2f} M/s)")
        print(f"budget {budget / 1e6:.0f} MB: largest size {peak / 1e6:.1f} MB, final "
              f"{size / 1e6:.1f} MB, {w.compactions} compactions")
        full = (st.full_from_ns - start) / 1e9 if st.full_from_ns else 0.0
        print(f"read back: {st.measurements:,} measurements counted, per-op counts and totals "
              f"{'equal' if ok else 'DIFFER'}; raw measurements from {full:.0f} s on")


if __name__ == "__main__":
    main()
