"""Chart panels drawn with braille dots and block characters.

Each widget keeps the last view model it was given and draws it for its current size in
``render`` (so a resize redraws without new data). Colours come from component classes
styled with the theme's ``$zl-*`` variables, so every theme applies.
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from ... import fmt
from ...textwidth import cell_len, cut, head, pad, tail
from ..braille import BrailleCanvas, hbar, plot_series, vbars
from ..model import MemoryView, ShareBar


def layered_text(layers: list[tuple[BrailleCanvas, Style]], rows: int) -> list[Text]:
    """Merge canvases of equal size into lines of text.

    A cell shows the union of every layer's dots, coloured by the first layer (in list
    order) that lights any dot in it.
    """
    if not layers:
        return [Text() for _ in range(rows)]
    cells = np.zeros_like(layers[0][0].cells)
    owner = np.full(cells.shape, -1, dtype=np.int64)
    for i, (canvas, _style) in enumerate(layers):
        lit = canvas.cells != 0
        owner[(owner < 0) & lit] = i
        cells |= canvas.cells
    out: list[Text] = []
    for r in range(cells.shape[0]):
        text = Text(no_wrap=True, overflow="crop")
        row_cells = cells[r]
        row_owner = owner[r]
        start = 0
        n = len(row_cells)
        while start < n:
            o = row_owner[start]
            end = start + 1
            while end < n and row_owner[end] == o:
                end += 1
            chunk = "".join(chr(0x2800 + int(c)) for c in row_cells[start:end])
            text.append(chunk, layers[o][1] if o >= 0 else None)
            start = end
        out.append(text)
    return out


def _gutter(label: str, width: int) -> str:
    return label[:width].rjust(width)


class ShareBars(Widget):
    """Self time of each op as a share of wall time, largest first."""

    COMPONENT_CLASSES = {"sharebars--bar", "sharebars--label", "sharebars--rest"}
    DEFAULT_CSS = """
    ShareBars { height: 1fr; text-wrap: nowrap; text-overflow: clip; }
    ShareBars > .sharebars--bar { color: $zl-bar; }
    ShareBars > .sharebars--label { color: $foreground; }
    ShareBars > .sharebars--rest { color: $zl-axis; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.bars: list[ShareBar] = []

    def update_bars(self, bars: list[ShareBar]) -> None:
        if bars != self.bars:
            self.bars = bars
            self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if not self.bars:
            return Text("no measurements yet", style=self.get_component_rich_style("sharebars--rest"))
        bar_style = self.get_component_rich_style("sharebars--bar")
        label_style = self.get_component_rich_style("sharebars--label")
        rest_style = self.get_component_rich_style("sharebars--rest")
        shown = self.bars[: max(height, 1)]
        room = max(8, width * 3 // 5)
        labels = bar_labels(shown, room)
        label_w = min(max(cell_len(x) for x in labels), room)
        pct_w = 6
        bar_w = max(1, width - label_w - pct_w - 2)
        top = max(b.share for b in self.bars) or 1.0
        out = Text(no_wrap=True, overflow="crop")
        for i, (b, text) in enumerate(zip(shown, labels, strict=True)):
            rest = not b.full
            if rest and cell_len(text) > label_w:
                text = "(unmeasured)"  # the "(outside measured blocks)" bar, narrow
            label = fit_label(text, label_w)
            out.append(pad(label, label_w) + " ", rest_style if rest else label_style)
            # bars are scaled to the largest share so small differences stay visible
            out.append(hbar(b.share / top, bar_w), rest_style if rest else bar_style)
            out.append(f" {fmt.pct(b.share):>{pct_w - 1}}", rest_style if rest else label_style)
            if i < len(shown) - 1:
                out.append("\n")
        return out


def bar_labels(bars: list[ShareBar], room: int) -> list[str]:
    """Labels with their notes, the same form on every bar: ``×8 layers`` where all fit
    ``room``, else ``×8``, else no notes (a label still too long: :func:`fit_label`)."""
    forms = (
        lambda b: f"{b.label} {b.note}" if b.note else b.label,
        lambda b: f"{b.label} {b.note.split(' ')[0]}" if b.note else b.label,
    )
    for form in forms:
        out = [form(b) for b in bars]
        if all(cell_len(x) <= room for x in out):
            return out
    return [b.label for b in bars]


#: Leading words of a share label shortened first when it does not fit.
_SHORT_WORDS = {"prefill": "pre", "forward_pass": "fwd", "decode": "dec"}


def fit_label(label: str, width: int) -> str:
    """A share label in ``width`` cells, still telling bars apart: the leading words (the
    phase, ``prefill``) shortened first, then the op name cut in its middle, keeping more
    of its end (``pre atte…on.qkv`` and ``pre atte…on.out`` stay different).

    Widths are terminal cells (an East Asian wide character or an emoji takes two), so
    the bar and the share after the label stay in place whatever the names are."""
    if cell_len(label) <= width:
        return label
    words = label.split(" ")
    if len(words) > 1:
        words = [_SHORT_WORDS.get(w, cut(w, 4, "end").rstrip("…")) for w in words[:-1]] + words[-1:]
        label = " ".join(words)
        if cell_len(label) <= width:
            return label
    if width <= 2:
        return cut(label, width)
    lead = " ".join(words[:-1]) + " " if len(words) > 1 else ""
    if cell_len(lead) > width // 2:
        lead = ""
        name = label
    else:
        name = words[-1]
    room = width - cell_len(lead) - 1  # one cell for the ellipsis
    n_tail = (room * 3 + 4) // 5
    n_head = room - n_tail
    return lead + head(name, n_head) + "…" + tail(name, n_tail)


class MemoryGraph(Widget):
    """RSS (filled) and traced memory (line) over time, KV cache size and the peak."""

    COMPONENT_CLASSES = {
        "memorygraph--rss",
        "memorygraph--traced",
        "memorygraph--kv",
        "memorygraph--axis",
        "memorygraph--label",
    }
    DEFAULT_CSS = """
    MemoryGraph { height: 1fr; text-wrap: nowrap; text-overflow: clip; }
    MemoryGraph > .memorygraph--rss { color: $zl-rss; }
    MemoryGraph > .memorygraph--traced { color: $zl-traced; }
    MemoryGraph > .memorygraph--kv { color: $zl-kv; }
    MemoryGraph > .memorygraph--axis { color: $zl-axis; }
    MemoryGraph > .memorygraph--label { color: $foreground; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.view: MemoryView | None = None

    def update_view(self, view: MemoryView | None) -> None:
        self.view = view
        self.refresh()

    def legend(self, width: int) -> Text:
        """One line: current RSS, its peak, traced, KV cache and the recent growth rate.

        Items are dropped from the end when the line is too narrow for them.
        """
        v = self.view
        st = self.get_component_rich_style
        t = Text(no_wrap=True, overflow="crop")
        if v is None or v.last_rss <= 0:
            t.append("no memory readings yet", st("memorygraph--axis"))
            return t
        label, axis = st("memorygraph--label"), st("memorygraph--axis")
        items: list[list[tuple[str, Style]]] = [
            [("RSS ", st("memorygraph--rss")), (fmt.nbytes(v.last_rss), label)],
            [("peak ", axis), (fmt.nbytes(v.peak_rss), label)],
        ]
        if v.kv_bytes >= 0:
            items.append([("KV ", st("memorygraph--kv")), (fmt.nbytes(v.kv_bytes), label)])
        if v.last_traced >= 0:
            items.append([("traced ", st("memorygraph--traced")), (fmt.nbytes(v.last_traced), label)])
        sign = "+" if v.growth_per_s >= 0 else "-"
        items.append([(f"{sign}{fmt.nbytes(abs(v.growth_per_s))}/s", axis)])
        used = 0
        for i, item in enumerate(items):
            n = sum(len(s) for s, _ in item) + (2 if i else 0)
            if used + n > width and i:
                break
            if i:
                t.append("  ")
            for s, style in item:
                t.append(s, style)
            used += n
        return t

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        out = self.legend(width)
        v = self.view
        if v is None or height < 2 or len(v.t_s) == 0:
            return out
        gutter = 9
        cols = max(1, width - gutter - 1)
        rows = height - 1
        kv = next((c for n, c in v.gauges.items() if "kv" in n.lower() and (c >= 0).any()), None)
        kv_rows = max(1, rows // 3) if kv is not None and rows >= 5 else 0
        main_rows = rows - kv_rows
        t_range = (float(v.t_s.min()), float(v.t_s.max()))
        axis = self.get_component_rich_style("memorygraph--axis")
        series = [(v.rss, "memorygraph--rss", True)]
        if (v.traced >= 0).any():
            series.append((v.traced, "memorygraph--traced", False))
        lo, hi = _range([c for c, _, _ in series])
        # lines first so they keep their colour over the filled RSS area
        layers = [
            self._layer(v.t_s, col, cols, main_rows, t_range, (lo, hi), cls, fill)
            for col, cls, fill in sorted(series, key=lambda s: s[2])
        ]
        self._append(out, layered_text(layers, main_rows), fmt.nbytes(hi), fmt.nbytes(lo), gutter, axis)
        if kv_rows and kv is not None:
            kv_hi = float(kv[kv >= 0].max()) or 1.0
            layer = self._layer(v.t_s, kv, cols, kv_rows, t_range, (0.0, kv_hi), "memorygraph--kv", True)
            kv_style = self.get_component_rich_style("memorygraph--kv")
            self._append(out, layered_text([layer], kv_rows), fmt.nbytes(kv_hi), "KV", gutter, kv_style)
        return out

    def _layer(
        self,
        t_s: np.ndarray,
        col: np.ndarray,
        cols: int,
        rows: int,
        t_range: tuple[float, float],
        v_range: tuple[float, float],
        cls: str,
        fill: bool,
    ) -> tuple[BrailleCanvas, Style]:
        ok = col >= 0
        canvas = BrailleCanvas(cols, rows)
        plot_series(canvas, t_s[ok], col[ok], t_range=t_range, v_range=v_range, fill=fill)
        style = self.get_component_rich_style(cls)
        return canvas, (style + Style(dim=True)) if fill else style

    @staticmethod
    def _append(out: Text, lines: list[Text], top: str, bottom: str, gutter: int, axis: Style) -> None:
        for r, line in enumerate(lines):
            out.append("\n")
            label = top if r == 0 else (bottom if r == len(lines) - 1 else "")
            out.append(_gutter(label, gutter) + " ", axis)
            out.append_text(line)


def _range(cols: list[np.ndarray]) -> tuple[float, float]:
    """A padded value range over the valid (>= 0) points of several series."""
    vals = np.concatenate([c[c >= 0] for c in cols]) if cols else np.zeros(0)
    if len(vals) == 0:
        return 0.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    pad = (hi - lo) * 0.05 or max(hi * 0.05, 1.0)
    return max(0.0, lo - pad), hi + pad


class DurationHistogram(Widget):
    """Duration histogram on a log-scale time axis, with p50 / p95 / p99 marks."""

    COMPONENT_CLASSES = {"histogram--bar", "histogram--axis", "histogram--mark"}
    DEFAULT_CSS = """
    DurationHistogram { height: 1fr; text-wrap: nowrap; text-overflow: clip; }
    DurationHistogram > .histogram--bar { color: $zl-hist; }
    DurationHistogram > .histogram--axis { color: $zl-axis; }
    DurationHistogram > .histogram--mark { color: $zl-mark; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.edges_ms: np.ndarray = np.zeros(0)
        self.counts: np.ndarray = np.zeros(0, np.int64)
        self.marks: dict[str, float] = {}

    def update_data(self, edges_ms: np.ndarray, counts: np.ndarray, marks: dict[str, float]) -> None:
        self.edges_ms, self.counts, self.marks = edges_ms, counts, marks
        self.refresh()

    def bins_wanted(self) -> int:
        return max(8, self.content_size.width)

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        axis = self.get_component_rich_style("histogram--axis")
        if len(self.counts) == 0 or self.counts.sum() == 0:
            return Text("no samples yet", style=axis)
        counts = self.counts.astype(np.float64)
        # fit the bins to the width (merge neighbours if there are more bins than cells)
        if len(counts) > width:
            idx = (np.arange(len(counts)) * width) // len(counts)
            merged = np.zeros(width)
            np.add.at(merged, idx, counts)
            counts = merged
            edges = np.r_[self.edges_ms[:-1][np.r_[True, np.diff(idx) > 0]], self.edges_ms[-1]]
        else:
            edges = self.edges_ms
        rows = max(1, height - 2)
        top = counts.max()
        heights = counts / top if top > 0 else counts
        # a bucket with any sample shows at least a sliver
        heights = np.where((counts > 0) & (heights * rows * 8 < 1), 1 / (rows * 8), heights)
        bar = self.get_component_rich_style("histogram--bar")
        out = Text(no_wrap=True, overflow="crop")
        for line in vbars(heights, rows):
            out.append(line, bar)
            out.append("\n")
        # mark row: where p50 / p95 / p99 fall on the log axis
        n = len(counts)
        lo, hi = math.log(edges[0]), math.log(edges[-1])
        marks = [" "] * n
        for label, value in self.marks.items():
            if value and value > 0 and hi > lo:
                x = int((math.log(value) - lo) / (hi - lo) * n)
                x = min(max(x, 0), n - 1)
                marks[x] = {"p50": "▲", "p95": "△", "p99": "▵"}.get(label, "^")
        out.append("".join(marks), self.get_component_rich_style("histogram--mark"))
        out.append("\n")
        out.append(histogram_axis(edges, "log scale  ▲p50 △p95 ▵p99", n)[:width], axis)
        return out


class RecentPlot(Widget):
    """Recent durations over time (each pixel column spans its samples' min..max)."""

    COMPONENT_CLASSES = {"recentplot--line", "recentplot--axis"}
    DEFAULT_CSS = """
    RecentPlot { height: 1fr; text-wrap: nowrap; text-overflow: clip; }
    RecentPlot > .recentplot--line { color: $zl-recent; }
    RecentPlot > .recentplot--axis { color: $zl-axis; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.t_s: np.ndarray = np.zeros(0)
        self.ms: np.ndarray = np.zeros(0)

    def update_data(self, t_s: np.ndarray, ms: np.ndarray) -> None:
        self.t_s, self.ms = t_s, ms
        self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        axis = self.get_component_rich_style("recentplot--axis")
        if len(self.ms) == 0:
            return Text("no samples yet", style=axis)
        gutter = 9
        cols = max(1, width - gutter - 1)
        rows = max(1, height - 1)
        lo, hi = float(self.ms.min()), float(self.ms.max())
        pad = (hi - lo) * 0.05 or hi * 0.05 or 1.0
        lo, hi = max(0.0, lo - pad), hi + pad
        canvas = BrailleCanvas(cols, rows)
        t0, t1 = float(self.t_s.min()), float(self.t_s.max())
        plot_series(canvas, self.t_s, self.ms, t_range=(t0, t1), v_range=(lo, hi), connect=False)
        lines = layered_text([(canvas, self.get_component_rich_style("recentplot--line"))], rows)
        out = Text(no_wrap=True, overflow="crop")
        for r, line in enumerate(lines):
            label = f"{fmt.ms(hi)} ms" if r == 0 else (f"{fmt.ms(lo)}" if r == rows - 1 else "")
            out.append(_gutter(label, gutter) + " ", axis)
            out.append_text(line)
            out.append("\n")
        left = f"{t0:.1f} s"
        right = f"{t1:.1f} s"
        middle = f"{len(self.ms):,} samples over {fmt.duration_s(t1 - t0)}"
        gap = cols - len(left) - len(right)
        if gap >= len(middle) + 2:
            pad_l = (gap - len(middle)) // 2
            axis_line = left + " " * pad_l + middle + " " * (gap - len(middle) - pad_l) + right
        else:
            axis_line = left + " " * max(1, gap) + right
        out.append(" " * (gutter + 1) + axis_line[:cols], axis)
        return out


def histogram_axis(edges: np.ndarray, mid: str, n: int) -> str:
    """A histogram's axis line over ``n`` cells: its first and last edge (ms) at the ends
    and ``mid`` centred between them when it fits."""
    left, right = f"{fmt.ms(edges[0])} ms", f"{fmt.ms(edges[-1])} ms"
    gap = n - len(left) - len(right)
    if gap >= len(mid) + 2:
        pad = gap - len(mid)
        return left + " " * (pad // 2) + mid + " " * (pad - pad // 2) + right
    if gap > 0:
        return left + " " * gap + right
    return left
