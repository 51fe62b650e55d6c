"""The first screen answers "where does the time go?" (issue 12): the headline, the
table's defaults (tui.opening) and the lower panels' pages, as functions and in the app
at 80x24, 120x40 and 200x60."""

from __future__ import annotations

import pytest

from fixtures.tui_support import FIXTURE, PEAKS, FeedSource, FixtureSource, settle
from zlprof.headline import headline
from zlprof.recording import read_recording
from zlprof.session import SessionState
from zlprof.tui import opening
from zlprof.tui.app import NO_PEAKS_LIVE, ZlprofApp
from zlprof.tui.model import SORT_KEYS
from zlprof.tui.widgets.headline import HeadlineBar
from zlprof.tui.widgets.ops_table import OpsTable

SIZES = [(80, 24), (120, 40), (200, 60)]


def fixture_state() -> SessionState:
    st = SessionState()
    st.ingest_many(read_recording(FIXTURE).frames)
    return st


def make_app(source, peaks=PEAKS) -> ZlprofApp:  # noqa: ANN001
    source.start()
    return ZlprofApp(source, refresh_hz=10, peaks=peaks)


def on_screen(table: OpsTable) -> list[str]:
    """Keys of the rows the table shows now (scrolled into view, within its height)."""
    keys = table.keys()
    top = round(table.scroll_y)
    return keys[top : top + table.page_rows()]


# --------------------------------------------------------------------------- functions


def test_opening_opens_the_dominant_op_and_the_path_to_the_hottest() -> None:
    st = fixture_state()
    rows = st.op_rows()
    o = opening.opening(rows, st.wall_ns)
    assert o.headline == headline(rows, st.wall_ns)
    assert o.headline.text.startswith("forward_pass takes 80 % of the time")
    assert o.cursor_key == "forward_pass"
    # the dominant op and the path down to the hottest (forward_pass/layer0/mlp) are open
    assert "forward_pass" not in o.collapsed and "forward_pass/layer0" not in o.collapsed
    # every other subtree is closed
    assert o.collapsed == {"prefill", "forward_pass/layer1"}


def test_default_collapsed_keeps_ancestors_of_what_is_open() -> None:
    st = fixture_state()
    rows = st.op_rows()
    by_full = {r.full: r for r in rows}
    assert opening.default_collapsed(rows, set()) == {
        "prefill", "forward_pass", "forward_pass/layer0", "forward_pass/layer1"
    }
    mlp = by_full["forward_pass/layer1/mlp"].path_id
    assert opening.default_collapsed(rows, {mlp}) == {"prefill", "forward_pass/layer0"}


def test_opening_with_peaks_says_where_decode_is_bound() -> None:
    st = fixture_state()
    rows = st.op_rows()
    o = opening.opening(rows, st.wall_ns, PEAKS, now=100.0)
    assert o.roof is not None
    assert f"decode is {o.roof.bound}-bound at" in o.headline.text
    # the roofline verdict is reused for ROOF_EVERY_S, then recomputed
    again = opening.opening(rows, st.wall_ns, PEAKS, prev=o, now=100.5)
    assert again.roof is o.roof
    later = opening.opening(rows, st.wall_ns, PEAKS, prev=o, now=100.0 + opening.ROOF_EVERY_S)
    assert later.roof is not o.roof and later.roof == o.roof


def test_no_rows_no_cursor() -> None:
    o = opening.opening([], 0)
    assert o.headline.text == "no measurements yet" and o.cursor_key is None
    assert o.collapsed == frozenset()


def test_cursor_after_sort_keeps_the_top_in_view() -> None:
    assert opening.cursor_after_sort(3, page_rows=7) == 3  # on the first page: stays
    assert opening.cursor_after_sort(7, page_rows=7) == 0  # below it: the first row
    assert opening.cursor_after_sort(None, page_rows=7) == 0


def test_panel_pages_by_width() -> None:
    ids = ["share", "memory", "roofline", "hints"]
    assert opening.panel_pages(120, ids) == [tuple(ids)]
    assert opening.panel_pages(80, ids) == [("share", "memory"), ("roofline",), ("hints",)]
    assert opening.panel_pages(50, ids) == [(i,) for i in ids]
    assert opening.panel_pages(80, []) == []


