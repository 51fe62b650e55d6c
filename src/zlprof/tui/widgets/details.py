"""Drill-down panels: full statistics (cumulative and recent window) and the children."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets.data_table import CellDoesNotExist

from ... import fmt
from ...source_caps import Seekable
from ..model import STAT_FIELDS, WINDOW_S, ChildRow, DrillView, stat_text
from .fitted_table import FittedTable


class StatsPanel(Static):
    """A two-column statistics table (cumulative | last 10 s), then memory and costs."""

    DEFAULT_CSS = """
    StatsPanel { height: auto; }
    """

    def show(self, d: DrillView) -> None:
        t = Table.grid(padding=(0, 1), expand=False)
        t.add_column(style="dim", no_wrap=True)
        t.add_column(justify="right", no_wrap=True)
        t.add_column(justify="right", no_wrap=True)
        t.add_row("", Text("cumulative", style="bold"), Text(f"last {WINDOW_S:.0f} s", style="bold"))
        for name, label in STAT_FIELDS:
            t.add_row(label, stat_text(d.cumulative, name), stat_text(d.window, name))
        t.add_row("self ms", fmt.ms(d.self_ms), "")
        t.add_row("self share", fmt.pct(d.self_share), "")
        st = d.cumulative
        # memory deltas exist only for blocks measured with memory readings
        read = st.mem_peak_bytes > 0
        t.add_row("mem allocated", fmt.nbytes(st.mem_allocated_bytes) if read else "-", "")
        t.add_row("mem Δ", fmt.nbytes(st.mem_delta_bytes, signed=True) if read else "-", "")
        t.add_row("mem peak (RSS)", fmt.nbytes(st.mem_peak_bytes) if read else "-", "")
        if d.flops or d.nbytes:
            t.add_row("GFLOP", f"{d.flops / 1e9:.3f}", "")
            t.add_row("bytes", fmt.nbytes(d.nbytes), "")
            if d.nbytes:
                t.add_row("FLOP/byte", f"{d.flops / d.nbytes:.3f}", "")
        t.add_row("estimator", d.estimator, "")
        # the panel's height is its row count: the same count needs no layout
        rows = t.row_count
        self.update(t, layout=rows != getattr(self, "_rows", None))
        self._rows = rows


class ChildrenTable(FittedTable):
    """The op's children with their total and self time (Enter opens a child)."""

    DEFAULT_CSS = """
    ChildrenTable { height: 1fr; scrollbar-size-vertical: 1; }
    """

    BINDINGS = [Binding("enter", "select_cursor", "Child", key_display="⏎", tooltip="Open the child")]

    COLS = (("child", "name"), ("count", "count"), ("total ms", "total"), ("self ms", "self"), ("of parent", "share"))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)
        self.keys: list[str] = []
        self.by_key: dict[str, ChildRow] = {}

    def on_mount(self) -> None:
        self.set_columns([(Text(label, justify="left" if key == "name" else "right"), key)
                          for label, key in self.COLS])

    @staticmethod
    def _cells(c: ChildRow) -> list[Text]:
        vals = [c.name, f"{c.count:,}", fmt.ms(c.total_ms), fmt.ms(c.self_ms), fmt.pct(c.share_of_parent)]
        return [Text(v, justify="left" if i == 0 else "right", no_wrap=True) for i, v in enumerate(vals)]

    def show(self, children: list[ChildRow]) -> None:
        keys = [str(c.path_id) for c in children]
        self.by_key = dict(zip(keys, children, strict=True))
        cells = [self._cells(c) for c in children]
        if keys == self.keys and all(self.fits(i, cell) for row in cells for i, cell in enumerate(row)):
            for k, row in zip(keys, cells, strict=True):
                for (_, ck), cell in zip(self.COLS, row, strict=True):
                    try:
                        if self.get_cell(k, ck).plain != cell.plain:
                            self.update_cell(k, ck, cell)
                    except CellDoesNotExist:
                        pass
            return
        current = self.keys[self.cursor_row] if self.keys and self.cursor_row < len(self.keys) else None
        self.fill(list(zip(keys, cells, strict=True)))
        self.keys = keys
        if current in keys:
            self.move_cursor(row=keys.index(current), animate=False)

    # in a replay, left / right / Home / End seek (the screen's replay bindings)
    def _pass_to_replay(self) -> None:
        if isinstance(getattr(self.app, "source", None), Seekable):
            raise SkipAction()

    def action_cursor_left(self) -> None:
        self._pass_to_replay()
        super().action_cursor_left()

    def action_cursor_right(self) -> None:
        self._pass_to_replay()
        super().action_cursor_right()

    def action_scroll_home(self) -> None:
        self._pass_to_replay()
        super().action_scroll_home()

    def action_scroll_end(self) -> None:
        self._pass_to_replay()
        super().action_scroll_end()

    def selected(self) -> ChildRow | None:
        if not self.keys or self.cursor_row >= len(self.keys):
            return None
        return self.by_key.get(self.keys[self.cursor_row])
