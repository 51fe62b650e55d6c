"""SessionState: folds protocol frames into everything a view needs. Knows no screen.

Live and replay feed the same frames into the same SessionState; views read it (under
``lock`` when another thread ingests) and never compute statistics themselves.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import protocol, rates
from .names import sanitize_block_name
from .protocol import Frame
from .stats import (
    DEFAULT_EXACT_LIMIT,
    NS_PER_MS,
    LogHistogram,
    OpAccumulator,
    PerformanceStats,
    self_times,
)

#: The memory series keeps at most this many points; older halves are thinned 2:1.
MEMORY_POINTS = 20_000
#: Distinct call paths kept per session. A path first seen past the cap (and everything
#: under it) is folded into one top-level row, OTHER_NAME, and the session gets a warning:
#: statistics, the table and the snapshots then stay bounded whatever names a program makes.
MAX_PATHS = 2_000
#: The id and the name of the row that collects the paths past the cap.
OTHER_PID = (1 << 31) - 1  # the largest id a frame can carry (int32): never a real path
OTHER_NAME = "(other paths)"
#: Frame kinds that change the op rows (see SessionState.ops_version).
_OP_KINDS = frozenset({"meas", "names", "costs", "hello", "proc"})


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
class SessionState:
    """Everything known about one profiled session."""

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

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        #: ids of the paths past the cap (their measurements count as OTHER_PID)
        self.overflow: set[int] = set()
        self._overflow_ids = np.empty(0, np.int64)
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
        #: per (stream, thread id): merged path id -> accumulator of that thread's samples
        self.thread_ops: dict[tuple[int, int], dict[int, OpAccumulator]] = {}
        #: per stream: merged path id -> [calls, flops, bytes]
        self.proc_costs: dict[int, dict[int, list[int]]] = {}
        self._single_key: tuple[int, int] | None = None

    # ------------------------------------------------------------------ copies

    #: attributes a copy never carries: the lock is the object's own; the decoder is a
    #: live-ingestion detail
    _NOT_COPIED = frozenset({"lock", "_decoder"})

    def clone(self, op_samples: bool = True) -> SessionState:
        """An independent copy (its own lock; taken under this state's), every attribute
        carried. ``op_samples=False`` (replay checkpoints): the accumulators of ``ops``
        are copied without their samples (see OpAccumulator.clone and refill)."""
        with self.lock:
            out = SessionState(exact_limit=self.exact_limit)
            for name, value in vars(self).items():
                if name in self._NOT_COPIED:
                    continue
                if name == "ops" and not op_samples:
                    out.ops = {pid: a.clone(samples=False) for pid, a in self.ops.items()}
                else:
                    setattr(out, name, copy_value(value))
            return out

    def take_over(self, other: SessionState) -> None:
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

    # ------------------------------------------------------------------ ingestion

    def ingest_bytes(self, data: bytes) -> None:
        """Decode and fold a byte string of complete frames (in-process profilers)."""
        if self._decoder is None:
            self._decoder = protocol.FrameDecoder()
        self.ingest_many(self._decoder.feed(data))

    def ingest(self, frame: Frame) -> None:
        self.ingest_many([frame])

    def ingest_many(self, frames: list[Frame]) -> None:
        """Fold frames in order; consecutive measurement batches are folded together."""
        if not frames:
            return
        with self.lock:
            batch: list[tuple[int, dict[str, Any]]] = []
            for fr in frames:
                if fr.kind in _OP_KINDS:
                    self.ops_version += 1
                if fr.kind == "meas":
                    batch.append((fr.stream, fr.body))
                    continue
                if batch:
                    self._fold_meas(batch)
                    batch = []
                self._apply(fr)
            if batch:
                self._fold_meas(batch)
            self.frames += len(frames)
            self.version += 1

    def _process(self, stream: int) -> ProcessInfo:
        p = self.processes.get(stream)
        if p is None:
            p = self.processes[stream] = ProcessInfo(stream)
        return p

    def _apply(self, fr: Frame) -> None:
        b = fr.body
        k = fr.kind
        if k == "names":
            for pid, parent, name in b["paths"]:
                self._name_path(fr.stream, pid, parent, name)
        elif k == "mem":
            cols = {"t": b["t"], "rss": b["rss"], "traced": b["traced"], **b["gauges"]}
            if fr.stream == self._main_stream():
                self.memory.extend(cols)  # the series is the main process's memory
            if len(b["t"]):
                self._see_time(int(b["t"][-1]))
                p = self.processes.get(fr.stream)
                if p is not None:
                    p.last_ns = max(p.last_ns, int(b["t"][-1]))
        elif k == "tokens":
            self._fold_tokens(b["rows"], fr.stream)
        elif k == "costs":
            pc = self.proc_costs.setdefault(fr.stream, {})
            for lpid, calls, flops, nbytes in b["rows"]:
                pid = self._merged_id(fr.stream, lpid)
                if pid in self.overflow:
                    pid = OTHER_PID
                for table in (self.costs, pc):
                    c = table.get(pid)
                    if c is None:
                        table[pid] = [calls, flops, nbytes]
                    else:
                        c[0] += calls
                        c[1] += flops
                        c[2] += nbytes
        elif k == "hello":
            p = self._process(fr.stream)
            p.pid = int(b["pid"])
            p.ppid = b.get("ppid")
            p.argv = [str(a) for a in b.get("argv") or []]
            p.start = str(b.get("start", "exec"))
            p.start_ns = int(b["start_ns"])
            p.last_ns = max(p.last_ns, p.start_ns)
            if not self.info or fr.stream == self._main_stream():
                # the session's facts are the first process's (the tree's root)
                self.info = dict(b)
                self.start_ns = int(b["start_ns"])
            self.config.update(b.get("config") or {})
            if self.first_ns is None or self.start_ns is None:
                self.first_ns = int(b["start_ns"])
        elif k == "threads":
            p = self._process(fr.stream)
            for tid, name in b["rows"]:
                p.threads[int(tid)] = str(name)
        elif k == "proc":
            p = self._process(int(b["stream"]))
            p.pid = int(b["pid"]) or p.pid
            if b.get("ppid") is not None:
                p.ppid = int(b["ppid"])
            if b.get("argv"):
                p.argv = [str(a) for a in b["argv"]]
            if b["event"] == "exit":
                status = b.get("status")
                p.status = None if status is None else int(status)
                p.reason = str(b.get("reason", ""))
                if p.status is None:
                    p.state = "ended"
                elif p.status < 0:
                    p.state = "killed"
                else:
                    p.state = "exited"
        elif k == "bye":
            self._process(fr.stream).said_bye = True
        elif k == "meta":
            self.config.update(b["config"])
        elif k == "log":
            self.logs_seen += 1
            self.logs.append((int(b.get("t", 0) or 0), str(b.get("level", "info")), b["msg"]))
        elif k == "end":
            self.end_status = int(b["status"])
            self.end_reason = str(b.get("reason", ""))
        elif k == "summary":
            self._fold_summary(b, fr.stream)

    def _fold_summary(self, b: dict[str, Any], stream: int = 0) -> None:
        """A bounded recording's summary of the raw measurements it dropped (2.1). Its
        path ids are the sending process's own (mapped like a measurement's); it keeps no
        thread, so per-thread views start at the summary's end."""
        ops = self.ops
        for lpid, n, tot, mean, m2, lo, hi, alloc, delta, peak, last, buckets, counts in b["ops"]:
            pid = self._merged_id(stream, lpid)
            if pid in self.overflow:
                pid = OTHER_PID
            acc = ops.get(pid)
            if acc is None:
                acc = ops[pid] = OpAccumulator(exact_limit=self.exact_limit)
            acc.absorb_summary((n, tot, float(mean), float(m2), lo, hi), buckets, counts,
                               (alloc, delta, peak), last)
        self.measurements += b["n"]
        if b["n"]:
            if self.first_ns is None or b["first"] < self.first_ns:
                self.first_ns = b["first"]
            self._see_time(b["upto"])
            self.full_from_ns = max(self.full_from_ns or 0, b["upto"])
            origin = self.start_ns if self.start_ns is not None else self.first_ns
            note = (f"bounded recording: raw measurements from {(b['upto'] - origin) / 1e9:.1f} s "
                    f"on; {b['n']:,} earlier ones kept as per-op statistics only")
            self.warnings[:] = [w for w in self.warnings if not w.startswith("bounded recording:")]
            self.warnings.append(note)

    def _see_time(self, t: int) -> None:
        if t > self.last_ns:
            self.last_ns = t
        if self.first_ns is None:
            self.first_ns = t

    def _main_stream(self) -> int:
        """The stream whose hello and memory describe the session: the first process."""
        return min(self.processes) if self.processes else 0

    def _name_path(self, stream: int, local: int, local_parent: int, name: str) -> None:
        """A sender's path id: map it to the merged id of the same full path."""
        if local <= 0:
            return
        lut = self._lut.get(stream)
        if lut is None or local >= len(lut):
            grown = np.full(max(local + 1, 2 * (len(lut) if lut is not None else 64)), -1,
                            np.int32)
            if lut is not None:
                grown[: len(lut)] = lut
            lut = self._lut[stream] = grown
        parent = self._merged_id(stream, local_parent) if local_parent > 0 else 0
        key = (parent, name)
        merged = self._by_key.get(key)
        if merged is None:
            # the sender's own id when it is free (one process: ids as sent)
            merged = local if local not in self._assigned else max(self._assigned) + 1
            self._assigned.add(merged)
            self._by_key[key] = merged
            self._add_path(merged, parent, name)
        lut[local] = merged

    def _merged_id(self, stream: int, local: int) -> int:
        lut = self._lut.get(stream)
        if lut is None or not 0 <= local < len(lut) or lut[local] < 0:
            return local
        return int(lut[local])

    def merged_paths(self, stream: int, path: np.ndarray) -> np.ndarray:
        """A sender's path id column mapped to merged path ids (unknown ids kept)."""
        lut = self._lut.get(stream)
        if lut is None or not len(path):
            return path
        ok = (path >= 0) & (path < len(lut))
        mapped = np.where(ok, lut[np.where(ok, path, 0)], -1)
        return np.where(mapped >= 0, mapped, path).astype(path.dtype, copy=False)

    def _add_path(self, pid: int, parent: int, name: str) -> None:
        if pid <= 0:
            return
        if pid not in self.paths and (
            parent in self.overflow or len(self.paths) - (OTHER_PID in self.paths) >= self.max_paths
        ):
            self._overflow_path(pid)
            return
        # a name from any writer (an older profiler, another tool) is shown on one line
        # and stays one path segment: the block-name rule of zlprof.names
        name = sanitize_block_name(name)
        p = self.paths.get(parent)
        if p is None:
            full, depth = name, 0
        else:
            full, depth = f"{p.full}/{name}", p.depth + 1
        self.paths[pid] = PathInfo(pid, parent, name, full, depth)

    def _overflow_path(self, pid: int) -> None:
        """Count ``pid`` (a path past the cap) as the OTHER_NAME row from now on."""
        if OTHER_PID not in self.paths:
            self.paths[OTHER_PID] = PathInfo(OTHER_PID, 0, OTHER_NAME, OTHER_NAME, 0)
            self.warnings.append(
                f"more than {self.max_paths:,} distinct call paths: the rest are counted "
                f"together as {OTHER_NAME!r}"
            )
        self.overflow.add(pid)
        self._overflow_ids = np.fromiter(self.overflow, np.int64, len(self.overflow))

    def _fold_meas(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        groups: dict[tuple[int, int], list[tuple[np.ndarray, dict[str, Any]]]] = {}
        for stream, b in batch:
            if not b["n"]:
                continue
            path = self.merged_paths(stream, b["path"])
            groups.setdefault((stream, int(b.get("tid", 0))), []).append((path, b))
            p = self.processes.get(stream)
            if p is None:
                p = self._process(stream)
            p.measurements += int(b["n"])
            p.last_ns = max(p.last_ns, int(b["t1"].max()))
        if not groups:
            return
        items = [x for g in groups.values() for x in g]
        self.measurements += sum(int(b["n"]) for _, b in items)
        if len(groups) == 1 and not self.thread_ops and self._single_key in (
            None, next(iter(groups))
        ):
            # one thread of one process so far: its view is the merged one (no second
            # fold); it gets its own accumulators when another thread or process shows up
            self._single_key = next(iter(groups))
            self._fold_into(self.ops, items)
            return
        self._split_single()
        self._fold_into(self.ops, items)
        for key, g in groups.items():
            self._fold_into(self.thread_ops.setdefault(key, {}), g)

    def _split_single(self) -> None:
        """A second thread or process appeared: give the first one its own accumulators
        (a copy of the merged ones, which so far held only its samples)."""
        key = getattr(self, "_single_key", None)
        if key is None or self.thread_ops:
            return
        self.thread_ops[key] = {pid: a.clone() for pid, a in self.ops.items()}
        self._single_key = None

    def _fold_into(
        self, ops: dict[int, OpAccumulator], items: list[tuple[np.ndarray, dict[str, Any]]]
    ) -> None:
        bodies = [b for _, b in items]
        if len(items) == 1:
            path, b = items[0]
            t0, t1 = b["t0"], b["t1"]
            m0, m1 = b.get("m0"), b.get("m1")
        else:
            path = np.concatenate([p for p, _ in items])
            t0 = np.concatenate([b["t0"] for b in bodies])
            t1 = np.concatenate([b["t1"] for b in bodies])
            if any("m0" in b for b in bodies):
                m0 = np.concatenate([b.get("m0", np.full(b["n"], -1, np.int64)) for b in bodies])
                m1 = np.concatenate([b.get("m1", np.full(b["n"], -1, np.int64)) for b in bodies])
            else:
                m0 = m1 = None
        n = len(path)
        if n == 0:
            return
        if self.overflow:
            path = np.where(np.isin(path, self._overflow_ids), np.asarray(OTHER_PID, path.dtype), path)
        # One vectorised pass computes every op's moments; each op then only appends.
        order = np.argsort(path, kind="stable")
        sp = path[order]
        d = (t1 - t0)[order]
        te = t1[order]
        cuts = np.flatnonzero(sp[1:] != sp[:-1]) + 1
        starts = np.r_[0, cuts]
        ends = np.r_[cuts, n]
        counts = ends - starts
        totals = np.add.reduceat(d, starts)
        means = totals / counts
        dev = d - np.repeat(means, counts)
        m2s = np.add.reduceat(dev * dev, starts)
        mins = np.minimum.reduceat(d, starts)
        maxs = np.maximum.reduceat(d, starts)
        lasts = np.maximum.reduceat(te, starts)
        mem_cols = None
        if m0 is not None and m1 is not None:
            a = m0[order]
            b = m1[order]
            ok = (a >= 0) & (b >= 0)
            delta = np.where(ok, b - a, 0)
            mem_cols = (
                np.add.reduceat(np.where(delta > 0, delta, 0), starts).tolist(),
                np.add.reduceat(delta, starts).tolist(),
                np.maximum.reduceat(np.where(b >= 0, b, 0), starts).tolist(),
            )
        limit = self.exact_limit
        for i, (s, e, pid, c, tot, mean, m2, lo, hi, last) in enumerate(
            zip(
                starts.tolist(),
                ends.tolist(),
                sp[starts].tolist(),
                counts.tolist(),
                totals.tolist(),
                means.tolist(),
                m2s.tolist(),
                mins.tolist(),
                maxs.tolist(),
                lasts.tolist(),
                strict=True,
            )
        ):
            acc = ops.get(pid)
            if acc is None:
                acc = ops[pid] = OpAccumulator(exact_limit=limit)
            mem = (
                (mem_cols[0][i], mem_cols[1][i], mem_cols[2][i]) if mem_cols is not None else None
            )
            acc.add_group(d[s:e], te[s:e], (c, tot, mean, m2, lo, hi), mem, last)
        lo = int(t0.min())
        hi = int(t1.max())
        if self.first_ns is None or lo < self.first_ns:
            self.first_ns = lo
        if hi > self.last_ns:
            self.last_ns = hi

    def _fold_tokens(self, rows: list[list[Any]], stream: int = 0) -> None:
        own = stream == self._main_stream()
        ttft: list[int] = []
        tpot: list[int] = []
        itl: list[int] = []
        for t, req_id, _index, phase, piece in rows:
            self._see_time(t)
            req = req_id if own else (stream, req_id)
            r = self.requests.get(req)
            if r is None:
                r = self.requests[req] = RequestTiming()
            if phase == "start":
                r.start = t
                continue
            if phase == "end":
                if r.tokens > 1 and r.first >= 0:
                    tpot.append((r.last - r.first) // (r.tokens - 1))
                self._close_spans(r)
                self.requests.pop(req, None)
                continue
            self.tokens_total += 1
            self.token_times.append(t)
            if piece:
                self.text_tail.append(piece)
            if r.first < 0:
                r.first = t
                if r.start >= 0:
                    ttft.append(t - r.start)
            else:
                self.tokens_decode += 1
                itl.append(t - r.last)
            r.last = t
            r.tokens += 1
        if rows:
            self.token_series.extend(
                {
                    "t": np.asarray([int(rows[-1][0])], np.int64),
                    "tokens": np.asarray([self.tokens_total], np.int64),
                }
            )
        if ttft:
            self.ttft.add(np.asarray(ttft, np.int64))
        if tpot:
            self.tpot.add(np.asarray(tpot, np.int64))
        if itl:
            self.itl.add(np.asarray(itl, np.int64))

    def _spans(self, r: RequestTiming) -> tuple[tuple[int, int], tuple[int, int]]:
        """(decode span, request span) of a request, from the reset on if one was made."""
        start = r.start if 0 <= r.start <= r.first else r.first
        floor = self.reset_ns if self.reset_ns is not None else start
        return (max(r.first, floor), r.last), (max(start, floor), r.last)

    def _close_spans(self, r: RequestTiming) -> None:
        if r.first < 0:
            return
        decode, request = self._spans(r)
        self.decode_spans.add(*decode)
        self.request_spans.add(*request)

    def open_spans(self, kind: str) -> list[tuple[int, int]]:
        """Spans of requests still running: ``"decode"`` (first to last token) or
        ``"request"`` (start to last token); see :mod:`zlprof.rates`."""
        i = 0 if kind == "decode" else 1
        return [self._spans(r)[i] for r in self.requests.values() if r.first >= 0]

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        """Forget statistics (ops, latencies, costs); keep names, config, memory series."""
        with self.lock:
            self.ops.clear()
            self.costs.clear()
            self.thread_ops.clear()
            self.proc_costs.clear()
            self._single_key = None
            for p in self.processes.values():
                p.measurements = 0
            self.ttft = OpAccumulator(exact_limit=self.exact_limit)
            self.tpot = OpAccumulator(exact_limit=self.exact_limit)
            self.itl = OpAccumulator(exact_limit=self.exact_limit)
            self.tokens_total = 0
            self.tokens_decode = 0
            self.token_times.clear()
            self.decode_spans = rates.SpanUnion()
            self.request_spans = rates.SpanUnion()
            self.measurements = 0
            self.reset_ns = self.last_ns
            self.version += 1
            self.ops_version += 1

    # ------------------------------------------------------------------ views

    @property
    def origin_ns(self) -> int:
        """Where the session clock starts (hello start, else the first event)."""
        if self.start_ns is not None:
            return self.start_ns
        return self.first_ns or 0

    @property
    def elapsed_ns(self) -> int:
        return max(0, self.last_ns - self.origin_ns)

    @property
    def wall_ns(self) -> int:
        """The span statistics are shares of: since the reset, else the whole session."""
        start = self.reset_ns if self.reset_ns is not None else self.origin_ns
        return max(0, self.last_ns - start)

    def name_of(self, pid: int) -> str:
        p = self.paths.get(pid)
        return p.full if p else f"#{pid}"

    def path_id(self, full: str) -> int | None:
        for pid, p in self.paths.items():
            if p.full == full:
                return pid
        return None

    def children_of(self, pid: int) -> list[int]:
        return [c for c, p in self.paths.items() if p.parent == pid]

    # views: whole tree, one process, one thread ------------------------------------

    def thread_keys(self, view: View = WHOLE) -> list[tuple[int, int]]:
        """(stream, thread id) of every thread that measured, within ``view``."""
        keys = list(self.thread_ops)
        if not keys and self._single_key is not None:
            keys = [self._single_key]
        return [
            k for k in sorted(keys)
            if (view.stream is None or k[0] == view.stream)
            and (view.tid is None or k[1] == view.tid)
        ]

    def ops_for(self, view: View = WHOLE) -> dict[int, OpAccumulator]:
        """Accumulators per merged path id within ``view`` (the whole tree: ``ops``)."""
        if view.whole:
            return self.ops
        keys = self.thread_keys(view)
        if not self.thread_ops:
            return self.ops if keys else {}
        tables = [self.thread_ops[k] for k in keys]
        if len(tables) == 1:
            return tables[0]
        out: dict[int, OpAccumulator] = {}
        for pid in sorted({pid for t in tables for pid in t}):
            accs = [t[pid] for t in tables if pid in t]
            out[pid] = accs[0] if len(accs) == 1 else accs[0].merged(accs[1:])
        return out

    def costs_for(self, view: View = WHOLE) -> dict[int, list[int]]:
        """[calls, flops, bytes] per path within ``view`` (cost frames name the process,
        not the thread: a thread's view shows its process's costs)."""
        if view.whole:
            return self.costs
        return self.proc_costs.get(view.stream or 0, {}) if self.proc_costs else (
            self.costs if self.thread_keys(view) else {})

    def thread_wall_ns(self, view: View = WHOLE, window_s: float | None = None) -> int:
        """The time shares are shares of: the summed wall time of the threads that
        measured within ``view``. A thread's wall time runs from its process's start (or
        the reset) to the process's last event (the session's latest while it runs). One
        thread's blocks never overlap, so the shares of a view's self times add up to at
        most 100 %. With a single measuring thread this is the session's ``wall_ns``."""
        keys = self.thread_keys(view)
        cap = int(window_s * 1e9) if window_s is not None else None
        if len(self.thread_keys()) <= 1:
            wall = self.wall_ns if keys or view.whole else 0
            return min(wall, cap) if cap is not None else wall
        total = 0
        for stream, _tid in keys:
            p = self.processes.get(stream)
            start = p.start_ns if p is not None and p.start_ns is not None else self.origin_ns
            if self.reset_ns is not None:
                start = max(start, self.reset_ns)
            end = self.last_ns if p is None or p.state == "running" else p.last_ns
            span = max(0, end - start)
            total += min(span, cap) if cap is not None else span
        return total

    def stats_for(
        self, pid: int, window_s: float | None = None, view: View = WHOLE
    ) -> PerformanceStats:
        acc = self.ops_for(view).get(pid)
        name = self.name_of(pid)
        if acc is None:
            return PerformanceStats(name=name)
        wall = self.thread_wall_ns(view, window_s)
        if window_s is None:
            return acc.stats(name, wall)
        since = self.last_ns - int(window_s * 1e9)
        return acc.window_stats(since, name, wall)

    def stats_for_name(self, name: str) -> PerformanceStats:
        """Statistics of a call path (``a/b``), or of a block name merged over its paths.

        A name without ``/`` means every measurement of blocks with that name, wherever
        they ran (as the seed's per-name statistics); a recursive block's nested time is
        then counted at each level.
        """
        with self.lock:
            if "/" in name:
                pid = self.path_id(name)
                if pid is None:
                    raise KeyError(f"no measurements at path {name!r}")
                return self.stats_for(pid)
            pids = [p.id for p in self.paths.values() if p.name == name and p.id in self.ops]
            if not pids:
                raise KeyError(f"no measurements named {name!r}")
            if len(pids) == 1:
                st = self.stats_for(pids[0])
                st.name = name
                return st
            first = self.ops[pids[0]]
            merged = first.merged([self.ops[p] for p in pids[1:]])
            return merged.stats(name, self.wall_ns)

    def op_rows(self, window_s: float | None = None, view: View = WHOLE) -> list[OpRow]:
        """A row per measured path, in tree order (parents before their children):
        the whole tree (same path merged across processes and threads) by default, or
        one process / one thread (``view``)."""
        with self.lock:
            ops = self.ops_for(view)
            costs = self.costs_for(view)
            wall = self.thread_wall_ns(view, window_s)
            stats: dict[int, PerformanceStats] = {}
            since = self.last_ns - int(window_s * 1e9) if window_s is not None else 0
            for pid, acc in ops.items():
                name = self.name_of(pid)
                stats[pid] = (acc.stats(name, wall) if window_s is None
                              else acc.window_stats(since, name, wall))
            # self time: the one definition (stats.self_times), by full path
            measured = list(stats)
            own = dict(zip(measured, self_times([self.name_of(pid) for pid in measured],
                                                [stats[pid].total_ms for pid in measured]),
                           strict=True))
            rows: list[OpRow] = []
            for pid in self._tree_order(ops):
                st = stats.get(pid)
                if st is None:
                    continue
                p = self.paths.get(pid)
                self_ms = own[pid]
                c = costs.get(pid, [0, 0, 0])
                rows.append(
                    OpRow(
                        path_id=pid,
                        full=p.full if p else f"#{pid}",
                        name=p.name if p else f"#{pid}",
                        parent=self.name_of(p.parent) if p and p.parent > 0 else "",
                        depth=p.depth if p else 0,
                        stats=st,
                        self_ms=self_ms,
                        self_share=(self_ms * NS_PER_MS / wall) if wall > 0 else 0.0,
                        cost_calls=c[0],
                        flops=c[1],
                        nbytes=c[2],
                    )
                )
            return rows

    def process_rows(self) -> list[ProcessRow]:
        """One row per measuring process, in tree order (a child under its parent), with
        its measured self time's share of the tree's summed thread time."""
        with self.lock:
            total_wall = self.thread_wall_ns()
            by_pid = {p.pid: s for s, p in self.processes.items() if p.pid}
            kids: dict[int | None, list[int]] = {}
            for s_, p in sorted(self.processes.items()):
                parent = by_pid.get(p.ppid) if p.ppid is not None else None
                kids.setdefault(parent if parent != s_ else None, []).append(s_)
            out: list[ProcessRow] = []

            def visit(stream: int, depth: int) -> None:
                p = self.processes[stream]
                view = View(stream)
                ops = self.ops_for(view)
                top = self._top_ns(ops)
                trows = []
                for _s, tid in self.thread_keys(view):
                    tv = View(stream, tid)
                    tops = self.ops_for(tv)
                    wall = self.thread_wall_ns(tv)
                    trows.append(ThreadRow(
                        tid=tid, name=p.threads.get(tid, ""),
                        measurements=sum(a.count for a in tops.values()),
                        share=(self._top_ns(tops) / wall) if wall > 0 else 0.0,
                    ))
                out.append(ProcessRow(
                    stream=stream, pid=p.pid, ppid=p.ppid, depth=depth,
                    command=" ".join(p.argv), start=p.start, state=p.state, label=p.label,
                    status=p.status, measurements=p.measurements,
                    threads=len(self.thread_keys(view)),
                    share=(top / total_wall) if total_wall > 0 else 0.0,
                    thread_rows=trows,
                ))
                for c in kids.get(stream, []):
                    visit(c, depth + 1)

            for root in kids.get(None, []):
                visit(root, 0)
            return out

    def _top_ns(self, ops: dict[int, OpAccumulator]) -> int:
        """Time in top-level blocks (nested ones are inside them)."""
        return sum(a.moments.total for pid, a in ops.items()
                   if self.paths.get(pid) is None or self.paths[pid].parent == 0)

    def _tree_order(self, ops: dict[int, OpAccumulator] | None = None) -> list[int]:
        kids: dict[int, list[int]] = {}
        for pid, p in self.paths.items():
            kids.setdefault(p.parent, []).append(pid)
        for pid in self.ops if ops is None else ops:
            if pid not in self.paths:
                kids.setdefault(0, []).append(pid)
        out: list[int] = []
        stack = sorted(kids.get(0, []), reverse=True)
        seen: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            out.append(pid)
            stack.extend(sorted(kids.get(pid, []), reverse=True))
        return out

    # throughput ---------------------------------------------------------------------

    def tokens_per_s(self, window_s: float | None = 10.0) -> float:
        """Output tokens per second (0.0 without a span): the recent rate over the last
        ``window_s`` seconds, or with None the end-to-end rate (:mod:`zlprof.rates`)."""
        if window_s is None:
            r = rates.end_to_end_rate(self)
        else:
            r = rates.recent_rate(self, window_s)
        return r.value or 0.0

    def measurements_per_s(self) -> float:
        span = self.wall_ns
        return self.measurements / (span / 1e9) if span > 0 else 0.0

    def memory_series(self) -> dict[str, np.ndarray]:
        with self.lock:
            return {name: self.memory.get(name).copy() for name in self.memory.names}

    def peak_rss(self) -> int:
        rss = self.memory.get("rss")
        return int(rss.max()) if len(rss) else 0

    def summary(self) -> dict[str, Any]:
        """Session facts for headers and report front matter."""
        with self.lock:
            ttft = self.ttft.stats("ttft")
            tpot = self.tpot.stats("tpot")
            itl = self.itl.stats("itl")
            return {
                "pid": self.info.get("pid"),
                "argv": self.info.get("argv", []),
                "python": self.info.get("python"),
                "numpy": self.info.get("numpy"),
                "wall_time": self.info.get("wall_time"),
                "config": dict(self.config),
                "elapsed_s": self.elapsed_ns / 1e9,
                "measurements": self.measurements,
                "tokens": self.tokens_total,
                "tokens_decode": self.tokens_decode,
                #: end-to-end: output tokens / wall time (kept under its old name)
                "tokens_per_s": self.tokens_per_s(None),
                **{r.key: r.value for r in rates.session_rates(self)},
                "ttft_ms": ttft.median_ms if ttft.count else None,
                "tpot_ms": tpot.median_ms if tpot.count else None,
                "itl_ms": itl.median_ms if itl.count else None,
                "peak_rss_bytes": self.peak_rss(),
                "end_status": self.end_status,
                "end_reason": self.end_reason,
                "warnings": list(self.warnings),
            }
