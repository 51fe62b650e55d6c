"""Which report a format names, and the report ``zlprof report`` / ``record`` print."""

from __future__ import annotations

from ..session import SessionState
from .structured import csv_report, json_report, markdown_report
from .text import summary_report, text_report

REPORTS = {"text": summary_report, "json": json_report, "csv": csv_report, "markdown": markdown_report}


def render_report(
    state: SessionState,
    format: str = "text",
    window_s: float | None = None,
    *,
    width: int | None = None,
    long: bool = False,
) -> str:
    """The report ``zlprof report`` / ``record`` print: ``width`` fits the text summary to
    a terminal; ``long`` is the seed's per-op layout."""
    if format == "text":
        if long:
            return text_report(state, window_s)
        return summary_report(state, window_s, width)
    return REPORTS[format](state, window_s)

