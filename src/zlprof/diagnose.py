"""Bottleneck rules: the seed's five symptoms, each hint with its evidence in numbers.

=========================  ===============================  =====================================
rule                       symptom (threshold)              suggested optimisation (the seed's)
=========================  ===============================  =====================================
1 ``tail``                 p99 > 3x median, >= 100 calls,   check GC pauses, thread contention
                           op >= 1 % of wall time
2 ``kv_growth``            memory (``kv_cache_bytes``       use a sliding window, quantise the
                           gauge, else RSS) grows linearly  cache
                           with tokens generated: least-
                           squares R^2 >= 0.9, growth >= 5 %
3 ``prefill``              median TTFT > 10x median TPOT    chunk prefill, cache prompt tokens
4 ``batch_scaling``        throughput vs batch (>= 3        linear: memory-bound -> quantise
                           sizes): log-log slope >= 0.75    weights, more bandwidth; plateau:
                           linear, last step gains <= 25 %  compute-bound -> BLAS, vectorise
                           of proportional = plateau
5 ``time_share``           where the time goes: forward     the largest share is where work pays
                           pass, KV cache, sampling,
                           tokenize/decode, the rest
=========================  ===============================  =====================================

With machine peaks a sixth rule, ``roofline``, flags ops above the roof (counting errors)
and says whether the op taking most time is memory- or compute-bound.

A rule without enough data returns one ``info`` hint saying "not enough data" and what it
needs. Statistics come from :mod:`zlprof.stats` through the SessionState; nothing here
recomputes a percentile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .roofline import MachinePeaks, fmt_bytes, fmt_num, place

SEVERITIES = ("info", "warning", "critical")
RULES = ("tail", "kv_growth", "prefill", "batch_scaling", "time_share", "roofline")

TAIL_MIN_SAMPLES = 100
TAIL_RATIO = 3.0
TAIL_CRITICAL_RATIO = 10.0
TAIL_MIN_SHARE = 0.01
TAIL_MAX_HINTS = 3

KV_MIN_SAMPLES = 8
KV_MIN_TOKENS = 16
KV_MIN_R2 = 0.9
KV_MIN_GROWTH = 0.05
KV_DOMINANT_SHARE = 0.25

PREFILL_RATIO = 10.0
PREFILL_MIN_DECODE = 10

BATCH_MIN_SIZES = 3
BATCH_LINEAR_SLOPE = 0.75
BATCH_PLATEAU_GAIN = 0.25

SHARE_MIN_CALLS = 10
SHARE_LIMITS = {"KV cache": 0.10, "sampling": 0.10, "tokenize/decode": 0.05}

#: block names of each category of rule 5, in report order
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("forward pass", ("forward_pass",)),
    ("prefill", ("prefill",)),
    ("KV cache", ("kv_cache_update",)),
    ("sampling", ("sampling",)),
    ("tokenize/decode", ("tokenize", "decode", "token_decode", "detokenize")),
)


@dataclass
class Hint:
    """One diagnosis: what, how sure (numbers), and what to do about it."""

    rule: str
    severity: str  # "info" | "warning" | "critical"
    title: str
    evidence: str
    suggestion: str
    op: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity) if self.severity in SEVERITIES else 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "evidence": self.evidence,
            "suggestion": self.suggestion,
            "op": self.op,
            "data": self.data,
        }

    def text(self) -> str:
        return f"[{self.severity}] {self.title}\n  {self.evidence}\n  -> {self.suggestion}"


def _not_enough(
    rule: str,
    what: str,
    need: str,
    suggestion: str = "Let the session run longer, then look again.",
) -> Hint:
    return Hint(
        rule,
        "info",
        f"{what}: not enough data",
        f"not enough data: {need}",
        suggestion,
        data={"not_enough_data": True},
    )


def diagnose(
    state: Any,
    peaks: MachinePeaks | None = None,
    sweep: Sequence[Any] | None = None,
    *,
    rules: Iterable[str] = RULES,
) -> list[Hint]:
    """Every rule's hints for ``state``, most severe first (rule order within a severity).

    ``sweep``: throughput at several batch sizes, as ``(batch, tokens_per_s)`` pairs,
    mappings with ``batch`` and ``tokens_per_s`` keys, or SessionStates of runs at
    different ``--batch`` (their ``config["batch"]`` and session tokens/s). Without it a
    ``batch_sweep`` list in ``state.config`` is used. ``peaks`` enables the roofline rule.
    """
    wanted = set(rules)
    hints: list[Hint] = []
    with state.lock:
        rows = state.op_rows()
        if "tail" in wanted:
            hints += rule_tail(state, rows)
        if "kv_growth" in wanted:
            hints += rule_kv_growth(state)
        if "prefill" in wanted:
            hints += rule_prefill(state)
        if "batch_scaling" in wanted:
            sw = sweep if sweep is not None else state.config.get("batch_sweep")
            hints += rule_batch_scaling(sw)
        if "time_share" in wanted:
            hints += rule_time_share(state, rows)
        if "roofline" in wanted and peaks is not None:
            hints += rule_roofline(rows, peaks)
    order = {r: i for i, r in enumerate(RULES)}
    hints.sort(key=lambda h: (-h.rank, order.get(h.rule, 99)))
    return hints


# --------------------------------------------------------------------------- rule 1


def rule_tail(state: Any, rows: Sequence[Any]) -> list[Hint]:
    """P99 >> P50: an op whose 99th percentile exceeds 3x its median."""
    cands: list[tuple[float, str, Any]] = []
    most = 0  # calls of the most-called op that takes enough of the time
    for r in rows:
        st = r.stats
        if st.share < TAIL_MIN_SHARE:
            continue
        most = max(most, st.count)
        if st.count < TAIL_MIN_SAMPLES or not st.median_ms > 0:
            continue
        cands.append((st.p99_ms / st.median_ms, r.full, st))
    itl = state.itl.stats("inter-token latency", state.wall_ns)
    most = max(most, itl.count)
    if itl.count >= TAIL_MIN_SAMPLES and itl.median_ms > 0:
        cands.append((itl.p99_ms / itl.median_ms, "inter-token latency", itl))
    if not cands:
        return [
            _not_enough(
                "tail",
                "Tail latency",
                f"needs >= {TAIL_MIN_SAMPLES} calls of an op taking >= "
                f"{TAIL_MIN_SHARE:.0%} of the time, or >= {TAIL_MIN_SAMPLES} inter-token "
                f"latencies (so far: {most} calls, {itl.count} latencies)",
            )
        ]
    fired = sorted((c for c in cands if c[0] > TAIL_RATIO), key=lambda c: (-c[0], c[1]))
    # a spike in an op shows in every enclosing block: report the innermost ones
    names = [c[1] for c in fired]
    inner = [c for c in fired if not any(n.startswith(c[1] + "/") for n in names)]
    hints = []
    for ratio, name, st in inner[:TAIL_MAX_HINTS]:
        sev = "critical" if ratio >= TAIL_CRITICAL_RATIO else "warning"
        more = ""
        outer = [n for n in names if name.startswith(n + "/")]
        if outer:
            more += f"; also in the enclosing {', '.join(outer)}"
        if len(inner) > TAIL_MAX_HINTS and name == inner[0][1]:
            more += f"; {len(inner) - TAIL_MAX_HINTS} more op(s) over the threshold"
        hints.append(
            Hint(
                "tail",
                sev,
                f"Tail latency spikes in {name}: p99 {ratio:.1f}x median",
                f"p99 {st.p99_ms:.3f} ms vs median {st.median_ms:.3f} ms ({ratio:.1f}x) over "
                f"{st.count} calls; p95 {st.p95_ms:.3f} ms, max {st.max_ms:.3f} ms, std "
                f"{st.std_ms:.3f} ms (threshold: p99 > {TAIL_RATIO:g}x median, >= "
                f"{TAIL_MIN_SAMPLES} calls){more}",
                "Check GC pauses and thread contention: gc.freeze()/gc.disable() around the "
                "loop, pin BLAS threads (threadpoolctl) to the free cores, keep other load "
                "off the machine, and avoid allocating in the hot loop.",
                op="" if name == "inter-token latency" else name,
                data={
                    "ratio": ratio,
                    "p99_ms": st.p99_ms,
                    "median_ms": st.median_ms,
                    "count": st.count,
                },
            )
        )
    return hints


# --------------------------------------------------------------------------- rule 2


def _token_curve(state: Any) -> tuple[np.ndarray, np.ndarray]:
    """(time ns, cumulative tokens) points: exact per token for the recent tokens the state
    keeps (``token_times``), the coarser per-frame ``token_series`` before them."""
    times = np.asarray(list(state.token_times), np.float64)
    total = int(state.tokens_total)
    exact_n = np.arange(total - len(times) + 1, total + 1, dtype=np.float64)
    ts = getattr(state, "token_series", None)
    if ts is not None:
        t, n = ts.get("t").astype(np.float64), ts.get("tokens").astype(np.float64)
        if len(times):
            keep = t < times[0]
            t, n = t[keep], n[keep]
        if len(t):
            return np.r_[t, times], np.r_[n, exact_n]
    return times, exact_n


def linear_fit(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Least-squares slope, intercept and R^2 of y on x.

    With ``groups`` each group gets its own intercept and the slope is shared (a
    within-group fit: the KV cache restarts with every request).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if groups is None:
        groups = np.zeros(len(x), np.int64)
    xd = x.copy()
    yd = y.copy()
    for g in np.unique(groups):
        m = groups == g
        xd[m] -= x[m].mean()
        yd[m] -= y[m].mean()
    sxx = float(np.dot(xd, xd))
    if sxx <= 0:
        return 0.0, float(y.mean()) if len(y) else 0.0, 0.0
    slope = float(np.dot(xd, yd)) / sxx
    ss_tot = float(np.dot(yd, yd))
    resid = yd - slope * xd
    ss_res = float(np.dot(resid, resid))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 0.0
    intercept = float(y.mean() - slope * x.mean())
    return slope, intercept, r2


def rule_kv_growth(state: Any) -> list[Hint]:
    """Memory grows linearly with the tokens generated: the KV cache dominates growth."""
    mem = state.memory_series()
    t = mem.get("t", np.zeros(0, np.int64))
    source = "kv_cache_bytes"
    y = mem.get("kv_cache_bytes")
    if y is None or not (y >= 0).any():
        source = "RSS"
        y = mem.get("rss", np.zeros(0, np.int64))
    ok = y >= 0
    t, y = t[ok].astype(np.float64), y[ok].astype(np.float64)
    tok_t, tok_n = _token_curve(state)
    need = (
        f"needs >= {KV_MIN_SAMPLES} memory samples over >= {KV_MIN_TOKENS} generated tokens "
        f"(have {len(t)} samples, {int(tok_n[-1]) if len(tok_n) else 0} tokens)"
    )
    if len(t) < KV_MIN_SAMPLES or len(tok_t) < 2:
        return [_not_enough("kv_growth", "Memory growth", need)]
    # tokens generated at each memory sample
    x = np.interp(t, tok_t, tok_n, left=0.0)
    # only while tokens flow: start-up (loading weights) and idle tails say nothing here
    inside = (t >= tok_t[0]) & (t <= tok_t[-1] + 1)
    t, y, x = t[inside], y[inside], x[inside]
    if len(t) < KV_MIN_SAMPLES or (x.max() - x.min()) < KV_MIN_TOKENS:
        return [_not_enough("kv_growth", "Memory growth", need)]
    # segments: the cache restarts (drops) with each request
    span = float(y.max() - y.min())
    drops = np.flatnonzero(np.diff(y) < -0.25 * span) + 1 if span > 0 else np.zeros(0, int)
    groups = np.zeros(len(y), np.int64)
    for d in drops:
        groups[d:] += 1
    sizes = np.bincount(groups)
    keep = sizes[groups] >= 3
    x, y, groups, t = x[keep], y[keep], groups[keep], t[keep]
    if len(x) < KV_MIN_SAMPLES:
        return [_not_enough("kv_growth", "Memory growth", need)]
    slope, _, r2 = linear_fit(x, y, groups)
    seg_growth = max(float(y[groups == g].max() - y[groups == g].min()) for g in np.unique(groups))
    base = float(y[groups == groups[0]].min()) if source == "RSS" else float(y.max())
    rel = seg_growth / base if base > 0 else (math.inf if seg_growth > 0 else 0.0)
    data = {
        "source": source,
        "slope_bytes_per_token": slope,
        "r2": r2,
        "samples": len(x),
        "segments": int(len(np.unique(groups))),
        "growth_bytes": seg_growth,
    }
    if not (slope > 0 and r2 >= KV_MIN_R2 and rel >= KV_MIN_GROWTH):
        return []
    nseg = len(np.unique(groups))
    fit_desc = f"least-squares fit over {len(x)} samples"
    if nseg > 1:
        fit_desc += f" within {nseg} requests (the cache restarts each request)"
    evidence = (
        f"{source} grows {fmt_bytes(slope)} per generated token ({fit_desc}, "
        f"R^2 = {r2:.3f}); +{fmt_bytes(seg_growth)} over the longest run"
    )
    cfg = state.config
    # RSS growing per token is the symptom itself; a KV gauge growing is expected, and a
    # concern once the cache is a large part of memory (now, or at the full context)
    dominant = source == "RSS"
    severity = "warning"
    share = 0.0
    rss = mem.get("rss")
    if source == "kv_cache_bytes" and rss is not None and len(rss) and rss[-1] > 0:
        share = float(y[-1]) / float(rss[-1])
        evidence += f"; KV cache {fmt_bytes(float(y[-1]))} = {share:.0%} of RSS now"
        data["kv_share_of_rss"] = share
        dominant = share >= KV_DOMINANT_SHARE
    ctx = cfg.get("context")
    batch = cfg.get("batch") or 1
    if isinstance(ctx, int) and ctx > 0:
        full = slope * ctx * (batch if isinstance(batch, int) else 1)
        evidence += f"; at the full context of {ctx} positions: ~{fmt_bytes(full)}"
        data["projected_bytes"] = full
        wb = cfg.get("weights_bytes")
        if isinstance(wb, int) and wb > 0:
            evidence += f" ({full / wb:.0%} of the {fmt_bytes(wb)} of weights)"
            dominant = dominant or full >= KV_DOMINANT_SHARE * wb
            if full >= wb:
                severity = "critical"
    evidence += (
        f" (threshold: R^2 >= {KV_MIN_R2}, growth >= {KV_MIN_GROWTH:.0%}; dominant when >= "
        f"{KV_DOMINANT_SHARE:.0%} of RSS or of the weights at full context)"
    )
    if dominant:
        title = "Memory grows linearly with sequence length: KV cache dominant"
    else:
        severity = "info"
        title = f"KV cache grows linearly with sequence length ({share:.0%} of RSS)"
    data["dominant"] = dominant
    return [
        Hint(
            "kv_growth",
            severity,
            title,
            evidence,
            "Use a sliding-window (or paged) KV cache to bound it, and quantise the cache "
            "(fp16 halves it, int8 quarters it); preallocate it to the context length so "
            "growth does not reallocate.",
            op="kv_cache_update",
            data=data,
        )
    ]


# --------------------------------------------------------------------------- rule 3


def rule_prefill(state: Any) -> list[Hint]:
    """First-token latency >> per-token latency: the prompt's prefill dominates."""
    ttft = state.ttft.stats("ttft")
    tpot = state.tpot.stats("tpot")
    itl = state.itl.stats("itl")
    per = tpot if tpot.count else itl
    per_name = "TPOT" if tpot.count else "inter-token latency"
    if ttft.count < 1 or itl.count < PREFILL_MIN_DECODE or not per.median_ms > 0:
        return [
            _not_enough(
                "prefill",
                "Prefill vs decode",
                f"needs >= 1 first token and >= {PREFILL_MIN_DECODE} decode tokens "
                f"(have {ttft.count} and {itl.count})",
            )
        ]
    ratio = ttft.median_ms / per.median_ms
    if ratio <= PREFILL_RATIO:
        return []
    evidence = (
        f"median TTFT {ttft.median_ms:.1f} ms = {ratio:.1f}x median {per_name} "
        f"{per.median_ms:.2f} ms ({ttft.count} request(s), {itl.count} decode tokens; "
        f"threshold {PREFILL_RATIO:g}x)"
    )
    try:
        pre = state.stats_for_name("prefill")
        if pre.count:
            evidence += f"; prefill median {pre.median_ms:.1f} ms, {pre.share:.0%} of wall time"
    except KeyError:
        pass
    return [
        Hint(
            "prefill",
            "critical" if ratio > 10 * PREFILL_RATIO else "warning",
            f"Prefill bottleneck: first token {ratio:.0f}x slower than the next ones",
            evidence,
            "Chunk the prefill (process the prompt in pieces interleaved with decode steps "
            "of other requests) and cache prompt tokens: reuse the KV of a shared prompt "
            "prefix across requests.",
            op="prefill",
            data={"ratio": ratio, "ttft_ms": ttft.median_ms, "per_token_ms": per.median_ms},
        )
    ]


