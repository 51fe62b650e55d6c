"""The session's small types: paths, table rows, processes, views, the column series.

Holds the constants (MAX_PATHS, OTHER_PID/OTHER_NAME, MEMORY_POINTS) and plain data
classes; no folding and no statistics (those are in the state's mixins and stats.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..stats import PerformanceStats

#: The memory series keeps at most this many points; older halves are thinned 2:1.
MEMORY_POINTS = 20_000
#: Distinct call paths kept per session. A path first seen past the cap (and everything
#: under it) is folded into one top-level row, OTHER_NAME, and the session gets a warning:
#: statistics, the table and the snapshots then stay bounded whatever names a program makes.
MAX_PATHS = 2_000
#: The id and the name of the row that collects the paths past the cap.
OTHER_PID = (1 << 31) - 1  # the largest id a frame can carry (int32): never a real path
OTHER_NAME = "(other paths)"


@dataclass(slots=True)
class PathInfo:
    id: int
    parent: int
    name: str
    full: str
    depth: int


@dataclass(slots=True)
class OpRow:
    """One line of the operations table."""

    path_id: int
    full: str
    name: str
    parent: str
    depth: int
    stats: PerformanceStats
    self_ms: float
    self_share: float
    flops: int = 0
    nbytes: int = 0
    cost_calls: int = 0


@dataclass
class ProcessInfo:
    """One measuring process of the session's tree (a stream of the recording)."""

    stream: int
    pid: int = 0
    ppid: int | None = None
    argv: list[str] = field(default_factory=list)
    #: how it began: exec, fork, spawn, forkserver
    start: str = ""
    start_ns: int | None = None
    #: running | exited | killed | ended (status unknown)
    state: str = "running"
    status: int | None = None
    reason: str = ""
    #: its profiler closed cleanly (a ``bye`` frame): everything it measured arrived
    said_bye: bool = False
    #: thread id -> name
    threads: dict[int, str] = field(default_factory=dict)
    measurements: int = 0
    last_ns: int = 0

    @property
    def label(self) -> str:
        """``exited 0``, ``killed by SIGKILL``, ``running`` ... (what the UI shows)."""
        if self.state == "running":
            return "running"
        return self.reason or self.state


@dataclass(slots=True)
class ProcessRow:
    """One line of the process tree (SessionState.process_rows)."""

    stream: int
    pid: int
    ppid: int | None
    depth: int
    command: str
    start: str
    state: str
    label: str
    status: int | None
    measurements: int
    threads: int
    #: the process's top-level measured time as a share of the tree's summed thread time
    share: float
    #: its measuring threads
    thread_rows: list[ThreadRow] = field(default_factory=list)


@dataclass(slots=True)
class ThreadRow:
    """One measuring thread of a process."""

    tid: int
    name: str
    measurements: int
    #: its top-level measured time as a share of its own wall time
    share: float


@dataclass(frozen=True)
class View:
    """Which measurements a table shows: the whole tree (stream None, the default, same
    path merged across processes and threads), one process, or one thread of one."""

    stream: int | None = None
    tid: int | None = None

    @property
    def whole(self) -> bool:
        return self.stream is None


WHOLE = View()


@dataclass
class RequestTiming:
    start: int = -1
    first: int = -1
    last: int = -1
    tokens: int = 0


class _Series:
    """Growable int64 columns with 2:1 thinning past a bound."""

    def __init__(self, names: list[str], bound: int = MEMORY_POINTS) -> None:
        self.names = list(names)
        self.cols: dict[str, np.ndarray] = {k: np.zeros(1024, np.int64) for k in names}
        self.n = 0
        self.bound = bound

    def add_column(self, name: str) -> None:
        if name not in self.cols:
            col = np.full(len(next(iter(self.cols.values()))), -1, np.int64)
            self.cols[name] = col
            self.names.append(name)

    def extend(self, values: dict[str, np.ndarray]) -> None:
        k = len(values["t"])
        if k == 0:
            return
        for name in values:
            self.add_column(name)
        need = self.n + k
        cap = len(self.cols["t"])
        if need > cap:
            newcap = max(need, cap * 2)
            for name, col in self.cols.items():
                grown = np.full(newcap, -1, np.int64)
                grown[: self.n] = col[: self.n]
                self.cols[name] = grown
        for name, col in self.cols.items():
            v = values.get(name)
            col[self.n : need] = v if v is not None else -1
        self.n = need
        if self.n > self.bound:
            half = self.n // 2
            for col in self.cols.values():
                old = col[:half:2].copy()
                rest = col[half : self.n].copy()
                col[: len(old)] = old
                col[len(old) : len(old) + len(rest)] = rest
            self.n = (half + 1) // 2 + (self.n - half)

    def get(self, name: str) -> np.ndarray:
        col = self.cols.get(name)
        if col is None:
            return np.zeros(0, np.int64)
        return col[: self.n]
