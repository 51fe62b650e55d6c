"""A small braille canvas: 2x4 dots per terminal cell, drawn with NumPy, no widgets.

The one canvas of zlprof: the app's charts (``tui/widgets/charts.py``) and the text
roofline (``roofline/chart.py``, printed by CLI reports too) both draw on it, so it lives
outside ``tui/`` and imports nothing but NumPy.

Braille patterns (U+2800..U+28FF) give each character cell eight dots::

    dot  col row  bit
     1    0   0   0x01
     2    0   1   0x02
     3    0   2   0x04
     4    1   0   0x08
     5    1   1   0x10
     6    1   2   0x20
     7    0   3   0x40
     8    1   3   0x80

A :class:`BrailleCanvas` of ``cols x rows`` cells is a ``2*cols x 4*rows`` pixel grid with
``y = 0`` at the top. :func:`plot_series` turns a time series into a canvas by taking, for
each pixel column, the min..max of the samples that fall in it (so a spike is never lost
by down-sampling) and joining neighbouring columns; ``fill=True`` shades down to the floor
(an area chart, as btop draws its graphs).
"""

from __future__ import annotations

import numpy as np

BLANK = "\u2800"

# _BITS[row % 4, col % 2] is the dot bit of a pixel inside its cell.
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
_CHARS = np.array([chr(ord(BLANK) + i) for i in range(256)], dtype=object)


