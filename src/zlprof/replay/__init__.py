"""ReplaySource: a recording played back into a SessionState at its recorded pace.

The package: ``source`` (ReplaySource's public surface, Timeline), ``player`` (reading,
the playback thread, seeks), ``index`` (the seek index and its checkpoints), ``timing``
(due times and frame order). Import from ``zlprof.replay``; tests that patch the index's
constants patch ``zlprof.replay.index``, the module that reads them.
"""

from __future__ import annotations

from .index import (
    CHECKPOINT_FOLD_S,
    MAX_CHECKPOINTS,
    _Checkpoint,
    _Index,
    clone_accumulator,
    clone_state,
)
from .player import FOLD_SLICE_S, FRAME_WORK, MAX_SLEEP_S, RESTORE_WORK
from .source import SPEEDS, ReplaySource, Timeline, speed_label
from .timing import frame_time, in_time_order

__all__ = [
    "CHECKPOINT_FOLD_S",
    "FOLD_SLICE_S",
    "FRAME_WORK",
    "MAX_CHECKPOINTS",
    "MAX_SLEEP_S",
    "RESTORE_WORK",
    "SPEEDS",
    "ReplaySource",
    "Timeline",
    "_Checkpoint",
    "_Index",
    "clone_accumulator",
    "clone_state",
    "frame_time",
    "in_time_order",
    "speed_label",
]
