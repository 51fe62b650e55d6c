"""The text reports: the summary ``zlprof report`` prints, and the seed's long layout.

:func:`summary_report` (the run in a paragraph, a table row per op that fits the
terminal, the process tree, the hints), :func:`text_report` (the seed's 13-line block per
op) and the header lines the Markdown report shares. JSON/CSV/Markdown are in
:mod:`.structured`, exports from frames in :mod:`.export`.
"""

from __future__ import annotations

import time

from .. import fmt, rates
from ..session import OpRow, ProcessRow, SessionState, View
from ..stats import PERCENTILE_NOTE, PerformanceStats
from ..textwidth import Column, render_table, wrap


def estimator_note(rows: list[OpRow]) -> str:
    hist = [r.full for r in rows if r.stats.estimator == "histogram"]
    if not hist:
        return "all percentiles exact"
    return (
        f"{len(hist)} op(s) past the exact-sample limit (per op or per session) use a "
        "log-bucket histogram "
        "(<= 0.1 % relative error)"
    )



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
        status = f"status {s['end_status']}"
        bits.append(f"and {how}" + ("" if status in how else f" ({status})"))
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