class BrailleCanvas:
    """A grid of ``cols x rows`` braille cells (``2*cols x 4*rows`` pixels)."""

    def __init__(self, cols: int, rows: int) -> None:
        self.cols = max(0, int(cols))
        self.rows = max(0, int(rows))
        self.cells = np.zeros((self.rows, self.cols), dtype=np.uint8)

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.cols * 2

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.rows * 4

    def clear(self) -> None:
        self.cells[:] = 0

    def set(self, x: int, y: int) -> None:
        """Light the pixel at (x, y); pixels outside the canvas are ignored."""
        if 0 <= x < self.width and 0 <= y < self.height:
            self.cells[y >> 2, x >> 1] |= _BITS[y & 3, x & 1]

    def get(self, x: int, y: int) -> bool:
        if 0 <= x < self.width and 0 <= y < self.height:
            return bool(self.cells[y >> 2, x >> 1] & _BITS[y & 3, x & 1])
        return False

    def points(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Light many pixels at once (vectorised); out-of-range points are dropped."""
        x = np.asarray(xs, dtype=np.int64)
        y = np.asarray(ys, dtype=np.int64)
        ok = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        x, y = x[ok], y[ok]
        if len(x):
            np.bitwise_or.at(self.cells, (y >> 2, x >> 1), _BITS[y & 3, x & 1])

    def vline(self, x: int, y0: int, y1: int, step: int = 1) -> None:
        """Light every ``step``-th pixel of column x from min(y0, y1) to max(y0, y1)
        (both ends with ``step=1``); pixels outside the canvas are ignored."""
        lo, hi = (y0, y1) if y0 <= y1 else (y1, y0)
        ys = np.arange(lo, hi + 1, step)
        self.points(np.full(len(ys), x), ys)

    def vspans(self, xs: np.ndarray, y0: np.ndarray, y1: np.ndarray) -> None:
        """Many vertical spans (one per x) at once."""
        xs = np.asarray(xs, dtype=np.int64)
        lo = np.clip(np.minimum(y0, y1), 0, max(self.height - 1, 0)).astype(np.int64)
        hi = np.clip(np.maximum(y0, y1), 0, max(self.height - 1, 0)).astype(np.int64)
        n = hi - lo + 1
        if len(xs) == 0 or self.height == 0:
            return
        total = int(n.sum())
        px = np.repeat(xs, n)
        start = np.repeat(lo - np.r_[0, np.cumsum(n)[:-1]], n)
        py = start + np.arange(total)
        self.points(px, py)

    def line(self, x0: int, y0: int, x1: int, y1: int) -> None:
        """A straight line (DDA; both ends lit)."""
        steps = max(abs(x1 - x0), abs(y1 - y0))
        if steps == 0:
            self.set(x0, y0)
            return
        t = np.linspace(0.0, 1.0, steps + 1)
        self.points(np.rint(x0 + (x1 - x0) * t), np.rint(y0 + (y1 - y0) * t))

    def row_text(self, row: int) -> str:
        return "".join(_CHARS[self.cells[row]])

    def lines(self) -> list[str]:
        """The canvas as one string per cell row (unlit cells are U+2800, not spaces)."""
        return [self.row_text(r) for r in range(self.rows)]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def scale(values: np.ndarray, lo: float, hi: float, pixels: int, invert: bool = False) -> np.ndarray:
    """Map values in [lo, hi] onto integer pixels 0..pixels-1 (clipped).

    With ``invert`` the top pixel is ``hi`` (screen rows grow downwards).
    """
    v = np.asarray(values, dtype=np.float64)
    if pixels <= 0:
        return np.zeros(len(v), dtype=np.int64)
    span = hi - lo
    if not span > 0:
        frac = np.zeros(len(v))
    else:
        frac = (v - lo) / span
    px = np.clip(np.floor(frac * pixels), 0, pixels - 1).astype(np.int64)
    # the exact top value belongs to the last pixel, not past it
    if invert:
        px = pixels - 1 - px
    return px


def column_extents(
    x: np.ndarray, y: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For integer pixel columns ``x`` (0..width-1): (columns present, min y, max y)."""
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        e = np.zeros(0, np.int64)
        return e, np.zeros(0), np.zeros(0)
    lo = np.full(width, np.inf)
    hi = np.full(width, -np.inf)
    np.minimum.at(lo, x, y)
    np.maximum.at(hi, x, y)
    present = np.flatnonzero(np.isfinite(lo))
    return present, lo[present], hi[present]


def plot_series(
    canvas: BrailleCanvas,
    t: np.ndarray,
    v: np.ndarray,
    *,
    t_range: tuple[float, float] | None = None,
    v_range: tuple[float, float] | None = None,
    fill: bool = False,
    connect: bool = True,
) -> None:
    """Draw a time series onto ``canvas``.

    Each pixel column shows the min..max of the samples in it; with ``connect`` the gap to
    the previous column is bridged so the trace is continuous; with ``fill`` everything
    below the column's maximum is lit.
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(v)
    t, v = t[ok], v[ok]
    if len(t) == 0 or canvas.width == 0 or canvas.height == 0:
        return
    t0, t1 = t_range if t_range is not None else (float(t.min()), float(t.max()))
    v0, v1 = v_range if v_range is not None else (float(v.min()), float(v.max()))
    if t1 <= t0:
        t1 = t0 + 1.0
    if v1 <= v0:
        v1 = v0 + 1.0
    xs = scale(t, t0, t1, canvas.width)
    ys = scale(v, v0, v1, canvas.height, invert=True)
    cols, ymin, ymax = column_extents(xs, ys, canvas.width)
    # ys are inverted: the largest value has the smallest y
    top = ymin.astype(np.int64)
    bottom = ymax.astype(np.int64)
    if fill:
        # hold each level until the next sample so sparse series fill without gaps
        span = np.arange(int(cols[0]), int(cols[-1]) + 1)
        where = np.searchsorted(cols, span, side="right") - 1
        exact = cols[where] == span
        top = np.where(exact, top[where], ymax[where].astype(np.int64))
        cols = span
        bottom = np.full(len(cols), canvas.height - 1)
    elif connect and len(cols) > 1:
        # join each column to its left neighbour: extend the span over the gap
        pt, pb = top[:-1], bottom[:-1]
        adjacent = np.diff(cols) == 1
        ct, cb = top[1:].copy(), bottom[1:].copy()
        ct = np.where(adjacent & (pb < ct), pb + 1, ct)
        cb = np.where(adjacent & (pt > cb), pt - 1, cb)
        top = np.r_[top[0], np.minimum(top[1:], ct)]
        bottom = np.r_[bottom[0], np.maximum(bottom[1:], cb)]
        # sparse data: straight lines across columns with no samples
        for i in np.flatnonzero(~adjacent).tolist():
            a, b = i, i + 1
            canvas.line(
                int(cols[a]), int((top[a] + bottom[a]) // 2),
                int(cols[b]), int((top[b] + bottom[b]) // 2),
            )
    canvas.vspans(cols, top, bottom)


def hbar(fraction: float, width: int) -> str:
    """A horizontal bar of ``width`` cells filled to ``fraction`` with eighth blocks."""
    if width <= 0:
        return ""
    f = min(max(float(fraction), 0.0), 1.0)
    eighths = int(round(f * width * 8))
    full, part = divmod(eighths, 8)
    if full >= width:
        return "█" * width
    return "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "") + " " * (width - full - (1 if part else 0))


_VBLOCKS = " ▁▂▃▄▅▆▇█"


def vbars(heights: np.ndarray, rows: int) -> list[str]:
    """Vertical bars (one per column) from heights in [0, 1]; one string per row, top first."""
    h = np.clip(np.asarray(heights, dtype=np.float64), 0.0, 1.0)
    eighths = np.rint(h * rows * 8).astype(np.int64)
    out: list[str] = []
    for r in range(rows):
        # row r from the top covers eighths (rows-1-r)*8 .. (rows-r)*8
        base = (rows - 1 - r) * 8
        level = np.clip(eighths - base, 0, 8)
        out.append("".join(_VBLOCKS[i] for i in level.tolist()))
    return out
