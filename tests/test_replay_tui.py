"""A ReplaySource in the live app: the app reads its state as for any source.

Runs the app headless on the workload fixture (tests/fixtures/session.zlp) fed by a
ReplaySource, and checks that what it shows follows the replay's seeks. The timeline bar
and the replay keys are the app's to add; these tests only need the Source surface.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zlprof.recording import load_session
from zlprof.replay import ReplaySource

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "session.zlp"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="no workload fixture")


def test_replay_of_the_workload_fixture_equals_loading_it() -> None:
    src = ReplaySource(FIXTURE, speed=None)
    src.start()
    assert src.wait(30)
    ref = load_session(FIXTURE)
    mine = {r.full: r.stats.as_dict() for r in src.state.op_rows()}
    theirs = {r.full: r.stats.as_dict() for r in ref.op_rows()}
    assert mine.keys() == theirs.keys() and len(mine) > 5
    for name, st in theirs.items():
        m = dict(mine[name])
        for key in ("avg_ms", "std_ms"):
            assert m.pop(key) == pytest.approx(st.pop(key), rel=1e-9, abs=1e-12)
        assert m == st, name
    assert src.state.tokens_total == ref.tokens_total
    src.stop()


async def test_app_shows_what_the_replay_has_folded() -> None:
    tui = pytest.importorskip("zlprof.tui.app")
    support = pytest.importorskip("fixtures.tui_support")
    from zlprof.tui.widgets.ops_table import OpsTable

    src = ReplaySource(FIXTURE, speed=None, paused=True)
    src.start()
    src.seek(src.duration_s, wait=True)
    app = tui.ZlprofApp(src, refresh_hz=10, peaks=support.PEAKS)
    async with app.run_test(size=(120, 40)) as pilot:
        await support.settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        keys = [r.key.value for r in table.ordered_rows]
        full = src.state.stats_for(src.state.path_id("forward_pass")).count
        assert "forward_pass" in keys
        assert table.get_cell("forward_pass", "count").plain == f"{full:,}"
        # back to a third of the way: the same screen now shows fewer calls
        src.seek(src.duration_s / 3, wait=True)
        await support.settle(pilot)
        part = src.state.stats_for(src.state.path_id("forward_pass")).count
        assert 0 < part < full
        assert table.get_cell("forward_pass", "count").plain == f"{part:,}"
    src.stop()
