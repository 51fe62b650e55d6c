"""Time-share rule 5: where the time goes (forward pass, KV cache, sampling,
tokenize/decode, the rest), by each op's self time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..stats import self_times
from .hint import Hint, not_enough

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



def time_shares(state: Any, rows: Sequence[Any] | None = None) -> dict[str, float]:
    """Milliseconds per category: each op's self time (:func:`zlprof.stats.self_times`) goes
    to the innermost category on its path, so nested blocks are never counted twice; plus
    ``other``, and ``unmeasured``: the wall time outside every block."""
    rows = state.op_rows() if rows is None else rows
    cat_of = {name: cat for cat, names in CATEGORIES for name in names}
    out = {cat: 0.0 for cat, _ in CATEGORIES}
    out["other"] = 0.0
    own = self_times([r.full for r in rows], [r.stats.total_ms for r in rows])
    for r, self_ms in zip(rows, own, strict=True):
        cat = "other"
        for part in reversed(r.full.split("/")):
            if part in cat_of:
                cat = cat_of[part]
                break
        out[cat] += self_ms
    wall_ms = state.wall_ns / 1e6
    out["unmeasured"] = max(0.0, wall_ms - sum(own))
    return out


def rule_time_share(state: Any, rows: Sequence[Any]) -> list[Hint]:
    """Where time goes: the seed's breakdown, flagged when a minor stage grows large."""
    calls = sum(r.stats.count for r in rows)
    if calls < SHARE_MIN_CALLS:
        return [
            not_enough(
                "time_share",
                "Where time goes",
                f"needs >= {SHARE_MIN_CALLS} measured calls (have {calls})",
            )
        ]
    ms = time_shares(state, rows)
    total = sum(ms.values())
    if total <= 0:
        return [not_enough("time_share", "Where time goes", "no time measured yet")]
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
