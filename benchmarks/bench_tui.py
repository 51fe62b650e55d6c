"""The live app under load: ingest rate while refreshing, key latency, memory, refresh cost.

Runs the real app headless (Textual's test driver: everything up to the compositor's
screen update runs; only the final ANSI encoding and terminal write are skipped) with a
synthetic source that decodes and folds measurement frames as fast as one thread can,
exactly like LiveSource's reader thread (FrameDecoder.feed_raw -> SessionState.ingest_many).

Figures, all from one run (ratios and rates; nothing here is asserted):

1. sustained measurements/s ingested while the app refreshes at 5 Hz, and the refresh
   rate actually achieved, vs the same feeder with no app running;
2. key-press to screen-update latency under that load (``s``: re-sort the table), from
   posting the key to the first screen update after the action ran;
3. app memory (RSS) after 10 M and 50 M ingested measurements;
4. the UI cost of one table refresh: diffing cells (update_cell) vs rebuilding the table
   (clear + add_row), each followed by the repaint.

Run: python benchmarks/bench_tui.py [--quick] [--size=WxH]   (default 120x40)
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import threading
import time

import numpy as np
import psutil

from zlprof import protocol
from zlprof.roofline import MachinePeaks
from zlprof.sources import Source
from zlprof.tui.app import ZlprofApp
from zlprof.tui.screens.main import MainScreen
from zlprof.tui.widgets.ops_table import OpsTable

OPS = 48  # about what `--profile-depth ops` of the tiny preset records
BATCH = 4096  # records per frame (the profiler flushes in batches)
POOL_FRAMES = 256  # distinct encoded frames, replayed with shifted timestamps


def _paths() -> list[tuple[int, int, str]]:
    """A call tree: forward_pass/layer{i}/{op} plus top-level ops."""
    paths = [(1, 0, "tokenize"), (2, 0, "forward_pass"), (3, 0, "sampling"), (4, 0, "decode")]
    pid = 5
    for layer in range(4):
        lid = pid
        paths.append((lid, 2, f"layer{layer}"))
        pid += 1
        for name in ("rmsnorm", "attention.qkv", "attention.rope", "attention.scores",
                     "attention.softmax", "attention.out", "mlp.gate_up", "mlp.act", "mlp.down",
                     "kv_cache_update"):
            paths.append((pid, lid, name))
            pid += 1
    return paths[:OPS]


def _pool() -> tuple[list[bytes], int]:
    """Encoded measurement frames with timestamps relative to 0, and the time they span."""
    rng = np.random.default_rng(0)
    frames: list[bytes] = []
    t = 0
    for _ in range(POOL_FRAMES):
        path = rng.integers(1, OPS + 1, size=BATCH).astype(np.int32)
        dur = rng.lognormal(10, 1, size=BATCH).astype(np.int64)
        t0 = t + np.cumsum(dur) + np.arange(BATCH)
        t = int(t0[-1] + dur[-1])
        frames.append(protocol.encode_measurements(1, path, t0, t0 + dur))
    return frames, t


class FloodSource(Source):
    """Feeds frames from a pool as fast as one thread can, shifting time on every lap."""

    kind = "bench"

    def __init__(self) -> None:
        super().__init__()
        self.argv = ["python", "bench"]
        self.pool, self.span = _pool()
        self.running = threading.Event()
        self.stop_flag = False
        self.target = 0  # stop feeding at this many measurements (0 = no limit)
        self.thread = threading.Thread(target=self._run, name="bench-feeder", daemon=True)

    def start(self) -> None:
        hello = protocol.encode_hello(pid=1, argv=self.argv, start_ns=0, wall_time=0.0,
                                      python="3", numpy_version=np.__version__, platform="bench")
        self.state.ingest_many(protocol.decode_stream(hello + protocol.encode_names(_paths())))
        self._set_status("running")
        self.thread.start()

    def _run(self) -> None:
        lap = 0
        dec = protocol.FrameDecoder()
        while not self.stop_flag:
            if not self.running.is_set():
                self.running.wait(0.05)
                continue
            offset = lap * self.span
            for raw in self.pool:
                if self.stop_flag or not self.running.is_set():
                    break
                if self.target and self.state.measurements >= self.target:
                    self.running.clear()
                    break
                frames, _ = dec.feed_raw(raw)
                for fr in frames:
                    fr.body["t0"] = fr.body["t0"] + offset
                    fr.body["t1"] = fr.body["t1"] + offset
                self.state.ingest_many(frames)
            lap += 1

    def stop(self) -> None:
        self.stop_flag = True
        self.running.set()
        self.thread.join(timeout=5)
        self._set_status("stopped")


def baseline_rate(seconds: float) -> float:
    """Measurements/s of the feeder alone (no app)."""
    src = FloodSource()
    src.start()
    m0, t0 = src.state.measurements, time.perf_counter()
    src.running.set()
    time.sleep(seconds)
    src.running.clear()
    rate = (src.state.measurements - m0) / (time.perf_counter() - t0)
    src.stop()
    return rate


class BenchApp(ZlprofApp):
    """The app, with a timestamp on every screen update and timing of every refresh."""

    def __init__(self, source: Source) -> None:
        super().__init__(source, peaks=MachinePeaks(gflops=200.0, gbps=20.0, source="cached"))
        self.paints: list[float] = []
        self.apply_s: list[float] = []

    def post_display_hook(self) -> None:
        self.paints.append(time.perf_counter())


async def run(quick: bool, size: tuple[int, int] = (120, 40)) -> None:
    duration = 4.0 if quick else 10.0
    print(f"synthetic stream: {OPS} ops in a call tree, {BATCH} records per frame")
    base = baseline_rate(2.0 if quick else 4.0)
    print(f"feeder alone (decode + fold, one thread): {base / 1e6:6.2f} M measurements/s")

    src = FloodSource()
    src.start()
    app = BenchApp(src)
    proc = psutil.Process()
    original_apply = MainScreen.apply_snapshot

    def timed_apply(self: MainScreen, snap) -> None:  # noqa: ANN001
        t = time.perf_counter()
        original_apply(self, snap)
        app.apply_s.append(time.perf_counter() - t)

    MainScreen.apply_snapshot = timed_apply  # type: ignore[method-assign]
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)
            table = app.main_screen.query_one(OpsTable)

            # 1. ingest while refreshing ------------------------------------------
            applied0, taken0, skipped0 = app.main_screen.applied, app.refresher.taken, app.refresher.skipped
            secs0 = app.refresher.seconds
            app.apply_s.clear()
            m0, t0 = src.state.measurements, time.perf_counter()
            src.running.set()
            await asyncio.sleep(duration)
            elapsed = time.perf_counter() - t0
            ingested = src.state.measurements - m0
            applied = app.main_screen.applied - applied0
            taken = app.refresher.taken - taken0
            rate = ingested / elapsed
            print(f"\n1. ingest while the app refreshes ({duration:.0f} s, {size[0]}x{size[1]}, "
                  f"{app.refresh_hz:.0f} Hz timer)")
            print(f"   ingested:        {rate / 1e6:6.2f} M measurements/s  ({rate / base:.0%} of the feeder alone)")
            print(f"   refreshes shown: {applied / elapsed:6.2f} /s  (snapshots taken {taken}, "
                  f"ticks skipped while busy {app.refresher.skipped - skipped0})")
            snap_ms = (app.refresher.seconds - secs0) / max(taken, 1) * 1e3
            ui_ms = statistics.mean(app.apply_s) * 1e3 if app.apply_s else float("nan")
            print(f"   per refresh:     snapshot {snap_ms:.1f} ms (refresher thread), "
                  f"apply {ui_ms:.1f} ms (UI thread, {len(table.shown_columns) + 1} columns x "
                  f"{table.row_count} rows)")

            # 2. key latency under load -------------------------------------------
            lat: list[float] = []
            acted: list[float] = []
            original_sort = MainScreen.action_sort

            def marked_sort(self: MainScreen) -> None:
                original_sort(self)
                acted.append(time.perf_counter())

            MainScreen.action_sort = marked_sort  # type: ignore[method-assign]
            rng = np.random.default_rng(1)
            presses = 10 if quick else 30
            for _ in range(presses):
                await asyncio.sleep(float(rng.uniform(0.05, 0.3)))
                n_acted = len(acted)
                t_key = time.perf_counter()
                await app._press_keys(["s"])  # as the driver would post it
                deadline = time.perf_counter() + 2.0
                while time.perf_counter() < deadline:
                    if len(acted) > n_acted:
                        after = [p for p in app.paints if p >= acted[n_acted]]
                        if after:
                            lat.append(after[0] - t_key)
                            break
                    await asyncio.sleep(0.001)
            MainScreen.action_sort = original_sort  # type: ignore[method-assign]
            lat_ms = sorted(x * 1e3 for x in lat)
            print(f"\n2. key press -> screen update under load ({len(lat)} presses of 's', "
                  f"random gaps)")
            print(f"   median {statistics.median(lat_ms):.1f} ms   p95 "
                  f"{lat_ms[int(len(lat_ms) * 0.95) - 1]:.1f} ms   max {lat_ms[-1]:.1f} ms   (target <= 100 ms)")

            # 3. memory at 10 M and 50 M ------------------------------------------
            print("\n3. app memory (RSS) as measurements accumulate")
            readings = {}
            for target in (10_000_000, 50_000_000):
                src.target = target
                src.running.set()
                while src.state.measurements < target:
                    await asyncio.sleep(0.2)
                await pilot.pause(0.5)
                gc.collect()
                readings[target] = proc.memory_info().rss
                print(f"   after {target / 1e6:>4.0f} M: {readings[target] / 2**20:7.1f} MiB "
                      f"(state: {sum(a.nbytes() for a in src.state.ops.values()) / 2**20:.1f} MiB of samples)")
            growth = readings[50_000_000] / readings[10_000_000] - 1
            print(f"   growth 10 M -> 50 M: {growth:+.1%}   (target <= 10 %)")
            src.running.clear()

            # 4. one table refresh: diff vs rebuild ---------------------------------
            await pilot.pause(0.3)
            print("\n4. one refresh of the operations table (UI thread, incl. repaint)")
            screen = app.main_screen
            rows_a = src.state.op_rows()
            src.target = 0
            src.running.set()
            await asyncio.sleep(0.3)
            src.running.clear()
            await pilot.pause(0.3)
            rows_b = src.state.op_rows()

            async def one(rows, rebuild: bool) -> float:  # noqa: ANN001
                t = time.perf_counter()
                if rebuild:
                    table.clear()
                    table._order, table._cells = [], {}
                table.show_ops(rows, screen.options)
                n = len(app.paints)
                deadline = t + 2.0
                while len(app.paints) == n and time.perf_counter() < deadline:
                    await asyncio.sleep(0)
                return time.perf_counter() - t

            for label, rebuild in (("diff (update_cell)", False), ("rebuild (clear + add_row)", True)):
                times = []
                for i in range(20):
                    times.append(await one(rows_a if i % 2 else rows_b, rebuild))
                print(f"   {label:<27} median {statistics.median(times) * 1e3:6.1f} ms "
                      f"({table.row_count} rows x {len(table.shown_columns) + 1} columns)")
    finally:
        MainScreen.apply_snapshot = original_apply  # type: ignore[method-assign]
        src.stop()


def main() -> None:
    size = (120, 40)
    for arg in sys.argv[1:]:
        if arg.startswith("--size="):
            w, h = arg.split("=", 1)[1].lower().split("x")
            size = (int(w), int(h))
    asyncio.run(run("--quick" in sys.argv, size))


if __name__ == "__main__":
    main()
