"""Snapshots: what a screen asks for (MainRequest, DrillRequest), one consistent
:class:`Snapshot` of a SessionState (:func:`collect`, which reuses the last rows while
they hold) and the ingest rate meter. Taken on the Refresher thread; no widgets."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ... import rates
from ...session import WHOLE, OpRow, SessionState, View
from .common import WINDOW_S
from .drill import DrillView, drill_view
from .memory import MemoryView, memory_view

if TYPE_CHECKING:
    from ...diagnose import Hint
    from .facts import CrashView, RooflineShown
    from .status import StatusView

# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class MainRequest:
    """What the main screen needs from the next snapshot."""

    window: bool = False
    memory: bool = True
    #: the whole tree (default), one process or one thread (the processes screen, ``p``)
    view: View = WHOLE


@dataclass(frozen=True)
class DrillRequest:
    path_id: int
    bins: int = 60


@dataclass
class Snapshot:
    """One consistent read of a SessionState, taken off the UI thread."""

    request: Any
    version: int
    measurements: int
    last_ns: int
    elapsed_s: float
    tokens_total: int
    tokens_per_s: float
    ttft_ms: float | None
    tpot_ms: float | None
    measurements_per_s: float
    warnings: list[str]
    end_status: int | None
    end_reason: str
    info: dict[str, Any]
    rows: list[OpRow] = field(default_factory=list)
    memory: MemoryView | None = None
    drill: DrillView | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: the state's ops_version and session clock the rows were computed at
    ops_version: int = -1
    rows_ns: int = 0
    #: the rows are an earlier snapshot's, kept although measurements arrived since (the
    #: Refresher spaces costly rebuilds of the rows: collect's ``rows_due``)
    rows_stale: bool = False
    #: the span the rows' shares are of (ns): the session's wall time, or the window
    rows_wall_ns: int = 0
    #: what ``tokens_per_s`` divides (rates.recent_rate): "output tokens / last 10 s"
    tokens_divides: str = ""
    #: the headline and the table's defaults (tui.opening.Opening; main screen only),
    #: computed on the Refresher thread
    opening: Any = None
    # What the screens show besides the op data, built by the app on the Refresher thread
    # (ZlprofApp.collect_extra): the screens take everything from the snapshot.
    #: the header (program, state, rates, recording)
    status: StatusView | None = None
    #: the crash panel's content (None: the program has not crashed)
    crash: CrashView | None = None
    #: a note about the data in place of the headline ("": the headline)
    note: str = ""
    #: under the roofline panel: the cached peaks predate per-level roofs ("" : fine)
    peaks_stale: str = ""
    #: the hints, when due (None: keep the ones shown)
    hints: list[Hint] | None = None
    #: the roofline placement, when due (None: keep the one shown)
    roofline: RooflineShown | None = None


def _median(acc: Any) -> float | None:
    if acc.count == 0:
        return None
    return float(acc.quantiles_ns([50])[0] / 1e6)


#: Rows of an unchanged session are reused for up to this long of the session clock
#: (shares of wall time and the last-10-s window drift with the clock alone).
ROWS_REUSE_NS = 2_000_000_000


def reusable_rows(state: SessionState, request: Any, prev: Snapshot | None) -> list[OpRow] | None:
    """``prev``'s rows, when they still hold for ``request``: the same request, no new
    measurement, name or cost since (``ops_version``) and less than ROWS_REUSE_NS of the
    session clock later. A table of thousands of paths is then not rebuilt while the
    program idles (memory readings alone move the state's version)."""
    if (
        prev is None
        or prev.request != request
        or prev.ops_version != state.ops_version
        or not 0 <= state.last_ns - prev.rows_ns < ROWS_REUSE_NS
    ):
        return None
    return prev.rows


def collect(
    state: SessionState, request: Any, prev: Snapshot | None = None, rows_due: bool = True
) -> Snapshot:
    """Gather what ``request`` needs from ``state`` (takes the state's lock).

    ``prev``: the last snapshot taken; its op rows are reused (the same list object)
    when :func:`reusable_rows` says they still hold, or, with ``rows_due`` False, whenever
    ``prev`` was taken for the same request (the snapshot is then ``rows_stale``; the
    header and the other figures are fresh).
    """
    with state.lock:
        recent = rates.recent_rate(state, WINDOW_S)
        snap = Snapshot(
            request=request,
            version=state.version,
            measurements=state.measurements,
            last_ns=state.last_ns,
            elapsed_s=state.elapsed_ns / 1e9,
            tokens_total=state.tokens_total,
            tokens_per_s=recent.value or 0.0,
            tokens_divides=recent.divides,
            ttft_ms=_median(state.ttft),
            tpot_ms=_median(state.tpot),
            measurements_per_s=state.measurements_per_s(),
            warnings=list(state.warnings),
            end_status=state.end_status,
            end_reason=state.end_reason,
            info=dict(state.info),
            ops_version=state.ops_version,
        )
        procs = state.processes
        if len(procs) > 1 or len(state.thread_keys()) > 1:
            snap.extra["processes"] = (
                sum(1 for p in procs.values() if p.state == "running"), len(procs))
        if isinstance(request, MainRequest):
            rows = reusable_rows(state, request, prev)
            if rows is None and not rows_due and prev is not None and prev.request == request:
                rows = prev.rows
                snap.rows_stale = True
            if rows is None:
                snap.rows, snap.rows_ns = (
                    state.op_rows(WINDOW_S if request.window else None, request.view),
                    state.last_ns,
                )
            else:
                assert prev is not None  # (rows are only ever prev's)
                snap.rows, snap.rows_ns, snap.ops_version = rows, prev.rows_ns, prev.ops_version
            # the headline's shares are of what the table's are (session.thread_wall_ns)
            snap.rows_wall_ns = state.thread_wall_ns(
                request.view, WINDOW_S if request.window else None
            )
            snap.extra["share_threads"] = len(state.thread_keys(request.view))
            if request.memory:
                snap.memory = memory_view(state.memory_series(), state.origin_ns)
        elif isinstance(request, DrillRequest):
            snap.drill = drill_view(state, request.path_id, request.bins)
    return snap


def with_rate(snap: Snapshot, prev: Snapshot | None) -> Snapshot:
    """Replace the session-average measurement rate by the rate since ``prev`` (data clock)."""
    if prev is None or snap.last_ns <= prev.last_ns or snap.measurements < prev.measurements:
        return snap
    dt = (snap.last_ns - prev.last_ns) / 1e9
    if dt < 0.05:
        return snap
    return replace(snap, measurements_per_s=(snap.measurements - prev.measurements) / dt)


class RateMeter:
    """Measurements per second over the last ``span_s`` of the data clock.

    Children flush measurements in batches, so the rate between two refreshes jumps
    around; over a few seconds it is steady. Until ``span_s`` of data is seen, the rate
    is over what there is (the session average at first).
    """

    def __init__(self, span_s: float = 3.0) -> None:
        self.span_ns = int(span_s * 1e9)
        self.points: deque[tuple[int, int]] = deque()

    def apply(self, snap: Snapshot) -> Snapshot:
        if snap.last_ns <= 0 or snap.measurements <= 0:
            return snap  # nothing measured yet: no clock to measure a rate on
        pts = self.points
        if pts and (snap.measurements < pts[-1][1] or snap.last_ns < pts[-1][0]):
            pts.clear()  # a reset (or a seek back): start over
        if not pts or snap.last_ns > pts[-1][0]:
            pts.append((snap.last_ns, snap.measurements))
        while len(pts) > 2 and snap.last_ns - pts[1][0] >= self.span_ns:
            pts.popleft()
        first = pts[0]
        if snap.last_ns - first[0] < 50_000_000:
            return snap
        return with_rate(snap, replace(snap, last_ns=first[0], measurements=first[1]))
