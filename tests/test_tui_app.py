"""Pilot tests of the live app: every key, drill-down, pause, sort, filter, lifecycle."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from textual.widgets import Input

from fixtures.tui_support import PEAKS, FeedSource, FixtureSource, program_order, settle
from zlprof.sources import LiveSource
from zlprof.tui.app import ZlprofApp, run_app
from zlprof.tui.screens.drilldown import DrillDownScreen
from zlprof.tui.screens.help import HelpScreen
from zlprof.tui.screens.main import MainScreen
from zlprof.tui.screens.output import OutputScreen
from zlprof.tui.widgets.charts import MemoryGraph, ShareBars
from zlprof.tui.widgets.details import ChildrenTable
from zlprof.tui.widgets.ops_table import OpsTable
from zlprof.tui.widgets.status import CrashPanel, StatusBar


def make_app(source, **kw) -> ZlprofApp:  # noqa: ANN001
    source.start()
    return ZlprofApp(source, refresh_hz=10, peaks=kw.pop("peaks", PEAKS), **kw)


def table(app: ZlprofApp) -> OpsTable:
    return app.main_screen.query_one(OpsTable)


def shown_keys(app: ZlprofApp) -> list[str]:
    t = table(app)
    return t.keys()


def cell(app: ZlprofApp, key: str, column: str) -> str:
    return table(app).get_cell(key, column).plain


def status_text(screen) -> str:  # noqa: ANN001
    bar = screen.query_one(StatusBar)
    return bar.view.state_text if bar.view else ""


# --------------------------------------------------------------------------- main screen


async def test_main_screen_shows_the_session() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        keys = shown_keys(app)
        # it opens on the answer (tui.opening): by total time, the path down to the
        # hottest op open, the cursor on the dominant op
        assert keys[:3] == ["forward_pass", "forward_pass/layer0", "forward_pass/layer0/mlp"]
        assert "forward_pass/layer0/attention" in keys
        assert table(app).cursor_key() == "forward_pass"
        assert cell(app, "forward_pass", "count") == "192"
        bar = app.screen.query_one(StatusBar).view
        assert bar.state == "ended" and bar.pid == "4242"
        assert bar.program == "zlprof.workload --preset tiny"
        assert bar.recording == "tests/fixtures/session.zlp"
        assert bar.ttft.endswith("ms") and bar.tokens_per_s != "-"
        assert app.screen.query_one(ShareBars).bars[0].share > 0.1
        assert app.screen.query_one(MemoryGraph).view.peak_rss > 0


async def test_sort_cycles_columns_and_reverse_flips() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # it opens sorted by total; s goes on to the next column, round to program order
        assert app.main_screen.options.sort == "total"
        await pilot.press("s")
        assert app.main_screen.options.sort == "share"
        for _ in range(10):  # min ... mem, name, program order
            await pilot.press("s")
        assert app.main_screen.options.sort == "tree"
        await pilot.press("s", "s")  # program order -> count -> total (descending)
        assert app.main_screen.options.sort == "total"
        await pilot.pause()
        # tree mode: siblings by total, largest first
        roots = [k for k in shown_keys(app) if "/" not in k]
        assert roots[0] == "forward_pass"
        assert "▼" in table(app).heading(table(app).column_keys()[2]).plain
        await pilot.press("S")
        await pilot.pause()
        assert app.main_screen.options.descending is False
        roots = [k for k in shown_keys(app) if "/" not in k]
        assert roots[0] == "tokenize"  # the smallest total first
        # flat view sorts every op together
        await pilot.press("S", "v")
        await pilot.pause()
        keys = shown_keys(app)
        assert keys[0] == "forward_pass" and keys[1] == "forward_pass/layer0"


async def test_filter_keeps_matches_and_their_ancestors() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        program_order(app)
        await pilot.press("f")
        box = app.screen.query_one("#filter", Input)
        assert box.has_focus
        await pilot.press(*"attention")
        await pilot.pause()
        keys = shown_keys(app)
        assert keys == [
            "forward_pass",
            "forward_pass/layer0",
            "forward_pass/layer0/attention",
            "forward_pass/layer1",
            "forward_pass/layer1/attention",
        ]
        # ancestors kept only for structure are dimmed
        assert "dim" in str(table(app).get_cell("forward_pass", "op").style)
        await pilot.press("enter")  # keeps the filter, back to the table
        assert table(app).has_focus
        assert app.main_screen.options.filter == "attention"
        await pilot.press("escape")  # clears it
        await pilot.pause()
        assert len(shown_keys(app)) == 16


async def test_a_filter_matching_nothing_says_so() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f", *"nosuchop")
        await pilot.pause()
        assert shown_keys(app) == []
        title = str(app.screen.query_one("#ops-panel").border_title)
        assert "filter “nosuchop”: no op matches" in title
        for _ in "chop":
            await pilot.press("backspace")
        await pilot.pause()  # "nosu": still nothing
        await pilot.press("escape")
        await pilot.pause()
        assert shown_keys(app) and "no op matches" not in str(
            app.screen.query_one("#ops-panel").border_title)


async def test_collapse_and_expand_a_subtree() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert table(app).select_key("forward_pass")
        await pilot.press("left")
        await pilot.pause()
        assert not any(k.startswith("forward_pass/") for k in shown_keys(app))
        assert table(app).cursor_key() == "forward_pass"
        await pilot.press("right")
        await pilot.pause()
        assert "forward_pass/layer0/mlp" in shown_keys(app)
        # left on a leaf goes to its parent
        table(app).select_key("forward_pass/layer0/mlp")
        await pilot.press("left")
        assert table(app).cursor_key() == "forward_pass/layer0"


async def test_share_bars_by_block_or_by_path() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        bars = app.screen.query_one(ShareBars)
        panel = app.screen.query_one("#share-panel")
        assert app.main_screen.share_mode == "block" and "by block" in str(panel.border_title)
        top = bars.bars[0]
        assert (top.label, top.note) == ("mlp", "×2 layers")
        await pilot.press("b")
        await pilot.pause()
        assert app.main_screen.share_mode == "path" and "by path" in str(panel.border_title)
        assert [b.label for b in bars.bars[:2]] == ["L0 mlp", "L1 mlp"]
        await pilot.press("b")
        await pilot.pause()
        assert bars.bars[0].label == "mlp"


async def test_window_key_switches_to_last_10_seconds() -> None:
    src = FeedSource()
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(10)
        await settle(pilot)
        assert cell(app, "sampling", "count") == "10"
        # 20 s later (data clock): the 10 s window holds only the newest rounds
        src.t += 20_000_000_000
        src.feed(3)
        await settle(pilot)
        assert cell(app, "sampling", "count") == "13"
        await pilot.press("w")
        await settle(pilot)
        assert app.window
        assert cell(app, "sampling", "count") == "3"
        assert app.screen.query_one(StatusBar).view.window
        await pilot.press("w")
        await settle(pilot)
        assert cell(app, "sampling", "count") == "13"


async def test_reset_clears_statistics() -> None:
    src = FeedSource()
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(5)
        await settle(pilot)
        assert cell(app, "sampling", "count") == "5"
        await pilot.press("r")
        await settle(pilot)
        assert src.state.measurements == 0
        assert shown_keys(app) == []
        src.feed(2)
        await settle(pilot)
        assert cell(app, "sampling", "count") == "2"


async def test_pause_freezes_the_view_while_data_keeps_counting() -> None:
    src = FeedSource()
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(5)
        await settle(pilot)
        assert cell(app, "sampling", "count") == "5"
        await pilot.press("space")
        assert app.paused
        src.feed(7)
        await settle(pilot)
        assert src.state.measurements == 12 * len(src.paths)
        assert cell(app, "sampling", "count") == "5"  # the view stays
        bar = app.screen.query_one(StatusBar).view
        assert bar.state == "paused" and "paused" in bar.state_text
        assert bar.measurements == f"{12 * len(src.paths)}"  # the header keeps counting
        assert "PAUSED" in str(app.screen.query_one("#ops-panel").border_title)
        await pilot.press("space")
        await settle(pilot)
        assert not app.paused
        assert cell(app, "sampling", "count") == "12"


async def test_table_follows_new_data_and_the_cursor_stays() -> None:
    src = FeedSource()
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(5)
        await settle(pilot)
        program_order(app)
        t = table(app)
        rebuilds = t.rebuilds
        t.select_key("forward_pass/mlp")
        before = cell(app, "sampling", "count")
        for i in range(3):
            src.feed(3 + i)
            await settle(pilot)
        assert cell(app, "sampling", "count") != before  # the cells follow the data
        # a new op appears above the cursor's row (tree order) and the rows reorder
        src.add_paths([(6, 0, "decode"), (7, 2, "norm")])
        src.feed(2)
        await settle(pilot)
        await pilot.press("s", "s")  # sort by total: rows move
        await settle(pilot)
        assert t.rebuilds == rebuilds  # the columns were not laid out again
        assert t.cursor_key() == "forward_pass/mlp"  # the cursor followed its op
        assert "forward_pass/norm" in shown_keys(app)


# --------------------------------------------------------------------------- drill-down


async def test_drill_down_and_back_keeps_the_cursor() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table(app).select_key("forward_pass/layer0")
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, DrillDownScreen)
        d = screen.view
        assert d is not None and d.full == "forward_pass/layer0"
        assert d.cumulative.count == 192 and d.hist_counts.sum() == 192
        assert len(d.recent_ms) == 192
        names = [c.name for c in d.children]
        assert names == ["mlp", "attention", "rmsnorm"]  # by total, largest first
        assert all(c.self_ms <= c.total_ms for c in d.children)
        # into a child and back up
        await pilot.press("down", "enter")
        await settle(pilot)
        assert screen.view.full == "forward_pass/layer0/attention"
        await pilot.press("u")
        await settle(pilot)
        assert screen.view.full == "forward_pass/layer0"
        await pilot.press("u")
        await settle(pilot)
        assert screen.view.full == "forward_pass"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert table(app).cursor_key() == "forward_pass/layer0"


async def test_drill_down_children_table_and_stats() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table(app).select_key("forward_pass")
        await pilot.press("enter")
        await settle(pilot)
        children = app.screen.query_one(ChildrenTable)
        assert children.row_count == 3
        assert children.get_cell_at((0, 0)).plain == "layer0"
        stats = str(app.screen.query_one("#stats").content.columns[1]._cells)
        assert "192" in stats and "6.046" in stats  # count and p50 of forward_pass


# --------------------------------------------------------------------------- other keys


async def test_theme_key_cycles_the_three_themes() -> None:
    app = make_app(FixtureSource(), theme="dark")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.theme == "dark"
        await pilot.press("t")
        assert app.theme == "light"
        await pilot.press("t")
        assert app.theme == "high-contrast"
        await pilot.press("t")
        assert app.theme == "dark"


async def test_theme_option_picks_the_theme() -> None:
    app = make_app(FixtureSource(), theme="high-contrast")
    async with app.run_test(size=(80, 24)):
        assert app.theme == "high-contrast"


async def test_help_lists_every_key() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {b.key_display or b.key for _, group in app.screen.groups for b in group}
        for k in ("q", "␣", "s", "S", "w", "f", "r", "l", "t", "⏎", "esc", "?", "v", "u", "o",
                  "b", "←", "→", "[", "]", "home", "end", "m", "c"):
            assert k in keys, k
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_output_screen_shows_the_childs_lines() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, OutputScreen)
        log = app.screen.query_one("#output-log")
        text = "\n".join(line.text for line in log.lines)
        assert "generated 4 requests" in text and "fixture session" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_footer_and_palette_offer_every_action() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        shown = {b.binding.action for b in app.active_bindings.values() if b.binding.show}
        for action in (
            "app.quit", "app.pause", "sort", "reverse", "app.window", "filter", "app.reset",
            "app.output", "app.next_theme", "app.help", "select_cursor", "app.sessions",
        ):
            assert action in shown, action
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for word in ("Pause", "Window", "Reset", "output", "theme", "Help", "Quit", "Sort",
                     "Reverse", "Filter", "drill-down", "Tree / flat", "Recorded sessions",
                     "Time share"):
            assert any(word in t for t in titles), word
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"


async def test_palette_command_runs_the_action() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Sort"))
        await cmd.callback()
        assert app.main_screen.options.sort == "share"  # the one after total


@pytest.mark.parametrize("size", [(40, 12), (80, 24), (200, 60), (60, 20)])
async def test_survives_sizes_and_resizing(size: tuple[int, int]) -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        assert shown_keys(app)[0] == "forward_pass"
        program_order(app)
        await pilot.pause()
        assert len(shown_keys(app)) == 16
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        await pilot.resize_terminal(*size)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DrillDownScreen)
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_columns_follow_the_width() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        narrow = [c.key for c in table(app).shown_columns]
        assert {"count", "share", "p50", "p99"} <= set(narrow)
        await pilot.resize_terminal(240, 60)
        await settle(pilot)
        await pilot.pause()
        wide = [c.key for c in table(app).shown_columns]
        assert len(wide) == 11 and wide[0] == "count"
        assert cell(app, "forward_pass", "std") != ""


async def test_a_replay_source_plugs_in() -> None:
    from fixtures.tui_support import FIXTURE
    from zlprof.replay import ReplaySource

    src = ReplaySource(FIXTURE, speed=None)  # as fast as it folds
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: src.status == "ended")
            await settle(pilot)
            assert cell(app, "forward_pass", "count") == "192"
            assert app.screen.query_one(StatusBar).view.state == "ended"
            assert (app.main_screen.replay is None) == (src.kind != "replay")
    finally:
        src.stop()


# --------------------------------------------------------------------------- lifecycle

CHILD = textwrap.dedent(
    """
    import sys, time
    import zlprof
    for i in range(50):
        with zlprof.measure("step"):
            with zlprof.measure("inner"):
                time.sleep(0.001)
    print("some output")
    mode = sys.argv[1]
    if mode == "crash":
        print("about to fail", file=sys.stderr)
        raise SystemExit(3)
    if mode == "forever":
        while True:
            with zlprof.measure("step"):
                time.sleep(0.01)
    """
)


@pytest.fixture
def child_script(tmp_path: Path) -> Path:
    p = tmp_path / "child.py"
    p.write_text(CHILD)
    return p


async def wait_for(pilot, cond, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


async def test_crashing_child_keeps_the_app_open(child_script: Path) -> None:
    src = LiveSource([sys.executable, str(child_script), "crash"], None)
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: src.status == "crashed")
            await settle(pilot)
            await pilot.pause(0.3)
            assert isinstance(app.screen, MainScreen)
            bar = app.screen.query_one(StatusBar).view
            assert bar.state == "crashed" and "exited with status 3" in bar.state_text
            crash = app.screen.query_one(CrashPanel)
            assert crash.has_class("-shown")
            assert any("about to fail" in line for line in crash.lines)
            assert cell(app, "step", "count") == "50"  # the data is kept
            await pilot.press("enter")  # still fully usable
            await settle(pilot)
            assert isinstance(app.screen, DrillDownScreen)
    finally:
        src.stop()


async def test_silent_child_is_reported_stalled(tmp_path: Path) -> None:
    script = tmp_path / "quiet.py"
    script.write_text("import time\ntime.sleep(30)\n")
    src = LiveSource([sys.executable, str(script)], None, stall_after_s=0.3)
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: src.status == "stalled")
            await pilot.pause(0.3)
            bar = app.screen.query_one(StatusBar).view
            assert bar.state == "stalled"
            assert "no measurements for" in bar.state_text
            # elapsed is the wall clock: it advances though no frame ever came
            first = bar.elapsed
            await wait_for(pilot, lambda: app.screen.query_one(StatusBar).view.elapsed != first)
            assert shown_keys(app) == []
    finally:
        src.stop()
    assert src.proc is not None and src.proc.poll() is not None


def _descendants() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize("key", ["q", "ctrl+c"])
def test_quit_stops_the_child_and_leaves_no_process(
    child_script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, key: str  # noqa: ANN001
) -> None:
    before = {p.pid for p in _descendants()}
    record = tmp_path / "run.zlp"
    src = LiveSource([sys.executable, str(child_script), "forever"], record)
    seen: dict[str, object] = {}
    original_run = ZlprofApp.run

    async def autopilot(pilot) -> None:  # noqa: ANN001
        await wait_for(pilot, lambda: src.state.measurements > 100)
        seen["child"] = src.proc.pid
        await pilot.press(key)

    def headless_run(self):  # noqa: ANN001, ANN202
        self.peaks = PEAKS
        self._auto_peaks = False
        return original_run(self, headless=True, auto_pilot=autopilot, size=(100, 30))

    monkeypatch.setattr(ZlprofApp, "run", headless_run)
    assert run_app(src) == 0
    assert not psutil.pid_exists(seen["child"]) or psutil.Process(seen["child"]).status() == psutil.STATUS_ZOMBIE
    assert {p.pid for p in _descendants()} - before == set()
    assert src.status == "stopped"
    err = capsys.readouterr().err
    assert f"zlprof: recorded {record}" in err
    assert record.stat().st_size > 16


def test_run_app_reports_a_command_that_cannot_start(capsys) -> None:  # noqa: ANN001
    src = LiveSource(["/nonexistent/zlprof-child"], None)
    assert run_app(src) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["zlprof: error: command not found: /nonexistent/zlprof-child"]
