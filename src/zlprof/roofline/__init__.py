"""The cache-aware roofline: machine peaks per memory level, placement, chart and report.

Modules: ``caches`` (the machine's cache description), ``peaks`` (MachinePeaks, the
cached peaks file), ``calibration`` (measuring them; ``get_peaks``), ``placement`` (each
op's level, roof and bound), ``chart`` (the text chart), ``report`` (table, text, JSON).
The op cost formulas live in :mod:`zlprof.workload.costs` (the profiled child imports
them without any UI code) and are re-exported here.
"""

from __future__ import annotations

from ..workload.costs import (
    OpCost,
    attention_scores_cost,
    attention_values_cost,
    embedding_cost,
    matmul_cost,
    rmsnorm_cost,
    softmax_cost,
)
from .caches import CacheDescription, CacheLevel, machine_caches, parse_cache_tree
from .calibration import Progress, calibrate, get_peaks
from .chart import (
    DEFAULT_STYLES,
    STYLE_ABOVE,
    STYLE_HIGHLIGHT,
    render_roofline,
    roof_groups,
)
from .numbers import fmt_num
from .peaks import (
    CACHE_SCHEMA,
    DRAM,
    MachinePeaks,
    MemoryLevel,
    PeaksUnavailable,
    blas_info,
    default_array_mb,
    last_level_cache_bytes,
    load_cached_peaks,
    machine_identity,
    machine_key,
    peaks_cache_path,
    save_peaks,
)
from .placement import (
    ABOVE_ROOF_TOLERANCE,
    RooflinePoint,
    StreamSummary,
    choose_level,
    find_point,
    group_key,
    id_char,
    place,
    roof_finding,
    stream_summary,
)
from .report import (
    DROP_ORDER,
    TABLE_COLUMNS,
    fitted_table,
    peaks_report,
    roofline_json,
    roofline_rows,
    roofline_table,
    roofline_text_report,
    table_lines,
)

__all__ = [
    "ABOVE_ROOF_TOLERANCE",
    "CACHE_SCHEMA",
    "DEFAULT_STYLES",
    "DRAM",
    "DROP_ORDER",
    "STYLE_ABOVE",
    "STYLE_HIGHLIGHT",
    "TABLE_COLUMNS",
    "CacheDescription",
    "CacheLevel",
    "MachinePeaks",
    "MemoryLevel",
    "OpCost",
    "PeaksUnavailable",
    "Progress",
    "RooflinePoint",
    "StreamSummary",
    "attention_scores_cost",
    "attention_values_cost",
    "blas_info",
    "calibrate",
    "choose_level",
    "default_array_mb",
    "embedding_cost",
    "find_point",
    "fitted_table",
    "fmt_num",
    "get_peaks",
    "group_key",
    "id_char",
    "last_level_cache_bytes",
    "load_cached_peaks",
    "machine_caches",
    "machine_identity",
    "machine_key",
    "matmul_cost",
    "parse_cache_tree",
    "peaks_cache_path",
    "peaks_report",
    "place",
    "render_roofline",
    "rmsnorm_cost",
    "roof_finding",
    "roof_groups",
    "roofline_json",
    "roofline_rows",
    "roofline_table",
    "roofline_text_report",
    "save_peaks",
    "softmax_cost",
    "stream_summary",
    "table_lines",
]
