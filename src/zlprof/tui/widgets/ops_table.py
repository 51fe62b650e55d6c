"""The operations table: a virtual table that renders only the rows on screen.

Every row of the view (all the session's call paths, filtered, sorted, collapsed) is in
a row model held outside the widget (viewmodels.ops_rows.OpsRows); the widget is a
ScrollView whose ``render_line`` formats and draws the one row at that line, so the cost
of a refresh, a key stroke or a new sort is that of the rows on screen, whatever the
number of paths. It looks and behaves as the DataTable it replaces (the same component
classes and styles, a heading row that stays in place, a row cursor, hover, click, Enter).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.renderables.styled import Styled
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets.data_table import RowDoesNotExist

from ...session import OpRow
from ...source_caps import Seekable
from ..baseline_view import MIN_TABLE_WIDTH, marker_style
from ..model import (
    COLUMN_BY_KEY,
    COLUMN_PADDING,
    Column,
    RowView,
    TableOptions,
    columns_for_width,
)
from ..viewmodels.ops_rows import OpsRows, RowViews

#: Cells of padding each side of a cell (COLUMN_PADDING in all).
PAD = COLUMN_PADDING // 2


class OpsTable(ScrollView, can_focus=True):
    """Per-operation statistics, one row per call path."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # shown in the footer
        Binding("enter", "select_cursor", "Open", key_display="⏎", tooltip="Open the op's drill-down"),
        Binding("-", "collapse", "Collapse", show=False, tooltip="Collapse the subtree (on a leaf: go to its parent)"),
        Binding("+,=", "expand", "Expand", show=False, tooltip="Expand the subtree"),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]

    # the component classes and default look of Textual's DataTable (row cursor, no zebra)
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "datatable--cursor",
        "datatable--hover",
        "datatable--header",
        "datatable--header-cursor",
        "datatable--header-hover",
    }

    DEFAULT_CSS = """
    OpsTable {
        background: $surface;
        color: $foreground;
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 0;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
            & > .datatable--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .datatable--header {
                background-tint: $foreground 5%;
            }
        }
        & > .datatable--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .datatable--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .datatable--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .datatable--header-cursor {
            background: $accent-darken-1;
            color: $foreground;
        }
        & > .datatable--header-hover {
            background: $accent 30%;
        }
        & > .datatable--hover {
            background: $block-hover-background;
        }
    }
    """

    class Collapse(Message):
        """The user asked to collapse or expand the subtree under ``key``."""

        def __init__(self, key: str, collapse: bool) -> None:
            super().__init__()
            self.key = key
            self.collapse = collapse

    class RowSelected(Message):
        """The user opened the row of ``key`` (Enter, or a click on the cursor's row)."""

        def __init__(self, table: OpsTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> OpsTable:
            return self.table

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: every row of the view, in display order (formatted when drawn)
        self.model = OpsRows()
        self.shown_columns: tuple[Column, ...] = ()
        self.op_width = 0
        self._source: tuple[list[OpRow], TableOptions] = ([], TableOptions())
        self._sort: tuple[str, bool] = ("tree", False)
        self._cursor = 0
        self._hover: int | None = None
        self._show_hover = False
        #: column layouts made (for tests and benchmarks)
        self.rebuilds = 0
        #: rows drawn (for tests and benchmarks: only the rows on screen are)
        self.rows_drawn = 0
        #: composed cell styles by position (the same from one refresh to the next)
        self._cell_styles: dict[tuple[object, ...], Style] = {}
        #: the last line drawn per row key: (what it was drawn from, the row, the line)
        self._lines: dict[str, tuple[tuple[object, ...], RowView, Strip]] = {}
        self._header: tuple[object, Strip] | None = None
        #: columns after the statistics (the baseline comparison's), when they fit
        self.extra_columns: tuple[Column, ...] = ()
        #: has the user moved the cursor (a key or a click)? Until then the screen may
        #: place it (tui.opening: on the dominant op)
        self.user_moved = False

    # ------------------------------------------------------------------ the model

    @property
    def row_count(self) -> int:
        return len(self.model)

    @property
    def total_rows(self) -> int:
        """Rows of the whole view (every one is in the table)."""
        return len(self.model)

    @property
    def row_views(self) -> RowViews:
        """The shown rows by key (a row is formatted when looked up)."""
        return self.model.views

    @property
    def cursor_row(self) -> int:
        return self._cursor

    def keys(self) -> list[str]:
        """The keys of every row, in display order."""
        return self.model.keys()

    def get_row_index(self, key: str) -> int:
        index = self.model.index(key)
        if index is None:
            raise RowDoesNotExist(f"no row {key!r}")
        return index

    def column_keys(self) -> list[str]:
        return ["op", *(c.key for c in self.shown_columns)]

    def heading(self, column_key: str) -> Text:
        """The heading of a column as shown (with the sort arrow)."""
        col = COLUMN_BY_KEY.get(column_key) or next((c for c in self.extra_columns if c.key == column_key), None)
        label = "op" if column_key == "op" or col is None else col.label
        return self._heading(column_key, label, right=column_key != "op")

    def get_cell(self, key: str, column_key: str) -> Text:
        """The cell of row ``key`` in column ``column_key`` as shown."""
        view = self.model.view_of(key)
        if view is None:
            raise RowDoesNotExist(f"no row {key!r}")
        index = self.column_keys().index(column_key)
        text = (view.label, *view.cells)[index]
        return Text(text, style=self._own_style(view, index, text))

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
        """Choose the columns for the width (True if they changed) and show the rows."""
        width = self.layout_width()
        if width <= 0:
            return False
        extra = self.extra_columns
        room = width - sum(c.width + COLUMN_PADDING for c in extra)
        if room < MIN_TABLE_WIDTH:
            extra, room = (), width
        cols, op_width = columns_for_width(room)
        cols = cols + extra
        if cols == self.shown_columns and op_width == self.op_width:
            return False
        self.shown_columns, self.op_width = cols, op_width
        self.rebuilds += 1
        self._invalidate()
        self._show(self.cursor_key(), self._cursor)
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
        if (key, descending) != self._sort:
            self._sort = (key, descending)
            self._header = None
            self.refresh()

    # ------------------------------------------------------------------ rows

    def cursor_key(self) -> str | None:
        if not len(self.model):
            return None
        return self.model.key(min(self._cursor, len(self.model) - 1))

    def cursor_view(self) -> RowView | None:
        if not len(self.model):
            return None
        return self.model.view(min(self._cursor, len(self.model) - 1))

    def show_ops(self, rows: list[OpRow], options: TableOptions) -> None:
        """Show SessionState rows under ``options`` (the cursor stays on its op)."""
        self._source = (rows, options)
        self.set_sort(options.sort, options.descending)
        if self.ensure_columns():
            return  # shown from the rows just stored
        self._show(self.cursor_key(), self._cursor)

    def _show(self, cursor_key: str | None, fallback_row: int) -> None:
        if not self.shown_columns:
            return  # not laid out yet: shown once the width is known
        rows, options = self._source
        if not self.model.update(rows, options, self.shown_columns):
            return
        n = len(self.model)
        self._set_virtual_size(Size(sum(self._widths()), n + 1))
        index = self.model.index(cursor_key) if cursor_key is not None else None
        self._cursor = index if index is not None else max(0, min(fallback_row, n - 1))
        self._hover = None if self._hover is None or self._hover >= n else self._hover
        self.refresh()

    def _set_virtual_size(self, size: Size) -> None:
        """A new number of rows. Setting ``virtual_size`` lays out the whole screen
        (tens of ms on the main screen), needed only when the scrollbar comes or goes
        (never with this table's ``overflow-y: scroll``: filter keys that take the rows
        below a page and back laid the screen out twice each);
        otherwise the scrollbar and scroll range are updated in place (as Textual's own
        _size_updated does for a resize without layout)."""
        if size == self.virtual_size:
            return
        height = self.container_size.height
        overflow = self.styles.overflow_y  # "scroll" (ours: the bar stays), "auto", "hidden"
        wanted = overflow == "scroll" or (overflow == "auto" and size.height > height)
        if not height or wanted != self.show_vertical_scrollbar:
            self.virtual_size = size
            return
        self.set_reactive(OpsTable.virtual_size, size)
        update_scroll_range(self, size)

    def move_cursor(self, row: int | None = None, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (clamped) and, with ``scroll``, bring it into view."""
        n = len(self.model)
        if row is None or not n:
            return
        row = max(0, min(row, n - 1))
        if row != self._cursor:
            self._cursor = row
            self.refresh()
        if scroll:
            self._scroll_to_cursor(animate)

    def _scroll_to_cursor(self, animate: bool = False) -> None:
        page = self.page_rows()
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=animate, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=animate, force=True)

    def select_key(self, key: str, user: bool = True) -> bool:
        """Put the cursor on the row of ``key`` (True if it is shown). ``user``: the
        user's choice (the screen then stops placing the cursor itself)."""
        index = self.model.index(key)
        if index is None:
            return False
        if user:
            self.user_moved = True
        self.move_cursor(row=index)
        return True

    def page_rows(self) -> int:
        """Rows of data on screen at once (the heading excluded)."""
        return max(1, self.scrollable_content_region.height - 1)

    # ------------------------------------------------------------------ rendering

    def _invalidate(self) -> None:
        self._lines = {}
        self._header = None
        self.refresh()

    def notify_style_update(self) -> None:
        self._cell_styles = {}  # a theme or CSS change restyles every cell
        self._lines = {}
        self._header = None
        super().notify_style_update()

    def _own_style(self, view: RowView, index: int, text: str) -> str:
        if index == 0:
            return "" if view.match else "dim"
        return marker_style(text) or ""

    def _cell_style(self, base: Style, row: int, column: int, cursor: bool, hover: bool, own: str) -> Style:
        key = (base, row, column, cursor, hover, own)
        style = self._cell_styles.get(key)
        if style is None:
            component = Style()
            if hover:
                component += self.get_component_rich_style("datatable--hover")
            if cursor:
                component += self.get_component_rich_style("datatable--cursor")
            # DataTable's default priorities: the cursor's colour over the cell's own
            # (css), the cell's own background over the cursor's (renderable)
            post = Style.from_color(color=component.color) if cursor else Style.null()
            style = (
                base
                + Style.from_meta({"row": row, "column": column})
                + component
                + (Style.parse(own) if own else Style.null())
                + post
            )
            if len(self._cell_styles) > 20_000:
                self._cell_styles.clear()
            self._cell_styles[key] = style
        return style

    @staticmethod
    def _fit(text: str, width: int, right: bool, ellipsis: bool) -> str:
        inner = max(0, width - 2 * PAD)
        if cell_len(text) > inner:
            text = set_cell_size(text, inner - 1) + "…" if ellipsis and inner > 0 else set_cell_size(text, inner)
        elif right:
            text = " " * (inner - cell_len(text)) + text
        else:
            text = text + " " * (inner - cell_len(text))
        return " " * PAD + text + " " * PAD

    def _widths(self) -> list[int]:
        return [self.op_width + 2 * PAD, *(c.width + 2 * PAD for c in self.shown_columns)]

    _pass: tuple[Style, object] | None = None

    def render_lines(self, crop):  # noqa: ANN001, ANN201
        # the widget's style and pseudo classes cannot change within one render pass
        self._pass = (self.rich_style, self.get_pseudo_class_state())
        try:
            return super().render_lines(crop)
        finally:
            self._pass = None

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base, pseudo = self._pass or (self.rich_style, self.get_pseudo_class_state())
        if y == 0:
            return self._header_line(width, base, pseudo)
        index = y - 1 + round(self.scroll_y)
        if index >= len(self.model) or not self.shown_columns:
            return Strip.blank(width, base)
        return self._row_line(index, width, base, pseudo)

    def _header_line(self, width: int, base: Style, pseudo: object) -> Strip:
        key = (width, base, pseudo, self.shown_columns, self.op_width, self._sort)
        if self._header is not None and self._header[0] == key:
            return self._header[1]
        header = self.get_component_styles("datatable--header").rich_style
        console = self.app.console
        segments: list[Segment] = []
        for i, (ck, w) in enumerate(zip(self.column_keys(), self._widths(), strict=True)):
            # as DataTable draws its heading cells (through Rich), for the same look
            options = console.options.update_dimensions(w, 1).update(no_wrap=True)
            lines = console.render_lines(
                Styled(Padding(self.heading(ck), (0, PAD)),
                       pre_style=header + Style.from_meta({"row": -1, "column": i}) + Style(),
                       post_style=Style.from_color(color=None) + Style.null()),
                options,
            )
            segments.extend(lines[0])
        rest = max(0, width - sum(self._widths()))
        segments.append(Segment(" " * rest, header + Style.from_meta({"row": -1, "column": 0, "out_of_bounds": True})))
        strip = Strip(segments).adjust_cell_length(width, base).simplify()
        self._header = (key, strip)
        return strip

    def _row_line(self, index: int, width: int, base: Style, pseudo: object) -> Strip:
        view = self.model.view(index)
        cursor = index == self._cursor
        hover = index == self._hover and self._show_hover
        key = (index, cursor, hover, width, base, pseudo)
        got = self._lines.get(view.key)
        if got is not None and got[1] is view and got[0] == key:
            return got[2]
        self.rows_drawn += 1
        segments: list[Segment] = []
        texts = (view.label, *view.cells)
        for i, w in enumerate(self._widths()):
            text = texts[i] if i < len(texts) else ""
            own = self._own_style(view, i, text)
            fitted = self._fit(text, w, right=i > 0, ellipsis=i == 0)
            segments.append(Segment(fitted, self._cell_style(base, index, i, cursor, hover, own)))
        rest = max(0, width - sum(self._widths()))
        extend = base
        if hover:
            extend += self.get_component_rich_style("datatable--hover")
        if cursor:
            extend += self.get_component_rich_style("datatable--cursor")
        segments.append(Segment(" " * rest, extend + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})))
        strip = Strip(segments).adjust_cell_length(width, base).simplify()
        if len(self._lines) > 1_000:
            self._lines = {}
        self._lines[view.key] = (key, view, strip)
        return strip

    # ------------------------------------------------------------------ events

    def on_resize(self) -> None:
        self.ensure_columns()

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        row = event.style.meta.get("row") if event.style.meta else None
        hover = row if isinstance(row, int) and row >= 0 else None
        if hover != self._hover or not self._show_hover:
            self._hover, self._show_hover = hover, hover is not None
            self.refresh()

    def _on_leave(self, _: events.Leave) -> None:
        if self._show_hover:
            self._show_hover = False
            self.refresh()

    def _no_hover(self) -> None:
        if self._show_hover:
            self._show_hover = False
            self.refresh()

    async def _on_click(self, event: events.Click) -> None:
        meta = event.style.meta
        row = meta.get("row") if meta else None
        if not isinstance(row, int) or row < 0 or row >= len(self.model):
            return
        self.user_moved = True
        again = row == self._cursor
        self.move_cursor(row=row)
        if again:
            self.post_message(self.RowSelected(self, self.model.key(row)))
        event.stop()

    def action_select_cursor(self) -> None:
        key = self.cursor_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def _replay(self) -> bool:
        # left / right / Home / End: in a live session they move in the tree (left and
        # right also collapse and expand, like - and +); in a replay they seek, so they
        # pass up to the screen's replay bindings (the table never scrolls sideways)
        return isinstance(getattr(self.app, "source", None), Seekable)

    def _user_move(self, row: int) -> None:
        self.user_moved = True
        self._no_hover()
        self.move_cursor(row=row)

    def action_cursor_up(self) -> None:
        self._user_move(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self._user_move(self._cursor + 1)

    def action_page_up(self) -> None:
        page = self.page_rows()
        self.scroll_relative(y=-page, animate=False, force=True)
        self._user_move(self._cursor - page)

    def action_page_down(self) -> None:
        page = self.page_rows()
        self.scroll_relative(y=page, animate=False, force=True)
        self._user_move(self._cursor + page)

    def action_scroll_top(self) -> None:
        self._user_move(0)

    def action_scroll_bottom(self) -> None:
        self._user_move(len(self.model) - 1)

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
        self._user_move(0)

    def action_scroll_end(self) -> None:
        if self._replay():
            raise SkipAction()
        self._user_move(len(self.model) - 1)

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


class FilterInput(Input):
    """The ops table's filter box: an Input whose key strokes do not lay out the screen.

    Textual's Input sets its ``virtual_size`` (a layout reactive) to its text's width on
    every change, so each key stroke would lay out the whole main screen (tens of ms, the
    largest cost of a filter key once the table was virtual). The box has a fixed size;
    only its scroll range follows the text, updated in place: the public validator stores
    the new size without a layout and hands the reactive its current value back, so
    Textual sees no change.
    """

    def validate_virtual_size(self, size: Size) -> Size:
        if self.styles.auto_dimensions or not self.is_mounted:
            return size
        shown = self.virtual_size
        if size != shown:
            self.set_reactive(Input.virtual_size, size)
            update_scroll_range(self, size)
        return shown

def update_scroll_range(widget: Widget, size: Size) -> None:
    """The scrollbars' range and the scroll offset of ``widget`` after its virtual size
    was set to ``size`` without a layout (the scrollbars' visibility unchanged), through
    Textual's public attributes (what its ``_scroll_update`` does, minus the visibility)."""
    width, height = widget.container_size
    if widget.show_vertical_scrollbar and widget.styles.scrollbar_size_vertical:
        bar = widget.vertical_scrollbar
        bar.window_virtual_size = size.height
        bar.window_size = height - widget.scrollbar_size_horizontal
        bar.refresh()
    if widget.show_horizontal_scrollbar and widget.styles.scrollbar_size_horizontal:
        hbar = widget.horizontal_scrollbar
        hbar.window_virtual_size = size.width
        hbar.window_size = width - widget.scrollbar_size_vertical
        hbar.refresh()
    widget.scroll_x = widget.validate_scroll_x(widget.scroll_x)
    widget.scroll_y = widget.validate_scroll_y(widget.scroll_y)
