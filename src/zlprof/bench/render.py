"""A bench's JSON document as text, markdown or JSON (``--format``)."""

from __future__ import annotations

import json
import math
from typing import Any

from .. import fmt


def _f(v: Any, spec: str = ".2f", none: str = "-") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return none
    return format(v, spec)


def _table_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    head = ["point", "ok", "median ms", "p95 ms", "tok/s", "req/s", "TTFT ms", "TPOT ms",
            "ITL p50 ms", "peak RSS", "eff"]
    rows = []
    for r in doc["results"]:
        st, th, mem = r["stats"], r["throughput"], r["memory"]
        n = r["runs_ok"] + r["runs_failed"]
        if not r["runs_ok"]:
            rows.append([r["name"], f"0/{n}"] + ["-"] * (len(head) - 2))
            continue
        tokens = sum(x.get("tokens") or 0 for x in r["runs"] if x.get("ok"))
        rows.append([
            r["name"],
            f"{r['runs_ok']}/{n}",
            fmt.ms(st["median_ms"]) if st["median_ms"] is not None else "-",
            fmt.ms(st["p95_ms"]) if st["p95_ms"] is not None else "-",
            _f(th["tokens_per_second"], ".1f") if tokens else "-",
            _f(th["requests_per_second"], ".2f"),
            fmt.ms(r["ttft_ms"]["median"]) if r["ttft_ms"]["median"] is not None else "-",
            fmt.ms(r["tpot_ms"]["median"]) if r["tpot_ms"]["median"] is not None else "-",
            fmt.ms(r["itl_ms"]["median"]) if r["itl_ms"]["median"] is not None else "-",
            fmt.nbytes(mem["peak_usage"]) if mem["peak_usage"] else "-",
            _f(mem["efficiency"], ".2f"),
        ])
    return head, rows


def _compare_lines(doc: dict[str, Any], markdown: bool) -> list[str]:
    lines: list[str] = []
    for r in doc["results"]:
        cmp_ = r.get("comparison")
        if not cmp_:
            continue
        if markdown:
            lines += ["", f"**{r['name']}** vs `{cmp_['against']}` (Mann-Whitney U, "
                      f"alpha {cmp_['alpha']})", "",
                      "| metric | old median | new median | change | p | verdict |",
                      "|---|---:|---:|---:|---:|---|"]
        else:
            lines += ["", f"{r['name']} vs {cmp_['against']} "
                      f"(Mann-Whitney U on per-run samples, alpha {cmp_['alpha']}):"]
        for key, m in cmp_["metrics"].items():
            ch = f"{m['change'] * 100:+.1f}%" if m["change"] is not None else "-"
            cells = [key, _f(m["old_median"], ".4g"), _f(m["new_median"], ".4g"), ch,
                     _f(m["p_value"], ".3g"), m["verdict"]]
            if markdown:
                lines.append("| " + " | ".join(cells) + " |")
            else:
                lines.append(f"  {cells[0]:<20} {cells[1]:>12} -> {cells[2]:>12}  {cells[3]:>8}"
                             f"  p={cells[4]:<8} {cells[5]}")
    return lines


def render_text(doc: dict[str, Any]) -> str:
    c = doc["config"]
    limit = "none" if c["memory_limit"] is None else fmt.nbytes(c["memory_limit"])
    out = [
        f"zlprof bench: {len(doc['results'])} point(s) x {c['measurement_runs']} run(s) "
        f"after {c['warmup_runs']} warm-up(s); time limit {c['max_time_per_run_ms']:g} ms, "
        f"memory limit {limit}",
        f"{doc['statistics']}; throughput over successful runs, warm-ups excluded",
        "",
    ]
    head, rows = _table_rows(doc)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt_row = lambda cells: "  ".join(  # noqa: E731
        (c.ljust(w) if i == 0 else c.rjust(w)) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()
    out.append(fmt_row(head))
    out.append("  ".join("-" * w for w in widths))
    out += [fmt_row(r) for r in rows]
    fails = [(r["name"], f) for r in doc["results"] for f in r["failures"]]
    wfails = [(r["name"], f) for r in doc["results"] for f in r["warmup_failures"]]
    if fails or wfails:
        out += ["", "failed runs:"]
        out += [f"  {n}: run {f['run']}: {f['reason']}" for n, f in fails]
        out += [f"  {n}: warm-up {f['run']}: {f['reason']}" for n, f in wfails]
    restarts = [(r["name"], r["restarts"]) for r in doc["results"] if r["restarts"]]
    if restarts:
        out.append("restarts: " + ", ".join(f"{n}: {k}" for n, k in restarts))
    out += _compare_lines(doc, markdown=False)
    return "\n".join(out) + "\n"


def render_markdown(doc: dict[str, Any]) -> str:
    head, rows = _table_rows(doc)
    c = doc["config"]
    out = [
        f"zlprof bench: {c['measurement_runs']} run(s) after {c['warmup_runs']} warm-up(s) "
        f"per point; {doc['statistics']}.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    fails = [(r["name"], f) for r in doc["results"] for f in r["failures"]]
    if fails:
        out += ["", "Failed runs:", ""]
        out += [f"- {n}, run {f['run']}: {f['reason']}" for n, f in fails]
    out += _compare_lines(doc, markdown=True)
    return "\n".join(out) + "\n"


def render(doc: dict[str, Any], fmt_name: str) -> str:
    if fmt_name == "json":
        return json.dumps(doc, indent=2) + "\n"
    if fmt_name == "markdown":
        return render_markdown(doc)
    return render_text(doc)