# --------------------------------------------------------------------------- rule 4


def _sweep_item(item: Any) -> tuple[Any, Any, str]:
    """(batch, tokens/s, label of the other parameters) of one sweep entry."""
    if hasattr(item, "params") and hasattr(item, "throughput"):  # bench.BenchmarkResult
        params = dict(item.params)
        return params.pop("batch", None), item.throughput.tokens_per_second, _label(params)
    if hasattr(item, "config") and hasattr(item, "tokens_per_s"):  # a SessionState
        return item.config.get("batch"), item.tokens_per_s(None), ""
    if isinstance(item, dict):
        if "params" in item and "throughput" in item:  # a result of `zlprof bench` JSON
            params = dict(item.get("params") or {})
            tp = item.get("throughput") or {}
            return params.pop("batch", None), tp.get("tokens_per_second"), _label(params)
        return item.get("batch"), item.get("tokens_per_s", item.get("tokens_per_second")), ""
    b, v = item
    return b, v, ""


def _label(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))


def sweep_groups(sweep: Any) -> dict[str, list[tuple[int, float]]]:
    """(batch, tokens/s) pairs per group of other parameters (a bench sweep may also vary
    the preset), averaged per batch size and sorted by batch.

    Accepts ``(batch, tokens_per_s)`` pairs, ``{"batch", "tokens_per_s"}`` mappings,
    SessionStates (their ``config["batch"]`` and session tokens/s), ``bench``
    BenchmarkResults, or a ``zlprof bench --format json`` document or its results.
    """
    if isinstance(sweep, dict) and "results" in sweep:
        sweep = sweep["results"]
    groups: dict[str, dict[int, list[float]]] = {}
    for item in sweep or ():
        try:
            b, v, label = _sweep_item(item)
            b, v = int(b), float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if b >= 1 and v > 0 and math.isfinite(v):
            groups.setdefault(label, {}).setdefault(b, []).append(v)
    return {
        label: sorted((b, sum(v) / len(v)) for b, v in pts.items()) for label, pts in groups.items()
    }


