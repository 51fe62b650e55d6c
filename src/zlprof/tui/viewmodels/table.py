"""View models for the app: pure functions from SessionState data to what a panel shows.

No widgets here (so everything is testable without a terminal): the operations table's
columns, rows, sorting, filtering, tree collapsing and the cell diff that lets the table
update in place; the time-share bars; the memory summary; the drill-down model; and
:func:`collect`, which gathers one consistent snapshot of a SessionState for the screen
that asked for it. Statistics themselves come from SessionState / stats.py; this module
only selects, orders and formats them.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import fmt, rates
from ..session import WHOLE, OpRow, SessionState, View
from ..stats import PerformanceStats

#: The recent window of the ``w`` key, in seconds.
WINDOW_S = 10.0

# --------------------------------------------------------------------------- columns


def _count(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n:,}"


def _ms(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.ms(v)


def _share(v: float) -> str:
    if v is None or math.isnan(v):
        return "-"
    return fmt.pct(v)


def _mem(v: int) -> str:
    return fmt.nbytes(v, signed=True) if v else "0"


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


# --------------------------------------------------------------------------- panels


def short_name(full: str) -> str:
    """The last two parts of a call path (``layer0/attention``): enough to tell ops apart."""
    parts = full.split("/")
    return "/".join(parts[-2:])


def unique_short_names(fulls: list[str]) -> dict[str, str]:
    """Short names, lengthened (more parent parts) where two ops would share one."""
    return _unique_labels(fulls, lambda f, depth: "/".join(f.split("/")[-depth:]), start=2)


def _unique_labels(
    keys: list[str],
    label: Callable[[str, int], str],
    start: int = 1,
    weight: dict[str, float] | None = None,
) -> dict[str, str]:
    """``label(key, depth)`` for each key at the smallest depth (from ``start``) at which
    it is unique; only labels that clash are lengthened.

    With ``weight``: in a clash between keys of different top-level parts (decode's
    ``forward_pass/...`` and ``prefill/...``), the heaviest keeps its shorter label when
    every other key in the clash can be lengthened, so the main phase reads ``mlp`` and
    the lesser one ``prefill mlp``.
    """
    depth_of = dict.fromkeys(keys, start)
    out = {k: label(k, start) for k in keys}
    while True:
        seen: dict[str, list[str]] = {}
        for k, text in out.items():
            seen.setdefault(text, []).append(k)
        clashes = [ks for ks in seen.values() if len(ks) > 1]
        if not clashes:
            return out
        grew = False
        for ks in clashes:
            longer = {k: label(k, depth_of[k] + 1) for k in ks}
            if weight is not None:
                ks = sorted(ks, key=lambda k: weight.get(k, 0.0), reverse=True)
                top = ks[0].split("/", 1)[0]
                if all(k.split("/", 1)[0] != top and longer[k] != out[k] for k in ks[1:]):
                    ks = ks[1:]
            for k in ks:
                depth_of[k] += 1
                grew |= longer[k] != out[k]
                out[k] = longer[k]
        if not grew:
            return out


#: A path part that names one of a model's repeated layers: ``layer3``, ``block_12``,
#: ``h.0``, ``layers.7``, or a bare index. Group 1 is the stem, group 2 the index.
LAYER_PART = re.compile(r"^((?:layers?|blocks?|h|l)[._-]?|)(\d+)$", re.IGNORECASE)
#: Ancestor parts shortened in per-path labels (the op's own name is never shortened).
ABBREVIATIONS = {"forward_pass": "fwd"}

#: The share panel's modes: self time grouped by block over layers, or one bar per path.
SHARE_MODES = ("block", "path")


def layer_index(part: str) -> int | None:
    """The layer number a path part names (``layer3`` -> 3), else None."""
    m = LAYER_PART.match(part)
    return int(m.group(2)) if m else None


def _abbreviate(part: str) -> str:
    i = layer_index(part)
    if i is not None:
        return f"L{i}"
    return ABBREVIATIONS.get(part, part)


def path_label(full: str, depth: int = 1, main: str | None = None) -> str:
    """The last ``depth`` parts of a path, ancestors abbreviated: ``fwd L3 mlp.gate_up``.

    A path inside a layer always names it (``L3``); a path under a top-level op other
    than ``main`` (the busiest) always names that op first, so ``prefill lm_head`` is
    never read as the decode phase's ``lm_head``.
    """
    parts = full.split("/")
    layers = [i for i, p in enumerate(parts[:-1]) if layer_index(p) is not None]
    if layers:  # a per-path label always says which layer: L3 mlp.gate_up
        depth = max(depth, len(parts) - layers[-1])
    tail = parts[-depth:]
    words = [*(_abbreviate(p) for p in tail[:-1]), tail[-1]]
    if main is not None and len(parts) > len(tail) and parts[0] != main:
        words.insert(0, parts[0])
    return " ".join(words)


def block_key(full: str) -> str:
    """A path with its layer numbers taken out: every layer's copy of a block shares it
    (``forward_pass/layer3/mlp.gate_up`` -> ``forward_pass/layer*/mlp.gate_up``)."""
    out = []
    for p in full.split("/"):
        m = LAYER_PART.match(p)
        out.append(f"{m.group(1) or '#'}*" if m else p)
    return "/".join(out)


@dataclass(frozen=True)
class ShareBar:
    label: str
    share: float
    #: the op's full path (per-path bars) or its block key (grouped); "" for the remainder
    full: str = ""
    #: said after the label when there is room: ``×8 layers``
    note: str = ""
    #: paths summed in this bar
    paths: int = 1


def share_title(by: str, threads: int) -> tuple[str, str]:
    """The share panel's title and subtitle: what the shares are of (one thread: wall
    time; several threads or processes: their summed wall time, see
    SessionState.thread_wall_ns)."""
    if threads > 1:
        return f"share of {threads} threads · by {by}", "of their summed wall time"
    return f"time share · by {by}", ""


def share_bars(rows: list[OpRow], limit: int = 50, by: str = "path") -> list[ShareBar]:
    """Self time as a share of wall time, largest first, plus the unmeasured rest.

    ``by="path"``: one bar per call path, labelled by its shortest unique tail with
    ancestors abbreviated (``L3 mlp.gate_up``, ``prefill L3 mlp.gate_up``, ``fwd lm_head``).
    ``by="block"``: the paths that differ only in their layer number summed into one bar
    (``mlp.gate_up ×8 layers``).

    Labels: ops under the busiest top-level op with children (decode's ``forward_pass``,
    say) go by their own name; ops under another top-level op get its name in front
    (``prefill mlp.gate_up``); names that would still clash take nearest ancestors.

    Shares are of the statistics span (wall time since the start or the last reset);
    nested blocks count once (self time excludes children), so on one thread the shares
    and the "outside measured blocks" remainder add up to 100 %.
    """
    shown = [r for r in rows if r.self_share > 0]
    phase = _phase_weights(shown)
    main = max(phase, key=phase.__getitem__) if phase else None
    if by == "block":
        bars = _block_bars(shown, phase, main)
    else:
        weight = {r.full: phase.get(r.full.split("/", 1)[0], 0.0) for r in shown}
        labels = _unique_labels(
            [r.full for r in shown], lambda f, d: path_label(f, d, main), weight=weight
        )
        bars = [ShareBar(labels[r.full], r.self_share, r.full) for r in shown]
    bars.sort(key=lambda b: b.share, reverse=True)
    total = sum(b.share for b in bars)
    bars = bars[:limit]
    rest = 1.0 - total
    if rows and rest > 0.0005:
        bars.append(ShareBar("(outside measured blocks)", rest, ""))
    return bars


def _block_name(part: str) -> str:
    """The name of a block key's part: ``layer*`` (a layer's own self time) -> ``layerN``."""
    if part.endswith("*"):
        stem = part[:-1].rstrip("#")
        return f"{stem}N" if stem else "N"
    return part


def _block_label(key: str, depth: int, main: str | None = None) -> str:
    """A block key's name, with ``depth - 1`` of its nearest ancestors (layers left out);
    under a top-level op other than ``main``, that op's name first."""
    parts = key.split("/")
    plain = [p for p in parts[:-1] if not p.endswith("*")]
    ancestors = plain[len(plain) - (depth - 1):] if depth > 1 else []
    words = [*(ABBREVIATIONS.get(p, p) for p in ancestors), _block_name(parts[-1])]
    if main is not None and plain and plain[0] != main and plain[0] not in ancestors:
        words.insert(0, plain[0])
    return " ".join(words)


