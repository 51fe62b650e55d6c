"""A session's memory under a flood over many paths (issue 11: "its memory stays bounded").

Folds measurement frames (batches of 8,192 over ``--paths`` kept paths, lognormal
durations, as benchmarks/flood_program.py sends them) straight into a SessionState, and
prints, every few million measurements, the bytes its accumulators hold (exact samples,
recent rings, histograms) and the process's RSS. Each setting runs in its own process
(RSS is per process): the session's default budgets (``exact_budget`` 8 M samples,
``recent_budget`` 4 M) against no session-wide budget (each op bounded only by its own
100,000 exact samples and 32,768-sample ring, as before the budgets).

Run: python benchmarks/bench_session_memory.py [--millions M] [--paths N]
Nothing is asserted; the figures are printed (the machine's load average with them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

BATCH = 8192


def child(millions: float, paths: int, bounded: bool) -> None:
    import numpy as np
    import psutil

    from zlprof.protocol import Frame
    from zlprof.session import SessionState

    big = 1 << 62
    st = SessionState() if bounded else SessionState(exact_budget=big, recent_budget=big)
    st.ingest(Frame("names", {"paths": [[i, 0, f"op{i}"] for i in range(1, paths + 1)]}))
    rng = np.random.default_rng(0)
    proc = psutil.Process()
    total = int(millions * 1e6)
    step = max(BATCH * 8, total // 8)
    done, t, nxt = 0, 0, step
    out = []
    fold_s = 0.0
    while done < total:
        p = rng.integers(1, paths + 1, BATCH).astype(np.int32)
        d = rng.lognormal(8, 1, BATCH).astype(np.int64)
        t0 = t + np.cumsum(d + 100) - d - 100
        t = int(t0[-1] + d[-1] + 100)
        c0 = time.perf_counter()
        st.ingest(Frame("meas", {"n": BATCH, "path": p, "t0": t0, "t1": t0 + d}))
        fold_s += time.perf_counter() - c0
        done += BATCH
        if done >= nxt:
            nxt += step
            accs = st._accumulators()
            out.append({
                "M": round(done / 1e6, 1),
                "held_MiB": round(sum(a.nbytes() for a in accs) / 2**20, 1),
                "exact_M": round(sum(a.exact_count for a in accs) / 1e6, 2),
                "hist_ops": sum(a.hist is not None for a in accs),
                "rss_MiB": round(proc.memory_info().rss / 2**20),
            })
    print(json.dumps({"timeline": out, "fold_M_per_s": done / fold_s / 1e6}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--millions", type=float, default=30.0)
    ap.add_argument("--paths", type=int, default=2_000)
    ap.add_argument("--child", choices=["bounded", "unbounded"])
    a = ap.parse_args()
    if a.child:
        child(a.millions, a.paths, a.child == "bounded")
        return
    print(f"{a.millions:g} M measurements over {a.paths:,} paths, folded into a SessionState; "
          f"{os.cpu_count()} cores (shared: figures are noisy); load average {os.getloadavg()[0]:.1f}")
    res = {}
    for mode in ("unbounded", "bounded"):
        r = subprocess.run([sys.executable, __file__, "--child", mode, "--millions", str(a.millions),
                            "--paths", str(a.paths)], capture_output=True, text=True, check=True)
        res[mode] = json.loads(r.stdout.splitlines()[-1])
    print(f"   {'measurements':>12} | {'held MiB':>9} {'RSS MiB':>8} {'exact M':>8} | "
          f"{'held MiB':>9} {'RSS MiB':>8} {'exact M':>8} {'hist ops':>8}")
    print(f"   {'':>12} | {'no session budget':^27} | {'default budgets':^36}")
    for u, b in zip(res["unbounded"]["timeline"], res["bounded"]["timeline"], strict=True):
        print(f"   {u['M']:>10.1f} M | {u['held_MiB']:>9.1f} {u['rss_MiB']:>8} {u['exact_M']:>8.2f} | "
              f"{b['held_MiB']:>9.1f} {b['rss_MiB']:>8} {b['exact_M']:>8.2f} {b['hist_ops']:>8}")
    fu, fb = res["unbounded"]["fold_M_per_s"], res["bounded"]["fold_M_per_s"]
    print(f"   fold rate (M meas/s, this thread alone): {fu:.2f} without, {fb:.2f} with the budgets "
          f"({fb / fu:.2f}x)")
    print(f"   load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