# --------------------------------------------------------------------------- the app


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_hottest_op_is_on_screen_after_load_and_after_each_sort(size: tuple[int, int]) -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.main_screen
        table = screen.query_one(OpsTable)
        head = screen.query_one(HeadlineBar)
        assert head.region.height >= 1 and head.shown.startswith("forward_pass takes 80 %")
        shown = on_screen(table)
        # no key pressed: the dominant op under the cursor, the hottest op in view
        assert table.cursor_key() == "forward_pass"
        assert {"forward_pass", "forward_pass/layer0/mlp"} <= set(shown)
        for key in SORT_KEYS:  # every sort, each way
            for _ in range(2):
                await pilot.press("s" if screen.options.sort != key else "S")
                await pilot.pause()
                if screen.options.sort != key:
                    continue
                assert round(table.scroll_y) == 0  # the top of the table in view
                assert "forward_pass" in on_screen(table), (key, screen.options.descending)


async def test_sorting_from_far_down_brings_the_top_back() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        await pilot.press("end")
        await pilot.pause()
        assert round(table.scroll_y) > 0
        await pilot.press("s")  # by share: the cursor's row was at the bottom
        await pilot.pause()
        assert round(table.scroll_y) == 0 and table.cursor_row == 0


async def test_the_users_collapse_and_cursor_stick() -> None:
    # three subtrees: the defaults open at most two (the busiest op's, the hottest's)
    src = FeedSource([(1, 0, "tokenize"), (7, 1, "bpe"), (2, 0, "forward_pass"),
                      (3, 2, "attention"), (4, 2, "mlp"), (5, 0, "sampling"), (6, 5, "top_k")])
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        src.feed(5)
        await settle(pilot)
        screen = app.main_screen
        table = screen.query_one(OpsTable)
        start = screen.options.collapsed
        assert table.cursor_key() == screen.last.opening.cursor_key
        # the user opens a subtree the defaults keep closed, and moves the cursor
        closed = sorted(start)[0]
        table.select_key(closed)
        await pilot.press("right")
        await pilot.pause()
        assert closed not in screen.options.collapsed and screen.user_tree
        await pilot.press("down")
        mine = table.cursor_key()
        src.feed(5, scale=3.0)  # new data: the defaults would differ now
        await settle(pilot)
        assert closed not in screen.options.collapsed
        assert table.cursor_key() == mine
        # the sort the user picks stays too
        await pilot.press("s")
        src.feed(2)
        await settle(pilot)
        assert screen.options.sort == "share"


async def test_defaults_follow_the_data_until_the_user_acts() -> None:
    """At start-up the busiest op changes as data comes; the cursor and open subtrees
    follow it until the user does something."""
    src = FeedSource([(1, 0, "prefill"), (2, 1, "layer0"), (3, 0, "forward_pass"), (4, 3, "mlp")])
    app = make_app(src)
    async with app.run_test(size=(100, 30)) as pilot:
        # only prefill has run so far
        src.state.ingest_many([])
        src.paths = [(1, 0, "prefill"), (2, 1, "layer0")]
        src.feed(3)
        await settle(pilot)
        table = app.main_screen.query_one(OpsTable)
        assert table.cursor_key() == "prefill"
        src.paths = [(3, 0, "forward_pass"), (4, 3, "mlp")]
        src.feed(20)  # decode starts: forward_pass dominates
        await settle(pilot)
        assert table.cursor_key() == "forward_pass"
        assert "forward_pass" not in app.main_screen.options.collapsed
        assert "prefill" in app.main_screen.options.collapsed


async def test_every_lower_panel_is_reachable_at_80x24() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.main_screen
        seen: set[str] = set()
        for _ in range(len(screen.pages)):
            shown = {p.id for p in screen.query("#side > Panel") if p.region.area > 0}
            seen |= shown
            await pilot.press("n")
            await pilot.pause()
        assert seen == {"share-panel", "memory-panel", "roofline-panel", "hints-panel"}
        # the Footer says how, on screen at 80 columns
        from textual.widgets._footer import FooterKey

        keys = [k for k in screen.query(FooterKey) if k.key == "n"]
        assert keys and keys[0].region.area > 0 and keys[0].region.right <= 80
        assert "n ▸" in str(screen.query_one("#memory-panel").border_subtitle)
        # wide enough for all of them: one page, no key
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert len(screen.pages) == 1
        assert all(p.region.area > 0 for p in screen.query("#side > Panel"))
        assert not screen.check_action("next_panels", ())


