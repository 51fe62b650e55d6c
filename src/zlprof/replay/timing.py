"""When a recording's frames are due: their timestamps, the order they were sent in,
and where session time starts. No folding, no playback (player.py), no index (index.py).
"""

from __future__ import annotations

from ..protocol import Frame


def frame_time(fr: Frame) -> int | None:
    """The latest timestamp (ns, child clock) a frame carries, or None."""
    b = fr.body
    k = fr.kind
    if k == "meas":
        t1 = b["t1"]
        return int(t1.max()) if len(t1) else None
    if k == "mem":
        t = b["t"]
        return int(t.max()) if len(t) else None
    if k == "tokens":
        rows = b["rows"]
        return max(int(r[0]) for r in rows) if rows else None
    if k == "log":
        t = b.get("t")
        return int(t) if isinstance(t, int) and not isinstance(t, bool) and t > 0 else None
    return None


#: Frame kinds later frames of the same process refer to.
_DEFINING = frozenset({"hello", "names", "threads", "meta"})


def in_time_order(frames: list[Frame], ends: list[int]) -> tuple[list[Frame], list[int]]:
    """Frames in the order they were sent, as far as their timestamps tell.

    A 2.1 recorder stores a flush window's measurement chunk after its other frames
    (tokens, logs), up to ``recording.FLUSH_SPAN_NS`` apart; this restores the interleaving
    for playback: a stable sort by each frame's timestamp, a frame without one staying
    right after the frame before it. Files of other recorders are already in that order
    (the sort then moves nothing that a replay's due times would not have held back).
    """
    keys = []
    t = -(1 << 63)
    for fr in frames:
        ft = frame_time(fr)
        if ft is not None and fr.kind in ("meas", "mem", "tokens"):
            t = ft
        keys.append(t)
    # A frame that defines what later frames of its process refer to (path ids, threads,
    # the process itself) never moves after any of them: with several processes in one
    # file, the time of "the frame before it" may be another process's.
    later: dict[int, int] = {}
    for i in range(len(frames) - 1, -1, -1):
        fr = frames[i]
        low = later.get(fr.stream)
        if fr.kind in _DEFINING and low is not None and low < keys[i]:
            keys[i] = low
        if low is None or keys[i] < low:
            later[fr.stream] = keys[i]
    order = sorted(range(len(frames)), key=keys.__getitem__)
    if all(i == j for i, j in enumerate(order)):
        return frames, ends
    return [frames[i] for i in order], [ends[i] for i in order]


def _origin_ns(frames: list[Frame]) -> int:
    """Session time zero: the hello frame's start, else the earliest timestamp."""
    for fr in frames:
        if fr.kind == "hello":
            return int(fr.body["start_ns"])
    lo: int | None = None
    for fr in frames:
        if fr.kind == "meas" and len(fr.body["t0"]):
            t = int(fr.body["t0"].min())
        else:
            t = frame_time(fr)  # type: ignore[assignment]
        if t is not None and (lo is None or t < lo):
            lo = t
    return lo or 0
