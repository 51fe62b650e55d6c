"""The session browser (``o``) and the compare screen, on recordings in a temporary
sessions directory ($XDG_DATA_HOME/zlprof/sessions)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fixtures.tui_support import PEAKS, FeedSource, FixtureSource, settle
from test_replay_tui import write_recording
from zlprof.replay import ReplaySource
from zlprof.significance import COMMON
from zlprof.tui.app import ZlprofApp
from zlprof.tui.screens.compare import CompareScreen, CompareTable
from zlprof.tui.screens.confirm import ConfirmScreen
from zlprof.tui.screens.main import MainScreen
from zlprof.tui.screens.sessions import SessionsScreen, SessionTable
from zlprof.tui.widgets.status import StatusBar
from zlprof.tui.widgets.timeline import TimelineBar


@pytest.fixture
def sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Two recordings of the same ops, the newer one twice as slow."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    d = tmp_path / "data" / "zlprof" / "sessions"
    d.mkdir(parents=True)
    old = write_recording(d / "20240601-100000-old.zlp", seconds=6, scale=1.0, seed=1,
                          wall_time=1_717_236_000.0)
    new = write_recording(d / "20240601-110000-new.zlp", seconds=6, scale=2.0, seed=2,
                          wall_time=1_717_239_600.0)
    return {"old": old, "new": new, "dir": d}


def make_app(source) -> ZlprofApp:  # noqa: ANN001
    source.start()
    return ZlprofApp(source, refresh_hz=10, peaks=PEAKS)


async def until(pilot, cond, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


async def open_browser(pilot) -> SessionsScreen:  # noqa: ANN001
    await pilot.press("o")
    screen = pilot.app.screen
    assert isinstance(screen, SessionsScreen)
    await until(pilot, lambda: screen.loaded)
    await pilot.pause()
    return screen


def rows(screen: SessionsScreen) -> list[list[str]]:
    table = screen.query_one(SessionTable)
    return [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_browser_lists_sessions_newest_first(sessions: dict[str, Path]) -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = await open_browser(pilot)
        assert screen.directory == sessions["dir"]
        listed = rows(screen)
        assert [Path(k).name for k in screen.by_path] == ["20240601-110000-new.zlp", "20240601-100000-old.zlp"]
        mark, started, program, duration, tps, size, status = listed[0]
        assert program == "zlprof.workload --preset tiny" and status == "ok"
        assert started.startswith("2024-06-01") and duration.endswith("s") and "KiB" in size
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        # the palette offers the browser too
        assert any("Recorded sessions" in c.title for c in app.get_system_commands(app.screen))


async def test_enter_replays_the_session_in_the_same_app(sessions: dict[str, Path]) -> None:
    first = FixtureSource()
    app = make_app(first)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        old_main = app.main_screen
        screen = await open_browser(pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.source, ReplaySource))
        src = app.source
        try:
            assert src.path == sessions["old"] and first.stopped
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen is not old_main)
            assert app.main_screen is app.screen and screen not in app.screen_stack
            assert app.screen.query_one(TimelineBar)
            src.pause()
            src.seek(3.0, wait=True)
            await settle(pilot)
            bar = app.screen.query_one(StatusBar).view
            assert bar.recording == "20240601-100000-old.zlp" and bar.recording_key == "replay"
            await pilot.press("right")  # the replay keys work on the new screen
            assert src.settle(10) and src.position_s == pytest.approx(src.duration_s)
            # the browser marks the session on screen
            screen = await open_browser(pilot)
            assert [r[0] for r in rows(screen)] == ["", "▶"]
        finally:
            src.stop()


class RunningLive(FeedSource):
    """Looks like a live child that is still running."""

    kind = "live"


async def test_opening_a_recording_from_a_live_session_asks_first(sessions: dict[str, Path]) -> None:
    live = RunningLive()
    app = make_app(live)
    async with app.run_test(size=(100, 30)) as pilot:
        live.feed(2)
        await settle(pilot)
        await open_browser(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen) and app.source is live and not live.stopped
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.source, ReplaySource))
        try:
            assert app.source.path == sessions["new"]
            await until(pilot, lambda: live.stopped)
        finally:
            app.source.stop()


async def test_compare_marked_session_with_another(sessions: dict[str, Path]) -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await open_browser(pilot)
        await pilot.press("m")  # the newer (slower) session is A
        screen = app.screen
        assert screen.marked == str(sessions["new"]) and rows(screen)[0][0] == "A"
        await pilot.press("c")  # on A itself: nothing to compare
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("down", "c")
        compare = app.screen
        assert isinstance(compare, CompareScreen)
        await until(pilot, lambda: compare.result is not None or compare.error is not None)
        await pilot.pause()
        assert compare.error is None
        res = compare.result
        assert (res.a_label, res.b_label) == ("20240601-110000-new.zlp", "20240601-100000-old.zlp")
        # B (old) runs every op at half the time: the ops moved together, as the machine
        # moves them, which two runs cannot tell from a change of every op: inconclusive,
        # "faster" without the machine's common level (significance.COMMON)
        mlp = res.row("forward_pass/layer0/mlp")
        assert mlp.verdict == "inconclusive" and mlp.masked == "faster" and mlp.why == COMMON
        assert res.row("sampling").verdict == "inconclusive"
        table = compare.query_one(CompareTable)
        assert table.row_count == len(res.rows)
        labels = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert labels[:3] == ["forward_pass", "  layer0", "    mlp"]
        cells = {k.value: i for i, k in enumerate(c.key for c in table.ordered_columns)}
        verdict = table.get_row_at(2)[cells["verdict"]]
        assert verdict.plain == "inconclusive"
        await pilot.press("s")  # largest significant changes first, full paths
        await pilot.pause()
        first = table.get_row_at(0)[0].plain
        assert "/" in first or first in ("forward_pass", "sampling")
        await pilot.press("escape")
        assert isinstance(app.screen, SessionsScreen)


async def test_compare_with_the_session_on_screen(sessions: dict[str, Path]) -> None:
    src = ReplaySource(sessions["old"], speed=1.0, paused=True)
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            await open_browser(pilot)
            await pilot.press("c")  # nothing marked: the selected (new) against this one
            compare = app.screen
            assert isinstance(compare, CompareScreen)
            await until(pilot, lambda: compare.result is not None)
            res = compare.result
            # the whole replayed file is compared, not just what has been played so far
            assert res.b_label == "20240601-100000-old.zlp"
            assert res.row("sampling").b.count == res.row("sampling").a.count > 0
            # every op at half the time: moved with every op (significance.COMMON)
            assert res.row("sampling").verdict == "inconclusive"
            assert res.row("sampling").masked == "faster"
    finally:
        src.stop()


async def test_compare_with_a_live_session_so_far(sessions: dict[str, Path]) -> None:
    live = FeedSource([(1, 0, "forward_pass"), (6, 0, "sampling")])
    app = make_app(live)
    async with app.run_test(size=(100, 30)) as pilot:
        live.feed(40)
        await settle(pilot)
        await open_browser(pilot)
        await pilot.press("c")
        compare = app.screen
        await until(pilot, lambda: compare.result is not None)
        res = compare.result
        assert res.b_label == "this session (so far)"
        assert res.row("sampling").b.count == 40
        assert res.row("forward_pass/layer0/mlp").verdict == "only in A"


async def test_empty_sessions_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "nothing"))
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await open_browser(pilot)
        assert screen.infos == [] and screen.query_one("#sessions-empty").has_class("-shown")
        await pilot.press("enter", "c", "m")  # nothing selected: nothing happens
        assert app.screen is screen
