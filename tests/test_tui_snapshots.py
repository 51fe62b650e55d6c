"""Snapshot tests (pytest-textual-snapshot): the main screen (the first screen, also at
200x60) and a drill-down at 80x24 and 120x40, fed from the fixed recording
tests/fixtures/session.zlp, so every SVG is the same on every run and machine (no clock
reaches the screen: elapsed time is the recording's).

Update after an intended change with ``pytest tests/test_tui_snapshots.py --snapshot-update``
and look at the SVGs in tests/__snapshots__/test_tui_snapshots/.
"""

from __future__ import annotations

import pytest

from fixtures.tui_support import PEAKS, FixtureSource, settle
from zlprof.tui.app import ZlprofApp
from zlprof.tui.widgets.ops_table import OpsTable

SIZES = [(80, 24), (120, 40)]
#: The first screen (issue 12: the answer without a key press) at each size it is
#: checked at.
FIRST_SCREEN_SIZES = [(80, 24), (120, 40), (200, 60)]


def fixture_app(theme: str = "dark") -> ZlprofApp:
    src = FixtureSource()
    src.start()
    return ZlprofApp(src, theme=theme, refresh_hz=10, peaks=PEAKS)


@pytest.mark.parametrize("size", FIRST_SCREEN_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(snap_compare, size: tuple[int, int]) -> None:  # noqa: ANN001
    """The first screen: headline, the table by total time with the dominant op under
    the cursor and the path to the hottest op open, the lower panels."""
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_drill_down(snap_compare, size: tuple[int, int]) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        pilot.app.main_screen.query_one(OpsTable).select_key("forward_pass/layer0")
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


def test_main_screen_high_contrast(snap_compare) -> None:  # noqa: ANN001
    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)

    assert snap_compare(fixture_app("high-contrast"), terminal_size=(80, 24), run_before=run_before)


def test_replay_screen(snap_compare) -> None:  # noqa: ANN001
    """The replay of the fixture recording, paused at 0.9 s of 1.5: the timeline bar, the
    header naming the file, the panels as of that point."""
    from fixtures.tui_support import FIXTURE
    from zlprof.replay import ReplaySource

    src = ReplaySource(FIXTURE, speed=1.0, start_s=0.9, paused=True)
    src.start()
    assert src.wait_indexed(30) and src.settle(30)  # "indexing…" is gone
    app = ZlprofApp(src, theme="dark", refresh_hz=10, peaks=PEAKS)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        pilot.app.update_timeline()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
    finally:
        src.stop()