def sweep_points(sweep: Any) -> list[tuple[int, float]]:
    """The (batch, tokens/s) pairs of the sweep's largest group (see :func:`sweep_groups`)."""
    groups = sweep_groups(sweep)
    if not groups:
        return []
    return max(groups.values(), key=len)


def rule_batch_scaling(sweep: Any) -> list[Hint]:
    """Throughput vs batch size: ~linear = memory-bound, plateau = compute-bound."""
    groups = sweep_groups(sweep)
    hints = [
        _batch_hint(pts, label)
        for label, pts in sorted(groups.items())
        if len(pts) >= BATCH_MIN_SIZES
    ]
    if not hints:
        have = max((len(p) for p in groups.values()), default=0)
        return [
            _not_enough(
                "batch_scaling",
                "Batch scaling",
                f"needs tokens/s at >= {BATCH_MIN_SIZES} batch sizes (a batch sweep from "
                f"`zlprof bench`, or recordings at several --batch values); have {have}",
                "Measure tokens/s at batch 1, 2, 4, 8 (e.g. one recording per --batch) and "
                "pass them as a sweep.",
            )
        ]
    return hints


def _batch_hint(pts: list[tuple[int, float]], label: str) -> Hint:
    b = np.array([p[0] for p in pts], np.float64)
    v = np.array([p[1] for p in pts], np.float64)
    slope, _, r2 = linear_fit(np.log(b), np.log(v))
    gains = [((v[i] / v[i - 1]) - 1) / ((b[i] / b[i - 1]) - 1) for i in range(1, len(b))]
    table = ", ".join(
        f"b={int(bb)}: {fmt_num(vv)} tok/s ({vv / v[0] * b[0] / bb:.0%} of linear)"
        for bb, vv in zip(b, v, strict=True)
    )
    evidence = (
        f"{table}; log-log slope {slope:.2f} (1 = linear), last step gains "
        f"{gains[-1]:.0%} of proportional (linear if slope >= {BATCH_LINEAR_SLOPE}, "
        f"plateau if the last step gains <= {BATCH_PLATEAU_GAIN:.0%})"
    )
    data = {"points": pts, "slope": slope, "r2": r2, "last_gain": gains[-1], "group": label}
    where = f" ({label})" if label else ""
    if slope >= BATCH_LINEAR_SLOPE and gains[-1] > BATCH_PLATEAU_GAIN:
        return Hint(
            "batch_scaling",
            "warning",
            f"Throughput scales ~linearly with batch{where} (slope {slope:.2f}): memory-bound",
            evidence,
            "Memory-bound: each step streams the weights once for the whole batch, so "
            "quantise weights (int8/Q4 move 4-8x fewer bytes) and use more memory "
            "bandwidth; a larger batch is nearly free until the plateau.",
            data=data,
        )
    if gains[-1] <= BATCH_PLATEAU_GAIN:
        knee = int(b[-1])
        for i, g in enumerate(gains):
            if g <= BATCH_PLATEAU_GAIN:
                knee = int(b[i])
                break
        data["knee"] = knee
        return Hint(
            "batch_scaling",
            "warning",
            f"Throughput plateaus past batch {knee}{where}: compute-bound",
            evidence,
            "Compute-bound: use BLAS for every product (no Python-level loops), "
            "vectorise the inner loops, and keep the batch at the knee.",
            data=data,
        )
    return Hint(
        "batch_scaling",
        "info",
        f"Throughput grows sublinearly with batch{where} (slope {slope:.2f})",
        evidence,
        "Between memory- and compute-bound: extend the sweep to larger batches to find "
        "the plateau.",
        data=data,
    )


