"""The text roofline: every memory level's roof, the compute roof, the ops, in braille.

Log-log axes, intensity (FLOP/byte) across, GFLOP/s up. Each memory level (L1, L2, L3,
DRAM) is a sloped braille line ``beta_level * I`` meeting the flat compute roof ``pi``;
each is labelled with its name (and bandwidth where there is room). Levels whose roofs
are within 3 % of each other share one line and one label (``L1/L2``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Text

from ..braille import BrailleCanvas
from .numbers import _tick_label, fmt_num
from .peaks import MachinePeaks, MemoryLevel
from .placement import RooflinePoint, find_point

STYLE_ROOF = "cyan"
STYLE_RIDGE = "cyan"
STYLE_AXIS = "bright_black"
STYLE_MEMORY = "bold yellow"
STYLE_COMPUTE = "bold green"
STYLE_ABOVE = "bold red"
STYLE_HIGHLIGHT = "bold reverse"
STYLE_TITLE = "bold"

#: The chart's style roles and their defaults; ``render_roofline(styles=...)`` overrides
#: any of them with a style string or a ``rich.style.Style`` (e.g. from a Textual theme).
DEFAULT_STYLES: dict[str, str] = {
    "roof": STYLE_ROOF,
    "ridge": STYLE_RIDGE,
    "axis": STYLE_AXIS,
    "memory": STYLE_MEMORY,
    "compute": STYLE_COMPUTE,
    "above": STYLE_ABOVE,
    "title": STYLE_TITLE,
}


class _Grid:
    def __init__(self, w: int, h: int) -> None:
        self.w, self.h = w, h
        self.ch: list[list[str]] = [[" "] * w for _ in range(h)]
        self.st: list[list[Style | str]] = [[""] * w for _ in range(h)]
        self.taken: list[list[bool]] = [[False] * w for _ in range(h)]

    def put(self, x: int, y: int, text: str, style: Style | str = "", take: bool = False) -> None:
        for i, c in enumerate(text):
            if 0 <= x + i < self.w and 0 <= y < self.h:
                self.ch[y][x + i] = c
                self.st[y][x + i] = style
                if take:
                    self.taken[y][x + i] = True

    def free(self, x: int, y: int, n: int) -> bool:
        if y < 0 or y >= self.h or x < 0 or x + n > self.w:
            return False
        return not any(self.taken[y][x : x + n])

    def to_text(self) -> Text:
        out = Text(no_wrap=True, overflow="crop", end="")
        for y in range(self.h):
            run, style = "", None
            for x in range(self.w):
                c, s = self.ch[y][x], self.st[y][x]
                if s != style and run:
                    out.append(run, style or None)
                    run = ""
                style = s
                run += c
            if run:
                out.append(run, style or None)
            if y < self.h - 1:
                out.append("\n")
        return out


def _decades(lo: float, hi: float, min_span: int) -> tuple[int, int]:
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    while b - a < min_span:
        if (b - a) % 2:
            b += 1
        else:
            a -= 1
    return a, b


def render_roofline(
    points: Sequence[RooflinePoint],
    peaks: MachinePeaks,
    width: int = 80,
    height: int = 24,
    highlight: str | None = None,
    *,
    title: bool = True,
    styles: dict[str, Any] | None = None,
    min_share: float = 0.01,
) -> Text:
    """A log-log roofline in ``width`` x ``height`` terminal cells.

    The bandwidth slope and the compute ceiling are braille dot lines (2 x 4 dots per
    cell), the ridge a dotted vertical line marked on the x axis; each op is a point
    labelled with its short name where there is room, else with its id (``1``-``9``,
    ``a``-``z``) and a numbered legend line below the chart. Points above the roof are red
    and suffixed ``!``; ``highlight`` (a path, group key or label) is drawn reversed and
    labelled first. Ops taking less than ``min_share`` of the costed time are left to the
    table (the legend says how many). Ids match :func:`roofline_table`.
    """
    width, height = int(width), int(height)
    if width < 24 or height < 8 or not (peaks.gflops > 0 and peaks.gbps > 0):
        msg = "roofline: too small" if width < 24 or height < 8 else "roofline: no peaks"
        return Text(msg[: max(0, width)], no_wrap=True, overflow="crop", end="")
    hl = find_point(points, highlight)
    # ops taking under ``min_share`` of the costed time stay in the table only
    total_ms = sum(p.time_ms for p in points)
    shown = [p for p in points if p is hl or p.time_ms >= min_share * total_ms]
    small = len(points) - len(shown)
    S = {
        k: v if isinstance(v, Style) else Style.parse(v)
        for k, v in {**DEFAULT_STYLES, **(styles or {})}.items()
    }
    cap = max(0, (height - 4) // 3)
    # lay out with no legend first, then with as many legend rows as the last layout
    # needed (a shorter plot can move labels); keep the fewest rows that fit
    tried: dict[int, tuple[Text, int]] = {}
    legend_rows = 0
    for _ in range(6):
        tried[legend_rows] = _render(shown, peaks, width, height, hl, title, legend_rows, S, small)
        nxt = min(cap, tried[legend_rows][1])
        if nxt in tried:
            break
        legend_rows = nxt
    fits = [rows for rows, (_, need) in tried.items() if need <= rows]
    return tried[min(fits) if fits else max(tried)][0]


def _render(
    points: Sequence[RooflinePoint],
    peaks: MachinePeaks,
    width: int,
    height: int,
    hl: RooflinePoint | None,
    title: bool,
    legend_rows: int,
    S: dict[str, Style],
    small: int = 0,
) -> tuple[Text, int]:
    pi, beta, ridge = peaks.gflops, peaks.gbps, peaks.ridge
    plot_pts = [p for p in points if p.plottable]
    xs = [p.intensity for p in plot_pts] + [ridge]
    xlo, xhi = _decades(min(xs) / 3, max(xs) * 3, 2)
    ys = [p.gflops for p in plot_pts] + [pi, min(pi, beta * ridge / 10)]
    ylo, yhi = _decades(min(ys) / 2, max(max(ys), pi) * 1.6, 2)

    top = 1 if title else 0
    plot_rows = height - top - 2 - legend_rows
    ylab_w = max(len(_tick_label(e)) for e in range(ylo, yhi + 1)) + 1
    plot_cols = width - ylab_w
    grid = _Grid(width, height)
    canvas = BrailleCanvas(plot_cols, plot_rows)
    wpx, hpx = canvas.width, canvas.height

    def px_x(v: float) -> int:
        return round((math.log10(v) - xlo) / (xhi - xlo) * (wpx - 1))

    def px_y(v: float) -> int:
        return round((hpx - 1) - (math.log10(v) - ylo) / (yhi - ylo) * (hpx - 1))

    # roofs: each level's slope beta_level*I up to its ridge, then the ceiling pi
    groups = roof_groups(peaks.roofs())
    own: list[np.ndarray] = []  # each roof's cells, to label it on its own line
    for _, g_beta in groups:
        before = canvas.cells.copy()
        canvas.cells[:] = 0
        prev: int | None = None
        for px in range(wpx):
            intensity = 10 ** (xlo + px / (wpx - 1) * (xhi - xlo))
            perf = min(pi, g_beta * intensity)
            py = px_y(perf)
            if py >= hpx:
                prev = None
                continue
            py = max(py, 0)
            if prev is not None and abs(prev - py) > 1:
                canvas.vline(px, prev + (1 if py > prev else -1), py)
            canvas.set(px, py)
            prev = py
        own.append(canvas.cells.copy())
        canvas.cells |= before
    ridge_px = px_x(ridge)
    ceiling_py = max(0, px_y(pi))
    canvas.vline(ridge_px, ceiling_py + 2, hpx - 1, step=2)

    ox, oy = ylab_w, top  # plot origin in cells
    for y in range(plot_rows):
        for x in range(plot_cols):
            b = int(canvas.cells[y, x])
            if b:
                grid.put(ox + x, oy + y, chr(0x2800 + b), S["roof"])

    # axes
    ytick_rows = {}
    for e in range(ylo, yhi + 1):
        row = px_y(10.0**e) // 4
        if 0 <= row < plot_rows:
            ytick_rows[row] = e
    for y in range(plot_rows):
        if y in ytick_rows:
            lab = _tick_label(ytick_rows[y])
            grid.put(0, oy + y, lab.rjust(ylab_w - 1) + "┤", S["axis"], take=True)
        else:
            grid.put(ylab_w - 1, oy + y, "│", S["axis"], take=True)
    axis_y = oy + plot_rows
    grid.put(ylab_w - 1, axis_y, "└" + "─" * plot_cols, S["axis"], take=True)
    label_y = axis_y + 1
    last_end = -1
    for e in range(xlo, xhi + 1):
        col = px_x(10.0**e) // 2
        if not 0 <= col < plot_cols:
            continue
        grid.put(ox + col, axis_y, "┬", S["axis"])
        lab = _tick_label(e)
        start = max(0, min(width - len(lab), ox + col - len(lab) // 2))
        if start > last_end:
            grid.put(start, label_y, lab, S["axis"], take=True)
            last_end = start + len(lab)
    rcol = ridge_px // 2
    grid.put(ox + rcol, axis_y, "▲", S["ridge"])
    unit = "FLOP/B"
    if width - len(unit) > last_end:
        grid.put(width - len(unit), label_y, unit, S["axis"], take=True)
    if title:
        roofs = "  ".join(f"{'/'.join(n)} {fmt_num(b)}" for n, b in groups)
        t = f"GFLOP/s  pi {fmt_num(pi)}  {roofs} GB/s  DRAM ridge ▲ {fmt_num(ridge)} FLOP/B"
        if len(t) > width:
            t = f"GFLOP/s  pi {fmt_num(pi)}  {roofs} GB/s"
        grid.put(0, 0, t[:width], S["title"], take=True)

    _label_roofs(grid, canvas, own, groups, ox, oy, plot_rows, plot_cols, pi, px_x, ylo, yhi, S, width)

    # points: markers first (largest time first, the highlighted one before all)
    order = sorted(plot_pts, key=lambda p: (p is not hl, p.id))
    cell_owner: dict[tuple[int, int], RooflinePoint] = {}
    hidden: dict[int, RooflinePoint] = {}
    for p in order:
        cx = ox + min(plot_cols - 1, max(0, px_x(p.intensity) // 2))
        cy = oy + min(plot_rows - 1, max(0, px_y(p.gflops) // 4))
        if (cx, cy) in cell_owner:
            hidden[p.id] = cell_owner[(cx, cy)]
            continue
        cell_owner[(cx, cy)] = p
        grid.put(cx, cy, "●", _point_style(p, hl, S), take=True)
    legend: list[tuple[str, Style]] = []  # (text, style)
    x_max = width
    for p in order:
        if p.id in hidden:
            continue
        (cx, cy) = next(k for k, v in cell_owner.items() if v is p)
        under = [q for q in order if hidden.get(q.id) is p]
        lab = p.label + ("!" if p.above_roof else "") + (f" +{len(under)}" if under else "")
        style = _point_style(p, hl, S)
        placed = False
        for x0 in (cx + 2, cx - 1 - len(lab), cx + 1, cx - len(lab)):
            if x0 >= ox and x0 + len(lab) <= x_max and grid.free(x0, cy, len(lab)):
                gap = range(cx + 1, x0) if x0 > cx else range(x0 + len(lab), cx)
                if all(not grid.taken[cy][g] for g in gap):
                    for g in gap:
                        grid.put(g, cy, " ", "", take=True)
                    grid.put(x0, cy, lab, style, take=True)
                    placed = True
                    break
        if not placed:
            grid.put(cx, cy, p.marker, style, take=True)
            legend.append((f"{p.marker} {lab}", style))
        if under:
            where = p.label if placed else p.marker
            legend.append((f"+{len(under)} at {where}:", S["axis"]))
            for q in under:
                legend.append(
                    (f"{q.marker} {q.label}{'!' if q.above_roof else ''}", _point_style(q, hl, S))
                )
    for p in points:
        if not p.plottable:
            why = "no FLOPs" if p.flops == 0 else ("no bytes" if p.nbytes == 0 else "no time")
            legend.append((f"{p.marker} {p.label} ({why}, off chart)", _point_style(p, hl, S)))

    # roof annotations where free
    ceil_row = oy + ceiling_py // 4
    lab = f"pi {fmt_num(pi)} GFLOP/s"
    x0 = width - len(lab) - 1
    for yy in (ceil_row + 1, ceil_row - 1):
        if oy <= yy < oy + plot_rows and x0 > ox + rcol and grid.free(x0, yy, len(lab)):
            grid.put(x0, yy, lab, S["roof"], take=True)
            break
    if small:
        legend.append((f"+{small} op(s) under 1% of the time: table only", S["axis"]))
    # legend rows: entries flow left to right, wrapped at the width
    lines: list[list[tuple[str, Style]]] = [[]]
    used = 0
    for entry, style in legend:
        entry = entry if len(entry) <= width else entry[: width - 1] + "…"
        need = len(entry) + (3 if lines[-1] else 0)
        if lines[-1] and used + need > width:
            lines.append([])
            used, need = 0, len(entry)
        lines[-1].append((entry, style))
        used += need
    if not lines[-1]:
        lines.pop()
    overflow = len(lines) > legend_rows
    for r, line in enumerate(lines[:legend_rows]):
        if overflow and r == legend_rows - 1:
            hidden_n = sum(len(li) for li in lines[r:])
            line = [(f"+{hidden_n} more in the table", S["axis"])]
        x = 0
        for entry, style in line:
            grid.put(x, label_y + 1 + r, entry, style)
            x += len(entry) + 3
    return grid.to_text(), len(lines)


def _point_style(p: RooflinePoint, hl: RooflinePoint | None, S: dict[str, Style]) -> Style:
    base = S["above"] if p.above_roof else (S["memory"] if p.bound == "memory" else S["compute"])
    if hl is not None and p is hl:
        return base + Style(reverse=True, bold=True)
    return base



def roof_groups(roofs: Sequence[MemoryLevel], merge: float = 0.03) -> list[tuple[list[str], float]]:
    """The memory roofs to draw, highest bandwidth first: levels whose roofs lie within
    ``merge`` of each other share one line (``(["L1", "L2"], 74.0)``)."""
    out: list[tuple[list[str], float]] = []
    for lv in roofs:  # smallest level (fastest) first
        if out and abs(out[-1][1] - lv.roof_gbps) <= merge * out[-1][1]:
            out[-1][0].append(lv.name)
            continue
        out.append(([lv.name], lv.roof_gbps))
    return out


def _label_roofs(
    grid: _Grid,
    canvas: BrailleCanvas,
    own: list[np.ndarray],
    groups: list[tuple[list[str], float]],
    ox: int,
    oy: int,
    plot_rows: int,
    plot_cols: int,
    pi: float,
    px_x: Any,
    ylo: int,
    yhi: int,
    S: dict[str, Style],
    width: int,
) -> None:
    """Name each roof on its own line (``─L3─``; with its GB/s when wide), lowest roof
    first, from the bottom of the plot up, never over another roof's line or a label."""
    for gi in reversed(range(len(groups))):
        names, beta = groups[gi]
        text = "/".join(names)
        labels = [f"{text} {fmt_num(beta)} GB/s", text] if width >= 120 else [text]
        others = np.zeros_like(canvas.cells)
        for j, bits in enumerate(own):
            if j != gi:
                others |= bits
        done = False
        for lab in labels:
            for row in range(plot_rows - 1, -1, -1):
                cells = np.flatnonzero(own[gi][row])
                if len(cells) == 0 or cells[-1] >= plot_cols - 1:
                    continue
                x = max(0, int(cells[0] + cells[-1]) // 2 - len(lab) // 2)
                if x + len(lab) > plot_cols or any(others[row, x : x + len(lab)]):
                    continue
                if grid.free(ox + x, oy + row, len(lab)):
                    grid.put(ox + x, oy + row, lab, S["roof"], take=True)
                    done = True
                    break
            if done:
                break
