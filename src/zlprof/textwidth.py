"""Text in terminal cells: widths, cutting, wrapping, and tables that fit a terminal.

Every width in zlprof's text output is measured here, in cells: an East Asian wide
character or an emoji takes two, a combining mark none (``rich.cells.cell_len``, already
a dependency through Textual). Views that lay out text (bars, tables, labels) call
:func:`cell_len`, :func:`cut` and :func:`pad` instead of ``len`` and ``str.ljust``.

Tables (:func:`render_table`) size to the terminal: when the natural layout is too wide,
a column marked ``cut`` (a name) is abbreviated down to its ``min_width``, then columns
are dropped in their stated ``drop`` order (lowest first), the cut column growing back
into the room each drop frees; only when every droppable column is gone is the name cut
further, down to its ``floor``. Numbers are never cut. With no width (output piped or
redirected, see :func:`terminal_width`) nothing is cut or dropped: one row a line.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TextIO

from rich.cells import cell_len as _rich_cell_len

ELLIPSIS = "…"

Align = Literal["left", "right"]
Cut = Literal["end", "start", "middle"]


def cell_len(text: str) -> int:
    """Width of ``text`` in terminal cells (wide characters and emoji count two)."""
    return _rich_cell_len(text)


def pad(text: str, width: int, align: Align = "left") -> str:
    """``text`` padded with spaces to ``width`` cells (never cut)."""
    gap = width - cell_len(text)
    if gap <= 0:
        return text
    return text + " " * gap if align == "left" else " " * gap + text


def head(text: str, width: int) -> str:
    """The longest start of ``text`` at most ``width`` cells wide (no half characters)."""
    used = 0
    for i, ch in enumerate(text):
        used += cell_len(ch)
        if used > width:
            return text[:i]
    return text


def tail(text: str, width: int) -> str:
    """The longest end of ``text`` at most ``width`` cells wide."""
    out = []
    used = 0
    for ch in reversed(text):
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(reversed(out))


def cut(text: str, width: int, where: Cut = "end") -> str:
    """``text`` at most ``width`` cells wide, an ellipsis marking what was cut: at the
    ``end`` (keep the start), at the ``start`` (keep the end: a path's leaf), or in the
    ``middle``."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width == 1:
        return ELLIPSIS
    room = width - 1
    if where == "start":
        return ELLIPSIS + tail(text, room)
    if where == "middle":
        left = head(text, (room + 1) // 2)
        return left + ELLIPSIS + tail(text, room - cell_len(left))
    return head(text, room) + ELLIPSIS


def wrap(text: str, width: int | None, indent: str = "", subsequent: str | None = None) -> list[str]:
    """Greedy word wrap measured in cells; ``None`` width: one line. A word longer than a
    line stays whole on its own line (names and numbers are not split)."""
    sub = indent if subsequent is None else subsequent
    words = text.split()
    if width is None:
        return [indent + " ".join(words)]
    lines: list[str] = []
    cur = indent
    cur_has = False
    for w in words:
        cand = f"{cur} {w}" if cur_has else cur + w
        if cur_has and cell_len(cand) > width:
            lines.append(cur)
            cur, cur_has = sub + w, True
        else:
            cur, cur_has = cand, True
    if cur_has or not lines:
        lines.append(cur)
    return lines


def terminal_width(stream: TextIO | None = None) -> int | None:
    """Columns of the terminal ``stream`` (default stdout) writes to; None when it is
    not a terminal (piped or redirected output is never fitted). ``COLUMNS`` wins over
    the terminal's own size, as for every program that honours it."""
    s = sys.stdout if stream is None else stream
    try:
        tty = s.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return None
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return shutil.get_terminal_size((80, 24)).columns


# --------------------------------------------------------------------------- tables


@dataclass
class Column:
    """One column of a :func:`render_table` table.

    ``drop``: the order in which columns go when the table is too wide (1 first; None
    never). ``min_width``: how far a ``cut`` column may be abbreviated (cut columns hold
    names; numbers are never cut, only dropped) before columns are dropped; ``floor``,
    how far once they all are."""

    header: str
    align: Align = "right"
    drop: int | None = None
    cut: Cut | None = None
    min_width: int = 24
    floor: int = 8


@dataclass
class Table:
    lines: list[str]
    #: headers of the columns dropped to fit, in drop order
    dropped: list[str] = field(default_factory=list)
    #: whether a cut column was abbreviated
    abbreviated: bool = False

    def note(self, width: int | None) -> str | None:
        """One line saying what was left out to fit, or None."""
        if not self.dropped and not self.abbreviated:
            return None
        what = []
        if self.dropped:
            what.append("left out " + ", ".join(self.dropped))
        if self.abbreviated:
            what.append("abbreviated names")
        return f"({' and '.join(what)} to fit {width} columns; pipe the output for all)"


def natural_widths(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[int]:
    """Each column's width uncut: its widest cell or header, in terminal cells."""
    return [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]


def render_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None,
    *,
    gap: int = 2,
    rule: bool = True,
) -> Table:
    """Lay out ``rows`` (cells as text) under ``columns`` within ``width`` cells.

    ``width`` None: the natural layout, nothing cut or dropped (piped output).
    """
    natural = natural_widths([c.header for c in columns], rows)
    keep = list(range(len(columns)))
    widths = list(natural)
    dropped: list[str] = []
    abbreviated = False
    if width is not None:
        order = sorted((c.drop, i) for i, c in enumerate(columns) if c.drop is not None)
        while True:
            total = sum(natural[i] for i in keep) + gap * (len(keep) - 1)
            over = total - width
            widths = list(natural)
            for i in keep:
                c = columns[i]
                if c.cut is None or over <= 0:
                    continue
                floor = max(c.min_width if order else c.floor, cell_len(c.header))
                take = min(over, max(0, natural[i] - floor))
                widths[i] = natural[i] - take
                over -= take
            if over <= 0 or not order:
                break
            _, i = order.pop(0)
            keep.remove(i)
            dropped.append(columns[i].header)
        abbreviated = any(widths[i] < natural[i] for i in keep)

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i in keep:
            c = columns[i]
            text = cells[i]
            if c.cut is not None and cell_len(text) > widths[i]:
                text = cut(text, widths[i], c.cut)
            parts.append(pad(text, widths[i], c.align))
        return (" " * gap).join(parts).rstrip()

    lines = [line([c.header for c in columns])]
    if rule:
        lines.append(line(["-" * widths[i] for i in range(len(columns))]))
    lines.extend(line(r) for r in rows)
    return Table(lines, dropped, abbreviated)
