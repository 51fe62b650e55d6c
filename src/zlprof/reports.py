"""Reports of a session: text (the seed's layout), JSON, CSV, Markdown; Chrome-trace export.

Reports read SessionState; exports that need every single measurement (Chrome trace,
per-measurement CSV) read the recording's frames directly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import fmt
from .protocol import Frame
from .session import OpRow, SessionState
from .stats import PERCENTILE_NOTE, PerformanceStats

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


def estimator_note(rows: list[OpRow]) -> str:
    hist = [r.full for r in rows if r.stats.estimator == "histogram"]
    if not hist:
        return "all percentiles exact"
    return (
        f"{len(hist)} op(s) past the exact-sample limit use a log-bucket histogram "
        "(<= 0.1 % relative error)"
    )


def session_dict(state: SessionState) -> dict[str, Any]:
    s = state.summary()
    return {k: _clean(v) for k, v in s.items()}


def header_lines(state: SessionState, rows: list[OpRow]) -> list[str]:
    s = state.summary()
    lines = []
    from .sessions import program_name

    argv = program_name(s["argv"]) if s["argv"] else "(unknown program)"
    lines.append(f"Program: {argv}")
    if s["wall_time"]:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["wall_time"]))
        lines.append(f"Started: {started}   Duration: {fmt.duration_s(s['elapsed_s'])}")
    else:
        lines.append(f"Duration: {fmt.duration_s(s['elapsed_s'])}")
    lines.append(f"Measurements: {s['measurements']:,}")
    if s["tokens"]:
        extra = []
        if s["ttft_ms"] is not None:
            extra.append(f"TTFT {fmt.ms(s['ttft_ms'])} ms")
        if s["tpot_ms"] is not None:
            extra.append(f"TPOT {fmt.ms(s['tpot_ms'])} ms")
        lines.append(
            f"Tokens: {s['tokens']:,} ({s['tokens_per_s']:.1f} tok/s)"
            + (f"   {'   '.join(extra)} (medians)" if extra else "")
        )
    if s["peak_rss_bytes"]:
        lines.append(f"Peak RSS: {fmt.nbytes(s['peak_rss_bytes'])}")
    if s["end_status"] is not None:
        lines.append(f"Exit: {s['end_status']} ({s['end_reason']})")
    lines.append(f"Statistics: {PERCENTILE_NOTE}; {estimator_note(rows)}")
    for w in s["warnings"]:
        lines.append(f"WARNING: {w}")
    return lines


def _stats_block(st: PerformanceStats, indent: str = "  ") -> list[str]:
    lines = [
        f"{indent}Measurements: {st.count}",
        f"{indent}Share of wall time: {fmt.pct(st.share)}",
        f"{indent}Duration (ms):",
        f"{indent}  Total: {fmt.ms(st.total_ms)}",
        f"{indent}  Min: {fmt.ms(st.min_ms)}",
        f"{indent}  Max: {fmt.ms(st.max_ms)}",
        f"{indent}  Avg: {fmt.ms(st.avg_ms)}",
        f"{indent}  Median: {fmt.ms(st.median_ms)}",
        f"{indent}  P95: {fmt.ms(st.p95_ms)}",
        f"{indent}  P99: {fmt.ms(st.p99_ms)}",
        f"{indent}  Std Dev: {fmt.ms(st.std_ms)}",
    ]
    if st.estimator == "histogram":
        lines.append(f"{indent}  (percentiles from the bounded histogram)")
    if st.mem_allocated_bytes or st.mem_peak_bytes:
        lines += [
            f"{indent}Memory:",
            f"{indent}  Total allocated: {st.mem_allocated_bytes} bytes",
            f"{indent}  Peak usage: {st.mem_peak_bytes} bytes",
        ]
    return lines


def text_report(state: SessionState, window_s: float | None = None) -> str:
    """The seed's report layout, one block per operation, in call-tree order."""
    rows = state.op_rows(window_s)
    out = ["=== Performance Profile Report ==="]
    out += header_lines(state, rows)
    if not rows:
        out += ["", "No measurements."]
    for r in rows:
        out.append("")
        out.append(f"Operation: {r.full}")
        out += _stats_block(r.stats)
    return "\n".join(out) + "\n"


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


