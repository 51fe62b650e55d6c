"""Reports of a session: text, JSON, CSV, Markdown; Chrome-trace export.

The text report (:func:`summary_report`, what ``zlprof report`` and ``zlprof record``
print) is a summary: the run in one paragraph, one table row per op, then the hints. Its
table fits the terminal (:mod:`zlprof.textwidth`); piped, it is never cut (full op paths,
one row a line). The seed's layout, a 13-line block per op, is :func:`text_report`
(``--long``, and ``Profiler.report()``).

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

from .. import fmt, rates
from ..protocol import Frame
from ..session import OpRow, ProcessRow, SessionState, View
from ..stats import PERCENTILE_NOTE, PerformanceStats
from ..textwidth import Column, render_table, wrap

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
    d = {k: _clean(v) for k, v in s.items()}
    d["rates"] = {
        r.key: {k: _clean(v) for k, v in r.as_dict().items()} for r in rates.session_rates(state)
    }
    return d


def rates_text(state: SessionState) -> str:
    """``370.4 tok/s decode (decode tokens / decode time), ...``: every rate, labelled."""
    return ", ".join(r.text() for r in rates.session_rates(state) if r.count)


def header_lines(state: SessionState, rows: list[OpRow]) -> list[str]:
    s = state.summary()
    lines = []
    from ..sessions import program_name

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
            f"Tokens: {s['tokens']:,}" + (f"   {'   '.join(extra)} (medians)" if extra else "")
        )
        lines.append(f"Throughput: {rates_text(state)}")
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


def run_paragraph(state: SessionState, rows: list[OpRow]) -> str:
    """The run in one paragraph: program, when, how long, how it ended, tokens and every
    rate (labelled with what it divides), latencies, measurements, peak memory."""
    from ..sessions import program_name

    s = state.summary()
    prog = program_name(s["argv"]) if s["argv"] else "(unknown program)"
    bits = [f"{prog} ran {fmt.duration_s(s['elapsed_s'])}"]
    if s["wall_time"]:
        bits.append(
            "from " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s["wall_time"]))
        )
    if s["end_status"] is not None:
        how = s["end_reason"] or "ended"
        bits.append(f"and {how} (status {s['end_status']})")
    else:
        bits.append("and has not ended (no end frame)")
    text = " ".join(bits) + "."
    if s["tokens"]:
        n_req = state.ttft.count
        req = f" in {n_req:,} request{'s' if n_req != 1 else ''}" if n_req else ""
        text += f" It generated {s['tokens']:,} output tokens{req}: {rates_text(state)}."
        lat = []
        if s["ttft_ms"] is not None:
            lat.append(f"time to first token {fmt.ms(s['ttft_ms'])} ms")
        if s["tpot_ms"] is not None:
            lat.append(f"time per output token {fmt.ms(s['tpot_ms'])} ms")
        if lat:
            text += " Medians: " + ", ".join(lat) + "."
    text += f" {s['measurements']:,} measurements of {len(rows):,} ops"
    if s["peak_rss_bytes"]:
        text += f"; peak RSS {fmt.nbytes(s['peak_rss_bytes'])}"
    return text + "."


#: the summary table's columns: (header, drop order when too wide; None = never dropped)
SUMMARY_COLUMNS = (
    Column("op", align="left", cut="end", min_width=24),
    Column("count", drop=3),
    Column("total ms", drop=4),
    Column("share"),
    Column("p50 ms"),
    Column("p95 ms", drop=5),
    Column("p99 ms", drop=2),
    Column("memory", drop=1),
)


def op_label(r: OpRow, full: bool) -> str:
    """An op as a table shows it: its full path (piped output, so it greps) or, fitted to
    a terminal, its name indented by its depth in the call tree."""
    return r.full if full else "  " * r.depth + r.name


def summary_table(rows: list[OpRow], width: int | None) -> list[str]:
    """One row per op (count, total, share, p50, p95, p99, memory), fitted to ``width``."""
    hist = False
    body = []
    for r in rows:
        st = r.stats
        mark = ""
        if st.estimator == "histogram":
            mark, hist = "*", True
        mem = st.mem_allocated_bytes or st.mem_peak_bytes
        body.append([
            op_label(r, width is None),
            f"{st.count:,}",
            fmt.ms(st.total_ms),
            fmt.pct(st.share),
            fmt.ms(st.median_ms) + mark,
            fmt.ms(st.p95_ms) + mark,
            fmt.ms(st.p99_ms) + mark,
            fmt.nbytes(st.mem_allocated_bytes) if mem else "-",
        ])
    table = render_table(SUMMARY_COLUMNS, body, width)
    out = table.lines
    notes = [
        "share: of wall time (several threads or processes: of their summed wall time); "
        "memory: bytes the op allocated (sum of its RSS growth)",
    ]
    if hist:
        notes.append("* percentile from the bounded log-bucket histogram (<= 0.1 % error)")
    note = table.note(width)
    if note:
        notes.append(note)
    for n in notes:
        out += wrap(n, width)
    return out


def hint_lines(state: SessionState, width: int | None) -> list[str]:
    """The bottleneck hints (diagnose.py), most severe first; the rules without enough
    data in one line."""
    from ..diagnose import diagnose

    hints = diagnose(state)
    out: list[str] = []
    short = []
    for h in hints:
        if h.data.get("not_enough_data"):
            short.append(h.title.removesuffix(": not enough data"))
            continue
        out += wrap(f"[{h.severity}] {h.title}", width, "", "  ")
        out += wrap(h.evidence, width, "  ")
        out += wrap("-> " + h.suggestion, width, "  ", "     ")
    if short:
        out += wrap("Not enough data yet for: " + "; ".join(short) + ".", width)
    return out


def finding_lines(state: SessionState, rows: list[OpRow]) -> str:
    """The headline (headline.py) with the roofline's verdict on the repeating block when
    this machine's peaks are cached (a report never measures them)."""
    from ..headline import headline
    from ..roofline import load_cached_peaks, roof_finding, stream_summary

    peaks = None
    try:
        peaks = load_cached_peaks()
    except Exception:  # an unreadable cache file: the report goes on without a roof
        peaks = None
    roof = roof_finding(rows, peaks) if peaks is not None else None
    text = headline(rows, state.thread_wall_ns(), roof).text
    if peaks is not None:
        s = stream_summary(rows, peaks)
        if s is not None:
            text += f". {s.text()}"
    return text + "."