def _phase_weights(rows: list[OpRow]) -> dict[str, float]:
    """Self share under each top-level op that has children (a phase: decode's
    forward_pass, prefill); ``main`` is the busiest. In a label clash the path under the
    busier one keeps the shorter label."""
    phase: dict[str, float] = {}
    for r in rows:
        top, _, rest = r.full.partition("/")
        if rest:
            phase[top] = phase.get(top, 0.0) + r.self_share
    return phase


def _block_bars(rows: list[OpRow], phase: dict[str, float], main: str | None) -> list[ShareBar]:
    groups: dict[str, list[OpRow]] = {}
    for r in rows:
        groups.setdefault(block_key(r.full), []).append(r)
    shares = {key: sum(r.self_share for r in members) for key, members in groups.items()}
    weight = {key: phase.get(key.split("/", 1)[0], 0.0) for key in groups}
    labels = _unique_labels(list(groups), lambda k, d: _block_label(k, d, main), weight=weight)
    bars = []
    for key, members in groups.items():
        layers = {
            i for r in members for p in r.full.split("/") if (i := layer_index(p)) is not None
        }
        if len(members) == 1:
            note = ""
        elif len(layers) == len(members):
            note = f"×{len(members)} layers"
        else:
            note = f"×{len(members)} paths"
        bars.append(ShareBar(labels[key], shares[key], key, note, len(members)))
    return bars


