"""The live comparison against a baseline (``--baseline``): the comparator, the ops
table's baseline columns and summary line (Pilot), the drill-down overlay, the session
browser's key, and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.tui_support import PEAKS, FeedSource, settle
from test_replay_tui import write_recording
from zlprof.baseline import BaselineComparator
from zlprof.cli import main
from zlprof.recording import load_session
from zlprof.significance import Verdict


def fed(rounds: int, scale: float = 1.0, paths: list | None = None,
        only: tuple[str, ...] = ()) -> FeedSource:
    """A started feed of ``rounds`` rounds, ``only`` those ops (every op if empty) ``scale``
    times as long."""
    src = FeedSource(paths)
    src.start()
    if rounds:
        src.feed(rounds, scale, only)
    return src


def write_part(path: Path, *, seconds: float, seed: int, scale: float) -> Path:
    """test_replay_tui.write_recording's rounds, only ``sampling`` ``scale`` times as long:
    a change of one op."""
    return write_recording(path, seconds=seconds, seed=seed, sampling_scale=scale)


# --------------------------------------------------------------------------- comparator


def test_self_comparison_shows_nothing(tmp_path: Path) -> None:
    rec = write_recording(tmp_path / "a.zlp", seconds=6, seed=1)
    cmp_ = BaselineComparator.load(rec, every_s=0)
    view = cmp_.compare(load_session(rec))
    assert view.ops and all(c.verdict == Verdict.SAME for c in view.ops.values())
    assert all(c.change["median"] == 0 for c in view.ops.values())
    assert view.summary().startswith(f"vs a.zlp: 0 ops slower, 0 faster, {len(view.ops)} unchanged")


def test_verdicts_follow_the_samples_as_they_arrive() -> None:
    base = fed(300)
    cmp_ = BaselineComparator(base.state, "base.zlp", every_s=0)
    live = fed(0)
    live.feed(2, scale=1.3, only=("forward_pass",))
    first = cmp_.compare(live.state)
    assert {c.verdict for c in first.ops.values()} == {Verdict.FEW}
    live.feed(100, scale=1.3, only=("forward_pass",))
    later = cmp_.compare(live.state)
    assert later.ops["forward_pass"].verdict == Verdict.SLOWER
    assert later.ops["forward_pass"].change["median"] == pytest.approx(0.3, abs=0.05)
    # adjusted for the other ops' level at the same time (the machine's common level)
    assert later.ops["forward_pass"].adjusted == pytest.approx(0.3, abs=0.05)
    assert {c.verdict for n, c in later.ops.items() if n != "forward_pass"} == {Verdict.SAME}
    assert later.summary().startswith("vs base.zlp: 1 op slower, 0 faster, 4 unchanged")
    assert "forward_pass p50 +" in later.summary()


def test_every_op_slower_is_inconclusive() -> None:
    # every op 30 % slower: the ops moved together, as the machine moves them; two runs
    # cannot tell that from a change touching every op (significance.COMMON)
    from zlprof.significance import COMMON

    base = fed(300)
    live = fed(100, scale=1.3)
    view = BaselineComparator(base.state, "base.zlp", every_s=0).compare(live.state)
    assert {c.verdict for c in view.ops.values()} == {Verdict.INCONCLUSIVE}
    assert {c.why for c in view.ops.values()} == {COMMON}
    assert view.busy is None
    assert view.summary().startswith("vs base.zlp: 0 ops slower, 0 faster, 0 unchanged, 5 inconclusive")
    # every op moved together: the line says so
    assert view.shift == pytest.approx(0.3, abs=0.05)
    assert "; every op +3" in view.summary()


def test_throttled_until_due() -> None:
    base = fed(100)
    cmp_ = BaselineComparator(base.state, "b", every_s=3600)
    live = fed(50)
    first = cmp_.compare(live.state)
    live.feed(50, scale=2.0)
    assert cmp_.compare(live.state) is first  # not due yet
    assert not cmp_.stale(live.state)
    assert cmp_.compare(live.state, force=True) is not first


def test_ops_in_one_side_only() -> None:
    base = fed(50)
    live = FeedSource([(1, 0, "tokenize"), (2, 0, "forward_pass"), (9, 0, "detokenize")])
    live.start()
    live.feed(50)
    view = BaselineComparator(base.state, "b", every_s=0).compare(live.state)
    assert view.only_current == ["detokenize"]
    assert view.ops["detokenize"].verdict == Verdict.ONLY_B
    assert set(view.only_baseline) == {"forward_pass/attention", "forward_pass/mlp", "sampling"}
    assert "1 new; 3 only in baseline" in view.summary()


def test_drill_overlay_shares_buckets() -> None:
    base = fed(200)
    live = fed(200, scale=1.5)
    ov = BaselineComparator(base.state, "b", every_s=0).drill_overlay(live.state, "forward_pass/mlp", 30)
    assert ov is not None
    assert len(ov.edges_ms) == 31 and ov.counts.sum() == 200 and ov.baseline_counts.sum() == 200
    # the slower run's mass sits right of the baseline's
    centre = (ov.edges_ms[:-1] * ov.counts).sum() / 200
    base_centre = (ov.edges_ms[:-1] * ov.baseline_counts).sum() / 200
    assert centre > base_centre * 1.3


# --------------------------------------------------------------------------- the app


async def test_ops_table_gains_baseline_columns_and_a_summary_line() -> None:
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.baseline import BaselineLine
    from zlprof.tui.widgets.ops_table import OpsTable

    base = fed(300)
    live = fed(3, scale=1.3, only=("forward_pass",))
    app = ZlprofApp(live, refresh_hz=10, peaks=PEAKS,
                    baseline=BaselineComparator(base.state, "old.zlp", every_s=0))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        keys = table.column_keys()
        assert keys[-3:] == ["base_p50", "base_p99", "base_mark"]
        assert table.get_cell("forward_pass", "base_mark").plain == "few"
        line = app.main_screen.query_one(BaselineLine)
        assert line.display
        live.feed(120, scale=1.3, only=("forward_pass",))
        await settle(pilot)
        assert table.get_cell("forward_pass", "base_mark").plain == "▲ slower"
        assert table.get_cell("forward_pass", "base_p50").plain.startswith("+")
        assert str(line.render()).startswith("vs old.zlp: 1 op slower, 0 faster, 4 unchanged")
        # sorted by p95: the second column shows the change of p95
        app.main_screen.set_options(sort="p95", descending=True)
        await pilot.pause()
        assert table.column_keys()[-2] == "base_p95"
    live.stop()


def with_cpu(src: FeedSource, wait: float, probe: int = 3000) -> FeedSource:
    """Give a fed source the sampler's CPU readings: ``wait`` of its runnable time spent
    waiting for a CPU (hand-built, test_starvation.series)."""
    from test_starvation import series
    from zlprof import protocol
    from zlprof.profiler.cpu import GAUGES

    cols = series(wait=wait, probe=probe)
    frame = protocol.encode_memory(cols["t"].tolist(), [50_000_000] * len(cols["t"]), [-1] * len(cols["t"]),
                                   {k: cols[k].tolist() for k in GAUGES})
    src.state.ingest_many(protocol.decode_stream(frame))
    return src


def test_a_busy_machine_makes_the_slower_verdicts_inconclusive() -> None:
    base = with_cpu(fed(300), wait=0.02)
    live = with_cpu(fed(120, scale=1.3), wait=0.5)
    view = BaselineComparator(base.state, "base.zlp", every_s=0).compare(live.state)
    assert view.busy is not None and view.cpu_known
    assert {c.verdict for c in view.ops.values()} == {Verdict.INCONCLUSIVE}
    assert view.summary().startswith(
        "vs base.zlp: inconclusive: the machine was busy (this run waited for a CPU 50 % of its "
        "time vs 2 %); 0 ops slower, 0 faster, 0 unchanged, 5 inconclusive")
    # the same machine on both sides: every op moved together, which is still what a
    # machine does (significance.COMMON); one op that moved alone is slower
    quiet = with_cpu(fed(120, scale=1.3), wait=0.02)
    view = BaselineComparator(base.state, "base.zlp", every_s=0).compare(quiet.state)
    assert view.busy is None and {c.verdict for c in view.ops.values()} == {Verdict.INCONCLUSIVE}
    one = with_cpu(fed(120, scale=1.3, only=("forward_pass",)), wait=0.02)
    view = BaselineComparator(base.state, "base.zlp", every_s=0).compare(one.state)
    assert view.busy is None and view.ops["forward_pass"].verdict == Verdict.SLOWER
    # a busy machine but the ops did not move with it: the verdicts stand
    steady = with_cpu(fed(120, scale=1.0), wait=0.5)
    view = BaselineComparator(base.state, "base.zlp", every_s=0).compare(steady.state)
    assert view.busy is None and Verdict.INCONCLUSIVE not in {c.verdict for c in view.ops.values()}
    # a baseline without readings: no machine verdict (the common level still applies)
    busy_one = with_cpu(fed(120, scale=1.3, only=("forward_pass",)), wait=0.5)
    view = BaselineComparator(fed(300).state, "old.zlp", every_s=0).compare(busy_one.state)
    assert view.busy is None and not view.cpu_known
    assert view.ops["forward_pass"].verdict == Verdict.SLOWER


async def test_baseline_line_says_the_machine_was_busy() -> None:
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.baseline import BaselineLine
    from zlprof.tui.widgets.ops_table import OpsTable

    base = with_cpu(fed(300), wait=0.02)
    live = with_cpu(fed(120, scale=1.3), wait=0.5)
    app = ZlprofApp(live, refresh_hz=10, peaks=PEAKS,
                    baseline=BaselineComparator(base.state, "old.zlp", every_s=0))
    async with app.run_test(size=(200, 40)) as pilot:
        await settle(pilot)
        line = app.main_screen.query_one(BaselineLine)
        assert line.display
        assert str(line.render()).startswith(
            "vs old.zlp: inconclusive: the machine was busy (this run waited for a CPU 50 %")
        table = app.main_screen.query_one(OpsTable)
        assert table.get_cell("forward_pass", "base_mark").plain == "? busy"
    live.stop()


async def test_without_a_baseline_nothing_changes() -> None:
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.baseline import BaselineLine
    from zlprof.tui.widgets.ops_table import OpsTable

    live = fed(20)
    app = ZlprofApp(live, refresh_hz=10, peaks=PEAKS)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        keys = app.main_screen.query_one(OpsTable).column_keys()
        assert not any(k.startswith("base_") for k in keys)
        assert not app.main_screen.query_one(BaselineLine).display


async def test_drill_down_overlays_the_baseline_histogram() -> None:
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.baseline import OverlayHistogram

    base = fed(300)
    live = fed(300, scale=1.5, only=("forward_pass/mlp",))
    app = ZlprofApp(live, refresh_hz=10, peaks=PEAKS,
                    baseline=BaselineComparator(base.state, "old.zlp", every_s=0))
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        app.open_drill(live.state.path_id("forward_pass/mlp"))
        await pilot.pause()
        await settle(pilot)
        hist = app.screen.query_one(OverlayHistogram)
        assert hist.baseline_counts is not None and hist.baseline_counts.sum() == 300
        drawn = str(hist.render())
        assert "─" in drawn and "baseline" in drawn
        subtitle = str(app.screen.query_one("#hist-panel").border_subtitle)
        assert "slower" in subtitle and "noise floor " in subtitle


async def test_session_browser_marks_a_baseline_with_one_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_tui_sessions import open_browser, rows, until
    from zlprof.replay import ReplaySource
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.ops_table import OpsTable

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    d = tmp_path / "data" / "zlprof" / "sessions"
    d.mkdir(parents=True)
    old = write_recording(d / "20240601-100000-old.zlp", seconds=6, scale=1.0, seed=1,
                          wall_time=1_717_236_000.0)
    new = write_part(tmp_path / "new.zlp", seconds=6, seed=2, scale=2.0)
    src = ReplaySource(new, speed=None)
    src.start()
    app = ZlprofApp(src, refresh_hz=10, peaks=PEAKS)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: src.finished)
        screen = await open_browser(pilot)
        assert rows(screen)[0][1:] and app.baseline is None
        await pilot.press("b")
        await until(pilot, lambda: app.baseline is not None)
        assert app.baseline.label == old.name
        await until(pilot, lambda: rows(screen)[0][0] == "◆")
        await pilot.press("escape")
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        await until(pilot, lambda: "base_mark" in table.column_keys())
        await settle(pilot)
        assert table.get_cell("sampling", "base_mark").plain == "▲ slower"
        # the same key on the same session: no baseline
        await open_browser(pilot)
        await pilot.press("b")
        await until(pilot, lambda: app.baseline is None)
    src.stop()


# --------------------------------------------------------------------------- command line


@pytest.fixture
def pair(tmp_path: Path) -> dict[str, Path]:
    return {
        "old": write_recording(tmp_path / "old.zlp", seconds=6, scale=1.0, seed=1),
        "same": write_recording(tmp_path / "same.zlp", seconds=6, scale=1.0, seed=2),
        "slow": write_part(tmp_path / "slow.zlp", seconds=6, seed=3, scale=1.1),
        "all_slow": write_recording(tmp_path / "all_slow.zlp", seconds=6, scale=1.3, seed=4),
    }


def test_diff_fail_on_exit_codes(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, same, slow = str(pair["old"]), str(pair["same"]), str(pair["slow"])
    assert main(["diff", old, same, "--fail-on", "p50>+5%"]) == 0
    capsys.readouterr()
    assert main(["diff", old, slow, "--fail-on", "p50>+5%"]) == 3
    err = capsys.readouterr().err.splitlines()
    fails = [line for line in err if "FAIL p50>+5%" in line]
    assert fails == [line for line in err if line.startswith("zlprof: FAIL p50>+5%: sampling median +")]
    assert len(fails) == 1  # only sampling was scaled
    # a threshold above the change: passes
    assert main(["diff", old, slow, "--fail-on", "p50>+30%"]) == 0
    # a named op
    assert main(["diff", old, slow, "--fail-on", "forward_pass:p99>+5%"]) == 0
    capsys.readouterr()
    assert main(["diff", old, slow, "--fail-on", "sampling:p50>+5%"]) == 3
    err = capsys.readouterr().err
    assert "sampling median" in err and "forward_pass median" not in err
    # every op 30 % slower: moved as the machine moves every op (significance.COMMON):
    # neither pass nor fail
    assert main(["diff", old, str(pair["all_slow"]), "--fail-on", "p50>+5%"]) == 4
    err = capsys.readouterr().err
    assert "zlprof: INCONCLUSIVE p50>+5%: forward_pass median +" in err and "FAIL" not in err
    assert "moved only as much as the other ops did" in err


def test_diff_fail_on_mistakes(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    old, slow = str(pair["old"]), str(pair["slow"])
    assert main(["diff", old, slow, "--fail-on", "p50 is bad"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected [OP:]STAT>+N%" in err
    assert main(["diff", old, slow, "--fail-on", "nosuchop:p50>+5%"]) == 2
    assert "no op 'nosuchop'" in capsys.readouterr().err


def test_diff_json_carries_verdicts_and_violations(pair: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["diff", str(pair["old"]), str(pair["slow"]), "--format", "json",
                 "--fail-on", "p50>+5%"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["fdr"] == "benjamini-hochberg" and doc["min_effect"] == 0.05
    assert doc["exit_status"] == 3 and doc["fail_on"] == ["p50>+5%"]
    assert {v["op"] for v in doc["violations"]} == {"sampling"}
    row = next(r for r in doc["rows"] if r["op"] == "sampling")
    assert row["verdict"] == "slower" and row["test"]["q_value"] < 0.05
    assert row["test"]["adjusted_change"] == pytest.approx(0.1, abs=0.03)
    assert row["test"]["noise_floor_of"] == "machine-adjusted block medians"


def test_replay_with_a_bad_baseline_is_one_line(pair: dict[str, Path], tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.zlp"
    junk.write_text("nope")
    assert main(["replay", str(pair["old"]), "--baseline", str(junk)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("zlprof: error:") and err.count("\n") == 1
    assert main(["replay", str(pair["old"]), "--baseline", str(tmp_path / "missing.zlp")]) == 1


def test_bench_fail_on_needs_compare(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--fail-on", "p50>+5%"]) == 2
    assert "--fail-on needs --compare" in capsys.readouterr().err
    assert main(["bench", "--fail-on", "p50>"]) == 2


def test_bench_check_fail_on() -> None:
    from zlprof.bench import check_fail_on, compare_results
    from zlprof.significance import parse_fail_on

    def result(durations: list[float]) -> dict:
        return {"name": "x", "runs": [{"ok": True, "duration_ms": d, "tokens_per_second": 100 / d}
                                      for d in durations]}

    base = [20 + i * 0.1 for i in range(10)]
    doc = {"results": [result([d * 1.1 for d in base])]}
    doc["results"][0]["comparison"] = compare_results(doc["results"][0], result(base), "old.json")
    found = check_fail_on(doc, [parse_fail_on("p50>+5%")])
    assert [(v.op, round(v.change, 3)) for v in found] == [("duration_ms", 0.1)]
    assert check_fail_on(doc, [parse_fail_on("duration_ms:p95>+20%")]) == []
    assert doc["violations"] == []


def test_change_cells_fit_their_column() -> None:
    from zlprof.baseline import OpComparison
    from zlprof.tui.baseline_view import change_text, marker_text

    def cell(v: float | None, verdict: Verdict = Verdict.SAME) -> str:
        return change_text(OpComparison("x", verdict, {"median": v}), "median")

    assert cell(0.041) == "+4.1%" and cell(-0.5) == "-50.0%"
    assert cell(16.54) == "+1654%" and cell(250.0) == "251x"
    assert cell(None) == "-" and cell(0.1, Verdict.ONLY_B) == "new"
    assert all(len(cell(v)) <= 7 for v in (-0.999, 0.999, 5.0, 98.9, 1e6))
    assert change_text(None, "median") == "" and marker_text(None) == ""
    assert marker_text(OpComparison("x", Verdict.SLOWER, {})) == "▲ slower"


def test_the_marker_says_why_a_change_is_inconclusive() -> None:
    """``? busy``: the busy machine explains it (starvation.py); ``? all``: the op moved
    only as much as every op did (the machine's common level)."""
    from zlprof.baseline import OpComparison
    from zlprof.significance import BUSY, COMMON
    from zlprof.tui.baseline_view import marker_text

    assert marker_text(OpComparison("x", Verdict.INCONCLUSIVE, {}, why=BUSY)) == "? busy"
    assert marker_text(OpComparison("x", Verdict.INCONCLUSIVE, {}, why=COMMON)) == "? all"
    # the summary line says the machine was busy: every inconclusive op says so too
    assert marker_text(OpComparison("x", Verdict.INCONCLUSIVE, {}, why=COMMON), busy=True) == "? busy"