def summary_report(
    state: SessionState, window_s: float | None = None, width: int | None = None
) -> str:
    """The text report: the run in a paragraph, a table row per op, then the hints.

    ``width``: the terminal's columns (the table fits them: names abbreviated, then
    columns left out in the order of ``SUMMARY_COLUMNS``' ``drop``); None (piped): no
    line is cut, ops by their full path, one row a line.
    """
    rows = state.op_rows(window_s)
    out = wrap(run_paragraph(state, rows), width)
    out += wrap("Where the time goes: " + finding_lines(state, rows), width, "", "  ")
    s = state.summary()
    for w in s["warnings"]:
        out += wrap(f"WARNING: {w}", width, "", "  ")
    out.append("")
    scope = "" if window_s is None else f" (last {window_s:g} s)"
    if rows:
        out += wrap(f"Per op{scope}, in call-tree order:", width)
        out += summary_table(rows, width)
        out += wrap(f"Statistics: {PERCENTILE_NOTE}; {estimator_note(rows)}.", width)
    else:
        out.append("No measurements.")
    procs = process_lines(state)
    if procs:
        out += ["", *procs]
    hints = hint_lines(state, width)
    if hints:
        out += ["", "Hints:", *hints]
    return "\n".join(out) + "\n"


def process_lines(state: SessionState) -> list[str]:
    """The process tree, when more than one process (or thread) measured: a line per
    process (pid, how it started, how it ended, measurements, share) and, for a process
    with several threads, a line per thread. Empty for one process with one thread."""
    rows = state.process_rows()
    if len(rows) <= 1 and len(state.thread_keys()) <= 1:
        return []
    out = [f"Processes ({len(rows)}), share: {PROCESS_SHARE_NOTE}:"]
    for r in rows:
        out.append(
            f"{'  ' * (r.depth + 1)}pid {r.pid} ({r.start or '?'}) {r.label}: "
            f"{r.measurements:,} measurements, {fmt.pct(r.share)}"
            + (f", {r.threads} threads" if r.threads > 1 else "")
            + f"  {_command(r)}"
        )
        if r.threads > 1:
            names = state.processes[r.stream].threads
            for _s, tid in state.thread_keys(View(r.stream)):
                n = sum(row.stats.count for row in state.op_rows(view=View(r.stream, tid)))
                out.append(f"{'  ' * (r.depth + 2)}thread {tid} {names.get(tid, '')}: "
                           f"{n:,} measurements")
    return out


#: What a process's share is (one definition, shown wherever the share is).
PROCESS_SHARE_NOTE = "its top-level blocks' time / summed wall time of the measuring threads"


def _command(r: ProcessRow) -> str:
    from ..sessions import program_name

    return program_name(r.command.split()) if r.command else "?"


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


REPORTS = {"text": summary_report, "json": json_report, "csv": csv_report, "markdown": markdown_report}


