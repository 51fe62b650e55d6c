"""The live app with 10,000 distinct call paths (issue 11): key latency, CPU, memory.

Runs the real app headless (Textual's test driver: everything up to the compositor's
screen update; only the terminal write is skipped) on real child programs under a
LiveSource (the real socket, reader thread and fold):

Phase 1, tests/programs/many_ops.py (N distinct names, 3 rounds, then it sleeps), with
1,000 and with 10,000 names: the app's CPU while the program idles (fraction of one core,
all the app's threads), its RSS, and key press -> screen update latency of typing a
filter (one key at a time) and of `s` (re-sort).

Phase 2, a flood: benchmarks/flood_program.py names 10,000 paths, then sends batched
measurement frames (as the real writer does) at 1 M measurements a second, and then as
fast as the connection takes them, while the same keys are timed: the rate the program
offered, the rate the app folded, the app's CPU and RSS. The feeder's own ceiling (frames
encoded and written to /dev/null) is measured first.

``--flood-only [--hold S]``: the flood at 1 M/s alone, held S seconds (30) before the
keys are timed, as one JSON line: measurements folded and RSS every 5 s, the fold rate,
and the Refresher's snapshots (how many, their total time, how many kept the last rows).

``--flood-only`` also prints how long the cycle collector stopped the app (ms per second
of wall time; per generation: collections, median and longest pause in ms). The app tunes
its collector (tui/collector.py); ``--gc-default`` leaves CPython's as it comes (A/B).

Run: python benchmarks/bench_many_ops.py [--quick | --program-only | --flood-only [--hold S]] [--gc-default]
Nothing is asserted; the figures are printed (the machine's load average with them).
"""

from __future__ import annotations

import asyncio
import builtins
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from zlprof.roofline import MachinePeaks
from zlprof.sources import LiveSource, Source
from zlprof.tui.app import ZlprofApp
from zlprof.tui.screens.main import MainScreen

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "programs" / "many_ops.py"
NAMES = 10_000
SIZE = (120, 40)
FLOOD = ROOT / "benchmarks" / "flood_program.py"


class BenchApp(ZlprofApp):
    """The app, with a timestamp on every screen update."""

    def __init__(self, source: Source) -> None:
        super().__init__(source, peaks=MachinePeaks(gflops=200.0, gbps=20.0, source="cached"))
        self.paints: list[float] = []

    def post_display_hook(self) -> None:
        self.paints.append(time.perf_counter())


class GcPauses:
    """How long the cycle collector stopped the process, per generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t0))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def summary(self, wall: float) -> dict[str, Any]:
        out: dict[str, Any] = {"gc_ms_per_s": round(sum(d for _, d in self.pauses) * 1e3 / wall, 1)}
        for g in (0, 1, 2):
            v = sorted(d * 1e3 for gen, d in self.pauses if gen == g)
            out[f"gc{g}"] = [len(v), round(v[len(v) // 2], 1) if v else 0.0, round(v[-1], 1) if v else 0.0]
        return out


def pct(values: list[float], q: int) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, len(v) * q // 100)]


async def key_latency(app: BenchApp, keys: list[str], gap_s: float = 0.15) -> list[float]:
    """Key press -> first screen update after the view changed (ms), one key at a time."""
    acted: list[float] = []
    original = MainScreen.set_options

    def marked(self: MainScreen, **changes) -> None:  # noqa: ANN003
        original(self, **changes)
        acted.append(time.perf_counter())

    MainScreen.set_options = marked  # type: ignore[method-assign]
    lat: list[float] = []
    try:
        for key in keys:
            await asyncio.sleep(gap_s)
            n = len(acted)
            t_key = time.perf_counter()
            await app._press_keys([key])
            deadline = time.perf_counter() + 5.0
            while time.perf_counter() < deadline:
                if len(acted) > n:
                    after = [p for p in app.paints if p >= acted[n]]
                    if after:
                        lat.append((after[0] - t_key) * 1e3)
                        break
                await asyncio.sleep(0.001)
    finally:
        MainScreen.set_options = original  # type: ignore[method-assign]
    return lat


FILTER_KEYS = ["f", "o", "p", "0", "1", "backspace", "2", "_", "0", "backspace", "backspace",
               "backspace", "backspace", "backspace", "g", "r", "backspace", "backspace", "escape"]


async def typing_and_sorting(app: BenchApp, sorts: int) -> dict[str, list[float]]:
    filt = await key_latency(app, FILTER_KEYS)
    srt = await key_latency(app, ["s"] * sorts)
    return {"filter": filt, "sort": srt}


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def phase_program(names: int, quick: bool) -> dict[str, float]:
    proc = psutil.Process()
    src = LiveSource([sys.executable, str(PROGRAM), "--names", str(names), "--idle", "600"], None)
    src.start()
    app = BenchApp(src)
    try:
        async with app.run_test(size=SIZE) as pilot:
            t0 = time.monotonic()
            while not any("idling" in line for line in list(src.stdout_tail)):
                await pilot.pause(0.1)
            load_s = time.monotonic() - t0
            await pilot.pause(3.0)  # the last frames folded and shown
            idle_s = 5.0 if quick else 10.0
            c0, w0 = cpu_s(proc), time.perf_counter()
            await asyncio.sleep(idle_s)
            cpu = (cpu_s(proc) - c0) / (time.perf_counter() - w0)
            rss = proc.memory_info().rss
            lat = await typing_and_sorting(app, 5 if quick else 15)
            rows = len(src.state.op_rows())
    finally:
        src.stop()
    return summary(lat) | {"load_s": load_s, "cpu": cpu, "rss": rss / 2**20, "rows": rows}


def summary(lat: dict[str, list[float]]) -> dict[str, float]:
    nan = float("nan")
    both = lat["filter"] + lat["sort"]
    out: dict[str, float] = {"n": len(both), "p95": pct(both, 95) if both else nan}
    for k, v in lat.items():
        out[f"{k}_p50"] = statistics.median(v) if v else nan
        out[f"{k}_p95"] = pct(v, 95) if v else nan
    return out


def sent(src: LiveSource) -> tuple[int, float]:
    """The flood program's last "sent N in S s" line: (measurements, seconds)."""
    for line in reversed(list(src.stdout_tail)):
        if line.startswith("sent "):
            parts = line.split()
            return int(parts[1]), float(parts[3])
    return 0, 0.0


