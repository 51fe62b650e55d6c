"""What the first screen's headline and table defaults (tui.opening) cost the Refresher
thread, as a ratio to the op rows it builds anyway (SessionState.op_rows).

Two sessions, measured in one run: sample_runs/small-batch4.zlp (171 paths with costs, so
the roofline verdict is computed too, with fixed peaks) and a synthetic one at the path cap
(session.MAX_PATHS = 2,000 paths: 20 top-level ops of 99 children). Each figure is the
median of repeated calls. Run: python benchmarks/bench_opening.py
Nothing is asserted; the ratios are printed.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from zlprof import protocol
from zlprof.recording import read_recording
from zlprof.roofline import MachinePeaks
from zlprof.session import SessionState
from zlprof.tui import opening

ROOT = Path(__file__).resolve().parent.parent
PEAKS = MachinePeaks(gflops=200.0, gbps=20.0, source="cached", date="2024-06-01")


def timed(fn, reps: int = 30) -> float:  # noqa: ANN001
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def synthetic(n_top: int = 20, n_kids: int = 99) -> SessionState:
    st = SessionState()
    names, pid = [], 1
    for t in range(n_top):
        top = pid
        names.append((top, 0, f"op{t}"))
        pid += 1
        for k in range(n_kids):
            names.append((pid, top, f"child{k}"))
            pid += 1
    ids = np.array([p for p, _, _ in names] * 5)
    t0 = np.arange(len(ids), dtype=np.int64) * 1_000 + 1_000_000_000
    frames = protocol.encode_names(names) + protocol.encode_measurements(1, ids, t0, t0 + 500)
    st.ingest_many(protocol.decode_stream(frames))
    return st


def main() -> None:
    rec = SessionState()
    rec.ingest_many(read_recording(ROOT / "sample_runs" / "small-batch4.zlp").frames)
    for name, st, peaks in (
        ("small-batch4.zlp, with peaks", rec, PEAKS),
        ("small-batch4.zlp, no peaks", rec, None),
        (f"{len(synthetic().op_rows()):,} paths, no costs", synthetic(), None),
    ):
        rows = st.op_rows()
        t_rows = timed(st.op_rows)
        # with the roofline verdict recomputed on every call (no reuse from a previous one)
        t_open = timed(lambda: opening.opening(rows, st.wall_ns, peaks))  # noqa: B023
        print(f"{name:32s} {len(rows):5d} rows  op_rows {t_rows * 1e3:7.2f} ms  "
              f"opening {t_open * 1e3:7.2f} ms  ratio {t_open / t_rows:5.2f}")


if __name__ == "__main__":
    main()
