"""Measurements decoded and folded into statistics per second, headless.

Builds a realistic stream (70 ops in a call tree, 1024 records a frame, as the child
flushes), then times decode + fold through the same path the app uses
(FrameDecoder.feed_raw -> SessionState.ingest_many). Also the cost of encoding, of the
recorder (compact 2.2 chunks) and of reading its file back (read_recording + fold).

Run: python benchmarks/bench_ingest.py [N_MILLION]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zlprof import protocol
from zlprof.recording import RecordingWriter, read_recording
from zlprof.session import SessionState


def make_stream(n: int, ops: int = 70, batch: int = 1024) -> bytes:
    rng = np.random.default_rng(0)
    parts = [
        protocol.encode_hello(pid=1, argv=["bench"], start_ns=0, wall_time=0.0, python="3",
                              numpy_version=np.__version__, platform="linux"),
        protocol.encode_names([(i, 0 if i == 1 else 1, f"op{i}") for i in range(1, ops + 1)]),
    ]
    t = 0
    for start in range(0, n, batch):
        k = min(batch, n - start)
        path = rng.integers(1, ops + 1, size=k).astype(np.int32)
        dur = rng.lognormal(10, 1, size=k).astype(np.int64)
        t0 = t + np.cumsum(dur) + np.arange(k)
        t = int(t0[-1] + dur[-1])
        parts.append(protocol.encode_measurements(1, path, t0, t0 + dur))
    return b"".join(parts)


def main() -> None:
    n = int(float(sys.argv[1]) * 1e6) if len(sys.argv) > 1 else 5_000_000
    t = time.perf_counter()
    data = make_stream(n)
    enc = time.perf_counter() - t
    print(f"stream: {n:,} measurements, {len(data) / 1e6:.1f} MB, encoded at {n / enc / 1e6:.2f} M/s")
    best_dec = best_all = float("inf")
    for _ in range(3):
        # decode only
        t = time.perf_counter()
        dec = protocol.FrameDecoder()
        chunk = 1 << 20
        for i in range(0, len(data), chunk):
            dec.feed_raw(data[i : i + chunk])
        best_dec = min(best_dec, time.perf_counter() - t)
        # decode + fold, reading 1 MiB at a time as LiveSource does
        state = SessionState()
        t = time.perf_counter()
        dec = protocol.FrameDecoder()
        for i in range(0, len(data), chunk):
            frames, _ = dec.feed_raw(data[i : i + chunk])
            state.ingest_many(frames)
        best_all = min(best_all, time.perf_counter() - t)
        assert state.measurements == n
    print(f"decode only:        {n / best_dec / 1e6:6.1f} M measurements/s")
    print(f"decode + fold:      {n / best_all / 1e6:6.1f} M measurements/s   (target >= 5 M/s)")
    t = time.perf_counter()
    rows = state.op_rows()
    print(f"op_rows() for {len(rows)} ops: {(time.perf_counter() - t) * 1e3:.1f} ms")
    # the recorder (schema 2.2: compact columns, zstd) and reading its file back
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "ingest.zlp"
        dec = protocol.FrameDecoder()
        t = time.perf_counter()
        with RecordingWriter(path, force=True, max_size=0) as w:
            for i in range(0, len(data), chunk):
                _, raw = dec.feed_raw(data[i : i + chunk])
                w.write_raw(raw)
        rec = time.perf_counter() - t
        size = path.stat().st_size
        best_read = best_load = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            res = read_recording(path)
            best_read = min(best_read, time.perf_counter() - t)
            t = time.perf_counter()
            st = SessionState()
            st.ingest_many(res.frames)
            best_load = min(best_load, time.perf_counter() - t + best_read)
            assert st.measurements == n
    print(f"recorder (2.2):     {n / rec / 1e6:6.1f} M measurements/s, {size / n:.2f} B/measurement "
          f"({len(data) / n:.2f} on the wire)")
    print(f"read recording:     {n / best_read / 1e6:6.1f} M measurements/s (decompress + decode)")
    print(f"read + fold:        {n / best_load / 1e6:6.1f} M measurements/s   (target >= 5 M/s)")


if __name__ == "__main__":
    main()
