"""The app's CPU while the program it watches is idle (issue 11: "under half a core while
the program is idle"; issue 13: the header travels apart from the snapshot).

Runs the real app headless (Textual's test driver: everything up to the compositor's
screen update; only the terminal write is skipped) over two idle sessions, in two
settings measured in one run:

* ``header-only`` (this version): a change of the header's facts alone (the clock, the
  quiet seconds, a finished program) goes to the header bar; no snapshot is taken;
* ``snapshot``: every change of the header's facts takes a whole snapshot (rows reused),
  as the app did before (the header travelled only inside the snapshot).

Sessions: ``idle-10k``: tests/programs/many_ops.py, 10,000 distinct call paths, then the
program sleeps (stalled); ``ended``: the built-in workload (a few tokens) has finished.

Figures: the app's CPU (fraction of one core, all its threads) over the idle window, the
snapshots taken and the header updates shown in it.

Run: python benchmarks/bench_idle_cpu.py [--quick]
Nothing is asserted; the figures and the ratios between the settings are printed.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import psutil

from zlprof.roofline import MachinePeaks
from zlprof.sources import LiveSource, workload_command
from zlprof.tui.app import ZlprofApp
from zlprof.tui.widgets.status import StatusBar

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "tests" / "programs" / "many_ops.py"
SIZE = (120, 40)


class SnapshotHeaderApp(ZlprofApp):
    """The previous behaviour: a header change takes a whole snapshot."""

    def show_header(self) -> None:
        self.request_refresh(force=True)


def cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def sessions() -> dict[str, tuple[list[str], str]]:
    """name -> (argv, the stdout line that says the program is idle or done)."""
    return {
        "idle-10k": ([sys.executable, str(PROGRAM), "--names", "10000", "--idle", "600"], "idling"),
        "ended": (workload_command(["--max-tokens", "8", "--requests", "1"]), ""),
    }


async def measure(app_type: type[ZlprofApp], argv: list[str], ready: str, window_s: float) -> dict[str, float]:
    proc = psutil.Process()
    src = LiveSource(argv, None)
    src.start()
    app = app_type(src, peaks=MachinePeaks(gflops=200.0, gbps=20.0, source="cached"))
    try:
        async with app.run_test(size=SIZE) as pilot:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if ready and any(ready in line for line in list(src.stdout_tail)):
                    break
                if not ready and src.finished:
                    break
                await pilot.pause(0.1)
            await pilot.pause(3.0)  # the last frames folded and shown
            bar = app.screen.query_one(StatusBar)
            taken0, shown0 = app.refresher.taken, bar.updates
            c0, w0 = cpu_s(proc), time.perf_counter()
            await asyncio.sleep(window_s)
            wall = time.perf_counter() - w0
            cpu = (cpu_s(proc) - c0) / wall
            return {
                "cpu": cpu,
                "snapshots/s": (app.refresher.taken - taken0) / wall,
                "header/s": (bar.updates - shown0) / wall,
                "status": 0.0 if src.status == "stalled" else 1.0,
            }
    finally:
        src.stop()


async def main(quick: bool) -> None:
    window = 5.0 if quick else 10.0
    settings = {"header-only": ZlprofApp, "snapshot": SnapshotHeaderApp}
    for name, (argv, ready) in sessions().items():
        figures = {s: await measure(t, argv, ready, window) for s, t in settings.items()}
        print(f"\n{name}: idle window {window:.0f} s, app CPU in cores (all threads)")
        print(f"  {'setting':<12} {'cpu':>7} {'snapshots/s':>12} {'header/s':>9}")
        for s, f in figures.items():
            print(f"  {s:<12} {f['cpu']:7.3f} {f['snapshots/s']:12.2f} {f['header/s']:9.2f}")
        new, old = figures["header-only"]["cpu"], figures["snapshot"]["cpu"]
        print(f"  ratio snapshot / header-only CPU: {old / new if new else float('inf'):.2f}x")


if __name__ == "__main__":
    asyncio.run(main("--quick" in sys.argv))
