"""The braille canvas and text bars, re-exported from :mod:`zlprof.braille` (their home:
the roofline chart draws on the same canvas outside the app)."""

from ..braille import (
    BLANK,
    BrailleCanvas,
    column_extents,
    hbar,
    plot_series,
    scale,
    vbars,
)

__all__ = ["BLANK", "BrailleCanvas", "column_extents", "hbar", "plot_series", "scale", "vbars"]
