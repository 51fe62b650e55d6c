"""Folding frames into a session: ingestion, the frame kinds other than measurements
(names, memory, tokens, costs, processes, logs, summaries) and request timing spans.
Measurements and path ids are in paths.py; nothing here reads a view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import protocol
from ..protocol import Frame
from ..stats import OpAccumulator
from .paths import _Paths
from .rows import OTHER_PID, RequestTiming

#: Frame kinds that change the op rows (see SessionState.ops_version).
_OP_KINDS = frozenset({"meas", "names", "costs", "hello", "proc"})


class _Folding(_Paths):
    """Ingestion of frames (a part of SessionState)."""

    # ------------------------------------------------------------------ ingestion

    def ingest_bytes(self, data: bytes) -> None:
        """Decode and fold a byte string of complete frames (in-process profilers)."""
        if self._decoder is None:
            self._decoder = protocol.FrameDecoder()
        self.ingest_many(self._decoder.feed(data))

    def ingest(self, frame: Frame) -> None:
        self.ingest_many([frame])

    def ingest_many(self, frames: list[Frame]) -> None:
        """Fold frames in order; consecutive measurement batches are folded together.

        The session's lock is taken for about one fold block of measurements at a time
        (``fold_block``), not for the whole list: a reader (the display's snapshot) waits
        for one block, not for a whole burst read at once."""
        if not frames:
            return
        block = self.fold_block()
        start = total = 0
        for i, fr in enumerate(frames):
            if fr.kind == "meas":
                total += int(fr.body["n"])
                if total >= block and i + 1 < len(frames):
                    self._ingest_locked(frames[start : i + 1])
                    start, total = i + 1, 0
        self._ingest_locked(frames[start:] if start else frames)

    def _ingest_locked(self, frames: list[Frame]) -> None:
        with self.lock:
            batch: list[tuple[int, dict[str, Any]]] = []
            for fr in frames:
                if fr.kind in _OP_KINDS:
                    self.ops_version += 1
                if fr.kind == "meas":
                    batch.append((fr.stream, fr.body))
                    continue
                if batch:
                    self._fold_block(batch)
                    batch = []
                self._apply(fr)
            if batch:
                self._fold_block(batch)
            self.frames += len(frames)
            self.version += 1

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
            level, msg = str(b.get("level", "info")), b["msg"]
            self.logs.append((int(b.get("t", 0) or 0), level, msg))
            if level == "warning" and str(msg).startswith("zlprof: "):
                # the profiler's own (profiler.core.ASYNCIO_WARNING): once, whichever
                # processes send it
                note = str(msg).removeprefix("zlprof: ")
                if note not in self.warnings:
                    self.warnings.append(note)
        elif k == "end":
            self.end_status = int(b["status"])
            self.end_reason = str(b.get("reason", ""))
            if b.get("argv") and not self.info.get("argv"):
                # a program that never measured sent no hello: the command names it
                self.info["argv"] = [str(a) for a in b["argv"]]
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
