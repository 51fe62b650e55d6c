"""Memory rule 2: memory grows linearly with the tokens generated (the KV cache)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import fmt
from ..stats import linear_fit
from .hint import Hint, not_enough

KV_MIN_SAMPLES = 8
KV_MIN_TOKENS = 16
KV_MIN_R2 = 0.9
KV_MIN_GROWTH = 0.05
KV_DOMINANT_SHARE = 0.25


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
        return [not_enough("kv_growth", "Memory growth", need)]
    # tokens generated at each memory sample
    x = np.interp(t, tok_t, tok_n, left=0.0)
    # only while tokens flow: start-up (loading weights) and idle tails say nothing here
    inside = (t >= tok_t[0]) & (t <= tok_t[-1] + 1)
    t, y, x = t[inside], y[inside], x[inside]
    if len(t) < KV_MIN_SAMPLES or (x.max() - x.min()) < KV_MIN_TOKENS:
        return [not_enough("kv_growth", "Memory growth", need)]
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
        return [not_enough("kv_growth", "Memory growth", need)]
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
        f"{source} grows {fmt.nbytes(slope)} per generated token ({fit_desc}, "
        f"R^2 = {r2:.3f}); +{fmt.nbytes(seg_growth)} over the longest run"
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
        evidence += f"; KV cache {fmt.nbytes(float(y[-1]))} = {share:.0%} of RSS now"
        data["kv_share_of_rss"] = share
        dominant = share >= KV_DOMINANT_SHARE
    ctx = cfg.get("context")
    batch = cfg.get("batch") or 1
    if isinstance(ctx, int) and ctx > 0:
        full = slope * ctx * (batch if isinstance(batch, int) else 1)
        evidence += f"; at the full context of {ctx} positions: ~{fmt.nbytes(full)}"
        data["projected_bytes"] = full
        wb = cfg.get("weights_bytes")
        if isinstance(wb, int) and wb > 0:
            evidence += f" ({full / wb:.0%} of the {fmt.nbytes(wb)} of weights)"
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
