"""Issue 11 (hardening) in the live app: failing programs, the header's truth about the
child, q and Escape on every screen, odd names, the output screen's dropped lines, and
a session of more paths than the cap."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from fixtures.tui_support import PEAKS, FeedSource, FixtureSource, program_order, settle
from zlprof.session import OTHER_NAME
from zlprof.sources import EXIT_PROGRAM_FAILED, LiveSource
from zlprof.tui.app import ZlprofApp, run_app
from zlprof.tui.screens.confirm import ConfirmScreen
from zlprof.tui.screens.drilldown import DrillDownScreen
from zlprof.tui.screens.help import HelpScreen
from zlprof.tui.screens.main import MainScreen
from zlprof.tui.screens.output import OutputScreen
from zlprof.tui.screens.processes import ProcessesScreen
from zlprof.tui.screens.sessions import SessionsScreen
from zlprof.tui.widgets.ops_table import OpsTable
from zlprof.tui.widgets.status import CrashPanel, StatusBar

PY = sys.executable


def make_app(source, **kw) -> ZlprofApp:  # noqa: ANN001
    return ZlprofApp(source, refresh_hz=10, peaks=PEAKS, **kw)


async def wait_for(pilot, cond, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached")


def fixture() -> FixtureSource:
    src = FixtureSource()
    src.start()
    return src


def header(app: ZlprofApp):  # noqa: ANN201
    return app.screen.query_one(StatusBar).view


def ended_source(argv: list[str]) -> LiveSource:
    """A started live source whose program has already exited: the app then opens on a
    program that failed before its first frame (and before the main screen existed)."""
    src = LiveSource(argv, None)
    src.start()
    assert src.wait(300)
    return src


# --------------------------------------------------------------------------- failing programs


async def test_a_program_exiting_at_once_with_0() -> None:
    src = ended_source([PY, "-c", "pass"])
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert header(app).state == "ended"
        assert not app.screen.query_one(CrashPanel).has_class("-shown")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import sys; print('bad input', file=sys.stderr); sys.exit(5)", ["bad input"]),
        ("raise RuntimeError('x')", ["Traceback (most recent call last):", "RuntimeError: x"]),
    ],
)
async def test_a_program_failing_before_its_first_frame(code: str, expected: list[str]) -> None:
    src = ended_source([PY, "-c", code])
    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        assert isinstance(app.screen, MainScreen)  # no traceback of zlprof's: the app is up
        bar = header(app)
        assert bar.state == "crashed"
        status = "5" if "exit(5)" in code else "1"
        assert f"exited with status {status}" in bar.state_text
        panel = app.screen.query_one(CrashPanel)
        assert panel.has_class("-shown") and f"status {status}" in str(panel.border_title)
        for line in expected:
            assert line in panel.lines  # whole lines, not clipped
        assert panel.region.height >= 3  # on screen


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
async def test_after_a_crash_the_table_keeps_its_rows(size: tuple[int, int]) -> None:
    """The traceback takes at most 40 % of the height and the lower panels give way below
    150 columns: the ops the program measured before it failed stay on screen (before: at
    80x24 the table was squeezed to its border, no row shown)."""
    code = ("import zlprof\nfor n in ('load', 'parse', 'setup', 'warmup'):\n"
            "    with zlprof.measure(n): pass\n"
            "raise FileNotFoundError('/nonexistent/config.yaml')")
    src = ended_source([PY, "-c", code])
    app = make_app(src)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        screen = app.screen
        panel = screen.query_one(CrashPanel)
        assert panel.has_class("-shown") and screen.has_class("-crashed")
        assert "FileNotFoundError: /nonexistent/config.yaml" in panel.lines
        table = screen.query_one(OpsTable)
        assert table.region.height >= 6  # the header row and every measured op
        assert 3 <= panel.region.height <= size[1] * 0.4 + 1
        side = screen.query_one("#side")
        assert side.display == (size[0] >= 150 or size[1] >= 36)
        if not side.display:  # n has no panels to cycle: not offered
            assert screen.check_action("next_panels", ()) is False


async def test_a_missing_script_shows_pythons_message() -> None:
    src = ended_source([PY, "/nonexistent/my_server.py"])
    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        panel = app.screen.query_one(CrashPanel)
        assert panel.has_class("-shown")
        assert any("can't open file" in line for line in panel.lines)
        assert "exited with status 2" in header(app).state_text


async def test_a_long_traceback_is_kept_whole_and_scrollable() -> None:
    code = "import sys\nfor i in range(60): print(f'line {i} ' + 'x' * 150, file=sys.stderr)\nsys.exit(7)"
    src = ended_source([PY, "-c", code])
    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.3)
        panel = app.screen.query_one(CrashPanel)
        assert len(panel.lines) == 60 and panel.lines[-1].startswith("line 59 ") and len(panel.lines[-1]) > 150
        assert panel.max_scroll_y > 0 and panel.scroll_y == panel.max_scroll_y  # at the end
        panel.scroll_home(animate=False)  # the user scrolls up: it stays there
        await pilot.pause(0.5)
        assert panel.scroll_y == 0 and panel.max_scroll_y > 0


def _run_app_headless(monkeypatch: pytest.MonkeyPatch, autopilot) -> None:  # noqa: ANN001
    original_run = ZlprofApp.run

    def headless_run(self):  # noqa: ANN001, ANN202
        self.peaks = PEAKS
        self._auto_peaks = False
        return original_run(self, headless=True, auto_pilot=autopilot, size=(80, 24))

    monkeypatch.setattr(ZlprofApp, "run", headless_run)


@pytest.mark.parametrize(
    ("code", "status", "line"),
    [
        ("pass", 0, None),
        ("import sys; sys.exit(5)", EXIT_PROGRAM_FAILED, "zlprof: error: the program exited with status 5"),
        ("raise RuntimeError('x')", EXIT_PROGRAM_FAILED, "zlprof: error: the program exited with status 1"),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", EXIT_PROGRAM_FAILED,
         "zlprof: error: the program killed by SIGKILL"),
    ],
)
def test_run_app_exit_status_says_the_program_failed(
    monkeypatch: pytest.MonkeyPatch, capsys, code: str, status: int, line: str | None  # noqa: ANN001
) -> None:
    src = LiveSource([PY, "-c", code], None)

    async def autopilot(pilot) -> None:  # noqa: ANN001
        await wait_for(pilot, lambda: src.finished)
        await pilot.pause(0.2)
        await pilot.press("q")

    _run_app_headless(monkeypatch, autopilot)
    assert run_app(src) == status
    err = capsys.readouterr().err.strip().splitlines()
    if line is None:
        assert err == []
    else:
        assert err[-1] == line
        assert not any("Traceback" in e for e in err)


def test_a_python_that_cannot_import_zlprof_gets_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys  # noqa: ANN001
) -> None:
    """``python -S`` (no site-packages) stands for a ``python`` outside zlprof's venv: the
    panel and the exit lines say what to do, under the traceback."""
    src = LiveSource([PY, "-S", "-c", "import zlprof"], None)
    seen: dict[str, str] = {}

    async def autopilot(pilot) -> None:  # noqa: ANN001
        await wait_for(pilot, lambda: src.finished)
        await wait_for(pilot, lambda: app_panel(pilot).hint != "")
        seen["hint"] = app_panel(pilot).hint
        seen["text"] = str(app_panel(pilot).query_one("#crash-text").render())
        await pilot.press("q")

    def app_panel(pilot):  # noqa: ANN001, ANN202
        return pilot.app.screen.query_one(CrashPanel)

    _run_app_headless(monkeypatch, autopilot)
    assert run_app(src) == EXIT_PROGRAM_FAILED
    assert seen["hint"].startswith(f"{PY} cannot import zlprof") and sys.executable in seen["hint"]
    assert seen["text"].rstrip().endswith(seen["hint"])  # last: where the panel is held
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2] == "zlprof: error: the program exited with status 1"
    assert err[-1] == f"zlprof: hint: {seen['hint']}"


def test_failure_hint_only_for_a_missing_zlprof() -> None:
    from zlprof.sources import failure_hint

    tb = ["Traceback (most recent call last):", "ModuleNotFoundError: No module named 'zlprof'"]
    assert "cannot import zlprof" in failure_hint(tb, ["/usr/bin/python3", "x.py"])
    assert failure_hint(["ModuleNotFoundError: No module named 'numpy'"], ["python"]) == ""
    assert failure_hint([], []) == ""


# --------------------------------------------------------------------------- the header


FOREVER = "import time, zlprof\nwhile True:\n    with zlprof.measure('step'):\n        time.sleep(0.01)\n"


async def test_sigstop_and_sigcont_show_in_the_header(tmp_path: Path) -> None:
    script = tmp_path / "forever.py"
    script.write_text(FOREVER)
    src = LiveSource([PY, str(script)], None, stall_after_s=30)
    src.start()
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: src.state.measurements > 10)
            await wait_for(pilot, lambda: header(app) is not None and header(app).state == "running")
            os.kill(src.proc.pid, signal.SIGSTOP)
            await wait_for(pilot, lambda: header(app).state == "suspended")
            bar = header(app)
            assert "stopped (SIGSTOP)" in bar.state_text and str(src.proc.pid) in bar.state_text
            first = bar.elapsed
            await wait_for(pilot, lambda: header(app).elapsed != first)  # the clock runs on
            os.kill(src.proc.pid, signal.SIGCONT)
            await wait_for(pilot, lambda: header(app).state == "running")
    finally:
        os.kill(src.proc.pid, signal.SIGCONT)
        src.stop()


async def test_a_child_that_stops_sending_is_stalled_then_running_again(tmp_path: Path) -> None:
    script = tmp_path / "pause.py"
    flag = tmp_path / "go"
    script.write_text(
        "import os, time\n"
        f"while not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\n"
        "import zlprof\n"
        "for _ in range(3):\n    with zlprof.measure('b'):\n        time.sleep(0.01)\n"
        "time.sleep(30)\n"
    )
    src = LiveSource([PY, str(script)], None, stall_after_s=1.0)
    src.start()
    app = make_app(src)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: src.status == "stalled")
            await wait_for(pilot, lambda: header(app).state == "stalled")
            assert "for " in header(app).state_text and " s" in header(app).state_text
            flag.write_text("")
            await wait_for(pilot, lambda: src.status == "running")
    finally:
        src.stop()


# --------------------------------------------------------------------------- q and Escape


async def test_q_quits_from_every_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(fixture())
    quits: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        monkeypatch.setattr(app, "exit", lambda *a, **k: quits.append(type(app.screen).__name__))
        await settle(pilot)
        screens = [
            ("question_mark", HelpScreen),
            ("l", OutputScreen),
            ("enter", DrillDownScreen),
            ("o", SessionsScreen),
            ("p", ProcessesScreen),
        ]
        await pilot.press("q")
        for key, kind in screens:
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(app.screen, kind)
            await pilot.press("q")
            await pilot.pause()
            assert quits[-1] == kind.__name__
            await pilot.press("escape")
            await pilot.pause(0.1)
            assert isinstance(app.screen, MainScreen), kind
        app.push_screen(ConfirmScreen("sure?", "text"))
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert quits == ["MainScreen", "HelpScreen", "OutputScreen", "DrillDownScreen",
                         "SessionsScreen", "ProcessesScreen", "ConfirmScreen"]


async def test_escape_closes_every_modal() -> None:
    app = make_app(fixture())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        answers: list[bool | None] = []
        for open_it in (
            lambda: app.action_help(),
            lambda: app.action_output(),
            lambda: app.push_screen(ConfirmScreen("sure?", "text"), callback=answers.append),
        ):
            open_it()
            await pilot.pause()
            assert app.screen.is_modal
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
        assert answers == [False]


# --------------------------------------------------------------------------- names, output, scale


async def test_odd_names_show_on_one_line() -> None:
    src = FeedSource([(1, 0, "two\nlines"), (2, 0, "a/b"), (3, 1, "esc\x1b[31m")])
    src.start()
    src.feed(2)
    app = make_app(src)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        program_order(app)
        await pilot.pause()
        keys = app.main_screen.query_one(OpsTable).keys()
        assert keys == ["two\\nlines", "two\\nlines/esc\\x1b[31m", "a\u2215b"]


async def test_output_screen_says_how_many_lines_it_dropped() -> None:
    src = FeedSource()
    src.start()
    from zlprof import protocol

    frames = b"".join(protocol.encode_log(i, "stdout", f"line {i}") for i in range(2500))
    src.state.ingest_many(protocol.decode_stream(frames))
    app = make_app(src)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await pilot.pause()
        log = app.screen.query_one("#output-log")
        assert "last 2,000 of 2,500 lines" in str(log.border_subtitle)
        assert "500 older dropped" in str(log.border_subtitle)
        assert app.screen.dropped() == 500


async def test_more_paths_than_the_cap_fold_into_other() -> None:
    from zlprof.session import SessionState

    paths = [(i, 0, f"op{i:05d}") for i in range(1, 301)]
    src = FeedSource(paths)
    src.state = SessionState(max_paths=100)
    src.start()
    src.feed(1)
    app = make_app(src)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        keys = app.main_screen.query_one(OpsTable).keys()
        assert len(keys) == 101 and OTHER_NAME in keys
        assert any("more than 100 distinct call paths" in w for w in src.state.warnings)
        # said under the operations panel, not in a toast over the data
        assert "more than 100 distinct call paths" in str(app.main_screen.query_one("#ops-panel").border_subtitle)
        await pilot.press("f", "o", "p", "0", "0", "0", "0", "1")
        await pilot.pause(0.2)
        keys = app.main_screen.query_one(OpsTable).keys()
        assert keys == ["op00001"]


async def test_a_large_table_holds_every_row_and_draws_only_those_on_screen() -> None:
    names = [f"op{i:05d}" for i in range(1, 2001)]
    src = FeedSource([(i, 0, n) for i, n in enumerate(names, 1)])
    src.start()
    src.feed(1)
    app = make_app(src)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        assert table.row_count == 2000 and sorted(table.keys()) == names
        assert "rows (f filters)" not in str(app.main_screen.query_one("#ops-panel").border_title)
        program_order(app)
        await pilot.pause()
        drawn = table.rows_drawn
        await pilot.press("end")  # the last row is reachable: every row is in the table
        await pilot.pause()
        assert table.cursor_key() == "op02000"
        top = round(table.scroll_y)
        assert top + table.page_rows() == 2000  # scrolled to it
        # only rows that came on screen were drawn, not the 2,000 rows of the table
        assert 0 < table.rows_drawn - drawn <= 2 * table.page_rows()


async def test_filter_applies_per_key_stroke_over_thousands_of_paths() -> None:
    names = [f"op{i:05d}" for i in range(1, 2001)]  # MAX_PATHS of them
    src = FeedSource([(i, 0, n) for i, n in enumerate(names, 1)])
    src.start()
    src.feed(1)
    app = make_app(src)
    async with app.run_test(size=(160, 30)) as pilot:
        await settle(pilot)
        program_order(app)
        table = app.main_screen.query_one(OpsTable)
        await pilot.press("f")
        typed = ""
        for key in ["0", "2", "9", "backspace", "1", "7", "backspace", "backspace", "backspace", "1", "9", "9"]:
            await pilot.press(key)  # no pause: the key's own handler shows the rows
            typed = typed[:-1] if key == "backspace" else typed + key
            assert table.keys() == [n for n in names if typed in n], typed
        assert table.keys() == ["op00199", *(f"op0199{i}" for i in range(10))]  # typed "0199"
        # the filter kept (Enter): cursor and sort work on the filtered rows
        await pilot.press("enter")
        on = table.cursor_key()
        await pilot.press("s", "s")  # program order -> count -> total (largest first)
        await pilot.pause()
        totals = {r.full: r.stats.total_ms for r in src.state.op_rows()}
        assert table.keys() == sorted(table.keys(), key=lambda k: -totals[k])
        assert table.cursor_key() == on  # the cursor stays on its op
        await pilot.press("home", "down", "down")
        assert table.cursor_key() == table.keys()[2]
        # a click on another row moves the cursor there; a second click opens it
        await pilot.click(OpsTable, offset=(4, 1 + 5))
        assert table.cursor_key() == table.keys()[5]
        await pilot.click(OpsTable, offset=(4, 1 + 5))
        await pilot.pause()
        assert isinstance(app.screen, DrillDownScreen)


def test_a_program_that_never_measures_is_named_by_its_command(tmp_path: Path) -> None:
    """No hello frame ever came: the report and the recording still name the program
    (from the end frame's argv), and the status is said once."""
    from zlprof.recording import load_session
    from zlprof.reports.text import run_paragraph

    out = tmp_path / "quiet.zlp"
    src = LiveSource([PY, "-c", "raise SystemExit(4)"], out)
    src.start()
    assert src.wait(300)
    src.stop()
    for state in (src.state, load_session(out)):
        text = run_paragraph(state, [])
        assert "(unknown program)" not in text and text.startswith(Path(PY).name)
        assert "exited with status 4" in text and text.count("status 4") == 1


async def test_filter_keys_and_new_data_do_not_lay_out_the_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layout of the main screen costs tens of ms: typing in the filter box and new
    samples of the same rows must not cause one (Screen._refresh_layout counts them; only
    the count of rows or a panel's height changing may). New hints may: they are held
    still here (a new hint is rare, a new sample is not)."""
    from textual.screen import Screen

    from zlprof.tui.widgets.hints_panel import HintsPanel

    monkeypatch.setattr(HintsPanel, "update_view", lambda self, hints: False)

    layouts = {"n": 0}
    original = Screen._refresh_layout

    def counted(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        layouts["n"] += 1
        return original(self, *a, **kw)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    names = [f"op{i:05d}" for i in range(1, 301)]
    src = FeedSource([(i, 0, n) for i, n in enumerate(names, 1)])
    src.start()
    src.feed(1)
    app = make_app(src)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        await pilot.press("f")
        await pilot.pause()
        before = layouts["n"]
        for key in "op001":
            await pilot.press(key)
        await pilot.pause()
        assert sorted(table.keys()) == [n for n in names if "op001" in n]
        assert layouts["n"] == before, "a filter key stroke laid out the screen"
        # rows below a page and back (the scrollbar stays: overflow-y scroll)
        await pilot.press("0", "1")
        await pilot.pause()
        assert table.keys() == ["op00101"]
        await pilot.press("backspace", "backspace")
        await pilot.pause()
        assert table.row_count == 100
        assert layouts["n"] == before, "rows below a page and back laid out the screen"
        await pilot.press("escape")  # the filter cleared: every row again
        await pilot.pause()
        assert table.row_count == 300
        before = layouts["n"]
        seen = src.state.measurements
        src.feed(3)  # more samples of the same 300 rows
        await wait_for(pilot, lambda: app.refresher.last_version == src.state.version and src.state.measurements > seen)
        await pilot.pause(0.3)
        assert layouts["n"] == before, "new samples of the same rows laid out the screen"