def feeder_ceiling(seconds: float = 2.0) -> float:
    """Measurements a second the flood program encodes and writes to /dev/null."""
    out = subprocess.run(
        [sys.executable, str(FLOOD), "--rate", "0", "--seconds", str(seconds), "--idle", "0", "--null"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.splitlines()
    line = [x for x in out if x.startswith("sent ")][-1].split()
    return int(line[1]) / float(line[3])


async def phase_flood(rate: float, quick: bool, hold: float = 0.0) -> dict[str, Any]:
    proc = psutil.Process()
    src = LiveSource([sys.executable, str(FLOOD), "--names", str(NAMES), "--rate", str(rate),
                      "--seconds", "600"], None)
    src.start()
    app = BenchApp(src)
    try:
        async with app.run_test(size=SIZE) as pilot:
            while not any(line.startswith("sent ") for line in list(src.stdout_tail)):
                await pilot.pause(0.1)
            await pilot.pause(2.0)
            m0, w0, c0, s0 = src.state.measurements, time.perf_counter(), cpu_s(proc), sent(src)
            r0 = (app.refresher.taken, app.refresher.seconds, getattr(app.refresher, "paced", 0))
            timeline = []
            with GcPauses() as pauses:
                while time.perf_counter() - w0 < hold:
                    await asyncio.sleep(5.0)
                    timeline.append((round(time.perf_counter() - w0, 1),
                                     round(src.state.measurements / 1e6, 2),
                                     round(proc.memory_info().rss / 2**20)))
                lat = await typing_and_sorting(app, 5 if quick else 15)
            wall = time.perf_counter() - w0
            folded = (src.state.measurements - m0) / wall
            cpu = (cpu_s(proc) - c0) / wall
            s1 = sent(src)
            offered = (s1[0] - s0[0]) / (s1[1] - s0[1]) if s1[1] > s0[1] else float("nan")
            rss = proc.memory_info().rss
            rows = len(src.state.op_rows())
            r = app.refresher
            snaps = {"snapshots": r.taken - r0[0], "snapshot_s": round(r.seconds - r0[1], 2),
                     "kept_rows": getattr(r, "paced", 0) - r0[2], "wall_s": round(wall, 1),
                     **pauses.summary(wall)}
    finally:
        src.stop()
    return summary(lat) | {"offered": offered / 1e6, "rate": folded / 1e6, "cpu": cpu,
                           "rss": rss / 2**20, "rows": rows, "timeline": timeline, **snaps}


def print(*args: object, **kw: object) -> None:  # noqa: A001
    """To the real stdout, flushed (the app's test driver captures sys.stdout while it runs)."""
    builtins.print(*args, **kw, file=sys.__stdout__, flush=True)  # type: ignore[call-overload]


def table(title: str, cols: list[tuple[str, dict[str, float]]], rows: list[tuple[str, str, str]]) -> None:
    print(f"\n{title}")
    print("   " + " " * 22 + "".join(f"{name:>14}" for name, _ in cols))
    for label, key, f in rows:
        cells = "".join(f"{f.format(r.get(key, float('nan'))):>14}" for _, r in cols)
        base = cols[0][1].get(key, float("nan"))
        ratios = "  ".join(
            f"{r.get(key, float('nan')) / base:.1f}x" if base else "-" for _, r in cols[1:]
        )
        print(f"   {label:22}{cells}   {ratios}")


ROWS = [
    ("table rows", "rows", "{:.0f}"),
    ("app CPU while idle", "cpu", "{:.1%}"),
    ("app RSS (MiB)", "rss", "{:.0f}"),
    ("filter key p50 (ms)", "filter_p50", "{:.0f}"),
    ("filter key p95 (ms)", "filter_p95", "{:.0f}"),
    ("sort key p50 (ms)", "sort_p50", "{:.0f}"),
    ("sort key p95 (ms)", "sort_p95", "{:.0f}"),
    ("all keys p95 (ms)", "p95", "{:.0f}"),
    ("key presses timed", "n", "{:.0f}"),
]


async def main(quick: bool) -> None:
    print(f"app at {SIZE[0]}x{SIZE[1]}, refresh 5 Hz; {psutil.cpu_count()} cores (shared: figures are noisy); "
          f"load average {os.getloadavg()[0]:.1f}")
    print("  real program, 1,000 names ...")
    ref = await phase_program(1_000, quick)
    print("  real program, 10,000 names ...")
    big = await phase_program(NAMES, quick)
    print("  flood feeder alone (to /dev/null) ...")
    ceiling = feeder_ceiling()
    print("  flood over 10,000 paths at 1 M meas/s ...")
    flood = await phase_flood(1e6, quick)
    print("  flood over 10,000 paths, as fast as the app takes it ...")
    flood_max = await phase_flood(0, quick)
    table(
        "1. real program (tests/programs/many_ops.py: N names x 3 rounds, then idle); "
        "ratios to the first column",
        [("1,000 names", ref), ("10,000 names", big)],
        ROWS,
    )
    print("   targets: key p95 <= 100 ms, app CPU while idle < 50 % of a core")
    table(
        f"2. flood (benchmarks/flood_program.py; the feeder alone writes {ceiling / 1e6:.1f} M meas/s "
        "to /dev/null)",
        [("1 M/s offered", flood), ("max", flood_max)],
        [("offered (M meas/s)", "offered", "{:.2f}"), ("folded (M meas/s)", "rate", "{:.2f}"),
         ("app CPU (cores)", "cpu", "{:.2f}"), ROWS[0], *ROWS[2:]],
    )
    print(f"   load average {os.getloadavg()[0]:.1f} at the end")


async def program_only() -> None:
    """``--program-only``: phase 1 at 10,000 names alone, the raw key latencies as one JSON
    line (to pool several runs, or to interleave this version with another checkout)."""
    import json

    lat: dict[str, list[float]] = {}
    orig = typing_and_sorting

    async def keep(app: BenchApp, sorts: int) -> dict[str, list[float]]:
        got = await orig(app, sorts)
        lat.update(got)
        return got

    globals()["typing_and_sorting"] = keep
    res = await phase_program(NAMES, False)
    print(json.dumps({"load": os.getloadavg()[0], "cpu": res["cpu"], "rss": res["rss"], **lat}))


async def flood_only(hold: float) -> None:
    import json

    load0 = os.getloadavg()[0]
    res = await phase_flood(1e6, False, hold)
    print(json.dumps({"load": [load0, os.getloadavg()[0]], **res}))


if __name__ == "__main__":
    if "--gc-default" in sys.argv:
        BenchApp.TUNE_COLLECTOR = False  # CPython's collector as it comes (A/B of tui.collector)
    if "--flood-only" in sys.argv:
        i = sys.argv.index("--hold") if "--hold" in sys.argv else -1
        asyncio.run(flood_only(float(sys.argv[i + 1]) if i >= 0 else 30.0))
    elif "--program-only" in sys.argv:
        asyncio.run(program_only())
    else:
        asyncio.run(main("--quick" in sys.argv))