@dataclass
class MemoryView:
    t_s: np.ndarray
    rss: np.ndarray
    traced: np.ndarray
    gauges: dict[str, np.ndarray]
    peak_rss: int
    last_rss: int
    last_traced: int
    kv_bytes: int
    growth_per_s: float


def memory_view(series: dict[str, np.ndarray], origin_ns: int) -> MemoryView:
    """Memory over time (seconds since the session start) and its headline numbers."""
    t = series.get("t", np.zeros(0, np.int64))
    rss = series.get("rss", np.zeros(0, np.int64))
    traced = series.get("traced", np.zeros(0, np.int64))
    gauges = {k: v for k, v in series.items() if k not in ("t", "rss", "traced")}
    t_s = (t - origin_ns) / 1e9 if len(t) else np.zeros(0)
    ok = rss >= 0
    peak = int(rss[ok].max()) if ok.any() else 0
    last = int(rss[ok][-1]) if ok.any() else 0
    tr_ok = traced >= 0
    last_tr = int(traced[tr_ok][-1]) if tr_ok.any() else -1
    kv = -1
    for name, col in gauges.items():
        if "kv" in name.lower():
            good = col[col >= 0]
            if len(good):
                kv = int(good[-1])
            break
    growth = 0.0
    if ok.sum() >= 2:
        ts, rs = t_s[ok], rss[ok]
        # growth over the last third of the series (robust to start-up allocation)
        k = max(2, len(ts) // 3)
        dt = ts[-1] - ts[-k]
        if dt > 0:
            growth = float(rs[-1] - rs[-k]) / dt
    return MemoryView(t_s, rss, traced, gauges, peak, last, last_tr, kv, growth)


# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class ChildRow:
    path_id: int
    name: str
    count: int
    total_ms: float
    self_ms: float
    share_of_parent: float


@dataclass
class DrillView:
    path_id: int
    full: str
    name: str
    parent_id: int
    parent_full: str
    cumulative: PerformanceStats
    window: PerformanceStats
    self_ms: float
    self_share: float
    hist_edges_ms: np.ndarray
    hist_counts: np.ndarray
    recent_t_s: np.ndarray
    recent_ms: np.ndarray
    children: list[ChildRow]
    flops: int
    nbytes: int
    cost_calls: int
    estimator: str


def log_edges(lo_ns: float, hi_ns: float, bins: int) -> np.ndarray:
    """``bins + 1`` log-spaced bucket edges covering [lo, hi] (ns)."""
    bins = max(1, int(bins))
    lo = max(float(lo_ns), 1.0)
    hi = max(float(hi_ns), lo)
    if hi <= lo * 1.0001:
        lo, hi = lo / 1.1, hi * 1.1
    edges = np.geomspace(lo, hi, bins + 1)
    edges[-1] = np.nextafter(edges[-1], np.inf)  # the max falls inside the last bucket
    return edges


def drill_view(state: SessionState, pid: int, bins: int = 60, window_s: float = WINDOW_S) -> DrillView | None:
    """Everything the drill-down screen shows for one op (None if it is unknown)."""
    with state.lock:
        info = state.paths.get(pid)
        if info is None and pid not in state.ops:
            return None
        rows = {r.path_id: r for r in state.op_rows()}
        me = rows.get(pid)
        cum = state.stats_for(pid)
        win = state.stats_for(pid, window_s)
        acc = state.ops.get(pid)
        if acc is not None and acc.count:
            edges = log_edges(acc.moments.lo, acc.moments.hi, bins)
            counts = acc.histogram_counts(edges)
            t1, d = acc.recent()
        else:
            edges = log_edges(1e3, 1e6, bins)
            counts = np.zeros(len(edges) - 1, np.int64)
            t1, d = np.zeros(0, np.int64), np.zeros(0, np.int64)
        kids = []
        total = cum.total_ms
        for c in sorted(state.children_of(pid)):
            r = rows.get(c)
            if r is None:
                continue
            kids.append(
                ChildRow(
                    c,
                    r.name,
                    r.stats.count,
                    r.stats.total_ms,
                    r.self_ms,
                    (r.stats.total_ms / total) if total > 0 else 0.0,
                )
            )
        kids.sort(key=lambda k: k.total_ms, reverse=True)
        parent = info.parent if info else 0
        return DrillView(
            path_id=pid,
            full=state.name_of(pid),
            name=info.name if info else f"#{pid}",
            parent_id=parent if parent in state.paths else 0,
            parent_full=state.name_of(parent) if parent in state.paths else "",
            cumulative=cum,
            window=win,
            self_ms=me.self_ms if me else 0.0,
            self_share=me.self_share if me else 0.0,
            hist_edges_ms=edges / 1e6,
            hist_counts=np.asarray(counts, np.int64),
            recent_t_s=(t1 - state.origin_ns) / 1e9,
            recent_ms=d / 1e6,
            children=kids,
            flops=me.flops if me else 0,
            nbytes=me.nbytes if me else 0,
            cost_calls=me.cost_calls if me else 0,
            estimator=cum.estimator,
        )


STAT_FIELDS: tuple[tuple[str, str], ...] = (
    ("count", "count"),
    ("total", "total ms"),
    ("share", "share"),
    ("min_ms", "min"),
    ("avg_ms", "avg"),
    ("median_ms", "p50"),
    ("p95_ms", "p95"),
    ("p99_ms", "p99"),
    ("max_ms", "max"),
    ("std_ms", "std dev"),
)


def stat_text(st: PerformanceStats, name: str) -> str:
    if name == "count":
        return _count(st.count)
    if name == "total":
        return _ms(st.total_ms) if st.count else "-"
    if name == "share":
        return _share(st.share) if st.count else "-"
    return _ms(getattr(st, name))


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class MainRequest:
    """What the main screen needs from the next snapshot."""

    window: bool = False
    memory: bool = True
    #: the whole tree (default), one process or one thread (the processes screen, ``p``)
    view: View = WHOLE


@dataclass(frozen=True)
class DrillRequest:
    path_id: int
    bins: int = 60


@dataclass
class Snapshot:
    """One consistent read of a SessionState, taken off the UI thread."""

    request: Any
    version: int
    measurements: int
    last_ns: int
    elapsed_s: float
    tokens_total: int
    tokens_per_s: float
    ttft_ms: float | None
    tpot_ms: float | None
    measurements_per_s: float
    warnings: list[str]
    end_status: int | None
    end_reason: str
    info: dict[str, Any]
    rows: list[OpRow] = field(default_factory=list)
    memory: MemoryView | None = None
    drill: DrillView | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the state's ops_version and session clock the rows were computed at
    ops_version: int = -1
    rows_ns: int = 0
    #: the span the rows' shares are of (ns): the session's wall time, or the window
    rows_wall_ns: int = 0
    #: what ``tokens_per_s`` divides (rates.recent_rate): "output tokens / last 10 s"
    tokens_divides: str = ""
    #: the headline and the table's defaults (tui.opening.Opening; main screen only),
    #: computed on the Refresher thread
    opening: Any = None


def _median(acc: Any) -> float | None:
    if acc.count == 0:
        return None
    return float(acc.quantiles_ns([50])[0] / 1e6)


#: Rows of an unchanged session are reused for up to this long of the session clock
#: (shares of wall time and the last-10-s window drift with the clock alone).
ROWS_REUSE_NS = 2_000_000_000


def reusable_rows(state: SessionState, request: Any, prev: Snapshot | None) -> list[OpRow] | None:
    """``prev``'s rows, when they still hold for ``request``: the same request, no new
    measurement, name or cost since (``ops_version``) and less than ROWS_REUSE_NS of the
    session clock later. A table of thousands of paths is then not rebuilt while the
    program idles (memory readings alone move the state's version)."""
    if (
        prev is None
        or prev.request != request
        or prev.ops_version != state.ops_version
        or not 0 <= state.last_ns - prev.rows_ns < ROWS_REUSE_NS
    ):
        return None
    return prev.rows


def collect(state: SessionState, request: Any, prev: Snapshot | None = None) -> Snapshot:
    """Gather what ``request`` needs from ``state`` (takes the state's lock).

    ``prev``: the last snapshot taken; its op rows are reused (the same list object)
    when :func:`reusable_rows` says they still hold.
    """
    with state.lock:
        recent = rates.recent_rate(state, WINDOW_S)
        snap = Snapshot(
            request=request,
            version=state.version,
            measurements=state.measurements,
            last_ns=state.last_ns,
            elapsed_s=state.elapsed_ns / 1e9,
            tokens_total=state.tokens_total,
            tokens_per_s=recent.value or 0.0,
            tokens_divides=recent.divides,
            ttft_ms=_median(state.ttft),
            tpot_ms=_median(state.tpot),
            measurements_per_s=state.measurements_per_s(),
            warnings=list(state.warnings),
            end_status=state.end_status,
            end_reason=state.end_reason,
            info=dict(state.info),
            ops_version=state.ops_version,
        )
        procs = state.processes
        if len(procs) > 1 or len(state.thread_keys()) > 1:
            snap.extra["processes"] = (
                sum(1 for p in procs.values() if p.state == "running"), len(procs))
        if isinstance(request, MainRequest):
            rows = reusable_rows(state, request, prev)
            if rows is None:
                snap.rows, snap.rows_ns = (
                    state.op_rows(WINDOW_S if request.window else None, request.view),
                    state.last_ns,
                )
            else:
                snap.rows, snap.rows_ns = rows, prev.rows_ns  # type: ignore[union-attr]
            # the headline's shares are of what the table's are (session.thread_wall_ns)
            snap.rows_wall_ns = state.thread_wall_ns(
                request.view, WINDOW_S if request.window else None
            )
            snap.extra["share_threads"] = len(state.thread_keys(request.view))
            if request.memory:
                snap.memory = memory_view(state.memory_series(), state.origin_ns)
        elif isinstance(request, DrillRequest):
            snap.drill = drill_view(state, request.path_id, request.bins)
    return snap


def with_rate(snap: Snapshot, prev: Snapshot | None) -> Snapshot:
    """Replace the session-average measurement rate by the rate since ``prev`` (data clock)."""
    if prev is None or snap.last_ns <= prev.last_ns or snap.measurements < prev.measurements:
        return snap
    dt = (snap.last_ns - prev.last_ns) / 1e9
    if dt < 0.05:
        return snap
    return replace(snap, measurements_per_s=(snap.measurements - prev.measurements) / dt)


class RateMeter:
    """Measurements per second over the last ``span_s`` of the data clock.

    Children flush measurements in batches, so the rate between two refreshes jumps
    around; over a few seconds it is steady. Until ``span_s`` of data is seen, the rate
    is over what there is (the session average at first).
    """

    def __init__(self, span_s: float = 3.0) -> None:
        self.span_ns = int(span_s * 1e9)
        self.points: deque[tuple[int, int]] = deque()

    def apply(self, snap: Snapshot) -> Snapshot:
        if snap.last_ns <= 0 or snap.measurements <= 0:
            return snap  # nothing measured yet: no clock to measure a rate on
        pts = self.points
        if pts and (snap.measurements < pts[-1][1] or snap.last_ns < pts[-1][0]):
            pts.clear()  # a reset (or a seek back): start over
        if not pts or snap.last_ns > pts[-1][0]:
            pts.append((snap.last_ns, snap.measurements))
        while len(pts) > 2 and snap.last_ns - pts[1][0] >= self.span_ns:
            pts.popleft()
        first = pts[0]
        if snap.last_ns - first[0] < 50_000_000:
            return snap
        return with_rate(snap, replace(snap, last_ns=first[0], measurements=first[1]))


# --------------------------------------------------------------------------- status


def program_name(argv: list[str]) -> str:
    """A short name for the child: ``python -m pkg args`` -> ``pkg args``.

    A child's own ``sys.argv`` (as recorded) names ``.../pkg/sub/__main__.py`` for
    ``python -m pkg.sub``; that is shown as ``pkg.sub`` too.
    """
    parts = [str(a) for a in argv]
    if not parts:
        return "?"
    head = parts[0].rsplit("/", 1)[-1]
    if head.startswith("python"):
        parts = parts[1:]
        if parts[:1] == ["-m"]:
            parts = parts[1:]
        elif parts and not parts[0].startswith("-"):
            parts[0] = _script_name(parts[0])
    else:
        parts[0] = _script_name(parts[0])
    return " ".join(parts) or head


def _script_name(path: str) -> str:
    bits = path.split("/")
    if bits[-1] == "__main__.py" and len(bits) >= 3:
        return ".".join(bits[-3:-1])
    return bits[-1]


@dataclass(frozen=True)
class StatusView:
    """The header's facts, formatted."""

    state: str
    state_text: str
    program: str
    pid: str
    elapsed: str
    tokens_per_s: str
    #: what tokens_per_s divides (zlprof.rates: "output tokens / last 10 s")
    tokens_divides: str
    ttft: str
    tpot: str
    meas_rate: str
    measurements: str
    recording: str
    detail: str = ""
    window: bool = False
    #: what the path on the second line is: "rec" (live, recorded) or "replay" (a file)
    recording_key: str = "rec"
    #: ``10 procs (2 running)`` when more than one process measured, else ""
    processes: str = ""


def _opt_ms(v: float | None) -> str:
    return "-" if v is None else f"{fmt.ms(v)} ms"


def status_view(
    *,
    status: str,
    exit_code: int | None,
    end_reason: str,
    argv: list[str],
    pid: int | None,
    recording: str | None,
    snap: Snapshot | None,
    paused: bool = False,
    window: bool = False,
    waited_s: float = 0.0,
    replay: str | None = None,
    wall_s: float | None = None,
    quiet_s: float | None = None,
    ran_s: float | None = None,
) -> StatusView:
    """Header facts from the source's status and the latest snapshot.

    ``replay``: the recording's file name when the source is a replay (the header then
    says so, and shows that name where a live session shows its recording).

    Live sessions (the source's wall clock): ``wall_s``, the wall time since the start,
    is the elapsed time shown (it advances whatever the child does; a replay shows the
    recording's clock instead); ``quiet_s``, seconds since the child's last frame (a
    ``stalled`` child: how long); ``ran_s``, how long the program ran once it has ended;
    ``waited_s``, the stall threshold.
    """
    state = status
    ran = f" after {fmt.duration_s(ran_s)}" if ran_s is not None else ""
    if replay is not None and status in ("running", "paused", "starting"):
        text = {"running": "replay · playing", "paused": "replay · paused",
                "starting": "replay · starting"}[status]
    elif replay is not None and status in ("ended", "crashed", "stopped"):
        recorded = {"ended": "ended", "stopped": "stopped"}.get(
            status, f"crashed ({end_reason or f'exit {exit_code}'})"
        )
        text = f"replay · {recorded}"
    elif status in ("running", "paused") or status == "starting":
        text = {"running": "running", "paused": "paused", "starting": "starting"}[status]
        if status == "running" and snap is not None and snap.measurements == 0:
            text = "running · no measurements yet"
    elif status in ("stalled", "silent"):
        quiet = quiet_s if quiet_s is not None else waited_s
        what = "no measurements" if snap is None or snap.measurements == 0 else "no frames"
        text = f"stalled · {what} for {quiet:.0f} s"
    elif status == "suspended":
        text = "stopped (SIGSTOP) · kill -CONT resumes it" if pid is None else (
            f"stopped (SIGSTOP) · kill -CONT {pid} resumes it"
        )
    elif status == "crashed":
        text = f"crashed ({end_reason or f'exit {exit_code}'}){ran}"
    elif status == "ended":
        text = ("ended" if not exit_code else f"ended (exit {exit_code})") + ran
    elif status == "stopped":
        text = "stopped"
    else:
        text = status
    if paused:
        state = "paused"
        text = f"view paused · {text}"
    s = snap
    if wall_s is not None:
        elapsed = fmt.duration_s(wall_s)
    else:
        elapsed = fmt.duration_s(s.elapsed_s) if s else "-"
    return StatusView(
        state=state,
        state_text=text,
        program=program_name(argv),
        pid=str(pid) if pid else "-",
        elapsed=elapsed,
        tokens_per_s=f"{s.tokens_per_s:.1f}" if s and s.tokens_total else "-",
        tokens_divides=s.tokens_divides if s and s.tokens_total else "",
        ttft=_opt_ms(s.ttft_ms if s else None),
        tpot=_opt_ms(s.tpot_ms if s else None),
        meas_rate=fmt.rate(s.measurements_per_s) if s and s.measurements else "-",
        measurements=_count(s.measurements) if s else "0",
        recording=replay if replay is not None else (recording or "not recorded"),
        detail=end_reason if status == "crashed" else "",
        window=window,
        recording_key="replay" if replay is not None else "rec",
        processes=processes_text(s.extra.get("processes")) if s else "",
    )


def processes_text(counts: tuple[int, int] | None) -> str:
    """The header's process count: ``10 procs (2 running)``; "" for a single process."""
    if not counts:
        return ""
    running, total = counts
    if total <= 1:
        return ""
    return f"{total} procs ({running} running)"


# --------------------------------------------------------------------------- replay timeline


def clock(seconds: float) -> str:
    """A position on a timeline: ``0:07.5``, ``12:03.0``, ``1:02:03``."""
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        h, rest = divmod(int(seconds), 3600)
        m, s = divmod(rest, 60)
        return f"{h}:{m:02d}:{s:02d}"
    m, s = divmod(seconds, 60)
    if f"{s:04.1f}" == "60.0":  # 59.96 s rounds up to the next minute
        m, s = m + 1, 0.0
    return f"{int(m)}:{s:04.1f}"


@dataclass(frozen=True)
class TimelineView:
    """What the replay's timeline bar shows, formatted (from ReplaySource.timeline())."""

    #: playing | paused | ended | crashed | stopped | starting: the state's colour
    state: str
    #: "▶ playing", "‖ paused", "■ end" ...
    state_text: str
    position: str
    duration: str
    fraction: float
    speed: str
    #: "indexing…" while the seek index is being built; at the end, what space does
    note: str


def timeline_view(tl: Any) -> TimelineView:
    """The timeline bar's texts from a :class:`zlprof.replay.Timeline`."""
    status = tl.status
    at_end = status in ("ended", "crashed", "stopped") and tl.fraction >= 1.0
    if at_end:
        state = status
        word = {"ended": "end", "crashed": "end · crashed", "stopped": "end · stopped"}[status]
        text = f"■ {word}"
    elif status == "starting":
        state, text = "starting", "… starting"
    elif tl.paused:
        state, text = "paused", "‖ paused"
    else:
        state, text = "playing", "▶ playing"
    return TimelineView(
        state=state,
        state_text=text,
        position=clock(tl.position_s),
        duration=clock(tl.duration_s),
        fraction=tl.fraction,
        speed=tl.speed_text,
        # (at the end, what space does then: said here rather than in a toast)
        note="indexing…" if not tl.indexed else ("space plays it again" if at_end else ""),
    )


# --------------------------------------------------------------------------- session browser


@dataclass(frozen=True)
class SessionColumn:
    key: str
    label: str
    #: cells; 0: the program column, which takes what the others leave
    width: int
    right: bool = False


SESSION_COLUMNS: tuple[SessionColumn, ...] = (
    SessionColumn("mark", " ", 1),
    SessionColumn("started", "started", 16),
    SessionColumn("program", "program", 0),
    SessionColumn("duration", "duration", 8, right=True),
    SessionColumn("tps", "tok/s", 7, right=True),
    SessionColumn("size", "size", 9, right=True),
    SessionColumn("status", "status", 10),
)


def session_cells(info: Any, mark: str = "", short_date: bool = False) -> dict[str, str]:
    """A session browser row from a :class:`zlprof.sessions.SessionInfo`
    (``short_date``: month, day and time only, for narrow screens)."""
    import time as _time

    return {
        "mark": mark,
        "started": _time.strftime("%m-%d %H:%M" if short_date else "%Y-%m-%d %H:%M",
                                  _time.localtime(info.started)),
        "program": info.program,
        "duration": fmt.duration_s(info.duration_s) if info.duration_s else "-",
        "tps": f"{info.tokens_per_s:.1f}" if info.tokens else "-",
        "size": fmt.nbytes(info.size),
        "status": info.status,
    }


#: Below this table width the browser shows dates without the year.
SESSION_SHORT_DATE_BELOW = 110


def session_column_widths(width: int) -> dict[str, int]:
    """Column widths of a browser table ``width`` cells wide (the program column takes
    what the others leave)."""
    widths = {c.key: c.width for c in SESSION_COLUMNS}
    if width < SESSION_SHORT_DATE_BELOW:
        widths["started"] = 11
    fixed = sum(w + COLUMN_PADDING for w in widths.values() if w)
    widths["program"] = max(8, width - fixed - COLUMN_PADDING)
    return widths


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class CompareRow:
    """One line of the compare screen (texts as ``zlprof diff`` prints them)."""

    key: str
    label: str
    cells: tuple[str, ...]
    #: slower | faster | same (not significant, too few samples) | only (in one session)
    tone: str
    verdict: str


COMPARE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("n_a", "n A", 7),
    ("n_b", "n B", 7),
    ("med_a", "p50 A", 7),
    ("med_b", "p50 B", 7),
    ("median", "Δp50", 8),
    ("p95", "Δp95", 8),
    ("p99", "Δp99", 8),
    ("mean", "Δmean", 8),
    ("p", "q", 6),
    ("verdict", "verdict", 15),
)
#: The order in which compare columns are dropped when the screen is narrow.
COMPARE_DROP = ("n_a", "n_b", "mean", "p99", "med_a", "med_b", "p95")


