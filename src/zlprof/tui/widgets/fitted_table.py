"""A DataTable whose columns are sized from the rows it is given, before the first paint.

Textual's DataTable (8.2) measures auto-width columns on a later idle, and keeps the lines
it rendered in a cache whose key those new widths do not change: a paint that falls
between ``add_row`` and that idle shows every column at its label's width (names cut to
"atten", "rmsno"), and nothing repaints it until a cell or the cursor changes; in a
finished session, never. Seen as a truncated children table in a drill-down, about one
run in eight of the snapshot test. Columns with explicit widths are right from the first
paint, so this table gives every column an explicit width measured from its rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from ...textwidth import natural_widths


def fitted_widths(labels: Sequence[Text], rows: Sequence[Sequence[Text]]) -> list[int]:
    """Each column's width: its widest cell or label (terminal cells)."""
    return natural_widths([label.plain for label in labels], [[c.plain for c in cells] for cells in rows])


class FittedTable(DataTable):
    """``set_columns`` once, then ``fill`` with all rows; ``fits`` says whether a cell can
    be updated in place. Widths only grow while the table lives, so a column does not
    jitter as values change."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._labels: list[Text] = []
        self._col_keys: list[str] = []
        self._widths: list[int] = []

    def set_columns(self, columns: Sequence[tuple[Text, str]]) -> None:
        """The columns as (label, key)."""
        self._labels = [label for label, _ in columns]
        self._col_keys = [key for _, key in columns]
        self._widths = []
        self.clear(columns=True)

    def fill(self, rows: Sequence[tuple[str | None, Sequence[Text]]]) -> None:
        """Replace every row with ``rows`` (key or None, cells); the cursor goes to the top."""
        new = fitted_widths(self._labels, [cells for _, cells in rows])
        widths = [max(a, b) for a, b in zip(new, self._widths, strict=False)] + new[len(self._widths):]
        if widths != self._widths:
            self.clear(columns=True)
            for label, key, width in zip(self._labels, self._col_keys, widths, strict=True):
                self.add_column(label, width=width, key=key)
            self._widths = widths
        else:
            self.clear()
        for row_key, cells in rows:
            self.add_row(*cells, key=row_key)

    def fits(self, column: int, cell: Text) -> bool:
        """Does ``cell`` fit the width column ``column`` has now?"""
        return column < len(self._widths) and cell.cell_len <= self._widths[column]