def json_report(state: SessionState, window_s: float | None = None) -> str:
    rows = state.op_rows(window_s)
    doc = {
        "schema": JSON_SCHEMA,
        "session": session_dict(state),
        "statistics": PERCENTILE_NOTE,
        "ops": {r.full: op_dict(r) for r in rows},
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


CSV_COLUMNS = ("op", "parent", *OP_FIELDS, "self_ms", "estimator")


def csv_report(state: SessionState, window_s: float | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in state.op_rows(window_s):
        d = op_dict(r)
        w.writerow([r.full, r.parent, *[d[f] for f in OP_FIELDS], d["self_ms"], d["estimator"]])
    return buf.getvalue()


def markdown_report(state: SessionState, window_s: float | None = None) -> str:
    rows = state.op_rows(window_s)
    out = ["# zlprof report", ""]
    out += [f"- {line}" for line in header_lines(state, rows)]
    out += [
        "",
        "| op | count | total ms | share | min | avg | median | p95 | p99 | max | std |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        st = r.stats
        name = "&nbsp;&nbsp;" * r.depth + r.name
        out.append(
            f"| {name} | {st.count} | {fmt.ms(st.total_ms)} | {fmt.pct(st.share)} | "
            f"{fmt.ms(st.min_ms)} | {fmt.ms(st.avg_ms)} | {fmt.ms(st.median_ms)} | "
            f"{fmt.ms(st.p95_ms)} | {fmt.ms(st.p99_ms)} | {fmt.ms(st.max_ms)} | "
            f"{fmt.ms(st.std_ms)} |"
        )
    out.append("")
    out.append("Durations in milliseconds.")
    return "\n".join(out) + "\n"


REPORTS = {"text": text_report, "json": json_report, "csv": csv_report, "markdown": markdown_report}


# --------------------------------------------------------------------------- exports


def _paths_from(frames: Iterable[Frame]) -> dict[int, str]:
    names: dict[int, tuple[int, str]] = {}
    for fr in frames:
        if fr.kind == "names":
            for pid, parent, name in fr.body["paths"]:
                names[pid] = (parent, name)
    full: dict[int, str] = {}

    def resolve(pid: int) -> str:
        if pid in full:
            return full[pid]
        parts = []
        seen = set()
        p = pid
        while p > 0 and p in names and p not in seen:
            seen.add(p)
            parent, name = names[p]
            parts.append(name)
            p = parent
        full[pid] = "/".join(reversed(parts)) or f"#{pid}"
        return full[pid]

    for pid in names:
        resolve(pid)
    return full


def chrome_trace(frames: list[Frame]) -> dict[str, Any]:
    """Chrome Trace Event JSON: an ``X`` event per measurement, counters for memory.

    Opens in Perfetto (ui.perfetto.dev) and chrome://tracing. Times in microseconds from
    the session start.
    """
    full = _paths_from(frames)
    origin = None
    pid = 1
    for fr in frames:
        if fr.kind == "hello":
            origin = int(fr.body["start_ns"])
            pid = int(fr.body["pid"])
            break
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": pid, "args": {"name": "zlprof child"}}
    ]
    tids: set[int] = set()
    for fr in frames:
        b = fr.body
        if fr.kind == "meas":
            if origin is None and b["n"]:
                origin = int(b["t0"].min())
            o = origin or 0
            tid = int(b["tid"]) & 0x7FFFFFFF
            tids.add(tid)
            ts = (b["t0"] - o) / 1000.0
            dur = (b["t1"] - b["t0"]) / 1000.0
            for p, t, d in zip(b["path"].tolist(), ts.tolist(), dur.tolist(), strict=True):
                name = full.get(p, f"#{p}")
                events.append(
                    {
                        "name": name.rsplit("/", 1)[-1],
                        "cat": name.split("/", 1)[0],
                        "ph": "X",
                        "pid": pid,
                        "tid": tid,
                        "ts": t,
                        "dur": d,
                        "args": {"path": name},
                    }
                )
        elif fr.kind == "mem":
            o = origin or (int(b["t"][0]) if len(b["t"]) else 0)
            for i, t in enumerate(b["t"].tolist()):
                args = {"rss": int(b["rss"][i])}
                if b["traced"][i] >= 0:
                    args["traced"] = int(b["traced"][i])
                for g, col in b["gauges"].items():
                    if col[i] >= 0:
                        args[g] = int(col[i])
                events.append(
                    {"name": "memory", "ph": "C", "pid": pid, "ts": (t - o) / 1000.0, "args": args}
                )
        elif fr.kind == "tokens":
            o = origin or 0
            for t, req, index, phase, _piece in b["rows"]:
                if phase in ("prefill", "decode"):
                    events.append(
                        {
                            "name": f"token {index}",
                            "ph": "i",
                            "s": "p",
                            "pid": pid,
                            "tid": 0,
                            "ts": (t - o) / 1000.0,
                            "args": {"request": req, "phase": phase},
                        }
                    )
    for tid in sorted(tids):
        events.append(
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": {"name": f"thread {tid}"}}
        )
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def measurements_csv(frames: list[Frame], out: io.TextIOBase) -> int:
    """One row per measurement: op, parent, thread, start/end/duration (ns), memory."""
    full = _paths_from(frames)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["op", "thread", "start_ns", "end_ns", "duration_ns", "mem_start", "mem_end"])
    n = 0
    for fr in frames:
        if fr.kind != "meas":
            continue
        b = fr.body
        tid = int(b["tid"])
        m0 = b.get("m0")
        m1 = b.get("m1")
        cols = [b["path"].tolist(), b["t0"].tolist(), b["t1"].tolist()]
        mem0 = m0.tolist() if m0 is not None else [None] * b["n"]
        mem1 = m1.tolist() if m1 is not None else [None] * b["n"]
        for p, t0, t1, a, c in zip(*cols, mem0, mem1, strict=True):
            w.writerow(
                [
                    full.get(p, f"#{p}"),
                    tid,
                    t0,
                    t1,
                    t1 - t0,
                    "" if a is None or a < 0 else a,
                    "" if c is None or c < 0 else c,
                ]
            )
            n += 1
    return n
