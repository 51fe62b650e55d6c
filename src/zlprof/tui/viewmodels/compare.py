"""The compare screen's rows: one op of session A against session B, its columns
and order (:func:`compare_rows`). The comparison itself is zlprof.compare's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .common import _count, _ms

# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class CompareRow:
    """One line of the compare screen (texts as ``zlprof diff`` prints them)."""

    key: str
    label: str
    cells: tuple[str, ...]
    #: slower | faster | same (not significant, too few samples) | only (in one session)
    tone: str
    verdict: str


COMPARE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("n_a", "n A", 7),
    ("n_b", "n B", 7),
    ("med_a", "p50 A", 7),
    ("med_b", "p50 B", 7),
    ("median", "Δp50", 8),
    ("p95", "Δp95", 8),
    ("p99", "Δp99", 8),
    ("mean", "Δmean", 8),
    ("p", "q", 6),
    ("verdict", "verdict", 15),
)
#: The order in which compare columns are dropped when the screen is narrow.
COMPARE_DROP = ("n_a", "n_b", "mean", "p99", "med_a", "med_b", "p95")


def compare_rows(result: Any, order: str = "program") -> list[CompareRow]:
    """The rows of a :class:`zlprof.diff.DiffResult` for the compare screen.

    ``order``: "program" (as ``zlprof diff`` lists them), or "change" (the largest
    significant median changes first, then the rest by change).
    """
    from ...diff import METRICS, _pct, _q, _verdict

    out: list[CompareRow] = []
    for r in result.rows:
        if r.kind != "op":
            label = f"[{r.op}]"
        elif order == "change":
            label = r.op  # out of tree order: the full path
        else:
            label = "  " * r.depth + r.op.rsplit("/", 1)[-1]
        p = _q(r) + ("*" if r.samples == "histogram" else "")
        cells = (
            _count(r.a.count) if r.a else "-",
            _count(r.b.count) if r.b else "-",
            _ms(r.a.median_ms) if r.a else "-",
            _ms(r.b.median_ms) if r.b else "-",
            *(_pct(r.change.get(m)) for m in METRICS),
            p,
            _verdict(r),
        )
        if r.verdict in ("slower", "faster"):
            tone = r.verdict
        elif r.verdict.startswith("only"):
            tone = "only"
        else:
            tone = "same"
        out.append(CompareRow(f"{r.kind}:{r.op}", label, cells, tone, r.verdict))
    if order == "change":
        rank = {r.op: i for i, r in enumerate(result.rows)}

        def size(row: CompareRow, r: Any) -> tuple[int, float]:
            c = r.change.get("median")
            return (0 if r.significant else 1, -abs(c) if c is not None else 0.0)

        by_key = {f"{r.kind}:{r.op}": r for r in result.rows}
        out.sort(key=lambda row: (*size(row, by_key[row.key]), rank[by_key[row.key].op]))
    return out