# --------------------------------------------------------------------------- exports


def _paths_from(frames: Iterable[Frame]) -> dict[tuple[int, int], str]:
    """(stream, path id) -> full path: every process names its own paths."""
    names: dict[tuple[int, int], tuple[int, str]] = {}
    for fr in frames:
        if fr.kind == "names":
            for pid, parent, name in fr.body["paths"]:
                names[(fr.stream, pid)] = (parent, name)
    full: dict[tuple[int, int], str] = {}

    def resolve(key: tuple[int, int]) -> str:
        if key in full:
            return full[key]
        parts = []
        seen = set()
        stream, p = key
        while p > 0 and (stream, p) in names and p not in seen:
            seen.add(p)
            parent, name = names[(stream, p)]
            parts.append(name)
            p = parent
        full[key] = "/".join(reversed(parts)) or f"#{key[1]}"
        return full[key]

    for key in names:
        resolve(key)
    return full


def _pids_from(frames: Iterable[Frame]) -> dict[int, dict[str, Any]]:
    """stream -> its hello (pid, argv, start_ns, ...)."""
    out: dict[int, dict[str, Any]] = {}
    for fr in frames:
        if fr.kind == "hello" and fr.stream not in out:
            out[fr.stream] = fr.body
    return out


def chrome_trace(frames: list[Frame]) -> dict[str, Any]:
    """Chrome Trace Event JSON: an ``X`` event per measurement, counters for memory; one
    process track per pid (named by its command), one named thread track per thread.

    Opens in Perfetto (ui.perfetto.dev) and chrome://tracing. Times in microseconds from
    the session start (every process's clock is the machine's monotonic clock).
    """
    from ..sessions import program_name

    full = _paths_from(frames)
    hellos = _pids_from(frames)
    origin = None
    if hellos:
        origin = min(int(h["start_ns"]) for h in hellos.values())
    pid_of = {s: int(h["pid"]) for s, h in hellos.items()}
    events: list[dict[str, Any]] = []
    for s, h in sorted(hellos.items()):
        argv = [str(a) for a in h.get("argv") or []]
        events.append({"name": "process_name", "ph": "M", "pid": pid_of[s],
                       "args": {"name": f"{program_name(argv) if argv else 'process'} "
                                        f"(pid {pid_of[s]})"}})
    thread_names: dict[tuple[int, int], str] = {}
    tids: set[tuple[int, int]] = set()
    for fr in frames:
        b = fr.body
        pid = pid_of.get(fr.stream, 1)
        if fr.kind == "threads":
            for tid, name in b["rows"]:
                thread_names[(pid, int(tid) & 0x7FFFFFFF)] = str(name)
        elif fr.kind == "meas":
            if origin is None and b["n"]:
                origin = int(b["t0"].min())
            o = origin or 0
            tid = int(b["tid"]) & 0x7FFFFFFF
            tids.add((pid, tid))
            ts = (b["t0"] - o) / 1000.0
            dur = (b["t1"] - b["t0"]) / 1000.0
            for p, t, d in zip(b["path"].tolist(), ts.tolist(), dur.tolist(), strict=True):
                name = full.get((fr.stream, p), f"#{p}")
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
    for pid, tid in sorted(tids):
        name = thread_names.get((pid, tid)) or f"thread {tid}"
        events.append(
            {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
             "args": {"name": f"{name} ({tid})"}}
        )
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def measurements_csv(frames: list[Frame], out: io.TextIOBase) -> int:
    """One row per measurement: op, thread, start/end/duration (ns), memory, process."""
    full = _paths_from(frames)
    pid_of = {s: int(h["pid"]) for s, h in _pids_from(frames).items()}
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["op", "thread", "start_ns", "end_ns", "duration_ns", "mem_start", "mem_end",
                "pid"])
    n = 0
    for fr in frames:
        if fr.kind != "meas":
            continue
        b = fr.body
        tid = int(b["tid"])
        pid = pid_of.get(fr.stream, "")
        m0 = b.get("m0")
        m1 = b.get("m1")
        cols = [b["path"].tolist(), b["t0"].tolist(), b["t1"].tolist()]
        mem0 = m0.tolist() if m0 is not None else [None] * b["n"]
        mem1 = m1.tolist() if m1 is not None else [None] * b["n"]
        for p, t0, t1, a, c in zip(*cols, mem0, mem1, strict=True):
            w.writerow(
                [
                    full.get((fr.stream, p), f"#{p}"),
                    tid,
                    t0,
                    t1,
                    t1 - t0,
                    "" if a is None or a < 0 else a,
                    "" if c is None or c < 0 else c,
                    pid,
                ]
            )
            n += 1
    return n
