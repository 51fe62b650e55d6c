"""Where frames come from: a live child process or a recording. One interface.

Everything after a Source (SessionState, the app's views, reports) is the same for live
and replay. A Source owns its SessionState and feeds it from a background thread; views
read the state on a timer.

The package: :mod:`.base` (the Source surface, exit statuses), :mod:`.live` (LiveSource,
its listener and threads), :mod:`.channel` (one process's channel, /proc helpers).
"""

from __future__ import annotations

from .base import (
    EXIT_PROGRAM_FAILED,
    Source,
    SourceError,
    describe_exit,
    failure_hint,
    program_failed,
)
from .channel import process_suspended
from .live import (
    GRACE_S,
    SILENT_AFTER_S,
    STALL_AFTER_S,
    WATCH_EVERY_S,
    LiveSource,
    workload_command,
)

__all__ = [
    "EXIT_PROGRAM_FAILED", "GRACE_S", "SILENT_AFTER_S", "STALL_AFTER_S", "WATCH_EVERY_S",
    "LiveSource", "Source", "SourceError", "describe_exit", "failure_hint", "process_suspended",
    "program_failed", "workload_command",
]
