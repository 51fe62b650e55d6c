"""Tables whose rows are painted before Textual's idle measured them keep full widths.

The drill-down's children table showed "atten" / "rmsno" in about one snapshot run in
eight: DataTable measures auto-width columns on a later idle and caches the lines it
painted before that under a key the new widths do not change. These tests paint right
after the rows arrive (as a screen refresh can) and look again after the idle.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult

from zlprof.tui.viewmodels.drill import ChildRow
from zlprof.tui.widgets.details import ChildrenTable
from zlprof.tui.widgets.fitted_table import FittedTable, fitted_widths

CHILDREN = [
    ChildRow(7, "mlp", 192, 291.5, 291.5, 0.544),
    ChildRow(6, "attention", 192, 222.0, 222.0, 0.414),
    ChildRow(5, "rmsnorm", 192, 10.65, 10.65, 0.02),
]


class _Host(App[None]):
    def compose(self) -> ComposeResult:
        yield ChildrenTable(id="children")


def _line(table: ChildrenTable, y: int) -> str:
    return table.render_line(y).text


async def test_children_painted_before_the_idle_show_whole_names() -> None:
    app = _Host()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ChildrenTable)
        table.show(CHILDREN)
        early = [_line(table, y) for y in range(4)]  # a paint before any idle
        await pilot.pause()
        await pilot.pause()
        late = [_line(table, y) for y in range(4)]
        for lines in (early, late):
            assert "attention" in lines[2], lines
            assert "rmsnorm" in lines[3], lines
            assert lines[0].split()[:2] == ["child", "count"], lines


async def test_a_value_that_outgrows_its_column_widens_it() -> None:
    app = _Host()
    async with app.run_test(size=(80, 12)) as pilot:
        table = app.query_one(ChildrenTable)
        table.show(CHILDREN)
        await pilot.pause()
        table.cursor_coordinate = table.cursor_coordinate._replace(row=1)
        grown = [ChildRow(c.path_id, c.name, 1_234_567, c.total_ms * 1000, c.self_ms, c.share_of_parent)
                 for c in CHILDREN]
        table.show(grown)
        lines = [_line(table, y) for y in range(4)]
        assert "1,234,567" in lines[2] and "222,000" in lines[2].replace(".0", ""), lines
        assert table.cursor_row == 1  # the cursor stays on its child
        # the same values again update in place (no rebuild: the cursor stays, widths too)
        table.show(grown)
        assert table.cursor_row == 1


def test_fitted_widths_are_the_widest_cell_or_label_in_cells() -> None:
    labels = [Text("op"), Text("count")]
    rows = [[Text("注意力"), Text("1")], [Text("x"), Text("12")]]
    assert fitted_widths(labels, rows) == [6, 5]
    assert fitted_widths(labels, []) == [2, 5]


async def test_widths_only_grow() -> None:
    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield FittedTable()

    app = Host()
    async with app.run_test(size=(60, 8)) as pilot:
        t = app.query_one(FittedTable)
        t.set_columns([(Text("name"), "name")])
        t.fill([(None, [Text("a_long_name")])])
        await pilot.pause()
        t.fill([(None, [Text("b")])])
        assert t.fits(0, Text("a_long_name")) and not t.fits(0, Text("a_longer_name"))
        assert t.render_line(1).text.startswith(" b ")
