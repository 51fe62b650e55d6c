"""Getting recorded lists out: flushing, encoding, the background sampler.

:class:`_Writer` is the half of :class:`~zlprof.profiler.Profiler` that turns what the
blocks appended to the per-thread lists into frames on the sink (the module docstring of
:mod:`zlprof.profiler` describes the handoff between owner threads and the sampler), and
takes the memory samples. The public API, the per-thread state and fork handling are in
:mod:`.core`; the list conversions' C versions are chosen in :mod:`.accel`.
"""

from __future__ import annotations

import array
import collections
import os
import signal
import threading
import time
from typing import Any

import numpy as np

from .. import protocol
from . import accel
from .blocks import _now, _ThreadState
from .channel import MemorySink, StreamSink
from .cpu import CpuReader
from .memory import MemoryReader


def block_termination_signals() -> None:
    """In a zlprof thread: leave SIGTERM and SIGINT to the program's other threads. A
    Python handler runs only in the main thread; a signal the kernel hands to a zlprof
    thread instead would leave a main thread blocked in a C call (a pool worker waiting on
    its queue's semaphore) unaware of it, and ``Pool.terminate()`` waiting for that worker
    forever (seen: about one run in eight of a spawn pool under load)."""
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    except (AttributeError, ValueError, OSError):
        pass

#: Lists queued for the sampler beyond which an owner thread flushes synchronously.
HANDOFF_MAX = 8


