"""The app's view models (no widgets): table rows, diffs, bars, status, drill-down."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures.tui_support import FIXTURE
from zlprof import protocol
from zlprof.recording import load_session
from zlprof.session import OpRow, SessionState
from zlprof.stats import PerformanceStats
from zlprof.tui import model
from zlprof.tui.model import (
    COLUMN_PADDING,
    COLUMNS,
    DrillRequest,
    MainRequest,
    TableOptions,
    build_table,
    columns_for_width,
)
from zlprof.tui.viewmodels.ops_rows import OpsRows


@pytest.fixture(scope="module")
def state() -> SessionState:
    return load_session(FIXTURE)


@pytest.fixture(scope="module")
def rows(state: SessionState):  # noqa: ANN201
    return state.op_rows()


def keys(views) -> list[str]:  # noqa: ANN001
    return [v.key for v in views]


# --------------------------------------------------------------------------- columns


@pytest.mark.parametrize("width", [40, 60, 77, 100, 131, 200, 400])
def test_columns_fill_the_width_exactly(width: int) -> None:
    cols, op = columns_for_width(width)
    assert op + COLUMN_PADDING + sum(c.width + COLUMN_PADDING for c in cols) == width
    assert op >= min(20, max(10, width // 3)) or width < 40
    assert list(cols) == [c for c in COLUMNS if c in cols]  # natural order kept


def test_columns_keep_the_most_useful_first() -> None:
    narrow = {c.key for c in columns_for_width(77)[0]}
    assert {"count", "share", "p50", "p99", "total"} <= narrow
    assert {c.key for c in columns_for_width(400)[0]} == {c.key for c in COLUMNS}
    tiny = [c.key for c in columns_for_width(38)[0]]
    assert tiny and tiny[0] in ("count", "share")


# --------------------------------------------------------------------------- table rows


def test_tree_order_indents_and_marks_parents(rows) -> None:  # noqa: ANN001
    views = build_table(rows, TableOptions())
    assert keys(views)[:4] == ["tokenize", "prefill", "prefill/forward_pass", "forward_pass"]
    fp = next(v for v in views if v.key == "forward_pass")
    att = next(v for v in views if v.key == "forward_pass/layer0/attention")
    assert fp.label == "▾ forward_pass" and fp.has_children
    assert att.label == "      attention" and not att.has_children
    assert len(fp.cells) == len(COLUMNS)
    assert fp.cells[0] == "192"


def test_sort_orders_siblings_within_the_tree(rows) -> None:  # noqa: ANN001
    views = build_table(rows, TableOptions(sort="total", descending=True))
    k = keys(views)
    roots = [x for x in k if "/" not in x]
    assert roots[0] == "forward_pass" and roots[-1] == "tokenize"
    # children stay right under their parent, largest first
    i = k.index("forward_pass/layer0")
    assert k[i + 1 : i + 4] == [
        "forward_pass/layer0/mlp",
        "forward_pass/layer0/attention",
        "forward_pass/layer0/rmsnorm",
    ]


def test_flat_view_sorts_all_ops_and_shows_full_paths(rows) -> None:  # noqa: ANN001
    views = build_table(rows, TableOptions(sort="p99", descending=True, flat=True))
    p99 = [r.stats.p99_ms for r in sorted(rows, key=lambda r: r.stats.p99_ms, reverse=True)]
    by_key = {r.full: r for r in rows}
    assert [by_key[v.key].stats.p99_ms for v in views] == p99
    assert views[0].label == views[0].key and views[0].depth == 0


def test_sort_by_name_and_reverse_program_order(rows) -> None:  # noqa: ANN001
    names = keys(build_table(rows, TableOptions(sort="name", flat=True)))
    assert names == sorted(names, key=str.lower)
    rev = keys(build_table(rows, TableOptions(sort="tree", descending=True)))
    assert [k for k in rev if "/" not in k][0] == "decode"


def test_filter_keeps_ancestors_dimmed(rows) -> None:  # noqa: ANN001
    views = build_table(rows, TableOptions(filter="ATTENTION"))
    assert keys(views) == [
        "forward_pass",
        "forward_pass/layer0",
        "forward_pass/layer0/attention",
        "forward_pass/layer1",
        "forward_pass/layer1/attention",
    ]
    assert [v.match for v in views] == [False, False, True, False, True]
    assert model.display_cells(views[0])[0].startswith(model.DIM)
    flat = build_table(rows, TableOptions(filter="attention", flat=True))
    assert keys(flat) == ["forward_pass/layer0/attention", "forward_pass/layer1/attention"]


def test_collapse_hides_the_subtree(rows) -> None:  # noqa: ANN001
    views = build_table(rows, TableOptions(collapsed=frozenset({"forward_pass"})))
    k = keys(views)
    assert "forward_pass" in k and not any(x.startswith("forward_pass/") for x in k)
    fp = next(v for v in views if v.key == "forward_pass")
    assert fp.collapsed and fp.label.startswith("▸")


# --------------------------------------------------------------------------- the row model


def _many_rows(groups: int = 30, per: int = 40) -> list[OpRow]:
    """A session of groups x per call paths (a tree two deep), with varied statistics."""
    s = SessionState()
    names = []
    pid = 0
    for g in range(groups):
        pid += 1
        top = pid
        names.append((top, 0, f"group{g:02d}"))
        for i in range(per):
            pid += 1
            names.append((pid, top, f"op{g:02d}_{i:03d}"))
    s.ingest_many(protocol.decode_stream(protocol.encode_names(names)))
    rng = np.random.default_rng(3)
    ids = rng.integers(1, pid + 1, size=20_000).astype(np.int32)
    dur = rng.lognormal(8, 1, size=ids.size).astype(np.int64)
    t0 = np.cumsum(dur) + np.arange(ids.size)
    s.ingest_many(protocol.decode_stream(protocol.encode_measurements(1, ids, t0, t0 + dur)))
    return s.op_rows()


def test_row_model_orders_as_build_table_and_formats_only_what_is_read() -> None:
    rows = _many_rows()
    m = OpsRows()
    for opts in (TableOptions(), TableOptions(sort="total", descending=True),
                 TableOptions(sort="name", flat=True), TableOptions(sort="p95", descending=True, filter="_01"),
                 TableOptions(collapsed=frozenset({"group03", "group07"}))):
        m.update(rows, opts, COLUMNS)
        full = build_table(rows, opts)
        assert m.keys() == [v.key for v in full]
        before = m.formatted
        assert m.view(len(m) // 2) == full[len(m) // 2]
        assert m.formatted - before <= 1  # one row formatted, not the table
    assert len(build_table(rows, TableOptions())) == 30 * 41


def test_row_model_filter_per_key_stroke_matches_a_fresh_build() -> None:
    rows = _many_rows()
    m = OpsRows()
    typed = ""
    for key in ["o", "p", "1", "2", "BS", "0", "_", "0", "BS", "BS", "BS", "BS", "BS", "g", "r"]:
        typed = typed[:-1] if key == "BS" else typed + key
        opts = TableOptions(sort="total", descending=True, filter=typed)
        m.update(rows, opts, COLUMNS)
        fresh = build_table(rows, opts)
        assert m.keys() == [v.key for v in fresh], typed
        assert [m.view(i).match for i in range(len(m))] == [v.match for v in fresh], typed
    # an ancestor dimmed under a filter is shown plain again once the filter is gone
    m.update(rows, TableOptions(filter="op05_001"), COLUMNS)
    assert m.keys() == ["group05", "group05/op05_001"]
    assert not m.view(0).match
    m.update(rows, TableOptions(), COLUMNS)
    assert m.view(m.index(m.keys()[0]) or 0).match


def test_row_model_recomputes_only_on_change() -> None:
    rows = _many_rows(3, 4)
    m = OpsRows()
    assert m.update(rows, TableOptions(), COLUMNS)
    assert not m.update(rows, TableOptions(), COLUMNS)
    assert m.update(list(rows), TableOptions(), COLUMNS)  # a new rows list: new data
    key = m.keys()[1]
    assert key in m.views and m.views[key].key == key and "nope" not in m.views
    assert m.index("nope") is None and len(m.views) == len(m) == 15


# --------------------------------------------------------------------------- panels


def test_share_bars_largest_first_with_the_remainder(rows) -> None:  # noqa: ANN001
    for by in model.SHARE_MODES:
        bars = model.share_bars(rows, by=by)
        shares = [b.share for b in bars if b.full]
        assert shares == sorted(shares, reverse=True)
        rest = [b for b in bars if not b.full]
        assert len(rest) == 1 and rest[0].label == "(outside measured blocks)"
        assert sum(b.share for b in bars) == pytest.approx(1.0, abs=1e-6)
        labels = [b.label for b in bars]
        assert len(set(labels)) == len(labels)
    assert model.share_bars(rows, by="path")[0].label == "L0 mlp"
    block = model.share_bars(rows, by="block")[0]
    # both layers' mlp in one bar: the two paths' self shares summed
    by_full = {r.full: r for r in rows}
    both = by_full["forward_pass/layer0/mlp"].self_share + by_full["forward_pass/layer1/mlp"].self_share
    assert (block.label, block.note, block.paths) == ("mlp", "×2 layers", 2)
    assert block.share == pytest.approx(both)


def _row(full: str, share: float) -> OpRow:
    parts = full.split("/")
    return OpRow(0, full, parts[-1], "/".join(parts[:-1]), len(parts) - 1,
                 PerformanceStats(name=full), 0.0, share)


def test_block_bars_sum_layers_and_name_the_lesser_phase() -> None:
    rows = [_row(f"forward_pass/layer{i}/mlp.gate_up", 0.05) for i in range(8)]
    rows += [_row(f"prefill/layer{i}/mlp.gate_up", 0.01) for i in range(8)]
    rows += [_row(f"prefill/layer{i}/kv_cache_update", 0.004) for i in range(8)]
    rows += [_row(f"forward_pass/layer{i}/kv_cache_update", 0.001) for i in range(8)]
    rows += [_row(f"forward_pass/layer{i}", 0.002) for i in range(8)]
    rows += [_row("forward_pass/lm_head", 0.1), _row("prefill/lm_head", 0.01), _row("sampling", 0.02)]
    bars = {b.label: b for b in model.share_bars(rows, by="block")}
    assert bars["mlp.gate_up"].share == pytest.approx(0.4)
    assert bars["mlp.gate_up"].note == "×8 layers"
    assert bars["prefill mlp.gate_up"].share == pytest.approx(0.08)
    # the decode phase (the busier top-level op) keeps the plain names, even where
    # prefill's block is the larger one
    assert bars["kv_cache_update"].share == pytest.approx(0.008)
    assert bars["prefill kv_cache_update"].share == pytest.approx(0.032)
    assert bars["layerN"].note == "×8 layers"  # the layers' own self time
    assert bars["lm_head"].note == "" and bars["prefill lm_head"].paths == 1
    order = [b.label for b in model.share_bars(rows, by="block") if b.full]
    assert order[:3] == ["mlp.gate_up", "lm_head", "prefill mlp.gate_up"]
    # a block of the lesser phase is named so even when nothing shares its name
    lone = [_row("forward_pass/layer0/mlp", 0.3), _row("prefill/forward_pass", 0.1)]
    assert [b.label for b in model.share_bars(lone, by="block")][:2] == ["mlp", "prefill forward_pass"]
    assert [b.label for b in model.share_bars(lone, by="path")][:2] == ["L0 mlp", "prefill forward_pass"]


def test_path_labels_abbreviate_ancestors_only_where_needed() -> None:
    rows = [_row("forward_pass/layer3/mlp.gate_up", 0.1), _row("forward_pass/layer2/mlp.gate_up", 0.1),
            _row("prefill/layer3/mlp.gate_up", 0.05), _row("sampling", 0.1),
            _row("forward_pass", 0.01), _row("prefill/forward_pass", 0.01)]
    labels = {b.full: b.label for b in model.share_bars(rows, by="path")}
    assert labels == {
        "forward_pass/layer3/mlp.gate_up": "L3 mlp.gate_up",
        "forward_pass/layer2/mlp.gate_up": "L2 mlp.gate_up",
        "prefill/layer3/mlp.gate_up": "prefill L3 mlp.gate_up",
        "sampling": "sampling",
        "forward_pass": "forward_pass",
        "prefill/forward_pass": "prefill forward_pass",
        "": "(outside measured blocks)",
    }
    assert model.path_label("a/block_12/x", 2) == "L12 x"
    assert model.block_key("m/h.3/attn") == "m/h.*/attn"
    assert model.layer_index("layers.7") == 7 and model.layer_index("mlp") is None


def test_memory_view(state: SessionState) -> None:
    v = model.memory_view(state.memory_series(), state.origin_ns)
    assert v.peak_rss == state.peak_rss() > 0
    assert v.kv_bytes == 0 and v.last_traced > 0  # the fixture ends after a request
    assert v.t_s[0] >= 0 and len(v.t_s) == len(v.rss)
    empty = model.memory_view({}, 0)
    assert empty.peak_rss == 0 and empty.last_traced == -1 and empty.kv_bytes == -1


def test_program_name() -> None:
    assert model.program_name(["/usr/bin/python3", "-m", "zlprof.workload", "--preset", "tiny"]) == (
        "zlprof.workload --preset tiny"
    )
    assert model.program_name(["python", "/a/b/prog.py", "x"]) == "prog.py x"
    assert model.program_name(["/bin/mytool", "-v"]) == "mytool -v"
    assert model.program_name(["/x/site-packages/zlprof/workload/__main__.py", "--preset", "tiny"]) == (
        "zlprof.workload --preset tiny"
    )
    assert model.program_name([]) == "?"


@pytest.mark.parametrize(
    ("status", "code", "reason", "paused", "state", "text"),
    [
        ("running", None, "", False, "running", "running"),
        ("running", None, "", True, "paused", "view paused · running"),
        ("crashed", 3, "exited with status 3", False, "crashed", "crashed (exited with status 3)"),
        ("crashed", -11, "", False, "crashed", "crashed (exit -11)"),
        ("ended", 0, "exited normally", False, "ended", "ended"),
        ("stalled", None, "", False, "stalled", "stalled · no measurements for 10 s"),
        ("suspended", None, "", False, "suspended", "stopped (SIGSTOP) · kill -CONT 7 resumes it"),
        ("stopped", -15, "stopped by zlprof", False, "stopped", "stopped"),
    ],
)
def test_status_texts(status, code, reason, paused, state, text) -> None:  # noqa: ANN001
    v = model.status_view(
        status=status, exit_code=code, end_reason=reason, argv=["prog"], pid=7,
        recording=None, snap=None, paused=paused, waited_s=10.0,
    )
    assert (v.state, v.state_text) == (state, text)
    assert v.recording == "not recorded" and v.pid == "7" and v.elapsed == "-"


# --------------------------------------------------------------------------- drill-down and snapshots


def test_drill_view(state: SessionState) -> None:
    pid = state.path_id("forward_pass/layer0")
    d = model.drill_view(state, pid, bins=40)
    assert d.full == "forward_pass/layer0" and d.parent_full == "forward_pass"
    assert len(d.hist_edges_ms) == 41 and d.hist_counts.sum() == d.cumulative.count == 192
    assert d.hist_edges_ms[0] <= d.cumulative.min_ms and d.hist_edges_ms[-1] >= d.cumulative.max_ms
    assert [c.name for c in d.children] == ["mlp", "attention", "rmsnorm"]
    total_children = sum(c.total_ms for c in d.children)
    assert d.self_ms == pytest.approx(d.cumulative.total_ms - total_children)
    assert sum(c.share_of_parent for c in d.children) < 1.0
    assert model.drill_view(state, 9999) is None


def test_log_edges_cover_degenerate_ranges() -> None:
    e = model.log_edges(1000, 1000, 10)
    assert len(e) == 11 and e[0] < 1000 < e[-1]
    e = model.log_edges(1e3, 1e6, 3)
    assert np.allclose(e[:-1], [1e3, 1e4, 1e5])


def test_collect_and_rate(state: SessionState) -> None:
    snap = model.collect(state, MainRequest())
    assert snap.version == state.version and len(snap.rows) == 16 and snap.memory is not None
    assert snap.ttft_ms and snap.tpot_ms and snap.tokens_total == 192
    window = model.collect(state, MainRequest(window=True))
    assert window.rows[0].stats.estimator == "window"
    drill = model.collect(state, DrillRequest(state.path_id("sampling"), 20))
    assert drill.drill is not None and not drill.rows
    later = model.Snapshot(**{**snap.__dict__, "measurements": snap.measurements + 1000,
                              "last_ns": snap.last_ns + 500_000_000})
    assert model.with_rate(later, snap).measurements_per_s == pytest.approx(2000.0)
    assert model.with_rate(snap, None) is snap


def test_sort_cycle_covers_every_column() -> None:
    seen = ["tree"]
    while (nxt := model.next_sort(seen[-1])) != "tree":
        seen.append(nxt)
    assert set(seen) == {"tree", "name", *(c.key for c in COLUMNS)}
    assert model.default_descending("p99") and not model.default_descending("name")


def test_share_labels_are_unique() -> None:
    labels = model.unique_short_names([
        "prefill/layer3/mlp", "forward_pass/layer3/mlp", "forward_pass/layer2/mlp", "sampling",
    ])
    assert labels == {
        "prefill/layer3/mlp": "prefill/layer3/mlp",
        "forward_pass/layer3/mlp": "forward_pass/layer3/mlp",
        "forward_pass/layer2/mlp": "layer2/mlp",
        "sampling": "sampling",
    }


def test_rate_meter_smooths_over_seconds(state: SessionState) -> None:
    base = model.collect(state, MainRequest())
    meter = model.RateMeter(span_s=2.0)

    def at(t_s: float, n: int) -> model.Snapshot:
        return model.Snapshot(**{**base.__dict__, "last_ns": int(t_s * 1e9), "measurements": n})

    assert meter.apply(at(0.0, 0)).measurements_per_s == base.measurements_per_s  # no data yet
    assert meter.apply(at(1.0, 1000)).measurements_per_s == base.measurements_per_s
    # bursty arrivals: 2000 measurements every other refresh (0.2 s apart): 5000/s
    rates = [
        meter.apply(at(1.0 + 0.2 * i, 1000 + 2000 * ((i + 1) // 2))).measurements_per_s
        for i in range(1, 30)
    ]
    assert all(4000 < r < 6500 for r in rates[12:])  # not 0 / 10000 alternately
    # a reset starts over
    assert meter.apply(at(20.0, 10)).measurements_per_s == base.measurements_per_s


# --------------------------------------------------------------------------- replay, sessions, compare


def test_clock() -> None:
    assert model.clock(0) == "0:00.0"
    assert model.clock(7.46) == "0:07.5"
    assert model.clock(59.97) == "1:00.0"
    assert model.clock(723.0) == "12:03.0"
    assert model.clock(3723.4) == "1:02:03"


def test_timeline_view_states() -> None:
    from zlprof.replay import Timeline

    def tl(pos: float, paused: bool, status: str, indexed: bool = True) -> model.TimelineView:
        return model.timeline_view(Timeline(pos, 30.0, 2.0, "2x", paused, status, indexed))

    v = tl(12.0, False, "running", indexed=False)
    assert (v.state, v.state_text, v.position, v.duration, v.speed, v.note) == (
        "playing", "▶ playing", "0:12.0", "0:30.0", "2x", "indexing…")
    assert v.fraction == pytest.approx(0.4)
    assert tl(12.0, True, "paused").state_text == "‖ paused"
    assert tl(30.0, False, "ended").state_text == "■ end"
    crashed = tl(30.0, False, "crashed")
    assert (crashed.state, crashed.state_text) == ("crashed", "■ end · crashed")


def test_status_view_of_a_replay() -> None:
    def view(status: str, code: int | None = None, reason: str = "") -> model.StatusView:
        return model.status_view(
            status=status, exit_code=code, end_reason=reason, argv=["prog"], pid=7,
            recording=None, snap=None, replay="run.zlp",
        )

    v = view("running")
    assert (v.state, v.state_text, v.recording_key, v.recording) == (
        "running", "replay · playing", "replay", "run.zlp")
    assert view("paused").state_text == "replay · paused"
    assert view("ended", 0).state_text == "replay · ended"
    assert view("crashed", 3, "exited with status 3").state_text == (
        "replay · crashed (exited with status 3)")


def test_session_browser_columns() -> None:
    from zlprof.sessions import SessionInfo

    info = SessionInfo(Path("/x/a.zlp"), 1_717_236_000.0, "workload --preset tiny", 75.0,
                       123.45, 2_500_000, "ok", tokens=10)
    cells = model.session_cells(info, "A")
    assert cells["mark"] == "A" and cells["program"] == "workload --preset tiny"
    assert cells["duration"] == "1m15s" and cells["tps"] == "123.5" and cells["size"] == "2.4 MiB"
    assert len(cells["started"]) == 16 and len(model.session_cells(info, short_date=True)["started"]) == 11
    assert model.session_cells(SessionInfo(Path("b"), 0.0, "?", 0.0, 0.0, 0, "unreadable"))["tps"] == "-"
    wide, narrow = model.session_column_widths(160), model.session_column_widths(78)
    assert wide["started"] == 16 and narrow["started"] == 11
    for widths, width in ((wide, 160), (narrow, 78)):
        assert sum(w + model.COLUMN_PADDING for w in widths.values()) == width
    assert model.session_column_widths(20)["program"] == 8


def test_compare_rows_texts_and_order(state: SessionState) -> None:
    from zlprof.diff import diff_sessions

    res = diff_sessions(state, state)  # (real differences: test_tui_sessions.py)
    rows = model.compare_rows(res)
    assert [r.key for r in rows] == [f"{r.kind}:{r.op}" for r in res.rows]
    fp = next(r for r in rows if r.key == "op:forward_pass/layer0")
    assert fp.label == "  layer0" and fp.tone == "same" and fp.verdict == "not significant"
    assert fp.cells[0] == fp.cells[1] == "192" and fp.cells[4] == "+0.0%"
    assert any(r.label.startswith("[") for r in rows)  # token latencies
    by_change = model.compare_rows(res, order="change")
    assert sorted(r.key for r in by_change) == sorted(r.key for r in rows)
    assert all("/" in r.label or r.label.strip() == r.label for r in by_change)
