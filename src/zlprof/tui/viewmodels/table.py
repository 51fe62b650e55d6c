"""The operations table: its columns (which fit a width), sort keys, filter and tree
options, the rows (:func:`build_table`) and the cell diff that lets the table update in
place (:func:`plan_table`). No widgets, no statistics (those come from SessionState)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


#: The operations table holds at most this many rows: the first ones of the current
#: order (filter, sort or collapse to reach the others; the panel title says how many
#: are left out). A table widget of thousands of rows costs seconds per key.
MAX_TABLE_ROWS = 200


def build_table(
    rows: list[OpRow], opts: TableOptions, columns: Iterable[Column] = COLUMNS
) -> list[RowView]:
    """Rows to display, in display order, after filtering, collapsing and sorting.

    ``rows`` come in tree order (SessionState.op_rows). In tree mode siblings are sorted
    under their parent and a filter keeps the ancestors of every match (marked
    ``match=False``); in flat mode all rows are sorted together and show full paths.
    """
    return build_table_limited(rows, opts, columns, None)[0]


def build_table_limited(
    rows: list[OpRow], opts: TableOptions, columns: Iterable[Column] = COLUMNS,
    limit: int | None = MAX_TABLE_ROWS,
) -> tuple[list[RowView], int]:
    """:func:`build_table`, cut to the first ``limit`` rows of the display order (None:
    no cut): (the rows, how many rows the whole table has). Rows past the cut are counted,
    not formatted."""
    cols = tuple(columns)
    needle = opts.filter.strip().lower()
    by_full = {r.full: r for r in rows}
    children: dict[str, list[OpRow]] = {}
    roots: list[OpRow] = []
    for r in rows:
        if r.parent and r.parent in by_full:
            children.setdefault(r.parent, []).append(r)
        else:
            roots.append(r)

    matched = {r.full for r in rows if not needle or needle in r.full.lower()}

    def view(r: OpRow, match: bool = True) -> RowView:
        kids = bool(children.get(r.full)) and not opts.flat
        return RowView(
            key=r.full,
            path_id=r.path_id,
            depth=0 if opts.flat else r.depth,
            label=_label(r, opts, kids),
            cells=tuple(c.text(r) for c in cols),
            has_children=kids,
            collapsed=kids and r.full in opts.collapsed,
            match=match,
        )

    reverse = opts.descending

    def ordered(items: list[OpRow]) -> list[OpRow]:
        if opts.sort == "tree":
            return items[::-1] if reverse else items
        return sorted(items, key=lambda r: _sort_value(r, opts.sort), reverse=reverse)

    cap = len(rows) + 1 if limit is None else max(0, limit)
    if opts.flat:
        flat = ordered([r for r in rows if r.full in matched])
        return [view(r) for r in flat[:cap]], len(flat)

    # tree mode: keep the ancestors of matches
    keep: set[str] = set()
    for full in matched:
        r = by_full[full]
        keep.add(full)
        while r.parent and r.parent in by_full and r.parent not in keep:
            keep.add(r.parent)
            r = by_full[r.parent]

    out: list[RowView] = []
    total = 0

    def walk(items: list[OpRow]) -> None:
        nonlocal total
        for r in ordered([i for i in items if i.full in keep]):
            total += 1
            if len(out) < cap:
                out.append(view(r, r.full in matched))
            if r.full not in opts.collapsed or needle:
                walk(children.get(r.full, []))

    walk(roots)
    return out, total


#: Prefix of a label cell drawn dimmed (an ancestor kept only for a filter match).
DIM = "\x00dim:"


def display_cells(r: RowView) -> tuple[str, ...]:
    """What the table shows for a row: the label (maybe marked dim) and the value cells."""
    return (r.label if r.match else DIM + r.label, *r.cells)


@dataclass
class TablePlan:
    """How to turn the displayed table into the new rows without rebuilding it."""

    remove: list[str] = field(default_factory=list)
    add: list[RowView] = field(default_factory=list)
    #: (row key, column index in the cell tuple (0 = label), new text)
    changes: list[tuple[str, int, str]] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    reorder: bool = False

    @property
    def empty(self) -> bool:
        return not (self.remove or self.add or self.changes or self.reorder)


def plan_table(
    old_order: list[str], old_cells: dict[str, tuple[str, ...]], new: list[RowView]
) -> TablePlan:
    """The cell-level difference between what is shown and ``new``."""
    plan = TablePlan(order=[r.key for r in new])
    new_keys = set(plan.order)
    plan.remove = [k for k in old_order if k not in new_keys]
    for r in new:
        cells = display_cells(r)
        prev = old_cells.get(r.key)
        if prev is None:
            plan.add.append(r)
            continue
        for i, (a, b) in enumerate(zip(prev, cells, strict=True)):
            if a != b:
                plan.changes.append((r.key, i, b))
    kept_old = [k for k in old_order if k in new_keys]
    plan.reorder = kept_old + [r.key for r in plan.add] != plan.order
    return plan
