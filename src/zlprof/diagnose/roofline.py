"""The roofline rule: ops above their roof (counting errors), the bound of the op taking
most time, and repeating-loop ops far below their level's roof."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..roofline import MachinePeaks, fmt_num, place
from .hint import Hint, not_enough

#: a repeating-loop op under this share of its level's roof gets a hint
FAR_BELOW_SHARE = 0.5
#: ... when it takes at least this share of the costed time
FAR_BELOW_MIN_TIME = 0.05


def rule_roofline(rows: Sequence[Any], peaks: MachinePeaks) -> list[Hint]:
    """Above-roof points (counting errors) and the bound of the op taking most time."""
    points = place(rows, peaks)
    if not points:
        return [
            not_enough(
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