# --------------------------------------------------------------------------- rule 5


def time_shares(state: Any, rows: Sequence[Any] | None = None) -> dict[str, float]:
    """Milliseconds per category: each op's self time goes to the innermost category on its
    path (so nested blocks are never counted twice), plus ``other`` and ``unmeasured``."""
    rows = state.op_rows() if rows is None else rows
    cat_of = {name: cat for cat, names in CATEGORIES for name in names}
    out = {cat: 0.0 for cat, _ in CATEGORIES}
    out["other"] = 0.0
    # exclusive time: total minus the totals of the nearest *measured* descendants (an
    # enclosing block may have no measurement yet while it is still open)
    total = {r.full: r.stats.total_ms for r in rows}
    inner: dict[str, float] = {}
    measured = 0.0
    for r in rows:
        parts = r.full.split("/")
        for k in range(len(parts) - 1, 0, -1):
            anc = "/".join(parts[:k])
            if anc in total:
                inner[anc] = inner.get(anc, 0.0) + r.stats.total_ms
                break
        else:
            measured += r.stats.total_ms
    for r in rows:
        cat = "other"
        for part in reversed(r.full.split("/")):
            if part in cat_of:
                cat = cat_of[part]
                break
        out[cat] += max(0.0, total[r.full] - inner.get(r.full, 0.0))
    wall_ms = state.wall_ns / 1e6
    out["unmeasured"] = max(0.0, wall_ms - measured)
    return out