def compare_rows(result: Any, order: str = "program") -> list[CompareRow]:
    """The rows of a :class:`zlprof.diff.DiffResult` for the compare screen.

    ``order``: "program" (as ``zlprof diff`` lists them), or "change" (the largest
    significant median changes first, then the rest by change).
    """
    from ..diff import METRICS, _pct, _q, _verdict

    out: list[CompareRow] = []
    for r in result.rows:
        if r.kind != "op":
            label = f"[{r.op}]"
        elif order == "change":
            label = r.op  # out of tree order: the full path
        else:
            label = "  " * r.depth + r.op.rsplit("/", 1)[-1]
        p = _q(r) + ("*" if r.samples == "histogram" else "")
        cells = (
            _count(r.a.count) if r.a else "-",
            _count(r.b.count) if r.b else "-",
            _ms(r.a.median_ms) if r.a else "-",
            _ms(r.b.median_ms) if r.b else "-",
            *(_pct(r.change.get(m)) for m in METRICS),
            p,
            _verdict(r),
        )
        if r.verdict in ("slower", "faster"):
            tone = r.verdict
        elif r.verdict.startswith("only"):
            tone = "only"
        else:
            tone = "same"
        out.append(CompareRow(f"{r.kind}:{r.op}", label, cells, tone, r.verdict))
    if order == "change":
        rank = {r.op: i for i, r in enumerate(result.rows)}

        def size(row: CompareRow, r: Any) -> tuple[int, float]:
            c = r.change.get("median")
            return (0 if r.significant else 1, -abs(c) if c is not None else 0.0)

        by_key = {f"{r.kind}:{r.op}": r for r in result.rows}
        out.sort(key=lambda row: (*size(row, by_key[row.key]), rank[by_key[row.key].op]))
    return out
