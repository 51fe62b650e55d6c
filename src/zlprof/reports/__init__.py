"""Reports of a session: text, JSON, CSV, Markdown; Chrome-trace export.

The text report (:func:`summary_report`, what ``zlprof report`` and ``zlprof record``
print) is a summary: the run in one paragraph, one table row per op, then the hints. Its
table fits the terminal (:mod:`zlprof.textwidth`); piped, it is never cut (full op paths,
one row a line). The seed's layout, a 13-line block per op, is :func:`text_report`
(``--long``, and ``Profiler.report()``).

Reports read SessionState; exports that need every single measurement (Chrome trace,
per-measurement CSV) read the recording's frames directly.

The package: :mod:`.text` (summary, long layout), :mod:`.structured` (JSON, CSV,
Markdown), :mod:`.render` (format dispatch), :mod:`.export` (Chrome trace, measurements CSV).
"""

from __future__ import annotations

from .export import chrome_trace, measurements_csv
from .render import REPORTS, render_report
from .structured import (
    CSV_COLUMNS,
    JSON_SCHEMA,
    OP_FIELDS,
    SHARE_NOTE,
    csv_report,
    json_report,
    markdown_report,
    md_escape,
    op_dict,
    process_dicts,
    session_dict,
)
from .text import (
    PROCESS_SHARE_NOTE,
    SUMMARY_COLUMNS,
    estimator_note,
    finding_lines,
    header_lines,
    hint_lines,
    op_label,
    process_lines,
    rates_text,
    run_paragraph,
    summary_report,
    summary_table,
    text_report,
)

__all__ = [
    "CSV_COLUMNS", "JSON_SCHEMA", "OP_FIELDS", "PROCESS_SHARE_NOTE", "REPORTS", "SHARE_NOTE",
    "SUMMARY_COLUMNS", "chrome_trace", "csv_report", "estimator_note", "finding_lines",
    "header_lines", "hint_lines", "json_report", "markdown_report", "md_escape",
    "measurements_csv", "op_dict", "op_label", "process_dicts", "process_lines",
    "rates_text", "render_report", "run_paragraph", "session_dict", "summary_report",
    "summary_table", "text_report",
]
