"""Self (exclusive) time of call paths from their totals.

Holds :func:`self_times` only; the per-path statistics it reads come from the session.
"""

from __future__ import annotations

from collections.abc import Sequence


def self_times(paths: Sequence[str], totals: Sequence[float]) -> list[float]:
    """Self (exclusive) time of each call path: its total minus the totals of its nearest
    *measured* descendants, i.e. the nearest ones among ``paths``. A path part with no
    measurement of its own (``a/b`` of ``a``, ``a/b/c``, while ``a/b`` has none) is looked
    through, so nested time is never counted twice: the self times add up to the totals of
    the paths with no measured ancestor. Never negative."""
    index = {p: i for i, p in enumerate(paths)}
    inner = [0.0] * len(paths)
    for p, t in zip(paths, totals, strict=True):
        parts = p.split("/")
        for k in range(len(parts) - 1, 0, -1):
            j = index.get("/".join(parts[:k]))
            if j is not None:
                inner[j] += t
                break
    return [max(0.0, t - c) for t, c in zip(totals, inner, strict=True)]
