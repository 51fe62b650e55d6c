"""Shared by the view models: the recent window of the ``w`` key and the cell formats
(counts, milliseconds, shares, signed bytes). No view logic here."""

from __future__ import annotations

import math

from ... import fmt

#: The recent window of the ``w`` key, in seconds.
WINDOW_S = 10.0


def _count(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    return f"{n:,}"


def _ms(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return fmt.ms(v)


def _share(v: float) -> str:
    if v is None or math.isnan(v):
        return "-"
    return fmt.pct(v)


def _mem(v: int) -> str:
    return fmt.nbytes(v, signed=True) if v else "0"
