"""Batch rule 4: throughput against batch size (~linear: memory-bound; plateau:
compute-bound), from a sweep of runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..roofline import fmt_num
from ..stats import linear_fit
from .hint import Hint, not_enough

BATCH_MIN_SIZES = 3
BATCH_LINEAR_SLOPE = 0.75
BATCH_PLATEAU_GAIN = 0.25


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
            b, v = int(b), float(v)
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
            not_enough(
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
