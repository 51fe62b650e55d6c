"""The roofline as a table, text report and JSON (``zlprof roofline [PATH]``).

The table sizes itself to the width it is given: when the full table is wider, columns
are dropped and names shortened in the order of :data:`FIT_STEPS` (least useful first);
numbers are never cut. Without a width (output piped or redirected)
nothing is dropped or wrapped: full op names, one row a line, so grep finds them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.table import Table

from .. import fmt
from ..textwidth import Column, render_table, wrap
from ..textwidth import Table as TextTable
from .chart import STYLE_ABOVE, STYLE_HIGHLIGHT, render_roofline
from .numbers import fmt_num
from .peaks import MachinePeaks, peaks_cache_path
from .placement import RooflinePoint, find_point, place, stream_summary

TABLE_COLUMNS = (
    "#",
    "op",
    "calls",
    "time ms",
    "GFLOP",
    "MB",
    "FLOP/B",
    "GFLOP/s",
    "GB/s",
    "level",
    "roof GFLOP/s",
    "% roof",
    "bound",
    "why level",
)
#: columns dropped, in this order, while the table is wider than the terminal
DROP_ORDER = ("why level", "GFLOP", "MB", "calls", "roof GFLOP/s", "GB/s", "time ms")
_LEFT = {"#", "op", "level", "bound", "why level"}


def roofline_rows(points: Sequence[RooflinePoint]) -> list[tuple[str, ...]]:
    """The table as strings, one tuple per point, in :data:`TABLE_COLUMNS` order."""
    out: list[tuple[str, ...]] = []
    for p in points:
        out.append(
            (
                p.marker,
                p.key,
                str(p.calls),
                fmt_num(p.time_ms),
                fmt_num(p.flops / 1e9),
                fmt_num(p.nbytes / 1e6),
                fmt_num(p.intensity),
                fmt_num(p.gflops),
                fmt_num(p.gbps),
                p.level,
                fmt_num(p.attainable) if p.flops else "-",
                f"{p.roof_share * 100:.0f}%",
                p.bound + (" !" if p.above_roof else ""),
                p.level_reason,
            )
        )
    return out


def fitted_table(points: Sequence[RooflinePoint], width: int | None = None) -> TextTable:
    """The table laid out in ``width`` cells (None: every column, full names: piped)."""
    columns = [
        Column(
            c,
            align="left" if c in _LEFT else "right",
            drop=DROP_ORDER.index(c) + 1 if c in DROP_ORDER else None,
            cut="middle" if c == "op" else None,
            min_width=24,
            floor=10,
        )
        for c in TABLE_COLUMNS
    ]
    return render_table(columns, roofline_rows(points), width)


def table_lines(points: Sequence[RooflinePoint], width: int | None = None) -> list[str]:
    """The table as plain lines (header, rule, one row per point); see :func:`fitted_table`."""
    return fitted_table(points, width).lines


def roofline_table(points: Sequence[RooflinePoint], highlight: str | None = None) -> Table:
    """A rich Table of the same numbers the chart draws (ids match the chart's markers);
    points above their roof are red with ``!`` after their bound."""
    hl = find_point(points, highlight)
    t = Table(box=None, pad_edge=False, header_style="bold", expand=False)
    for c in TABLE_COLUMNS:
        t.add_column(c, justify="left" if c in _LEFT else "right", no_wrap=True)
    for p, row in zip(points, roofline_rows(points), strict=True):
        style = STYLE_HIGHLIGHT if hl is p else (STYLE_ABOVE if p.above_roof else None)
        t.add_row(*row, style=style)
    return t


def _wrap(text: str, width: int | None, indent: str = "", sub: str = "  ") -> list[str]:
    return wrap(text, width, indent, sub)


def peaks_report(peaks: MachinePeaks, width: int | None = 100) -> str:
    """The machine peaks as text (``zlprof roofline`` without a recording)."""
    lines = _wrap(f"Machine peaks: {peaks.describe()}", width)
    if peaks.levels:
        detail = [f"memory levels (cache sizes from {peaks.caches_source or '?'}):"]
        detail += ["  " + t for t in peaks.levels_text()]
    else:
        detail = ["memory levels: DRAM only (no per-level bandwidths measured)"]
    if peaks.copy_gbps == peaks.copy_gbps:
        sp = peaks.spread
        detail += [
            f"DRAM copy {fmt_num(peaks.copy_gbps)} GB/s (2 arrays counted; spread over "
            f"{peaks.reps} reps {sp.get('copy', 0):.1%}), triad {fmt_num(peaks.triad_gbps)} "
            f"GB/s (3 counted; NumPy's two passes move 5: {fmt_num(peaks.triad_moved_gbps)})",
            f"GEMM fp32 n={peaks.gemm_n}: {fmt_num(peaks.gemm_gflops)} GFLOP/s (spread "
            f"{sp.get('gemm', 0):.1%})",
            f"DRAM arrays {peaks.array_mb:.0f} MiB each (last-level cache "
            f"{fmt.nbytes(peaks.llc_bytes)}), {peaks.stream_threads} thread(s)",
        ]
    detail += [
        f"{peaks.blas or 'BLAS ?'}, {peaks.blas_threads} BLAS thread(s), NumPy "
        f"{peaks.numpy_version}; {peaks.cpu or 'CPU ?'} on {peaks.hostname or '?'}",
        f"cache: {peaks_cache_path()}",
    ]
    if peaks.stale_note:
        detail.append(peaks.stale_note)
    if peaks.busy:
        detail.append(
            f"the machine was busy when measured ({max(peaks.cpu_busy, 0):.0%} of the CPU "
            f"time in use, load {peaks.loadavg:.1f} on {peaks.cpus} CPUs): recalibrate when "
            "it is idle"
        )
    for d in detail:
        lines.extend(_wrap(d, width, "  ", "    "))
    return "\n".join(lines) + "\n"


def roofline_text_report(
    state: Any, peaks: MachinePeaks, width: int | None = 100, height: int | None = None
) -> str:
    """The chart and the table as plain text, for ``zlprof roofline PATH``.

    ``width`` None (piped output): the chart is drawn 100 wide and nothing else is
    wrapped or cut (full op names, one row a line)."""
    chart_w = max(40, int(width)) if width is not None else 100
    rows = state.op_rows()
    points = place(rows, peaks)
    lines = _wrap(f"Roofline: {peaks.describe()}", width)
    if peaks.stale_note:
        lines += _wrap(peaks.stale_note, width, "  ", "    ")
    uncosted = [r for r in rows if r.flops == 0 and r.nbytes == 0]
    if not points:
        lines.append("")
        lines += _wrap(
            "no op costs recorded: instrumented ops report them with zlprof.cost(flops, nbytes)",
            width,
        )
        return "\n".join(lines) + "\n"
    summary = stream_summary(rows, peaks)
    if summary is not None:
        lines += _wrap(summary.text(), width)
    h = height or max(20, min(40, 16 + len(points) // 2))
    chart = render_roofline(points, peaks, chart_w, h)
    lines.append("")
    lines.extend(line.rstrip() for line in chart.plain.split("\n"))
    lines.append("")
    table = fitted_table(points, width)
    lines.extend(table.lines)
    note = table.note(width)
    if note:
        lines += _wrap(note, width)
    above = [p for p in points if p.above_roof]
    lines.append("")
    by_level = ", ".join(
        f"{sum(p.level == lv.name for p in points)} at {lv.name}"
        for lv in peaks.roofs()
        if any(p.level == lv.name for p in points)
    )
    summary_line = (
        f"{len(points)} op(s) placed ({by_level}; {sum(p.bound == 'memory' for p in points)} "
        f"memory-bound, {sum(p.bound == 'compute' for p in points)} compute-bound); "
        f"{len(above)} above the roof of their level; {len(uncosted)} measured op(s) "
        "without costs"
    )
    lines += _wrap(summary_line, width)
    for p in above:
        lines += _wrap(f"{p.marker} {p.key}: {p.note}", width, "  ", "    ")
    return "\n".join(lines) + "\n"


def _num(v: float) -> float | None:
    return v if isinstance(v, int | float) and math.isfinite(v) else None


def roofline_json(state: Any, peaks: MachinePeaks) -> dict[str, Any]:
    """Everything the text report shows, as data (``zlprof roofline PATH --format json``)."""
    rows = state.op_rows()
    points = place(rows, peaks)
    summary = stream_summary(rows, peaks)
    return {
        "peaks": {
            "gflops": peaks.gflops,
            "dram_gbps": peaks.gbps,
            "source": peaks.source,
            "date": peaks.date,
            "busy": peaks.busy,
            "stale_note": peaks.stale_note,
            "levels": [
                {k: (_num(v) if isinstance(v, float) else v) for k, v in lv.to_dict().items()}
                for lv in peaks.roofs()
            ],
        },
        "stream": None
        if summary is None
        else {
            "block": summary.block,
            "calls": summary.calls,
            "bytes_per_call": summary.bytes_per_call,
            "ms_per_call": summary.ms_per_call,
            "gbps": summary.gbps,
            "level": summary.level,
            "level_gbps": summary.level_gbps,
            "share": summary.share,
            "why": summary.level_reason,
            "text": summary.text(),
        },
        "points": [
            {
                "id": p.id,
                "key": p.key,
                "paths": p.paths,
                "calls": p.calls,
                "flops": p.flops,
                "nbytes": p.nbytes,
                "time_ms": p.time_ms,
                "intensity": _num(p.intensity),
                "gflops": p.gflops,
                "gbps": p.gbps,
                "level": p.level,
                "level_gbps": p.level_gbps,
                "reuse_bytes": p.reuse_bytes,
                "why_level": p.level_reason,
                "attainable_gflops": p.attainable,
                "roof_share": p.roof_share,
                "bound": p.bound,
                "above_roof": p.above_roof,
                "note": p.note,
            }
            for p in points
        ],
    }



