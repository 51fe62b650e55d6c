"""What a snapshot carries for a screen besides its panels' data: the view settings the
screen was asked with (:class:`ViewSettings`), the crash (:class:`CrashView`) and the
roofline placement (:class:`RooflineShown`). Built by the app on the Refresher thread;
no widgets, no statistics here."""

from __future__ import annotations

from dataclasses import dataclass

from ...roofline import MachinePeaks, RooflinePoint, StreamSummary
from ...session import WHOLE, View


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


@dataclass(frozen=True)
class RooflineShown:
    """The ops placed on the roofline (widgets.roofline_panel.placed_view's points,
    summary and message), the peaks they were placed with and the highlighted op."""

    points: list[RooflinePoint]
    summary: StreamSummary | None
    message: str
    peaks: MachinePeaks | None
    highlight: str | None
