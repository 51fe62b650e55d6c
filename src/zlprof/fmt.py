"""Number formatting shared by the text report and the app."""

from __future__ import annotations

import math


def ms(value: float, width: int = 0) -> str:
    """Milliseconds with precision that suits the magnitude (about 4 significant digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        text = "-"
    elif value >= 1000:
        text = f"{value:,.0f}"
    elif value >= 100:
        text = f"{value:.1f}"
    elif value >= 10:
        text = f"{value:.2f}"
    elif value >= 1:
        text = f"{value:.3f}"
    elif value >= 0.01:
        text = f"{value:.4f}"
    elif value == 0:
        text = "0"
    else:
        text = f"{value:.5f}"
    return text.rjust(width) if width else text


def nbytes(value: float | int | None, signed: bool = False) -> str:
    """Bytes in binary units: 1.5 MiB."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    v = float(value)
    sign = "-" if v < 0 else ("+" if signed and v > 0 else "")
    v = abs(v)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if v < 1024 or unit == "TiB":
            if unit == "B":
                return f"{sign}{v:.0f} {unit}"
            return f"{sign}{v:.1f} {unit}"
        v /= 1024
    return f"{sign}{v:.1f} TiB"


def pct(share: float) -> str:
    if share is None or math.isnan(share):
        return "-"
    return f"{share * 100:.1f}%"


def rate(value: float, unit: str = "/s") -> str:
    if value is None or math.isnan(value):
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.2f}M{unit}"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k{unit}"
    return f"{value:.1f}{unit}"


def duration_s(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
