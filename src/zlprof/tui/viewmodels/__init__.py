"""View models for the app: pure functions from SessionState data to what a panel shows,
one module per view. No widgets here (everything is testable without a terminal);
statistics come from SessionState / stats.py, these modules only select, order and
format them.

* common: the ``w`` window and cell formats;  * table: the operations table;
* share: time-share bars;  * memory: the memory panel;  * drill: the drill-down;
* snapshot: requests, :func:`collect` and the rate meter;  * status: the status bar;
* facts: view settings, the crash, the roofline placement a snapshot carries;
* timeline: the replay bar;  * sessions: the session browser;  * compare: compare rows.
"""

from __future__ import annotations

from ...naming import LAYER_PART, layer_index, program_name
from ...naming import layer_key as block_key
from .common import (
    WINDOW_S,
)
from .compare import (
    COMPARE_COLUMNS,
    COMPARE_DROP,
    CompareRow,
    compare_rows,
)
from .drill import (
    STAT_FIELDS,
    ChildRow,
    DrillView,
    drill_view,
    log_edges,
    stat_text,
)
from .facts import (
    CrashView,
    RooflineShown,
    ViewSettings,
)
from .memory import (
    MemoryView,
    memory_view,
)
from .sessions import (
    SESSION_COLUMNS,
    SESSION_SHORT_DATE_BELOW,
    SessionColumn,
    session_cells,
    session_column_widths,
)
from .share import (
    ABBREVIATIONS,
    SHARE_MODES,
    ShareBar,
    path_label,
    share_bars,
    share_title,
    short_name,
    unique_short_names,
    warm_share_bars,
)
from .snapshot import (
    ROWS_REUSE_NS,
    DrillRequest,
    MainRequest,
    RateMeter,
    Snapshot,
    collect,
    reusable_rows,
    with_rate,
)
from .status import (
    StatusView,
    processes_text,
    status_view,
)
from .table import (
    COLUMN_BY_KEY,
    COLUMN_PADDING,
    COLUMNS,
    DIM,
    SORT_KEYS,
    SORT_LABELS,
    Column,
    RowView,
    TableEntry,
    TableOptions,
    build_table,
    columns_for_width,
    default_descending,
    display_cells,
    display_order,
    next_sort,
)
from .timeline import (
    TimelineView,
    clock,
    timeline_view,
)

__all__ = [
    "ABBREVIATIONS",
    "COLUMNS",
    "COLUMN_BY_KEY",
    "COLUMN_PADDING",
    "COMPARE_COLUMNS",
    "COMPARE_DROP",
    "ChildRow",
    "Column",
    "CompareRow",
    "CrashView",
    "DIM",
    "DrillRequest",
    "DrillView",
    "LAYER_PART",
    "MainRequest",
    "MemoryView",
    "ROWS_REUSE_NS",
    "RooflineShown",
    "RateMeter",
    "RowView",
    "SESSION_COLUMNS",
    "SESSION_SHORT_DATE_BELOW",
    "SHARE_MODES",
    "SORT_KEYS",
    "SORT_LABELS",
    "STAT_FIELDS",
    "SessionColumn",
    "ShareBar",
    "Snapshot",
    "StatusView",
    "TableOptions",
    "TableEntry",
    "TimelineView",
    "ViewSettings",
    "WINDOW_S",
    "block_key",
    "build_table",
    "clock",
    "collect",
    "columns_for_width",
    "compare_rows",
    "default_descending",
    "display_cells",
    "drill_view",
    "layer_index",
    "log_edges",
    "memory_view",
    "next_sort",
    "path_label",
    "display_order",
    "processes_text",
    "program_name",
    "reusable_rows",
    "session_cells",
    "session_column_widths",
    "share_bars",
    "warm_share_bars",
    "share_title",
    "short_name",
    "stat_text",
    "status_view",
    "timeline_view",
    "unique_short_names",
    "with_rate",
]
