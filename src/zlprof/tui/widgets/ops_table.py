"""The operations table: a DataTable updated cell by cell, never rebuilt on new data.

Rows are keyed by the op's full path. :meth:`OpsTable.show_rows` diffs the new rows
against what is displayed (model.plan_table) and applies only the difference: removed
rows, added rows, changed cells (``update_cell``) and, when the order changed, one
``sort`` by rank. The cursor stays on the op it was on. The columns are rebuilt only when
the table's width crosses a point where a column appears or disappears.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ...session import OpRow
from ...source_caps import Seekable
from ..baseline_view import MIN_TABLE_WIDTH, marker_style
from ..model import (
    COLUMN_BY_KEY,
    COLUMN_PADDING,
    DIM,
    MAX_TABLE_ROWS,
    Column,
    RowView,
    TableOptions,
    build_table_limited,
    columns_for_width,
    display_cells,
    plan_table,
)


class OpCell(Text):
    """The label cell; it carries its row key so rows can be ordered by rank."""

    def __init__(self, text: str, key: str, dim: bool = False) -> None:
        super().__init__(text, style="dim" if dim else "", no_wrap=True, overflow="ellipsis", end="")
        self.row_key = key


def _value_cell(text: str) -> Text:
    return Text(text, style=marker_style(text), justify="right", no_wrap=True, end="")


class _PassStyles:
    """Component styles with their rich_style computed once (for one render pass)."""

    def __init__(self, styles) -> None:  # noqa: ANN001
        self._styles = styles
        self.rich_style = styles.rich_style

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._styles, name)


class OpsTable(DataTable):
    """Per-operation statistics, one row per call path."""

    BINDINGS = [
        # shown in the footer (DataTable's own Enter binding is hidden)
        Binding("enter", "select_cursor", "Open", key_display="⏎", tooltip="Open the op's drill-down"),
        Binding("-", "collapse", "Collapse", show=False, tooltip="Collapse the subtree (on a leaf: go to its parent)"),
        Binding("+,=", "expand", "Expand", show=False, tooltip="Expand the subtree"),
    ]

    DEFAULT_CSS = """
    OpsTable {
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
    }
    """

    class Collapse(Message):
        """The user asked to collapse or expand the subtree under ``key``."""

        def __init__(self, key: str, collapse: bool) -> None:
            super().__init__()
            self.key = key
            self.collapse = collapse

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.shown_columns: tuple[Column, ...] = ()
        self.op_width = 0
        self._order: list[str] = []
        self._cells: dict[str, tuple[str, ...]] = {}
        self.row_views: dict[str, RowView] = {}
        self._source: tuple[list[OpRow], TableOptions] = ([], TableOptions())
        self._sort: tuple[str, bool] = ("tree", False)
        #: number of update_cell calls made (for tests and benchmarks)
        self.cell_updates = 0
        self.rebuilds = 0
        #: rows the table holds at most (model.MAX_TABLE_ROWS), and rows of the whole view
        self.max_rows: int | None = MAX_TABLE_ROWS
        self.total_rows = 0
        #: composed cell styles by position (the same from one refresh to the next)
        self._cell_styles: dict[tuple[object, ...], Style] = {}
        #: columns after the statistics (the baseline comparison's), when they fit
        self.extra_columns: tuple[Column, ...] = ()
        #: has the user moved the cursor (a key or a click)? Until then the screen may
        #: place it (tui.opening: on the dominant op)
        self.user_moved = False

    def set_extra_columns(self, columns: tuple[Column, ...]) -> None:
        """Show ``columns`` after the statistics (rebuilds the columns if they changed)."""
        if columns == self.extra_columns:
            return
        self.extra_columns = columns
        self.shown_columns = ()  # rebuilt by the next ensure_columns

    # ------------------------------------------------------------------ columns

    def layout_width(self) -> int:
        # leave room for the vertical scrollbar so no horizontal scrolling is needed
        return max(0, self.size.width - 1)

    def ensure_columns(self) -> bool:
        """(Re)create the columns if the width calls for a different set. True if rebuilt."""
        width = self.layout_width()
        if width <= 0:
            return False
        extra = self.extra_columns
        room = width - sum(c.width + COLUMN_PADDING for c in extra)
        if room < MIN_TABLE_WIDTH:
            extra, room = (), width
        cols, op_width = columns_for_width(room)
        cols = cols + extra
        if cols == self.shown_columns and op_width == self.op_width and self.columns:
            return False
        cursor_key = self.cursor_key()
        self.shown_columns, self.op_width = cols, op_width
        self.clear(columns=True)
        self.rebuilds += 1
        self.add_column(self._heading("op", "op"), width=op_width, key="op")
        for c in cols:
            self.add_column(self._heading(c.key, c.label, right=True), width=c.width, key=c.key)
        self._order, self._cells = [], {}
        rows, options = self._source
        if rows:
            views, self.total_rows = build_table_limited(rows, options, cols, self.max_rows)
            self._apply(views)
            self._restore_cursor(cursor_key, 0)
        return True

    def _heading(self, key: str, label: str, right: bool = False) -> Text:
        sort, desc = self._sort
        if key == sort or (key == "op" and sort in ("name", "tree")):
            arrow = "▼" if desc else "▲"
            if key == "op" and sort == "tree":
                label = f"op (program order) {arrow}"
            else:
                label = f"{label} {arrow}"
            return Text(label, style="bold", justify="right" if right else "left", no_wrap=True)
        return Text(label, justify="right" if right else "left", no_wrap=True)

    def set_sort(self, key: str, descending: bool) -> None:
        """Show the sort column and direction in the headings."""
        if (key, descending) == self._sort:
            return
        self._sort = (key, descending)
        for ck, column in self.columns.items():
            name = ck.value or ""
            col = COLUMN_BY_KEY.get(name) or next((c for c in self.extra_columns if c.key == name), None)
            label = "op" if name == "op" or col is None else col.label
            column.label = self._heading(name, label, right=name != "op")
        self.notify_style_update()

    # ------------------------------------------------------------------ rows

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    def cursor_view(self) -> RowView | None:
        key = self.cursor_key()
        return self.row_views.get(key) if key else None

    def show_ops(self, rows: list[OpRow], options: TableOptions) -> None:
        """Show SessionState rows under ``options``, changing only the cells that differ."""
        self._source = (rows, options)
        self.set_sort(options.sort, options.descending)
        if self.ensure_columns():
            return  # rebuilt from the rows just stored
        if not self.columns:
            return  # not laid out yet: shown once the width is known
        cursor_key = self.cursor_key()
        cursor_row = self.cursor_row
        views, self.total_rows = build_table_limited(rows, options, self.shown_columns, self.max_rows)
        self._apply(views)
        self._restore_cursor(cursor_key, cursor_row)

    def _cell(self, index: int, text: str, key: str) -> Text:
        if index == 0:
            dim = text.startswith(DIM)
            return OpCell(text[len(DIM):] if dim else text, key, dim)
        return _value_cell(text)

    def _apply(self, rows: list[RowView]) -> None:
        ncols = 1 + len(self.shown_columns)
        plan = plan_table(self._order, self._cells, rows)
        self.row_views = {r.key: r for r in rows}
        if plan.empty:
            return
        col_keys = ["op", *(c.key for c in self.shown_columns)]
        for key in plan.remove:
            try:
                self.remove_row(key)
            except RowDoesNotExist:
                pass
            self._cells.pop(key, None)
        for r in plan.add:
            cells = display_cells(r)[:ncols]
            self.add_row(*(self._cell(i, t, r.key) for i, t in enumerate(cells)), key=r.key)
            self._cells[r.key] = cells
        for key, index, text in plan.changes:
            if index >= ncols:
                continue
            self.update_cell(key, col_keys[index], self._cell(index, text, key))
            self.cell_updates += 1
            old = self._cells[key]
            self._cells[key] = old[:index] + (text,) + old[index + 1 :]
        if plan.reorder:
            rank = {k: i for i, k in enumerate(plan.order)}
            self.sort("op", key=lambda cell: rank.get(getattr(cell, "row_key", ""), 0))
        self._order = plan.order

    def _restore_cursor(self, key: str | None, fallback_row: int) -> None:
        if not self.row_count:
            return
        if key is not None and key in self.row_views:
            try:
                index = self.get_row_index(key)
            except RowDoesNotExist:
                index = min(fallback_row, self.row_count - 1)
        else:
            index = min(fallback_row, self.row_count - 1)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    def select_key(self, key: str, user: bool = True) -> bool:
        """Put the cursor on the row of ``key`` (True if it is shown). ``user``: the
        user's choice (the screen then stops placing the cursor itself)."""
        if key not in self.row_views:
            return False
        if user:
            self.user_moved = True
        try:
            self.move_cursor(row=self.get_row_index(key), animate=False)
        except RowDoesNotExist:
            return False
        return True

    # ------------------------------------------------------------------ rendering

    # DataTable asks for its own rich_style (a walk up the DOM) on every line, and for the
    # header component's on every row. Within one render pass they cannot change, so they
    # are computed once per pass.
    _pass_cache: dict[object, object] | None = None

    def render_lines(self, crop):  # noqa: ANN001, ANN201
        self._pass_cache = {}
        try:
            return super().render_lines(crop)
        finally:
            self._pass_cache = None

    @property
    def rich_style(self) -> Style:
        cache = self._pass_cache
        if cache is None:
            return super().rich_style
        style = cache.get("self")
        if style is None:
            style = cache["self"] = super().rich_style
        return style  # type: ignore[return-value]

    def get_component_styles(self, *names: str):  # noqa: ANN201
        cache = self._pass_cache
        if cache is None:
            return super().get_component_styles(*names)
        styles = cache.get(names)
        if styles is None:
            styles = cache[names] = _PassStyles(super().get_component_styles(*names))
        return styles

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """A fast path for this table's cells (one line of Text with one style).

        DataTable renders every cell through Rich's console (Padding inside Styled), about
        0.3 ms a cell, and any ``update_cell`` invalidates every cached cell; so a refresh
        of a live table repaints all visible cells whether they changed or not. Building
        the padded segment directly gives the same output roughly 20x cheaper. Same cache
        and the same cursor/hover styles as DataTable (textual is pinned); anything else
        (headers, multi-line or multi-style cells) takes DataTable's own path.
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cache_key = (
            row_key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        lines = self._cell_render_cache.get(cache_key)
        if lines is not None:
            return lines
        value = self._data.get(row_key, {}).get(column_key) if row_key is not None else None
        if not isinstance(value, Text) or value.spans or "\n" in value.plain or self.rows[row_key].height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        own = value.style
        skey = (
            row_index,
            column_index,
            base_style,
            cursor,
            hover,
            own,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        style = self._cell_styles.get(skey)
        if style is None:
            fixed = row_index < self.fixed_rows or column_index < self.fixed_columns
            component_style, post_style = self._get_styles_to_render_cell(
                False,
                False,
                fixed,
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            )
            own_style = Style.parse(own) if isinstance(own, str) else own
            style = (
                base_style
                + Style.from_meta({"row": row_index, "column": column_index})
                + component_style
                + (own_style or Style.null())
                + post_style
            )
            if len(self._cell_styles) > 20_000:
                self._cell_styles.clear()
            self._cell_styles[skey] = style
        pad = self.cell_padding
        inner = max(0, width - 2 * pad)
        text = value.plain
        if cell_len(text) > inner:
            if value.overflow == "ellipsis" and inner > 0:
                text = set_cell_size(text, inner - 1) + "…"
            else:
                text = set_cell_size(text, inner)
        elif value.justify == "right":
            text = " " * (inner - cell_len(text)) + text
        elif value.justify == "center":
            gap = inner - cell_len(text)
            text = " " * (gap // 2) + text + " " * (gap - gap // 2)
        else:
            text = text + " " * (inner - cell_len(text))
        lines = [[Segment(" " * pad + text + " " * pad, style)]]
        self._cell_render_cache[cache_key] = lines
        return lines

    def notify_style_update(self) -> None:
        self._cell_styles = {}  # a theme or CSS change restyles every cell
        super().notify_style_update()

    # ------------------------------------------------------------------ events

    def on_resize(self) -> None:
        self.ensure_columns()

    # left / right / Home / End: in a live session they move in the tree (left and right
    # also collapse and expand, like - and +); in a replay they seek, so they pass up to
    # the screen's replay bindings (the table never scrolls sideways: columns fit)

    def _replay(self) -> bool:
        return isinstance(getattr(self.app, "source", None), Seekable)

    def action_cursor_up(self) -> None:
        self.user_moved = True
        super().action_cursor_up()

    def action_cursor_down(self) -> None:
        self.user_moved = True
        super().action_cursor_down()

    def action_page_up(self) -> None:
        self.user_moved = True
        super().action_page_up()

    def action_page_down(self) -> None:
        self.user_moved = True
        super().action_page_down()

    def action_scroll_top(self) -> None:
        self.user_moved = True
        super().action_scroll_top()

    def action_scroll_bottom(self) -> None:
        self.user_moved = True
        super().action_scroll_bottom()

    def on_click(self) -> None:
        # (DataTable's own _on_click moves the cursor; this only notes that the user did)
        self.user_moved = True

    def page_rows(self) -> int:
        """Rows of data on screen at once (the heading excluded)."""
        return max(1, self.size.height - (self.header_height if self.show_header else 0))

    def action_cursor_left(self) -> None:
        if self._replay():
            raise SkipAction()
        self.action_collapse()

    def action_cursor_right(self) -> None:
        if self._replay():
            raise SkipAction()
        self.action_expand()

    def action_scroll_home(self) -> None:
        if self._replay():
            raise SkipAction()
        self.user_moved = True
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_scroll_end(self) -> None:
        if self._replay():
            raise SkipAction()
        self.user_moved = True
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def action_collapse(self) -> None:
        view = self.cursor_view()
        if view is None:
            return
        if view.has_children and not view.collapsed:
            self.post_message(self.Collapse(view.key, True))
        elif "/" in view.key:
            # on a leaf or a collapsed node: go to the parent row
            self.select_key(view.key.rsplit("/", 1)[0])

    def action_expand(self) -> None:
        view = self.cursor_view()
        if view is not None and view.has_children and view.collapsed:
            self.post_message(self.Collapse(view.key, False))
