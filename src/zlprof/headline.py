"""The one-line answer to "where does the time go?", for the app's first screen and the report.

A headline names the top-level op that takes most of the wall time (its total time as a
share of the session's wall time), the hottest work inside it (the path with the most self
time), and, when the roofline has placed decode, whether decode is memory- or
compute-bound and at what share of the roof it is held against. It is built from the
same ``OpRow`` list every view reads (self time and shares as SessionState defines them)
and knows no screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from .session import OpRow

#: Below this share of the wall time a "dominant" op is not worth a headline of its own.
MIN_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class RoofFinding:
    """What the roofline says about the decode forward pass (from the roofline package)."""

    bound: str  # "memory" | "compute"
    #: the achieved rate as a share of the roof it is held against (0.78 = 78 %)
    fraction: float
    #: the roof's name, e.g. "DRAM", "L3", "compute"
    roof: str


@dataclass(frozen=True, slots=True)
class Headline:
    text: str
    #: path id of the dominant top-level op (where the app puts its cursor), or None
    top_path_id: int | None
    #: path id of the hottest path by self time, or None
    hottest_path_id: int | None


def _pct(x: float) -> str:
    v = 100.0 * x
    return f"{v:.0f} %" if v >= 9.95 else f"{v:.1f} %"


def headline(
    rows: list[OpRow], wall_ns: int, roof: RoofFinding | None = None
) -> Headline:
    """The headline of a session's op rows (``SessionState.op_rows()``)."""
    if not rows or wall_ns <= 0:
        return Headline("no measurements yet", None, None)
    wall_ms = wall_ns / 1e6
    tops = [r for r in rows if r.depth == 0]
    top = max(tops or rows, key=lambda r: r.stats.total_ms)
    top_share = top.stats.total_ms / wall_ms if wall_ms > 0 else 0.0
    hottest = max(rows, key=lambda r: r.self_ms)
    parts: list[str] = []
    if top_share >= MIN_SHARE:
        parts.append(f"{top.full} takes {_pct(min(top_share, 1.0))} of the time")
    else:
        parts.append(f"no op takes much of the time (largest: {top.full} {_pct(top_share)})")
    if hottest.path_id != top.path_id and hottest.self_share > 0:
        parts.append(f"hottest: {hottest.full} {_pct(hottest.self_share)} self")
    if roof is not None:
        parts.append(
            f"decode is {roof.bound}-bound at {_pct(roof.fraction)} of the {roof.roof} roof"
        )
    return Headline("; ".join(parts), top.path_id, hottest.path_id)