def rule_time_share(state: Any, rows: Sequence[Any]) -> list[Hint]:
    """Where time goes: the seed's breakdown, flagged when a minor stage grows large."""
    calls = sum(r.stats.count for r in rows)
    if calls < SHARE_MIN_CALLS:
        return [
            _not_enough(
                "time_share",
                "Where time goes",
                f"needs >= {SHARE_MIN_CALLS} measured calls (have {calls})",
            )
        ]
    ms = time_shares(state, rows)
    total = sum(ms.values())
    if total <= 0:
        return [_not_enough("time_share", "Where time goes", "no time measured yet")]
    share = {k: v / total for k, v in ms.items()}
    parts = [f"{k} {share[k]:.1%}" for k in ms if ms[k] > 0 or k in ("forward pass",)]
    evidence = f"{', '.join(parts)} of {total / 1e3:.2f} s"
    over = [(k, share[k], lim) for k, lim in SHARE_LIMITS.items() if share[k] > lim]
    top = max((k for k in ms if k != "unmeasured"), key=lambda k: ms[k])
    data = {"ms": ms, "share": share}
    if over:
        k, s, lim = max(over, key=lambda o: o[1] / o[2])
        advice = {
            "KV cache": "Write the cache in place into a preallocated array (no "
            "concatenation per token), and keep K/V contiguous per head.",
            "sampling": "Sample from the top-k candidates found with argpartition instead "
            "of sorting the whole vocabulary; skip the softmax for greedy decoding.",
            "tokenize/decode": "Tokenize once per request and decode incrementally (only the "
            "new token's piece), caching the vocabulary lookups.",
        }[k]
        evidence += "; expected: forward pass 85-95 %, KV cache 2-5 %, sampling 1-3 %, "
        evidence += "tokenize/decode < 1 % (the seed's 7B-on-CPU breakdown)"
        return [
            Hint(
                "time_share",
                "warning",
                f"{k} takes {s:.0%} of the time (over {lim:.0%})",
                evidence,
                advice,
                op=k,
                data=data,
            )
        ]
    if top in ("forward pass", "prefill"):
        advice = (
            "The forward pass dominates: optimise the matrix products first (BLAS, "
            "quantised weights, fused ops); see the roofline for which are memory-bound."
        )
    elif top == "other":
        advice = "Most time is in blocks outside the seed's stages: drill down into them."
    else:
        advice = f"{top} leads: look at it first."
    return [
        Hint(
            "time_share",
            "info",
            f"Where time goes: {top} {share[top]:.0%}",
            evidence,
            advice,
            op=top,
            data=data,
        )
    ]


