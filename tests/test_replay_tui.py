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
    assert src.wait(300)
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
        keys = table.keys()
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


# --------------------------------------------------------------------------- the replay in the app
#
# A synthetic recording 30 s long (so 5 s seeks land inside it), played paused: the keys
# move the position, the tests wait for the replay to fold it (``settle``) and for the
# app to show it.

NAMES = [(1, 0, "forward_pass"), (2, 1, "layer0"), (3, 2, "mlp"), (4, 1, "layer1"),
         (5, 4, "mlp"), (6, 0, "sampling")]


def write_recording(
    path: Path, seconds: float = 30.0, scale: float = 1.0, crash: bool = False, seed: int = 0,
    wall_time: float = 1_700_000_000.0, sampling_scale: float = 1.0,
) -> Path:
    """A recording of ``seconds`` of rounds of NAMES every 0.25 s (leaf ~1 ms x scale,
    ``sampling`` a quarter of that x ``sampling_scale``); with ``crash`` it ends with a
    line on stderr and exit status 3."""
    import numpy as np

    from zlprof import protocol
    from zlprof.recording import RecordingWriter

    rng = np.random.RandomState(seed)
    start = 1_000_000_000
    with RecordingWriter(path, force=True) as w:
        w.write_raw(protocol.encode_hello(
            pid=77, argv=["python", "-m", "zlprof.workload", "--preset", "tiny"], start_ns=start,
            wall_time=wall_time, python="3.11", numpy_version="1", platform="test",
        ))
        w.write_raw(protocol.encode_names(NAMES))
        t = start
        step = 250_000_000
        while t - start < seconds * 1e9:
            pids, t0s, t1s = [], [], []
            c = t
            for _ in range(3):
                d = int(1_000_000 * scale * (1 + 0.2 * rng.rand()))
                # forward_pass > layerN > mlp, then sampling
                fp0 = c
                for layer, mlp in ((2, 3), (4, 5)):
                    pids += [mlp, layer]
                    t0s += [c + 10_000, c]
                    t1s += [c + 10_000 + d, c + d + 20_000]
                    c += d + 30_000
                pids.append(1)
                t0s.append(fp0)
                t1s.append(c)
                ds = int(sampling_scale * d) // 4
                pids.append(6)
                t0s.append(c + 1000)
                t1s.append(c + 1000 + ds)
                c += ds + 2000
            w.write_raw(protocol.encode_measurements(
                1, np.array(pids), np.array(t0s), np.array(t1s)))
            w.write_raw(protocol.encode_memory([c], [50_000_000 + (c - start) // 1000], [-1]))
            t += step
        if crash:
            w.write_raw(protocol.encode_log(t, "stderr", "Traceback: something broke"))
            w.write_raw(protocol.encode_end(3, "exited with status 3"))
        else:
            w.write_raw(protocol.encode_end(0, "exited normally"))
    return path


@pytest.fixture
def long_recording(tmp_path: Path) -> Path:
    return write_recording(tmp_path / "long-run.zlp")


def replay_app(path: Path, start_s: float = 10.0, **kw):  # noqa: ANN201
    from fixtures.tui_support import PEAKS
    from zlprof.tui.app import ZlprofApp

    src = ReplaySource(path, speed=1.0, start_s=start_s, paused=True, **kw)
    src.start()
    return src, ZlprofApp(src, refresh_hz=10, peaks=PEAKS)


async def at(pilot, src: ReplaySource, seconds: float) -> None:  # noqa: ANN001
    """The replay is at ``seconds`` and the app shows it."""
    from fixtures.tui_support import settle

    assert src.settle(10)
    assert src.position_s == pytest.approx(seconds, abs=1e-6)
    await settle(pilot)


def timeline(app):  # noqa: ANN001, ANN201
    from zlprof.tui.widgets.timeline import TimelineBar

    app.update_timeline()
    return app.screen.query_one(TimelineBar).view


def sampling_count(app) -> str:  # noqa: ANN001
    from zlprof.tui.widgets.ops_table import OpsTable

    return app.main_screen.query_one(OpsTable).get_cell("sampling", "count").plain


async def test_replay_keys_seek_pause_and_change_speed(long_recording: Path) -> None:
    from zlprof.tui.widgets.status import StatusBar

    src, app = replay_app(long_recording)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await at(pilot, src, 10.0)
            tl = timeline(app)
            assert (tl.state, tl.position, tl.duration, tl.speed) == ("paused", "0:10.0", "0:29.8", "1x")
            head = app.screen.query_one(StatusBar).view
            assert head.state_text == "replay · paused"
            assert (head.recording_key, head.recording) == ("replay", "long-run.zlp")
            at_10 = sampling_count(app)

            await pilot.press("right")
            await at(pilot, src, 15.0)
            assert timeline(app).position == "0:15.0"
            assert int(sampling_count(app)) > int(at_10)
            await pilot.press("left", "left")
            await at(pilot, src, 5.0)
            assert int(sampling_count(app)) < int(at_10)

            await pilot.press("]")
            assert src.speed == 2.0 and timeline(app).speed == "2x"
            await pilot.press("[", "[")
            assert src.speed == 0.5 and timeline(app).speed == "0.5x"

            await pilot.press("end")
            await at(pilot, src, src.duration_s)
            assert src.status == "ended"
            assert timeline(app).state_text == "■ end"
            assert app.screen.query_one(StatusBar).view.state_text == "replay · ended"
            await pilot.press("home")
            await at(pilot, src, 0.0)
            assert src.state.measurements == 0

            # space plays and pauses the replay (not the view)
            await pilot.press("space")
            assert not src.paused and not app.paused
            assert timeline(app).state == "playing"
            await pilot.press("space")
            assert src.paused and not app.paused
    finally:
        src.stop()


async def test_replay_keys_work_from_the_drill_down(long_recording: Path) -> None:
    from zlprof.tui.screens.drilldown import DrillDownScreen
    from zlprof.tui.widgets.ops_table import OpsTable
    from zlprof.tui.widgets.timeline import TimelineBar

    src, app = replay_app(long_recording)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await at(pilot, src, 10.0)
            app.main_screen.query_one(OpsTable).select_key("sampling")
            await pilot.press("enter")
            await at(pilot, src, 10.0)
            screen = app.screen
            assert isinstance(screen, DrillDownScreen) and screen.query_one(TimelineBar)
            before = screen.view.cumulative.count
            await pilot.press("right")
            await at(pilot, src, 15.0)
            assert screen.view.cumulative.count > before
            await pilot.press("home")
            await at(pilot, src, 0.0)
            await pilot.press("end")
            assert src.settle(10) and src.status == "ended"
            await pilot.press("]")
            assert src.speed == 2.0
            await pilot.press("escape")
            assert app.screen is app.main_screen
    finally:
        src.stop()


async def test_replay_left_right_seek_on_the_table_and_minus_plus_fold(long_recording: Path) -> None:
    from zlprof.tui.widgets.ops_table import OpsTable

    src, app = replay_app(long_recording)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await at(pilot, src, 10.0)
            table = app.main_screen.query_one(OpsTable)
            assert table.has_focus and table.select_key("forward_pass")
            await pilot.press("-")
            await pilot.pause()
            assert "forward_pass/layer0" not in table.row_views
            await pilot.press("left")  # seeks; does not move in the tree
            await at(pilot, src, 5.0)
            assert table.cursor_key() == "forward_pass"
            await pilot.press("+")
            await pilot.pause()
            assert "forward_pass/layer0/mlp" in table.row_views
            # typing in the filter box: the arrows move the text cursor, not the replay
            await pilot.press("f", *"mlp", "left", "left")
            assert src.settle(10) and src.position_s == pytest.approx(5.0)
            await pilot.press("escape")
    finally:
        src.stop()


async def test_crash_panel_hides_when_seeking_back_from_a_crashed_end(tmp_path: Path) -> None:
    from zlprof.tui.widgets.status import CrashPanel, StatusBar

    path = write_recording(tmp_path / "crashed.zlp", seconds=12, crash=True)
    src, app = replay_app(path, start_s=0.0)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await at(pilot, src, 0.0)
            panel = app.main_screen.query_one(CrashPanel)
            assert not panel.has_class("-shown")
            await pilot.press("end")
            await at(pilot, src, src.duration_s)
            assert src.status == "crashed"
            await pilot.pause(0.3)
            assert panel.has_class("-shown")
            assert any("something broke" in line for line in panel.lines)
            assert "crashed" in app.screen.query_one(StatusBar).view.state_text
            await pilot.press("left")
            await at(pilot, src, src.duration_s - 5)
            assert src.status == "paused"
            await pilot.pause(0.3)
            assert not panel.has_class("-shown")
    finally:
        src.stop()


async def test_live_sessions_have_no_timeline_and_arrows_fold_the_tree() -> None:
    from fixtures.tui_support import PEAKS, FeedSource, settle
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.ops_table import OpsTable
    from zlprof.tui.widgets.timeline import TimelineBar

    src = FeedSource()
    src.start()
    app = ZlprofApp(src, refresh_hz=10, peaks=PEAKS)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(3)
        await settle(pilot)
        assert not app.screen.query(TimelineBar)
        shown = {b.binding.action for b in app.active_bindings.values() if b.binding.show}
        assert not any("seek" in a or a.endswith(("slower", "faster")) for a in shown)
        table = app.main_screen.query_one(OpsTable)
        table.select_key("forward_pass")
        await pilot.press("left")
        await pilot.pause()
        assert "forward_pass/mlp" not in table.row_views
        await pilot.press("right")
        await pilot.pause()
        assert "forward_pass/mlp" in table.row_views
        await pilot.press("-")
        await pilot.pause()
        assert "forward_pass/mlp" not in table.row_views
        await pilot.press("space")  # a live session: the view pauses
        assert app.paused