class _Writer:
    """The flushing and sampling half of the profiler (a base class of Profiler)."""

    # Profiler adds the two slots the C blocks read (``_off``, ``_flush_len``)
    __slots__ = ("__dict__", "__weakref__")

    # set by Profiler.__init__ (and reset in a forked child)
    _flush_len: int
    _mflush_len: int
    _interval_ns: int
    _handoff: collections.deque[tuple[_ThreadState, list[int], bool]]
    _wake: threading.Event
    _stop: threading.Event
    _async: bool
    _sample_s: float
    _threads: list[_ThreadState]
    _lock: threading.RLock
    _pending_names: list[tuple[int, int, str]]
    _pending_threads: list[tuple[int, str]]
    _gauges: dict[str, int]
    _mem_rows: tuple[list[int], list[int], list[int], dict[str, list[int]]]
    _mem_reader: MemoryReader | None
    _cpu_reader: CpuReader | None
    _sampler: threading.Thread | None
    _closed: bool
    _sink: StreamSink | MemorySink
    _restart_sampler: bool

    def sample_memory(self) -> None:
        """Take one memory sample now (the sampler thread calls this periodically)."""
        reader = self._mem_reader or MemoryReader()
        if self._mem_reader is None:
            self._mem_reader = reader
        # the sampler's CPU-availability readings (profiler/cpu.py): reserved gauges
        cpu = self._cpu_reader.read() if self._cpu_reader is not None else None
        with self._lock:
            t, rss, traced, gauges = self._mem_rows
            n = len(t)
            t.append(_now())
            rss.append(reader.rss())
            traced.append(reader.traced())
            values = self._gauges if not cpu else {**self._gauges, **cpu}
            for k in values:
                if k not in gauges:
                    gauges[k] = [-1] * n
            for k, col in gauges.items():
                col.append(values.get(k, -1))

    def _flush_thread(self, ts: _ThreadState, now: int) -> None:
        """Owner thread ``ts``: a list is full or the deadline passed (called from blocks)."""
        ts.deadline = now + self._interval_ns
        q = self._handoff
        sampler = self._sampler  # (not alive in a forked child, though _async was copied)
        if self._async and len(q) < HANDOFF_MAX and sampler is not None and sampler.is_alive():
            # Hand full lists over to the sampler; the rest waits for its next tick (the
            # ticks come at least every flush interval), so a deadline costs nothing here.
            full = False
            buf = ts.buf
            if len(buf) >= self._flush_len:
                ts.buf = []
                q.append((ts, buf, False))
                full = True
            mbuf = ts.mbuf
            if len(mbuf) >= self._mflush_len:
                ts.mbuf = []
                q.append((ts, mbuf, True))
                full = True
            if full:
                self._wake.set()
            return
        with self._lock:
            self._write_thread_locked(ts)
            self._sink.flush()
        if self._restart_sampler:
            self._resume_sampler()

    def _resume_sampler(self) -> None:
        """Start the sampler a forked child's profiler had in its parent (first flush)."""
        with self._lock:
            if not self._restart_sampler:
                return
            self._restart_sampler = False
        if not self._closed:
            self._start_sampler()

    # Writers: every method below runs with self._lock held.

    def _write_names_locked(self) -> None:
        if self._pending_names:
            self._sink.write(protocol.encode_names(self._pending_names))
            self._pending_names = []
        if self._pending_threads:
            self._sink.write(protocol.encode_threads(self._pending_threads))
            self._pending_threads = []

    def _drain_handoff_locked(self) -> None:
        """Write the handed-over lists, oldest first (names before them)."""
        self._write_names_locked()
        q = self._handoff
        while q:
            ts, lst, mem = q.popleft()
            self._write_records(ts.tid, lst, mem)

    def _current(self, ts: _ThreadState, attr: str) -> list[int]:
        """``ts.<attr>`` once no older list of any thread waits in the handoff queue.

        The owner swaps its list and then queues the old one; a list read while the queue
        is empty is the newest, and every older one has been written.
        """
        q = self._handoff
        while True:
            if q:
                self._drain_handoff_locked()
            lst: list[int] = getattr(ts, attr)
            if not q:
                return lst

    def _write_records(self, tid: int, lst: list[int], mem: bool) -> None:
        """Encode and remove the whole records at the head of ``lst`` (3- or 5-wide)."""
        w = 5 if mem else 3
        n = len(lst)
        n -= n % w  # appends are whole records (atomic extends); be safe anyway
        if not n:
            return
        frame = _encode_records(tid, lst, n, w)
        del lst[:n]  # exactly what was encoded: the owner may have appended meanwhile
        self._sink.write(frame)

    def _write_thread_locked(self, ts: _ThreadState) -> None:
        self._drain_handoff_locked()
        self._write_records(ts.tid, self._current(ts, "buf"), False)
        self._write_records(ts.tid, self._current(ts, "mbuf"), True)
        toks = ts.tokens
        if toks:
            rows = toks[:]
            del toks[: len(rows)]
            self._sink.write(protocol.encode_tokens(rows))
        costs = ts.costs
        n = len(costs)
        n -= n % 3
        if n:
            rows = _sum_costs(costs, n)
            del costs[:n]
            if rows:
                self._sink.write(protocol.encode_costs(rows))

    def _write_all_locked(self) -> None:
        self._drain_handoff_locked()
        for ts in list(self._threads):
            self._write_thread_locked(ts)
        self._flush_mem_locked()

    def _flush_mem_locked(self) -> None:
        t, rss, traced, gauges = self._mem_rows
        if t:
            self._sink.write(protocol.encode_memory(t, rss, traced, gauges))
            self._mem_rows = ([], [], [], {k: [] for k in gauges})

    def _start_sampler(self) -> None:
        # Under zlprof the tree runs in its own session, so nothing signals it if zlprof
        # itself is killed (SIGKILL): the sampler notices that zlprof closed the
        # connection and stops the process (the connection, not the parent pid: a
        # grandchild whose parent exits is reparented, and that is no reason to stop).
        sink = self._sink
        channel = sink if isinstance(sink, StreamSink) and sink.address is not None else None
        every = self._sample_s  # memory samples
        interval = self._interval_ns / 1e9
        # writing ticks: also at least every flush interval (the owners wait for them)
        period = min(every, max(interval, 1e-4)) if interval > 0 else every
        stop, wake, q = self._stop, self._wake, self._handoff
        if self._cpu_reader is None:
            self._cpu_reader = CpuReader()

        def run() -> None:
            block_termination_signals()
            now = time.monotonic()
            next_tick = now + period
            next_sample = now + every
            try:
                while not stop.is_set():
                    left = next_tick - time.monotonic()
                    if left > 0 and not q:
                        wake.wait(left)
                    wake.clear()  # before draining: a handoff after this sets it again
                    if stop.is_set():
                        return
                    now = time.monotonic()
                    tick = now >= next_tick
                    sample = tick and now >= next_sample
                    if tick:
                        next_tick = max(next_tick + period, now + period / 2)
                    if sample:
                        next_sample = max(next_sample + every, now + every / 2)
                        if channel is not None and channel.peer_closed():
                            channel.broken = True
                            os.kill(os.getpid(), signal.SIGTERM)
                            return
                    try:
                        if sample:
                            self.sample_memory()
                        with self._lock:
                            if tick:  # everything every thread holds, and the samples
                                self._write_all_locked()
                            else:  # woken by a handoff
                                self._drain_handoff_locked()
                            self._sink.flush()
                    except Exception:  # never let the sampler kill the program
                        pass
            finally:
                self._async = False  # owners flush synchronously again

        self._sampler = threading.Thread(target=run, name="zlprof-sampler", daemon=True)
        self._async = True
        self._sampler.start()

