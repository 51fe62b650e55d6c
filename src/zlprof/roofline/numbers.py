"""Number formatting of the roofline: three significant figures (bytes are
:func:`zlprof.fmt.nbytes`, as everywhere)."""

from __future__ import annotations

import math


def fmt_num(v: float) -> str:
    """Three significant figures, k/M suffixes past 10,000."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if math.isinf(v):
        return "inf"
    a = abs(v)
    if a >= 1e7:
        return f"{v / 1e6:.0f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a == 0:
        return "0"
    if a >= 0.01:
        return f"{v:.3f}"
    return f"{v:.1e}"


def _tick_label(e: int) -> str:
    v = 10.0**e
    if e >= 9:
        return f"{10 ** (e - 9):d}G"
    if e >= 6:
        return f"{10 ** (e - 6):d}M"
    if e >= 3:
        return f"{10 ** (e - 3):d}k"
    if e >= 0:
        return f"{int(v):d}"
    if e >= -3:
        return f"{v:.{-e}f}"
    return f"1e{e}"

