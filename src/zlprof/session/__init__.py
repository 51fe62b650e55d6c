"""SessionState: folds protocol frames into everything a view needs. Knows no screen.

Live and replay feed the same frames into the same SessionState; views read it (under
``lock`` when another thread ingests) and never compute statistics themselves.

The package: ``rows`` (constants, paths, table rows, processes, View), ``base`` (the
state's fields and copies), ``paths`` (path ids and measurement folding), ``fold`` (the
other frames), ``views`` (what views read), ``state`` (SessionState itself). Import from
``zlprof.session``; the module layout is not an interface.
"""

from __future__ import annotations

from .base import copy_value
from .rows import (
    MAX_PATHS,
    MEMORY_POINTS,
    OTHER_NAME,
    OTHER_PID,
    WHOLE,
    OpRow,
    PathInfo,
    ProcessInfo,
    ProcessRow,
    RequestTiming,
    ThreadRow,
    View,
    _Series,
)
from .state import SessionState

__all__ = [
    "MAX_PATHS",
    "MEMORY_POINTS",
    "OTHER_NAME",
    "OTHER_PID",
    "WHOLE",
    "OpRow",
    "PathInfo",
    "ProcessInfo",
    "ProcessRow",
    "RequestTiming",
    "SessionState",
    "ThreadRow",
    "View",
    "_Series",
    "copy_value",
]
