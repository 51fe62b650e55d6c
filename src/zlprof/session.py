"""SessionState: folds protocol frames into everything a view needs. Knows no screen.

Live and replay feed the same frames into the same SessionState; views read it (under
``lock`` when another thread ingests) and never compute statistics themselves.
"""

from __future__ import annotations

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
    OpAccumulator,
    PerformanceStats,
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
_OP_KINDS = frozenset({"meas", "names", "costs"})


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
        self.requests: dict[int, RequestTiming] = {}
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
            batch: list[dict[str, Any]] = []
            for fr in frames:
                if fr.kind in _OP_KINDS:
                    self.ops_version += 1
                if fr.kind == "meas":
                    batch.append(fr.body)
                    continue
                if batch:
                    self._fold_meas(batch)
                    batch = []
                self._apply(fr)
            if batch:
                self._fold_meas(batch)
            self.frames += len(frames)
            self.version += 1

    def _apply(self, fr: Frame) -> None:
        b = fr.body
        k = fr.kind
        if k == "names":
            for pid, parent, name in b["paths"]:
                self._add_path(pid, parent, name)
        elif k == "mem":
            cols = {"t": b["t"], "rss": b["rss"], "traced": b["traced"], **b["gauges"]}
            self.memory.extend(cols)
            if len(b["t"]):
                self._see_time(int(b["t"][-1]))
        elif k == "tokens":
            self._fold_tokens(b["rows"])
        elif k == "costs":
            for pid, calls, flops, nbytes in b["rows"]:
                if pid in self.overflow:
                    pid = OTHER_PID
                c = self.costs.get(pid)
                if c is None:
                    self.costs[pid] = [calls, flops, nbytes]
                else:
                    c[0] += calls
                    c[1] += flops
                    c[2] += nbytes
        elif k == "hello":
            self.info = dict(b)
            self.config.update(b.get("config") or {})
            self.start_ns = int(b["start_ns"])
            if self.first_ns is None:
                self.first_ns = self.start_ns
        elif k == "meta":
            self.config.update(b["config"])
        elif k == "log":
            self.logs_seen += 1
            self.logs.append((int(b.get("t", 0) or 0), str(b.get("level", "info")), b["msg"]))
        elif k == "end":
            self.end_status = int(b["status"])
            self.end_reason = str(b.get("reason", ""))
        elif k == "summary":
            self._fold_summary(b)

    def _fold_summary(self, b: dict[str, Any]) -> None:
        """A bounded recording's summary of the raw measurements it dropped (2.1)."""
        ops = self.ops
        for pid, n, tot, mean, m2, lo, hi, alloc, delta, peak, last, buckets, counts in b["ops"]:
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

    def _fold_meas(self, bodies: list[dict[str, Any]]) -> None:
        if len(bodies) == 1:
            b = bodies[0]
            path, t0, t1 = b["path"], b["t0"], b["t1"]
            m0, m1 = b.get("m0"), b.get("m1")
        else:
            path = np.concatenate([b["path"] for b in bodies])
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
        self.measurements += n
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
        ops = self.ops
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

    def _fold_tokens(self, rows: list[list[Any]]) -> None:
        ttft: list[int] = []
        tpot: list[int] = []
        itl: list[int] = []
        for t, req, _index, phase, piece in rows:
            self._see_time(t)
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

    def stats_for(self, pid: int, window_s: float | None = None) -> PerformanceStats:
        acc = self.ops.get(pid)
        name = self.name_of(pid)
        if acc is None:
            return PerformanceStats(name=name)
        if window_s is None:
            return acc.stats(name, self.wall_ns)
        since = self.last_ns - int(window_s * 1e9)
        return acc.window_stats(since, name, min(self.wall_ns, int(window_s * 1e9)))

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

    def op_rows(self, window_s: float | None = None) -> list[OpRow]:
        """A row per measured path, in tree order (parents before their children)."""
        with self.lock:
            wall = self.wall_ns if window_s is None else min(self.wall_ns, int(window_s * 1e9))
            stats: dict[int, PerformanceStats] = {
                pid: self.stats_for(pid, window_s) for pid in self.ops
            }
            child_total: dict[int, float] = {}
            for pid, st in stats.items():
                p = self.paths.get(pid)
                parent = p.parent if p else 0
                child_total[parent] = child_total.get(parent, 0.0) + st.total_ms
            rows: list[OpRow] = []
            for pid in self._tree_order():
                st = stats.get(pid)
                if st is None:
                    continue
                p = self.paths.get(pid)
                self_ms = max(0.0, st.total_ms - child_total.get(pid, 0.0))
                c = self.costs.get(pid, [0, 0, 0])
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

    def _tree_order(self) -> list[int]:
        kids: dict[int, list[int]] = {}
        for pid, p in self.paths.items():
            kids.setdefault(p.parent, []).append(pid)
        for pid in self.ops:
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
