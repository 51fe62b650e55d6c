"""The structured reports: JSON (schema ``zlprof.report/1``), CSV and Markdown.

Each reads SessionState (a window of it when ``window_s`` is given); the text summary is
in :mod:`.text`, the format dispatch (``REPORTS``, ``render_report``) in :mod:`.render`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np

from .. import fmt, rates
from ..session import OpRow, SessionState, View
from ..stats import PERCENTILE_NOTE
from .text import header_lines

JSON_SCHEMA = "zlprof.report/1"

OP_FIELDS = (
    "count",
    "total_ms",
    "share",
    "min_ms",
    "max_ms",
    "avg_ms",
    "median_ms",
    "p95_ms",
    "p99_ms",
    "std_ms",
    "mem_allocated_bytes",
    "mem_peak_bytes",
)


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v



def session_dict(state: SessionState) -> dict[str, Any]:
    s = state.summary()
    d = {k: _clean(v) for k, v in s.items()}
    d["rates"] = {
        r.key: {k: _clean(v) for k, v in r.as_dict().items()} for r in rates.session_rates(state)
    }
    return d



def op_dict(r: OpRow) -> dict[str, Any]:
    st = r.stats
    d = {f: _clean(getattr(st, f)) for f in OP_FIELDS}
    d["self_ms"] = _clean(r.self_ms)
    d["parent"] = r.parent or None
    d["estimator"] = st.estimator
    if r.cost_calls:
        d["flops"] = r.flops
        d["bytes"] = r.nbytes
    return d


def process_dicts(state: SessionState, window_s: float | None = None) -> list[dict[str, Any]]:
    """Every measuring process: pid, parent, command, start method, end, and its ops
    (and each of its threads' ops)."""
    out = []
    for r in state.process_rows():
        p = state.processes[r.stream]
        threads = []
        for _s, tid in state.thread_keys(View(r.stream)):
            threads.append({
                "tid": tid,
                "name": p.threads.get(tid, ""),
                "ops": {o.full: op_dict(o) for o in state.op_rows(window_s, View(r.stream, tid))},
            })
        out.append({
            "stream": r.stream,
            "pid": r.pid,
            "ppid": r.ppid,
            "argv": list(p.argv),
            "start": r.start,
            "state": r.state,
            "status": r.status,
            "reason": p.reason,
            "measurements": r.measurements,
            "share": _clean(r.share),
            "ops": {o.full: op_dict(o) for o in state.op_rows(window_s, View(r.stream))},
            "threads": threads,
        })
    return out


def json_report(state: SessionState, window_s: float | None = None) -> str:
    rows = state.op_rows(window_s)
    doc = {
        "schema": JSON_SCHEMA,
        "session": session_dict(state),
        "statistics": PERCENTILE_NOTE,
        "shares": SHARE_NOTE,
        "ops": {r.full: op_dict(r) for r in rows},
        "processes": process_dicts(state, window_s),
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


#: What ``share`` and the self share divide by (SessionState.thread_wall_ns).
SHARE_NOTE = "shares of the summed wall time of the threads that measured (of the view)"

#: scope: "tree" (every process and thread merged: pid and tid empty), "process" (pid),
#: "thread" (pid and tid)
CSV_COLUMNS = ("op", "parent", *OP_FIELDS, "self_ms", "estimator", "scope", "pid", "tid")


def csv_report(state: SessionState, window_s: float | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def rows(view: View, scope: str, pid: Any, tid: Any) -> None:
        for r in state.op_rows(window_s, view):
            d = op_dict(r)
            w.writerow([r.full, r.parent, *[d[f] for f in OP_FIELDS], d["self_ms"],
                        d["estimator"], scope, pid, tid])

    rows(View(), "tree", "", "")
    for p in state.process_rows():
        rows(View(p.stream), "process", p.pid, "")
        for _s, tid in state.thread_keys(View(p.stream)):
            rows(View(p.stream, tid), "thread", p.pid, tid)
    return buf.getvalue()


def md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: ``|`` and ``\\`` escaped, no newlines."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_report(state: SessionState, window_s: float | None = None) -> str:
    rows = state.op_rows(window_s)
    out = ["# zlprof report", ""]
    out += [f"- {md_escape(line)}" for line in header_lines(state, rows)]
    out += [
        "",
        "| op | count | total ms | share | min | avg | median | p95 | p99 | max | std |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        st = r.stats
        name = "&nbsp;&nbsp;" * r.depth + md_escape(r.name)
        out.append(
            f"| {name} | {st.count} | {fmt.ms(st.total_ms)} | {fmt.pct(st.share)} | "
            f"{fmt.ms(st.min_ms)} | {fmt.ms(st.avg_ms)} | {fmt.ms(st.median_ms)} | "
            f"{fmt.ms(st.p95_ms)} | {fmt.ms(st.p99_ms)} | {fmt.ms(st.max_ms)} | "
            f"{fmt.ms(st.std_ms)} |"
        )
    out.append("")
    out.append("Durations in milliseconds.")
    return "\n".join(out) + "\n"