# --------------------------------------------------------------------------- roofline


def rule_roofline(rows: Sequence[Any], peaks: MachinePeaks) -> list[Hint]:
    """Above-roof points (counting errors) and the bound of the op taking most time."""
    points = place(rows, peaks)
    if not points:
        return [
            _not_enough(
                "roofline",
                "Roofline",
                "needs op costs (zlprof.cost(flops, nbytes) in instrumented ops)",
                "Report FLOPs and bytes per call with zlprof.cost() inside measured "
                "blocks (the built-in workload does at --profile-depth ops).",
            )
        ]
    hints = []
    for p in points:
        if p.above_roof:
            hints.append(
                Hint(
                    "roofline",
                    "warning",
                    f"{p.key} sits above its {p.level} roof: counting error?",
                    f"{fmt_num(p.gflops)} GFLOP/s at {fmt_num(p.intensity)} FLOP/B, "
                    f"{fmt_num(p.gbps)} GB/s; attainable {fmt_num(p.attainable)} GFLOP/s "
                    f"({p.roof_share:.0%} of it; {peaks.describe()})",
                    f"{p.note}. Check the op's zlprof.cost() FLOP and byte formulas against "
                    "its shapes, or recalibrate with `zlprof roofline --calibrate`.",
                    op=p.paths[0],
                    data={"share": p.roof_share},
                )
            )
    top = max(
        (p for p in points if p.flops > 0 and not p.above_roof),
        key=lambda p: p.time_ms,
        default=None,
    )
    if top is not None:
        if top.bound == "memory":
            what = (
                f"memory-bound at {fmt_num(top.intensity)} FLOP/B (ridge "
                f"{fmt_num(peaks.ridge_of(top.level))}): {fmt_num(top.gbps)} GB/s = "
                f"{top.gbps / top.level_gbps:.0%} of the {top.level} roof "
                f"{fmt_num(top.level_gbps)} GB/s ({top.level_reason})"
            )
            advice = (
                "Memory-bound: move fewer bytes (quantise weights, fuse ops so "
                "intermediates stay in cache) or batch more tokens per weight read."
            )
        else:
            what = (
                f"compute-bound at {fmt_num(top.intensity)} FLOP/B (ridge "
                f"{fmt_num(peaks.ridge)}): {fmt_num(top.gflops)} GFLOP/s = "
                f"{top.gflops / peaks.gflops:.0%} of pi {fmt_num(peaks.gflops)} GFLOP/s"
            )
            advice = "Compute-bound: use BLAS kernels and vectorise; reduce FLOPs."
        hints.append(
            Hint(
                "roofline",
                "info",
                f"{top.key}: {top.bound}-bound, {top.roof_share:.0%} of its roof",
                f"{top.key} ({fmt_num(top.time_ms)} ms, the most time of any op with costs) is "
                + what,
                advice,
                op=top.paths[0],
                data={"share": top.roof_share, "bound": top.bound, "level": top.level},
            )
        )
    hints += _far_below(points)
    return hints


