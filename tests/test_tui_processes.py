"""The processes screen (``p``), the header's process count and the share title."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from textual.widgets import DataTable

from fixtures.tui_support import PEAKS, FixtureSource, settle
from zlprof import protocol
from zlprof.recording import RecordingWriter
from zlprof.session import WHOLE, SessionState, View
from zlprof.tui.app import ZlprofApp
from zlprof.tui.procview import proc_lines, view_label
from zlprof.tui.screens.processes import ProcessesScreen
from zlprof.tui.widgets.ops_table import OpsTable
from zlprof.tui.widgets.status import StatusBar


def _hello(pid: int, ppid: int, start: str) -> bytes:
    return protocol.encode_hello(pid=pid, ppid=ppid, argv=["prog.py", start], start_ns=0,
                                 wall_time=0.0, python="3", numpy_version="2",
                                 platform="linux", start=start)


def _meas(tid: int, path: list[int], t0: list[int], t1: list[int]) -> bytes:
    return protocol.encode_measurements(tid, np.asarray(path, np.int32),
                                        np.asarray(t0, np.int64), np.asarray(t1, np.int64))


def tree_recording(path: Path) -> Path:
    """Root 100 (two threads) with children 101 (exited 0) and 102 (killed by SIGKILL)."""
    with RecordingWriter(path) as w:
        w.write_raw(protocol.encode_proc(stream=1, pid=100, event="start", ppid=1), 0)
        w.write_raw(_hello(100, 1, "exec")
                    + protocol.encode_names([(1, 0, "work"), (2, 1, "inner")])
                    + protocol.encode_threads([(100, "MainThread"), (105, "loader")])
                    + _meas(100, [2, 1], [10, 0], [20, 1000])
                    + _meas(105, [1, 1, 1], [0, 100, 200], [50, 150, 250]), 1)
        w.write_raw(_hello(101, 100, "fork")
                    + protocol.encode_names([(1, 0, "work"), (2, 0, "child_only")])
                    + protocol.encode_threads([(101, "MainThread")])
                    + _meas(101, [2, 2, 1], [0, 10, 20], [5, 15, 900]), 2)
        w.write_raw(_hello(102, 100, "spawn")
                    + protocol.encode_names([(7, 0, "work")])
                    + protocol.encode_threads([(102, "MainThread")])
                    + _meas(102, [7], [0], [400]), 3)
        w.write_raw(protocol.encode_proc(stream=2, pid=101, event="exit", status=0,
                                         reason="exited normally")
                    + protocol.encode_proc(stream=3, pid=102, event="exit", status=-9,
                                           reason="killed by SIGKILL")
                    + protocol.encode_proc(stream=1, pid=100, event="exit", status=0,
                                           reason="exited normally")
                    + protocol.encode_end(0, "exited normally"), 0)
    return path


def test_proc_lines_and_labels(tmp_path: Path) -> None:
    from zlprof.recording import read_recording

    st = SessionState()
    st.ingest_many(read_recording(tree_recording(tmp_path / "t.zlp")).frames)
    lines = proc_lines(st.process_rows())
    assert lines[0].view == WHOLE and lines[0].cells[0].startswith("all processes (3, 0 running)")
    assert lines[0].cells[4] == "9"
    pids = [ln.cells[1] for ln in lines[1:]]
    assert pids == ["100", "100", "105", "101", "102"]  # the root, its two threads, children
    killed = next(ln for ln in lines if ln.cells[1] == "102")
    assert killed.kind == "killed" and killed.cells[3] == "killed by SIGKILL"
    assert killed.view == View(3)
    thread = next(ln for ln in lines if ln.cells[1] == "105")
    assert thread.view == View(1, 105) and "loader" in thread.cells[0]
    rows = st.process_rows()
    assert view_label(View(1, 105), rows) == "pid 100 thread 105 (loader)"
    assert view_label(View(2), rows) == "pid 101"
    assert view_label(WHOLE, rows) == "all processes"


async def test_processes_screen_picks_a_process_and_back(tmp_path: Path) -> None:
    src = FixtureSource(tree_recording(tmp_path / "t.zlp"))
    src.start()
    app = ZlprofApp(src, refresh_hz=10, peaks=PEAKS)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        ops = app.main_screen.query_one(OpsTable)
        counts = {k: ops.get_cell(k, "count").plain for k in ops.keys()}
        assert counts == {"work": "6", "work/inner": "1", "child_only": "2"}
        bar = app.main_screen.query_one(StatusBar).view
        assert bar.processes == "3 procs (0 running)"
        panel = app.main_screen.query_one("#share-panel")
        assert "4 threads" in str(panel.border_title)
        assert "summed wall time" in str(panel.border_subtitle)

        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, ProcessesScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 6
        await pilot.press("down", "down", "down", "down")  # all, 100, 100/main, 105, 101
        await pilot.press("enter")
        await pilot.pause()
        assert app.proc_view == View(2)
        await settle(pilot)
        counts = {k: ops.get_cell(k, "count").plain for k in ops.keys()}
        assert counts == {"work": "1", "child_only": "2"}
        assert "pid 101" in str(app.main_screen.query_one("#ops-panel").border_title)

        await pilot.press("p")
        await pilot.pause()
        await pilot.press("a")  # all processes again
        await pilot.pause()
        assert app.proc_view == WHOLE
        await settle(pilot)
        assert len(ops.keys()) == 3


def test_header_counts_nothing_for_one_process() -> None:
    from zlprof.tui.model import processes_text

    assert processes_text(None) == "" and processes_text((1, 1)) == ""
    assert processes_text((2, 5)) == "5 procs (2 running)"
