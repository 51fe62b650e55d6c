"""Latency rules: tail spikes (rule 1, p99 >> median) and the prefill bottleneck (rule 3,
first token >> the next ones)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .hint import Hint, not_enough

TAIL_MIN_SAMPLES = 100
TAIL_RATIO = 3.0
TAIL_CRITICAL_RATIO = 10.0
TAIL_MIN_SHARE = 0.01
TAIL_MAX_HINTS = 3

PREFILL_RATIO = 10.0
PREFILL_MIN_DECODE = 10


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
            not_enough(
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


def rule_prefill(state: Any) -> list[Hint]:
    """First-token latency >> per-token latency: the prompt's prefill dominates."""
    ttft = state.ttft.stats("ttft")
    tpot = state.tpot.stats("tpot")
    itl = state.itl.stats("itl")
    per = tpot if tpot.count else itl
    per_name = "TPOT" if tpot.count else "inter-token latency"
    if ttft.count < 1 or itl.count < PREFILL_MIN_DECODE or not per.median_ms > 0:
        return [
            not_enough(
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
