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
needs. Statistics come from :mod:`zlprof.stats` through the SessionState (self time is
``OpRow.self_ms``); nothing here recomputes a percentile.

Modules: ``hint`` (the Hint type), ``latency`` (rules 1 and 3), ``memory`` (2), ``batch``
(4), ``shares`` (5), ``roofline`` (6); this one runs them (:func:`diagnose`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..roofline import MachinePeaks
from ..stats import linear_fit
from .batch import (
    BATCH_LINEAR_SLOPE,
    BATCH_MIN_SIZES,
    BATCH_PLATEAU_GAIN,
    rule_batch_scaling,
    sweep_groups,
    sweep_points,
)
from .hint import RULES, SEVERITIES, Hint, not_enough
from .latency import (
    PREFILL_MIN_DECODE,
    PREFILL_RATIO,
    TAIL_CRITICAL_RATIO,
    TAIL_MAX_HINTS,
    TAIL_MIN_SAMPLES,
    TAIL_MIN_SHARE,
    TAIL_RATIO,
    rule_prefill,
    rule_tail,
)
from .memory import (
    KV_DOMINANT_SHARE,
    KV_MIN_GROWTH,
    KV_MIN_R2,
    KV_MIN_SAMPLES,
    KV_MIN_TOKENS,
    rule_kv_growth,
)
from .roofline import FAR_BELOW_MIN_TIME, FAR_BELOW_SHARE, rule_roofline
from .shares import CATEGORIES, SHARE_LIMITS, SHARE_MIN_CALLS, rule_time_share, time_shares

__all__ = [
    "BATCH_LINEAR_SLOPE",
    "BATCH_MIN_SIZES",
    "BATCH_PLATEAU_GAIN",
    "CATEGORIES",
    "FAR_BELOW_MIN_TIME",
    "FAR_BELOW_SHARE",
    "KV_DOMINANT_SHARE",
    "KV_MIN_GROWTH",
    "KV_MIN_R2",
    "KV_MIN_SAMPLES",
    "KV_MIN_TOKENS",
    "PREFILL_MIN_DECODE",
    "PREFILL_RATIO",
    "RULES",
    "SEVERITIES",
    "SHARE_LIMITS",
    "SHARE_MIN_CALLS",
    "TAIL_CRITICAL_RATIO",
    "TAIL_MAX_HINTS",
    "TAIL_MIN_SAMPLES",
    "TAIL_MIN_SHARE",
    "TAIL_RATIO",
    "Hint",
    "diagnose",
    "linear_fit",
    "not_enough",
    "rule_batch_scaling",
    "rule_kv_growth",
    "rule_prefill",
    "rule_roofline",
    "rule_tail",
    "rule_time_share",
    "sweep_groups",
    "sweep_points",
    "time_shares",
]


def diagnose(
    state: Any,
    peaks: MachinePeaks | None = None,
    sweep: Sequence[Any] | None = None,
    *,
    rules: Iterable[str] = RULES,
    rows: Sequence[Any] | None = None,
) -> list[Hint]:
    """Every rule's hints for ``state``, most severe first (rule order within a severity).

    ``sweep``: throughput at several batch sizes, as ``(batch, tokens_per_s)`` pairs,
    mappings with ``batch`` and ``tokens_per_s`` keys, or SessionStates of runs at
    different ``--batch`` (their ``config["batch"]`` and session tokens/s). Without it a
    ``batch_sweep`` list in ``state.config`` is used. ``peaks`` enables the roofline rule.
    ``rows``: ``state.op_rows()`` when the caller has them already (the live app's
    snapshot: building them again costs as much as the table's refresh).
    """
    wanted = set(rules)
    hints: list[Hint] = []
    with state.lock:
        rows = list(state.op_rows() if rows is None else rows)
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