#: a repeating-loop op under this share of its level's roof gets a hint
FAR_BELOW_SHARE = 0.5
#: ... when it takes at least this share of the costed time
FAR_BELOW_MIN_TIME = 0.05


def _far_below(points: Sequence[Any]) -> list[Hint]:
    """Memory-bound ops of the repeating loop (decode) far below their own level's roof."""
    total = sum(p.time_ms for p in points) or 1.0
    out = []
    for p in points:
        if not (
            p.in_loop
            and p.flops > 0
            and p.bound == "memory"
            and not p.above_roof
            and p.roof_share < FAR_BELOW_SHARE
            and p.time_ms >= FAR_BELOW_MIN_TIME * total
        ):
            continue
        out.append(
            Hint(
                "roofline",
                "warning",
                f"{p.key}: {p.roof_share:.0%} of its {p.level} roof",
                f"{p.key} streams {fmt_num(p.gbps)} GB/s from {p.level} (roof "
                f"{fmt_num(p.level_gbps)} GB/s; {p.level_reason}) and takes "
                f"{p.time_ms / total:.0%} of the costed time",
                "Likely causes: layout (a transposed or non-contiguous weight makes BLAS "
                "copy it or fall back to a slow loop: store it as the product reads it), "
                "dtype conversion (a float64 operand upcasts and doubles the bytes), "
                "threads (BLAS threads fewer than cores, or oversubscribed by other "
                "threads).",
                op=p.paths[0],
                data={"share": p.roof_share, "level": p.level},
            )
        )
    return out
