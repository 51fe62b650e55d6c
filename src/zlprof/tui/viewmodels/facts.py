"""What a snapshot carries for a screen besides its panels' data: the view settings the
screen was asked with (:class:`ViewSettings`), the header's facts (:class:`Header`: the
status, the crash (:class:`CrashView`), ...) and the roofline placement
(:class:`RooflineShown`); and what a screen tells the app it shows (:class:`ScreenView`).
Built by the app (the Refresher thread) or the screens; no widgets, no statistics here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...roofline import MachinePeaks, RooflinePoint, StreamSummary
from ...session import WHOLE, View

if TYPE_CHECKING:
    from .snapshot import Snapshot
    from .status import StatusView


@dataclass(frozen=True)
class ViewSettings:
    """The app's view settings a screen shows and asks with: a frozen view (space), the
    last-10-s window (``w``) and which processes (``p``) with its label."""

    paused: bool = False
    window: bool = False
    view: View = WHOLE
    #: the title's name of ``view`` ("" for the whole tree)
    view_label: str = ""


@dataclass(frozen=True)
class CrashView:
    """A crashed program: its exit status or signal, and the tail of its stderr."""

    reason: str
    lines: tuple[str, ...]
    #: what zlprof can tell beyond the traceback (sources.failure_hint), or ""
    hint: str = ""


@dataclass(frozen=True)
class RooflineShown:
    """The ops placed on the roofline (widgets.roofline_panel.placed_view's points,
    summary and message), the peaks they were placed with and the highlighted op."""

    points: list[RooflinePoint]
    summary: StreamSummary | None
    message: str
    peaks: MachinePeaks | None
    highlight: str | None


@dataclass(frozen=True)
class Header:
    """What a screen shows of the source beside its data: the status bar, the crash panel,
    the note in place of the headline and the peaks' age under the roofline.

    Travels in each snapshot (:func:`header_of`); when only these facts change (the clock,
    a stall, the program's end) the app sends them alone, in the screen's ``header``
    reactive, and takes no snapshot (``ZlprofApp.show_header``)."""

    status: StatusView | None = None
    crash: CrashView | None = None
    note: str = ""
    peaks_stale: str = ""


def header_of(snap: Snapshot) -> Header:
    """The header a snapshot carries."""
    return Header(snap.status, snap.crash, snap.note, snap.peaks_stale)


@dataclass(frozen=True)
class ScreenView:
    """What a snapshot screen shows, as the app needs to know it: the request its
    snapshots are taken with (a MainRequest or a DrillRequest), whether the hints and the
    roofline panels are on screen (they are computed only then) and how many pages of
    lower panels it has (``n``). The screen posts it up when it changes
    (screens/base.py: ViewChanged); the app never reads a screen for it."""

    request: Any
    hints: bool = False
    roofline: bool = False
    pages: int = 1
    #: how the time-share bars are grouped (main screen; None elsewhere): the refresher
    #: computes them in that mode ahead of the UI thread
    share_mode: str | None = None
