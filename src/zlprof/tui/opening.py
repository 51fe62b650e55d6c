"""The first screen's answer to "where does the time go?": the headline and the table's
defaults (which subtrees are open, where the cursor goes), without widgets.

The app opens on the answer: the operations table sorted by total time, largest first
(:data:`DEFAULT_SORT`), the cursor on the dominant top-level op (the headline's
``top_path_id``), and every subtree collapsed except the dominant op and the path down
to the hottest op (the most self time), so the hottest work is on screen without a key
press at 80x24 and up. These are defaults: :class:`zlprof.tui.screens.main.MainScreen`
applies them to each snapshot until the user collapses, expands or moves the cursor
(their own choices then stick); a sort the user picks is theirs from the start.

:func:`opening` runs on the Refresher thread (it is part of the snapshot), never in a
widget; :func:`cursor_after_sort` says where the cursor goes when the order changes so
that the top of the table stays in view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..headline import Headline, headline
from ..session import OpRow

#: The table's order on opening: total time, largest first (siblings under their parent).
DEFAULT_SORT = "total"
DEFAULT_DESCENDING = True
#: The roofline verdict in the headline is recomputed at most this often (seconds):
#: placing every op costs more than the rest of the headline.
ROOF_EVERY_S = 1.0


@dataclass(frozen=True)
class Opening:
    """What the first screen shows before the user acts: the headline, the subtrees
    collapsed by default and the row the cursor starts on."""

    headline: Headline
    #: keys (full paths) of the subtrees collapsed by default
    collapsed: frozenset[str]
    #: the row the cursor goes to (the dominant top-level op), or None
    cursor_key: str | None
    #: the roofline verdict used (reused between its recomputations)
    roof: Any = None
    roof_at: float = -1e18


def default_collapsed(rows: list[OpRow], open_ids: set[int]) -> frozenset[str]:
    """Every op with children, except ``open_ids`` and the ancestors of each (so the
    rows of ``open_ids`` and their children are on show)."""
    by_id = {r.path_id: r for r in rows}
    by_full = {r.full: r for r in rows}
    keep: set[str] = set()
    for pid in open_ids:
        r = by_id.get(pid)
        while r is not None and r.full not in keep:
            keep.add(r.full)
            r = by_full.get(r.parent) if r.parent else None
    parents = {r.parent for r in rows if r.parent and r.parent in by_full}
    return frozenset(parents - keep)


def opening(
    rows: list[OpRow],
    wall_ns: int,
    peaks: Any = None,
    prev: Opening | None = None,
    now: float | None = None,
) -> Opening:
    """The headline and table defaults of ``rows`` (``SessionState.op_rows()``).

    ``peaks``: the machine peaks (None: the headline has no roofline verdict). ``prev``:
    the last opening; its roofline verdict is reused for :data:`ROOF_EVERY_S`.
    """
    now = time.monotonic() if now is None else now
    roof, roof_at = None, -1e18
    if peaks is not None and rows:
        if prev is not None and prev.roof_at + ROOF_EVERY_S > now and prev.roof is not None:
            roof, roof_at = prev.roof, prev.roof_at
        else:
            from ..roofline import roof_finding

            roof, roof_at = roof_finding(rows, peaks), now
    head = headline(rows, wall_ns, roof)
    open_ids = {i for i in (head.top_path_id, head.hottest_path_id) if i is not None}
    by_id = {r.path_id: r for r in rows}
    top = by_id.get(head.top_path_id) if head.top_path_id is not None else None
    return Opening(
        headline=head,
        collapsed=default_collapsed(rows, open_ids),
        cursor_key=top.full if top is not None else None,
        roof=roof,
        roof_at=roof_at,
    )


def cursor_after_sort(cursor_index: int | None, page_rows: int) -> int:
    """The row the cursor goes to when the table's order changes, so that the top of the
    table stays in view: it stays on its op (``cursor_index``, that op's row in the new
    order) when that row is on the first page (``page_rows`` rows), else goes to the
    first row."""
    if cursor_index is None or cursor_index < 0 or cursor_index >= max(1, page_rows):
        return 0
    return cursor_index


#: Below this width the lower panels do not all fit side by side: they come in pages
#: that ``n`` cycles (the Footer says so). Matches MainScreen's "-normal" breakpoint.
ALL_PANELS_FROM = 100
#: Below this width one lower panel at a time ("-tiny").
TWO_PANELS_FROM = 60


def panel_pages(width: int, panels: list[str]) -> list[tuple[str, ...]]:
    """The lower panels (ids, in screen order) grouped into the pages ``n`` cycles.

    From :data:`ALL_PANELS_FROM` columns every panel is on screen (one page). Narrower,
    the first two (time share and memory: small, read at a glance) share the first page
    and every other panel (the roofline chart, the hints: they need the width) has a page
    of its own; under :data:`TWO_PANELS_FROM`, one panel a page.
    """
    if not panels:
        return []
    if width >= ALL_PANELS_FROM:
        return [tuple(panels)]
    if width >= TWO_PANELS_FROM:
        return [tuple(panels[:2]), *((p,) for p in panels[2:])]
    return [(p,) for p in panels]
