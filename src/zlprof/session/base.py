"""SessionState's fields (the dataclass every part of it shares) and its copies.

``_StateBase`` declares every attribute of a session and the few helpers all parts use;
``clone``/``take_over`` copy and move them (replay checkpoints and seeks, the compare
screen), next to the fields they carry. No folding and no views here.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from .. import protocol, rates
from ..stats import (
    DEFAULT_EXACT_BUDGET,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_RECENT_BUDGET,
    LogHistogram,
    OpAccumulator,
)
from .rows import MAX_PATHS, PathInfo, ProcessInfo, RequestTiming, _Series

_IMMUTABLE = (int, float, complex, str, bytes, bool, type(None), frozenset)


def copy_value(v: Any) -> Any:
    """An independent copy of one SessionState attribute value (SessionState.clone)."""
    if isinstance(v, _IMMUTABLE):
        return v
    if isinstance(v, tuple):
        return v if all(isinstance(x, _IMMUTABLE) for x in v) else tuple(copy_value(x) for x in v)
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, OpAccumulator):
        return v.clone()
    if isinstance(v, LogHistogram):
        return v.copy()
    if type(v) is dict:
        return {k: copy_value(x) for k, x in v.items()}
    if type(v) is list:
        return [copy_value(x) for x in v]
    if type(v) is deque:
        return deque((copy_value(x) for x in v), maxlen=v.maxlen)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        out = copy.copy(v)
        for f in dataclasses.fields(v):
            setattr(out, f.name, copy_value(getattr(v, f.name)))
        return out
    if hasattr(v, "__dict__") and not callable(v):
        # plain helper objects such as the column series: copy attribute-wise, trimming
        # growable columns to their used length when they say how much is used
        out = copy.copy(v)
        used = getattr(v, "n", None)
        for k, x in vars(v).items():
            if k == "cols" and isinstance(x, dict) and isinstance(used, int):
                setattr(out, k, {c: a[:used].copy() for c, a in x.items()})
            else:
                setattr(out, k, copy_value(x))
        return out
    return copy.deepcopy(v)


@dataclass
class _StateBase:
    """Everything known about one profiled session (the fields; see SessionState)."""

    exact_limit: int = DEFAULT_EXACT_LIMIT
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    paths: dict[int, PathInfo] = field(default_factory=dict)
    ops: dict[int, OpAccumulator] = field(default_factory=dict)
    costs: dict[int, list[int]] = field(default_factory=dict)
    logs: deque[tuple[int, str, str]] = field(default_factory=lambda: deque(maxlen=2000))
    end_status: int | None = None
    end_reason: str = ""
    start_ns: int | None = None
    first_ns: int | None = None
    last_ns: int = 0
    reset_ns: int | None = None
    measurements: int = 0
    frames: int = 0
    warnings: list[str] = field(default_factory=list)
    version: int = 0
    #: log lines seen (``logs`` keeps the last 2,000 of them)
    logs_seen: int = 0
    #: distinct call paths kept (see MAX_PATHS); the rest are folded into OTHER_NAME
    max_paths: int = MAX_PATHS
    #: bumped (with ``version``) only when the op rows can change: measurements, names,
    #: costs, a reset. Memory readings and logs leave it alone, so a view can skip
    #: rebuilding a large table while a program idles.
    ops_version: int = 0
    #: exact samples kept over all accumulators (see _Paths._keep_budgets): past it, the
    #: ops holding the most exact samples move to their histogram
    exact_budget: int = DEFAULT_EXACT_BUDGET
    #: recent samples kept over all accumulators' rings (each an equal share)
    recent_budget: int = DEFAULT_RECENT_BUDGET

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        #: ids of the paths past the cap (their measurements count as OTHER_PID)
        self.overflow: set[int] = set()
        #: the same as an array (None: to be built from ``overflow``)
        self._overflow_ids: np.ndarray | None = np.empty(0, np.int64)
        self.memory = _Series(["t", "rss", "traced"])
        #: requests in flight, by request id (another process's: by (stream, request id),
        #: as each process numbers its own requests)
        self.requests: dict[Any, RequestTiming] = {}
        self.tokens_total = 0
        self.tokens_decode = 0
        self.token_times: deque[int] = deque(maxlen=4096)
        #: union of finished requests' spans: first to last token / start to last token
        self.decode_spans = rates.SpanUnion()
        self.request_spans = rates.SpanUnion()
        self.ttft = OpAccumulator(exact_limit=self.exact_limit)
        self.tpot = OpAccumulator(exact_limit=self.exact_limit)
        self.itl = OpAccumulator(exact_limit=self.exact_limit)
        self.text_tail: deque[str] = deque(maxlen=400)
        #: cumulative output tokens over time (one point per token frame)
        self.token_series = _Series(["t", "tokens"])
        #: a bounded recording's summary covers raw measurements up to here (ns)
        self.full_from_ns: int | None = None
        self._decoder: protocol.FrameDecoder | None = None
        #: measuring processes by stream id (stream 0: a single-process recording)
        self.processes: dict[int, ProcessInfo] = {}
        #: per stream: the sender's path id -> the merged path id (-1: not named yet)
        self._lut: dict[int, np.ndarray] = {}
        #: (merged parent, name) -> merged path id
        self._by_key: dict[tuple[int, str], int] = {}
        self._assigned: set[int] = set()
        self._max_assigned = 0
        #: per (stream, thread id): merged path id -> accumulator of that thread's samples
        self.thread_ops: dict[tuple[int, int], dict[int, OpAccumulator]] = {}
        #: per stream: merged path id -> [calls, flops, bytes]
        self.proc_costs: dict[int, dict[int, list[int]]] = {}
        self._single_key: tuple[int, int] | None = None

    # ------------------------------------------------------------------ copies

    #: attributes a copy never carries: the lock is the object's own; the decoder is a
    #: live-ingestion detail
    _NOT_COPIED = frozenset({"lock", "_decoder"})

    def clone(self, op_samples: bool = True) -> Self:
        """An independent copy (its own lock; taken under this state's), every attribute
        carried. ``op_samples=False`` (replay checkpoints): the accumulators of ``ops``
        are copied without their samples (see OpAccumulator.clone and refill)."""
        with self.lock:
            out = type(self)(exact_limit=self.exact_limit)
            for name, value in vars(self).items():
                if name in self._NOT_COPIED:
                    continue
                if name == "ops" and not op_samples:
                    out.ops = {pid: a.clone(samples=False) for pid, a in self.ops.items()}
                else:
                    setattr(out, name, copy_value(value))
            return out

    def take_over(self, other: _StateBase) -> None:
        """Make this state (the same object, for the app) hold everything ``other`` knows,
        under this state's lock. ``other`` must not be used afterwards; ``version`` only
        ever grows."""
        with self.lock:
            version = self.version
            for name, value in vars(other).items():
                if name in self._NOT_COPIED or name == "version":
                    continue
                setattr(self, name, value)
            self.version = max(version, other.version) + 1

    def _process(self, stream: int) -> ProcessInfo:
        p = self.processes.get(stream)
        if p is None:
            p = self.processes[stream] = ProcessInfo(stream)
        return p


    def _see_time(self, t: int) -> None:
        if t > self.last_ns:
            self.last_ns = t
        if self.first_ns is None:
            self.first_ns = t

    def _main_stream(self) -> int:
        """The stream whose hello and memory describe the session: the first process."""
        return min(self.processes) if self.processes else 0
