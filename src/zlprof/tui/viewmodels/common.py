"""Shared by the view models: the recent window of the ``w`` key and the cell formats
(counts, milliseconds, shares, signed bytes). No view logic here."""

from __future__ import annotations

from ... import fmt

#: The recent window of the ``w`` key, in seconds.
WINDOW_S = 10.0


def _count(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n:,}"


#: Milliseconds and shares of a cell: :func:`zlprof.fmt.ms` and :func:`zlprof.fmt.pct`
#: ("-" for a missing value), under the view models' short names.
_ms = fmt.ms
_share = fmt.pct


def _mem(v: int) -> str:
    return fmt.nbytes(v, signed=True) if v else "0"
