"""Regenerate the README's screenshots: SVGs that the app itself saves (App.save_screenshot).

    python scripts/screenshots.py                     # record a fresh tiny-preset session
    python scripts/screenshots.py --recording X.zlp   # or use an existing recording

Writes docs/main.svg and docs/drilldown.svg (120x40) and docs/main-80x24.svg: the app
shows the recording as it ended (the same screens `zlprof replay` reaches at its end);
the drill-down is of the busiest op that has children (below the top level). And
docs/replay.svg (120x40): `zlprof replay` of the recording, paused at 60 % with its
timeline bar.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from zlprof.recording import read_recording
from zlprof.sources import LiveSource, Source, workload_command

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


class RecordedSource(Source):
    """A finished recording, folded at once (status from its end frame)."""

    kind = "recording"

    def __init__(self, path: Path, shown_path: str) -> None:
        super().__init__()
        self.path = path
        self.recording_path = Path(shown_path)

    def start(self) -> None:
        res = read_recording(self.path)
        self.state.ingest_many(res.frames)
        self.argv = list(self.state.info.get("argv") or [])
        for _t, level, msg in self.state.logs:
            (self.stderr_tail if level == "stderr" else self.stdout_tail).append(msg)
        code = self.state.end_status
        self.exit_code = code
        self._set_status("ended" if not code else "crashed")

    def stop(self) -> None:
        pass


def record_tiny(out: Path) -> None:
    """Run the built-in workload (tiny preset, ops depth) to completion, recorded."""
    argv = workload_command(
        ["--preset", "tiny", "--requests", "24", "--max-tokens", "64", "--profile-depth", "ops"]
    )
    src = LiveSource(argv, out, force=True)
    src.start()
    if not src.wait(600):
        src.stop()
        raise SystemExit("screenshots: the workload did not finish in 10 minutes")
    src.stop()
    print(f"recorded {out} ({out.stat().st_size:,} bytes)", file=sys.stderr)


async def shoot(recording: Path, shown: str) -> None:
    from zlprof import roofline
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.ops_table import OpsTable

    try:
        peaks = roofline.get_peaks()
    except Exception as exc:  # still draw the other panels
        print(f"screenshots: no machine peaks ({exc})", file=sys.stderr)
        peaks = None
    DOCS.mkdir(exist_ok=True)
    for name, size, drill in (
        ("main.svg", (120, 40), False),
        ("drilldown.svg", (120, 40), True),
        ("main-80x24.svg", (80, 24), False),
    ):
        src = RecordedSource(recording, shown)
        src.start()
        app = ZlprofApp(src, refresh_hz=10, peaks=peaks)
        async with app.run_test(size=size) as pilot:
            await until_shown(pilot)
            if drill:
                # an op with children (below the top level) shows the most: the busiest
                rows = src.state.op_rows()
                parents = {r.parent for r in rows if r.parent}
                inner = [r for r in rows if r.full in parents and r.depth >= 1] or rows
                top = max(inner, key=lambda r: r.stats.total_ms)
                app.main_screen.query_one(OpsTable).select_key(top.full)
                await pilot.press("enter")
                await until_shown(pilot)
            app.save_screenshot(name, str(DOCS))
        print(f"wrote {DOCS / name}", file=sys.stderr)
    await shoot_replay(recording, peaks)


async def shoot_replay(recording: Path, peaks) -> None:  # noqa: ANN001
    """docs/replay.svg: the replay paused at 60 % (the seek index built: no "indexing")."""
    from zlprof.replay import ReplaySource
    from zlprof.tui.app import ZlprofApp

    probe = ReplaySource(recording)
    src = ReplaySource(recording, speed=1.0, start_s=0.6 * probe.duration_s, paused=True)
    src.start()
    try:
        src.wait_indexed(120)
        src.settle(60)
        app = ZlprofApp(src, refresh_hz=10, peaks=peaks)
        async with app.run_test(size=(120, 40)) as pilot:
            await until_shown(pilot)
            app.update_timeline()
            await pilot.pause(0.2)
            app.save_screenshot("replay.svg", str(DOCS))
    finally:
        src.stop()
    print(f"wrote {DOCS / 'replay.svg'}", file=sys.stderr)


async def until_shown(pilot, timeout: float = 20.0) -> None:  # noqa: ANN001
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await pilot.pause(0.05)
        if pilot.app.up_to_date():
            await pilot.pause(0.2)
            return
    raise SystemExit("screenshots: the app did not settle")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recording", type=Path, help="use this recording instead of a fresh one")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.recording:
            recording, shown = args.recording, args.recording.name
        else:
            recording = Path(tmp) / "workload-tiny.zlp"
            record_tiny(recording)
            shown = "workload-tiny.zlp"
        asyncio.run(shoot(recording, shown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
