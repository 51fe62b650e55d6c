"""The operations table's row model: every row of the current view in display order,
held outside the widget, formatted only when asked for (the rows on screen).

The table widget (widgets.ops_table) renders the lines on screen from this model, so a
view of thousands of call paths costs what its visible rows cost. What changes per key
stroke is cheap here: the tree structure of a rows list is built once per list, each
sibling order once per sort key, a filter that extends the previous one tests only the
previous matches, and a formatted row is kept until its data, the options that shape it
or the columns change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from ...session import OpRow
from .table import (
    COLUMNS,
    Column,
    RowView,
    TableEntry,
    TableOptions,
    _Tree,
    display_order,
    row_view,
)


class OpsRows:
    """The display order of SessionState rows under TableOptions, formatted lazily."""

    def __init__(self) -> None:
        self.rows: list[OpRow] = []
        self.options = TableOptions()
        self.columns: tuple[Column, ...] = COLUMNS
        self.entries: list[TableEntry] = []
        self._index: dict[str, int] = {}
        self._tree: _Tree | None = None
        self._matched: set[str] = set()
        self._views: dict[str, RowView] = {}
        #: how many times the order was computed, and rows formatted (tests, benchmarks)
        self.orders = 0
        self.formatted = 0

    def __len__(self) -> int:
        return len(self.entries)

    def update(self, rows: list[OpRow], options: TableOptions, columns: tuple[Column, ...]) -> bool:
        """Take new rows, options or columns. False (and nothing recomputed) if all three
        are what the model already holds."""
        if rows is self.rows and options == self.options and columns == self.columns:
            return False
        same_rows = rows is self.rows
        old = self.options
        shape = replace(options, filter="", sort="", descending=False)
        if not same_rows or columns != self.columns or shape != replace(old, filter="", sort="", descending=False):
            self._views = {}  # labels and cells depend on the rows, columns, flat, collapse
        if self._tree is None or not same_rows:
            self._tree = _Tree(rows)
        candidates = None
        new_needle, old_needle = options.filter.strip().lower(), old.filter.strip().lower()
        if same_rows and old_needle and old_needle in new_needle:
            candidates = self._matched  # a longer filter matches a subset of the shorter's
        self.rows, self.options, self.columns = rows, options, columns
        self.entries, self._matched = display_order(rows, options, self._tree, candidates)
        self._index = {e.row.full: i for i, e in enumerate(self.entries)}
        self.orders += 1
        return True

    def key(self, index: int) -> str:
        return self.entries[index].row.full

    def index(self, key: str) -> int | None:
        """Where the row of ``key`` is in the display order (None: not shown)."""
        return self._index.get(key)

    def keys(self) -> list[str]:
        return [e.row.full for e in self.entries]

    def view(self, index: int) -> RowView:
        """The formatted row at ``index`` of the display order."""
        e = self.entries[index]
        v = self._views.get(e.row.full)
        if v is None or v.match != e.match:  # (an ancestor is dimmed under a filter only)
            v = self._views[e.row.full] = row_view(e, self.options, self.columns)
            self.formatted += 1
        return v

    def view_of(self, key: str) -> RowView | None:
        i = self._index.get(key)
        return None if i is None else self.view(i)

    @property
    def views(self) -> RowViews:
        """The rows as a read-only mapping key -> RowView (formatted when read)."""
        return RowViews(self)


class RowViews(Mapping[str, RowView]):
    """A mapping view of an :class:`OpsRows` by key; a row is formatted when looked up."""

    def __init__(self, model: OpsRows) -> None:
        self._model = model

    def __getitem__(self, key: str) -> RowView:
        v = self._model.view_of(key)
        if v is None:
            raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._model.index(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._model.keys())

    def __len__(self) -> int:
        return len(self._model)
