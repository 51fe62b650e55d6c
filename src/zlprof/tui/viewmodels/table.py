"""The operations table: its columns (which fit a width), sort keys, filter and tree
options and the display order of the rows (:func:`display_order`, formatted row by row
with :func:`row_view`). No widgets, no statistics (those come from SessionState)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ...session import OpRow
from .common import _count, _mem, _ms, _share

# --------------------------------------------------------------------------- columns

@dataclass(frozen=True)
class Column:
    """One column of the operations table."""

    key: str
    label: str
    width: int
    value: Callable[[OpRow], float]
    text: Callable[[OpRow], str]
    #: lower numbers are kept first when the table is too narrow for every column
    priority: int = 0


def _nan_last(v: float) -> float:
    return -math.inf if v is None or math.isnan(v) else v


COLUMNS: tuple[Column, ...] = (
    Column("count", "count", 7, lambda r: r.stats.count, lambda r: _count(r.stats.count), 1),
    Column("total", "total", 9, lambda r: r.stats.total_ms, lambda r: _ms(r.stats.total_ms), 3),
    Column("share", "share", 7, lambda r: r.stats.share, lambda r: _share(r.stats.share), 0),
    Column("min", "min", 7, lambda r: _nan_last(r.stats.min_ms), lambda r: _ms(r.stats.min_ms), 8),
    Column("avg", "avg", 7, lambda r: _nan_last(r.stats.avg_ms), lambda r: _ms(r.stats.avg_ms), 6),
    Column("p50", "p50", 7, lambda r: _nan_last(r.stats.median_ms), lambda r: _ms(r.stats.median_ms), 2),
    Column("p95", "p95", 7, lambda r: _nan_last(r.stats.p95_ms), lambda r: _ms(r.stats.p95_ms), 5),
    Column("p99", "p99", 7, lambda r: _nan_last(r.stats.p99_ms), lambda r: _ms(r.stats.p99_ms), 4),
    Column("max", "max", 7, lambda r: _nan_last(r.stats.max_ms), lambda r: _ms(r.stats.max_ms), 7),
    Column("std", "std", 7, lambda r: _nan_last(r.stats.std_ms), lambda r: _ms(r.stats.std_ms), 9),
    Column(
        "mem", "mem Δ", 10, lambda r: r.stats.mem_delta_bytes,
        lambda r: _mem(r.stats.mem_delta_bytes), 10,
    ),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}

#: Cells of padding DataTable puts around every column (cell_padding=1 on both sides).
COLUMN_PADDING = 2


def columns_for_width(width: int, min_op: int = 26) -> tuple[tuple[Column, ...], int]:
    """The columns that fit a table ``width`` cells wide, and the op column's width.

    Columns are added in priority order while the op column keeps at least ``min_op``
    cells (fewer on very small terminals); they are shown in their natural order.
    """
    min_op = min(min_op, max(10, width // 3))
    chosen: list[Column] = []
    used = min_op + COLUMN_PADDING
    for col in sorted(COLUMNS, key=lambda c: c.priority):
        need = col.width + COLUMN_PADDING
        if used + need <= width:
            chosen.append(col)
            used += need
    cols = tuple(c for c in COLUMNS if c in chosen)
    op = width - sum(c.width + COLUMN_PADDING for c in cols) - COLUMN_PADDING
    return cols, max(op, 4)


#: What ``s`` cycles through: program (tree) order, then each column, then the name.
SORT_KEYS: tuple[str, ...] = ("tree", *(c.key for c in COLUMNS), "name")
SORT_LABELS = {"tree": "program order", "name": "name", **{c.key: c.label for c in COLUMNS}}


def next_sort(key: str) -> str:
    i = SORT_KEYS.index(key) if key in SORT_KEYS else 0
    return SORT_KEYS[(i + 1) % len(SORT_KEYS)]


def default_descending(key: str) -> bool:
    """Numbers sort largest first; names and program order ascending."""
    return key not in ("tree", "name")


# --------------------------------------------------------------------------- table rows


@dataclass(frozen=True)
class TableOptions:
    sort: str = "tree"
    descending: bool = False
    flat: bool = False
    filter: str = ""
    collapsed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RowView:
    """One displayed row: a key (the op's full path) and its formatted cells."""

    key: str
    path_id: int
    depth: int
    label: str
    cells: tuple[str, ...]
    has_children: bool = False
    collapsed: bool = False
    #: False for an ancestor kept only to hold a filter match in the tree
    match: bool = True


def _sort_value(row: OpRow, key: str) -> Any:
    if key == "name":
        return row.full.lower()
    col = COLUMN_BY_KEY.get(key)
    return col.value(row) if col is not None else 0


def _label(row: OpRow, opts: TableOptions, has_children: bool) -> str:
    if opts.flat:
        return row.full
    if has_children:
        glyph = "▸ " if row.full in opts.collapsed else "▾ "
    else:
        glyph = "  "
    return "  " * row.depth + glyph + row.name


@dataclass(frozen=True)
class TableEntry:
    """One row of the display order, before formatting: the op and where it sits."""

    row: OpRow
    has_children: bool
    #: False for an ancestor kept only to hold a filter match in the tree
    match: bool = True


def row_view(e: TableEntry, opts: TableOptions, columns: Iterable[Column] = COLUMNS) -> RowView:
    """The formatted row of ``e`` (its label and one text per column)."""
    r = e.row
    kids = e.has_children and not opts.flat
    return RowView(
        key=r.full,
        path_id=r.path_id,
        depth=0 if opts.flat else r.depth,
        label=_label(r, opts, kids),
        cells=tuple(c.text(r) for c in columns),
        has_children=kids,
        collapsed=kids and r.full in opts.collapsed,
        match=e.match,
    )


class _Tree:
    """The parent/child structure of one ``rows`` list (SessionState.op_rows, tree
    order), and its siblings' orders by sort key (computed once per key)."""

    def __init__(self, rows: list[OpRow]) -> None:
        self.rows = rows
        self.by_full = {r.full: r for r in rows}
        self.children: dict[str, list[OpRow]] = {}
        self.roots: list[OpRow] = []
        for r in rows:
            if r.parent and r.parent in self.by_full:
                self.children.setdefault(r.parent, []).append(r)
            else:
                self.roots.append(r)
        self.lowered = {r.full: r.full.lower() for r in rows}
        self._sorted: dict[tuple[str, bool, bool], dict[str, list[OpRow]]] = {}

    def ordered(self, items: list[OpRow], parent: str, sort: str, reverse: bool, flat: bool) -> list[OpRow]:
        """``items`` (the children of ``parent``, or every row when ``flat``) in display
        order; sorted once per (sort, direction) and kept."""
        if sort == "tree":
            return items[::-1] if reverse else items
        cache = self._sorted.setdefault((sort, reverse, flat), {})
        got = cache.get(parent)
        if got is None:
            got = cache[parent] = sorted(items, key=lambda r: _sort_value(r, sort), reverse=reverse)
        return got


def display_order(rows: list[OpRow], opts: TableOptions, tree: _Tree | None = None,
                  candidates: set[str] | None = None) -> tuple[list[TableEntry], set[str]]:
    """Rows to display, in display order, after filtering, collapsing and sorting
    (nothing formatted): (the entries, the set of keys matching the filter).

    ``rows`` come in tree order (SessionState.op_rows). In tree mode siblings are sorted
    under their parent and a filter keeps the ancestors of every match (marked
    ``match=False``); in flat mode all rows are sorted together. ``tree``: the structure
    of ``rows`` if already built; ``candidates``: a superset of the matches (the matches
    of a shorter filter this one extends), to test fewer names.
    """
    t = tree if tree is not None and tree.rows is rows else _Tree(rows)
    needle = opts.filter.strip().lower()
    if not needle:
        matched = set(t.by_full)
    else:
        low = t.lowered
        pool = candidates if candidates is not None else low.keys()
        matched = {k for k in pool if k in low and needle in low[k]}
    reverse = opts.descending
    if opts.flat:
        every = t.ordered(rows, "", opts.sort, reverse, True)
        return [TableEntry(r, False) for r in every if r.full in matched], matched

    # tree mode: keep the ancestors of matches
    by_full = t.by_full
    if needle:
        keep: set[str] = set()
        for full in matched:
            r = by_full[full]
            keep.add(full)
            while r.parent and r.parent in by_full and r.parent not in keep:
                keep.add(r.parent)
                r = by_full[r.parent]
    else:
        keep = matched
    children = t.children
    collapsed = () if needle else opts.collapsed
    out: list[TableEntry] = []

    def walk(items: list[OpRow], parent: str) -> None:
        for r in t.ordered(items, parent, opts.sort, reverse, False):
            full = r.full
            if full not in keep:
                continue
            kids = children.get(full)
            out.append(TableEntry(r, bool(kids), full in matched))
            if kids and full not in collapsed:
                walk(kids, full)

    walk(t.roots, "")
    return out, matched


def build_table(
    rows: list[OpRow], opts: TableOptions, columns: Iterable[Column] = COLUMNS
) -> list[RowView]:
    """Every row to display, formatted, in display order (see :func:`display_order`;
    the table itself formats only the rows on screen: viewmodels.ops_rows)."""
    cols = tuple(columns)
    return [row_view(e, opts, cols) for e in display_order(rows, opts)[0]]


#: Prefix of a label cell drawn dimmed (an ancestor kept only for a filter match).
DIM = "\x00dim:"


def display_cells(r: RowView) -> tuple[str, ...]:
    """What the table shows for a row: the label (maybe marked dim) and the value cells."""
    return (r.label if r.match else DIM + r.label, *r.cells)