_MEAS_KEYS = ("path", "t0", "t1", "m0", "m1")


def _encode_records(tid: int, lst: list[int], n: int, w: int) -> bytes:
    """A ``meas`` frame of the first ``n`` items of a flat list of ``w``-wide records
    (3: path, t0, t1; 5: also m0, m1)."""
    if accel._pack_records is not None:
        try:
            cols = accel._pack_records(lst, n, w)
        except (TypeError, ValueError, OverflowError, MemoryError):
            pass  # the NumPy version below copes (or raises) the same way as without C
        else:
            # the very body protocol.encode_measurements builds (a test checks the bytes),
            # without a NumPy call: after a big mat-vec each costs microseconds
            body: dict[str, Any] = {"tid": int(tid), "n": n // w}
            body.update(zip(_MEAS_KEYS[:w], cols, strict=True))
            return protocol.encode_frame("meas", body)
    arr = np.frombuffer(array.array("q", lst[:n]), dtype=np.int64).reshape(-1, w)
    return protocol.encode_measurements(tid, *arr.T.copy())


_I64_MAX = (1 << 63) - 1


def _sum_costs(lst: list[int], n: int) -> list[tuple[int, int, int, int]]:
    """Rows ``(path, calls, flops, bytes)``, ascending path, of the first ``n`` items of a
    flat list of ``(path, flops, nbytes)`` triples summed per path; path 0 (a cost outside
    any block) is dropped. Sums are exact; a frame carries int64s (msgpack), so a sum past
    int64 (more than 9.2e18 FLOPs or bytes on one path in one flush) is saturated."""
    if accel._c_sum_costs is not None:
        try:
            return accel._c_sum_costs(lst, n)
        except (TypeError, ValueError, OverflowError, MemoryError):
            pass
    flat = lst[:n]
    if not flat:
        return []
    try:
        a = np.array(flat).reshape(-1, 3)  # int64 when every item is an int in range
        bound = (1 << 62) // len(a)  # |sum| < 2**62 whenever every |value| < bound
        v = a[:, 1:]
        ok = a.dtype == np.int64 and bool(((v > -bound) & (v < bound)).all())
    except (TypeError, ValueError, OverflowError):
        ok = False
    if ok:
        a = a[a[:, 0] != 0]
        if not len(a):
            return []
        a = a[np.argsort(a[:, 0], kind="stable")]
        p = a[:, 0]
        starts = np.flatnonzero(np.r_[True, p[1:] != p[:-1]])
        calls = np.diff(np.r_[starts, len(p)])
        sums = np.add.reduceat(a[:, 1:], starts, axis=0)
        return list(
            zip(
                p[starts].tolist(),
                calls.tolist(),
                sums[:, 0].tolist(),
                sums[:, 1].tolist(),
                strict=True,
            )
        )
    acc: dict[int, list[int]] = {}  # Python ints: exact whatever the values
    for i in range(0, len(flat), 3):
        try:
            pid, f, b = int(flat[i]), int(flat[i + 1]), int(flat[i + 2])
        except (TypeError, ValueError, OverflowError):
            continue  # not a number: dropped (cost() does not check on the hot path)
        if not pid:
            continue
        c = acc.get(pid)
        if c is None:
            acc[pid] = [1, f, b]
        else:
            c[0] += 1
            c[1] += f
            c[2] += b
    sat = _saturate
    return sorted((p, c[0], sat(c[1]), sat(c[2])) for p, c in acc.items())


def _saturate(v: int) -> int:
    return v if -_I64_MAX <= v <= _I64_MAX else (_I64_MAX if v > 0 else -_I64_MAX)
