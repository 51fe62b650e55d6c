"""Seeking in a replay of a 1 M-measurement recording, and listing it in the library.

Writes a realistic recording (70 ops in a call tree, 1024 records a measurement frame with
memory columns, a memory sample and a tokens frame per batch, as the child flushes), then:

* opens it as a ReplaySource (read + decode) and builds the seek index (checkpoints);
* seeks to random positions, forwards and backwards, and prints each seek's time next to
  folding from the start up to the same point (what a seek without checkpoints costs);
* scans it for the session library next to folding it whole (the old way).

Run: python benchmarks/bench_seek.py [N_MILLION] [--keep PATH]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from zlprof import protocol, sessions
from zlprof.recording import RecordingWriter, load_session
from zlprof.replay import ReplaySource
from zlprof.session import SessionState

OPS = 70
BATCH = 1024


def write_recording(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    start = 10**12
    with RecordingWriter(path, force=True) as w:
        w.write_raw(protocol.encode_hello(
            pid=1, argv=["bench_seek"], start_ns=start, wall_time=time.time(), python="3",
            numpy_version=np.__version__, platform="linux"))
        w.write_raw(protocol.encode_names(
            [(i, 0 if i == 1 else 1 + (i - 2) // 10, f"op{i}") for i in range(1, OPS + 1)]))
        w.write_raw(protocol.encode_tokens([(start, 0, 0, "start", "")]))
        t = start
        tok = 0
        for lo in range(0, n, BATCH):
            k = min(BATCH, n - lo)
            path = rng.integers(1, OPS + 1, size=k).astype(np.int32)
            dur = rng.lognormal(10.5, 0.5, size=k).astype(np.int64)
            t0 = t + np.cumsum(dur) - dur + np.arange(k) * 200
            t1 = t0 + dur
            t = int(t1[-1])
            m0 = (1 << 28) + rng.integers(0, 1 << 20, size=k)
            w.write_raw(protocol.encode_measurements(1, path, t0, t1, m0, m0 + 4096))
            w.write_raw(protocol.encode_memory([t], [(1 << 29) + lo], [-1],
                                               {"kv_cache_bytes": [lo * 16]}))
            tok += 1
            w.write_raw(protocol.encode_tokens([(t, 0, tok, "decode", "x")]))
        w.write_raw(protocol.encode_end(0, "exited normally"))


def fold_to(src: ReplaySource, seconds: float) -> float:
    """Time to fold from the start to ``seconds``, frame by frame, as without checkpoints."""
    frames = src._frames  # noqa: SLF001  (benchmark: the same frames the source holds)
    times = src._times  # noqa: SLF001
    st = SessionState()
    t = time.perf_counter()
    for fr, ft in zip(frames, times, strict=True):
        if ft > seconds * 1e9:
            break
        st.ingest_many([fr])
    return time.perf_counter() - t


def main() -> None:
    args = sys.argv[1:]
    keep = None
    if "--keep" in args:
        i = args.index("--keep")
        keep = Path(args[i + 1])
        del args[i : i + 2]
    n = int(float(args[0]) * 1e6) if args else 1_000_000
    tmp = tempfile.TemporaryDirectory()
    path = keep or Path(tmp.name) / "seek.zlp"
    t = time.perf_counter()
    write_recording(path, n)
    print(f"recording: {n:,} measurements, {path.stat().st_size / 1e6:.1f} MB, "
          f"written in {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    src = ReplaySource(path, speed=1.0, paused=True)
    open_s = time.perf_counter() - t
    print(f"open (read + decode {src.frame_count:,} frames): {open_s:.3f} s; "
          f"duration {src.duration_s:.1f} s of session time")
    src.start()
    src.wait_indexed()
    print(f"seek index: {src.index_s:.3f} s, {src.checkpoints} checkpoints")

    rng = np.random.default_rng(1)
    targets = [src.duration_s, 0.0, src.duration_s * 0.5]
    targets += (rng.random(17) * src.duration_s).tolist()
    seeks, folds = [], []
    print(f"{'target s':>9} {'dir':>4} {'seek ms':>8} {'fold-from-start ms':>19} {'ratio':>6}")
    pos = src.position_s
    for target in targets:
        t = time.perf_counter()
        src.seek(target, wait=True)
        dt = time.perf_counter() - t
        ft = fold_to(src, target)
        seeks.append(dt)
        folds.append(ft)
        direction = "fwd" if target >= pos else "back"
        pos = target
        ratio = ft / dt if dt > 0 else float("inf")
        print(f"{target:9.2f} {direction:>4} {dt * 1e3:8.1f} {ft * 1e3:19.1f} {ratio:6.1f}x")
    src.stop()
    print(f"seek: median {statistics.median(seeks) * 1e3:.1f} ms, max {max(seeks) * 1e3:.1f} ms "
          f"(requirement < 500 ms); fold-from-start median {statistics.median(folds) * 1e3:.1f} ms")

    # right after start, before the index exists: forwards folds on, backwards waits
    early = ReplaySource(path, speed=1.0, paused=True)
    early.start()
    t = time.perf_counter()
    early.seek(early.duration_s * 0.9, wait=True)
    fwd = time.perf_counter() - t
    t = time.perf_counter()
    early.seek(early.duration_s * 0.1, wait=True)
    back = time.perf_counter() - t
    early.stop()
    print(f"seeks before the index is ready: forward to 90% {fwd * 1e3:.0f} ms (the index has "
          f"to fold that far first), then back to 10% {back * 1e3:.0f} ms (from a checkpoint "
          f"made on the way)")

    t = time.perf_counter()
    info = sessions._scan_info(path, path.stat().st_size, 0.0)  # noqa: SLF001 (uncached)
    scan_s = time.perf_counter() - t
    t = time.perf_counter()
    st = load_session(path)
    load_s = time.perf_counter() - t
    assert abs(info.duration_s - st.elapsed_ns / 1e9) < 1e-6 and info.tokens == st.tokens_total
    print(f"session library: header scan {scan_s * 1e3:.1f} ms vs full fold {load_s * 1e3:.0f} ms "
          f"({load_s / scan_s:.0f}x)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
