"""What a Source can do beyond the common surface of ``sources.Source``, as protocols.

Views check a capability with ``isinstance(source, Seekable)`` (the protocols are
runtime-checkable) and then call it with its types known, instead of probing attributes
with ``getattr``:

* :class:`HasCommand`: the source runs (or ran) a command: its argv, as launched;
* :class:`HasProcess`: a live program zlprof started: its process, its stall threshold
  and how long it has been quiet (``LiveSource``);
* :class:`Seekable`: a recording being played: its file, timeline, pause, seek and
  speed (``ReplaySource``).

Only the protocols live here: no source implements anything in this module, and it
imports no source (sources.py and replay.py satisfy the protocols structurally).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .replay import Timeline


@runtime_checkable
class HasCommand(Protocol):
    """A source that runs a command (the command as launched reads better than the
    program's own ``sys.argv``)."""

    @property
    def argv(self) -> list[str]: ...


@runtime_checkable
class HasProcess(HasCommand, Protocol):
    """A live program zlprof started and watches."""

    @property
    def proc(self) -> subprocess.Popen[bytes] | None: ...

    @property
    def stall_after_s(self) -> float: ...

    def quiet_s(self) -> float:
        """Seconds since the program last sent a frame."""
        ...


@runtime_checkable
class Seekable(Protocol):
    """A recording being played: pause, seek, speed, and a timeline to show them."""

    @property
    def path(self) -> Path: ...

    @property
    def duration_s(self) -> float: ...

    def timeline(self) -> Timeline: ...

    def toggle_pause(self) -> bool: ...

    def seek(self, seconds: float, *, wait: bool = False) -> None: ...

    def seek_relative(self, delta_s: float, *, wait: bool = False) -> None: ...

    def seek_start(self, *, wait: bool = False) -> None: ...

    def seek_end(self, *, wait: bool = False) -> None: ...

    def slower(self) -> float | None: ...

    def faster(self) -> float | None: ...


if TYPE_CHECKING:  # mypy checks that the sources have the capabilities they are said to
    from .replay import ReplaySource
    from .sources import LiveSource

    def _conforms(replay: ReplaySource, live: LiveSource) -> tuple[Seekable, HasProcess]:
        return replay, live