async def test_no_peaks_note_is_in_the_roofline_panel_not_a_toast(monkeypatch) -> None:  # noqa: ANN001
    from zlprof import roofline
    from zlprof.tui.app import AUTO_PEAKS
    from zlprof.tui.widgets.roofline_panel import RooflinePanel

    def no_peaks(measure_if_missing: bool = True):  # noqa: ANN202
        raise roofline.PeaksUnavailable("none cached")

    monkeypatch.setattr(roofline, "get_peaks", no_peaks)
    src = FeedSource()
    src.kind = "live"
    app = make_app(src, peaks=AUTO_PEAKS)
    async with app.run_test(size=(120, 40)) as pilot:
        src.feed(5)
        for _ in range(50):
            await pilot.pause(0.05)
            if app.peaks_note:
                break
        await settle(pilot)
        await pilot.pause(0.3)
        assert app.peaks_note == NO_PEAKS_LIVE
        panel = app.main_screen.query_one(RooflinePanel)
        assert "zlprof roofline --calibrate" in panel.message
        assert not app._notifications  # nothing covers the data


async def test_a_stalled_program_without_measurements_is_said_in_the_headline() -> None:
    from zlprof.tui.app import NO_MEASUREMENTS

    src = FeedSource()
    app = make_app(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        src._set_status("stalled")
        await pilot.pause(0.3)
        head = app.main_screen.query_one(HeadlineBar)
        assert head.shown == NO_MEASUREMENTS
        assert not app._notifications
        src._set_status("running")
        src.feed(3)
        await settle(pilot)
        assert head.shown.startswith("forward_pass takes")


async def test_the_headline_comes_from_the_snapshot() -> None:
    """Computed by the Refresher thread (in the snapshot), never by a widget."""
    app = make_app(FixtureSource())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        snap = app.main_screen.last
        assert snap is not None and snap.opening is not None
        st = app.source.state
        expected = opening.opening(st.op_rows(), st.wall_ns, PEAKS).headline.text
        assert snap.opening.headline.text == expected
        assert app.main_screen.query_one(HeadlineBar).shown == expected


# --------------------------------------------------------------------------- widths


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_wide_characters_keep_the_share_figures_in_the_bars_panel(size: tuple[int, int]) -> None:
    from zlprof.textwidth import cell_len
    from zlprof.tui.widgets.charts import ShareBars

    names = ["注意力機構の計算処理", "全結合層フィードフォワード", "🔥🔥 hot loop 🔥🔥", "sampling"]
    src = FeedSource([(1, 0, "推論"), *((i + 2, 1, n) for i, n in enumerate(names))])
    app = make_app(src)
    async with app.run_test(size=size) as pilot:
        src.feed(5)
        await settle(pilot)
        bars = app.main_screen.query_one(ShareBars)
        width = bars.content_size.width
        lines = bars.render().plain.split("\n")
        assert len(lines) >= len(names)
        for line in lines:
            assert cell_len(line) <= width, line
            assert line.rstrip().endswith("%"), line
        # the figures line up: every share ends in the same cell
        ends = {cell_len(line.rstrip()) for line in lines}
        assert len(ends) == 1, lines
        # the operations table: every line exactly as wide as the table, the share
        # column in the same cells on every row
        table = app.main_screen.query_one(OpsTable)
        strips = [table.render_line(y) for y in range(table.size.height)]
        assert {s.cell_length for s in strips} == {table.size.width}
        texts = ["".join(seg.text for seg in s) for s in strips]
        cols = {cell_len(t[: t.index("%") + 1]) for t in texts if "%" in t}
        assert len(cols) == 1, texts


def test_header_path_is_cut_in_cells() -> None:
    from zlprof.textwidth import cell_len
    from zlprof.tui.widgets.status import _shorten_path

    path = "/data/セッション/記録/2026-11-30-run.zlp"
    short = _shorten_path(path, 20)
    assert cell_len(short) <= 20 and short.startswith("…") and short.endswith("run.zlp")
