"""Measure named, nested blocks of code and stream them as protocol frames.

The hot path (``with prof.measure(name):``) does no locking and allocates one small tuple:
enter pushes ``(parent_path, t0)`` on a per-thread stack, exit appends ``(path, t0, t1)`` to
a per-thread flat list ``ts.buf`` (memory blocks append ``(path, t0, t1, m0, m1)`` to a
separate ``ts.mbuf``); ``cost(flops, nbytes)`` appends ``(path, flops, nbytes)`` to
``ts.costs``. Every append is one list extend, atomic under the GIL.

Flushing. When a list holds ``batch`` records or ``flush_interval`` has passed, the owning
thread calls ``_flush_thread``. With the background sampler running (streaming profilers
have one) the owner only hands a full list over (``ts.buf = []`` and a queue append) and
wakes the sampler, which encodes and writes it: NumPy releases the GIL in its mat-vecs, so
the encoding overlaps the owner's compute. The sampler also ticks at least every flush
interval and then writes whatever every thread's lists hold (slice, then ``del lst[:n]``:
the owner may append meanwhile), so a record reaches the sink within one flush interval
(and the sample interval), or at ``batch`` records. If the sampler falls behind (more than
``HANDOFF_MAX`` lists queued) or there is none (in-memory profilers), the owner encodes and
writes synchronously. Every writer holds ``_lock``, writes pending path names first and
drains the handoff queue before reading a thread's current list, so names precede the
records using them and each thread's records stay in order (``flush()``/``close()`` send
everything). The C helpers (``_speedups``) keep the writers cheap: no NumPy call per frame.

Blocks are identified by their *call path*: ``measure("attention")`` inside
``measure("forward_pass")`` is the path ``forward_pass/attention``. The same name may nest
and recurse; each distinct path is interned once and sent in a ``names`` frame.

Memory readings (``memory=True``): the resident set size read from a kept-open
``/proc/self/statm`` (one ``pread``, ~3 us; psutil costs ~30 us, so it is only the fallback
off Linux) and, when ``tracemalloc`` is tracing (``trace_python=True`` starts it), its
traced-current figure (NumPy reports its buffers to it). Each block reading costs two such
reads, so the workload asks for them on coarse blocks only (``measure(name, memory=True)``
on a profiler created with ``memory="blocks"``).
"""

from __future__ import annotations

import array
import atexit
import collections
import functools
import os
import select
import signal
import socket
import sys
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .. import protocol

_now = time.perf_counter_ns

#: Legacy: zlprof < schema 2 passed an inherited pipe's number here. Never trusted any
#: more (an inherited number can name an unrelated file in a spawned child); removed from
#: the environment so grandchildren do not see it either.
ENV_FD = "ZLPROF_FD"
#: The path of the parent's Unix domain socket: every measuring process of the tree
#: connects to it (one connection per process, see :func:`connect_channel`).
ENV_SOCKET = "ZLPROF_SOCKET"
ENV_OPTIONS = "ZLPROF_OPTIONS"
#: Seconds a process waits for the parent's answer when it connects.
CONNECT_TIMEOUT_S = 5.0

F = TypeVar("F", bound=Callable[..., Any])


class ProfilerError(RuntimeError):
    """Misuse of the profiler API, e.g. ``end()`` of a block that was never started."""


# --------------------------------------------------------------------------- memory


class MemoryReader:
    """Cheap process-memory readings: RSS (bytes) and tracemalloc's traced current."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        try:
            self._fd = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self._fd = None
            import psutil

            self._proc = psutil.Process()

    def rss(self) -> int:
        if self._fd is not None:
            try:
                return int(os.pread(self._fd, 96, 0).split()[1]) * self._page
            except OSError:
                return -1
        try:
            return int(self._proc.memory_info().rss)
        except Exception:
            return -1

    @staticmethod
    def traced() -> int:
        if tracemalloc.is_tracing():
            return tracemalloc.get_traced_memory()[0]
        return -1

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None


# --------------------------------------------------------------------------- sinks


def connect_channel(address: str, timeout: float = CONNECT_TIMEOUT_S) -> int | None:
    """Connect to the parent's Unix socket at ``address``; the connected fd, or None.

    The parent answers every connection with the stream preamble (magic and schema): a
    process writes nothing until it has read that answer, so it never writes to a socket
    (or file) that does not belong to zlprof. The fd is close-on-exec.
    """
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    except OSError:
        return None
    try:
        s.settimeout(timeout)
        s.connect(address)
        got = b""
        while len(got) < protocol.PREAMBLE_SIZE:
            part = s.recv(protocol.PREAMBLE_SIZE - len(got))
            if not part:
                break
            got += part
        protocol.check_preamble(got)
        s.settimeout(None)
        return s.detach()
    except (OSError, ValueError):
        s.close()
        return None


class StreamSink:
    """Writes frames to a file descriptor: the process's own connection to the parent
    (or any pipe, in tests). Buffered here, not by a file object: after a fork the child
    drops the parent's buffer (:meth:`abandon`) without ever flushing it.

    With ``address`` the sink connects lazily, on its first flush (a forked child). With
    ``preamble`` the stream starts with the 12-byte preamble.
    """

    def __init__(self, fd: int | None = None, *, address: str | None = None,
                 preamble: bool = False) -> None:
        self._fd = fd
        self.address = address
        self._buf = bytearray(protocol.preamble() if preamble else b"")
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        self._buf += data
        if len(self._buf) >= 1 << 16:
            self.flush()

    def flush(self) -> None:
        if self.broken or not self._buf:
            return
        if self._fd is None:
            if self.address is None:
                self.broken = True
                return
            self._fd = connect_channel(self.address)
            if self._fd is None:
                self.broken = True
                self._buf = bytearray()
                return
        buf = self._buf
        try:
            while buf:
                n = os.write(self._fd, buf)
                del buf[:n]
        except InterruptedError:
            pass
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True
            buf.clear()

    def peer_closed(self) -> bool:
        """True when the parent closed the connection (zlprof ended or was killed)."""
        fd = self._fd
        if fd is None or self.broken:
            return self.broken
        try:
            poller = select.poll()
            # the parent sends nothing after its answer: readable means end of stream
            poller.register(fd, select.POLLIN | getattr(select, "POLLRDHUP", 0))
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def abandon(self) -> None:
        """A forked child's copy of its parent's sink: drop the parent's buffered bytes
        and close the child's copy of the fd, writing nothing."""
        self._buf = bytearray()
        self.broken = True
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def close(self) -> None:
        self.flush()
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        self.broken = True


class MemorySink:
    """Folds frames straight into an in-process :class:`~zlprof.session.SessionState`."""

    def __init__(self) -> None:
        from ..session import SessionState

        self.state = SessionState()
        self.broken = False

    def write(self, data: bytes) -> None:
        self.state.ingest_bytes(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- blocks


class _ThreadState:
    __slots__ = ("stack", "buf", "mbuf", "path", "tid", "deadline", "tokens", "costs", "name")

    def __init__(self, tid: int, name: str) -> None:
        self.stack: list[tuple[int, int]] = []
        self.buf: list[int] = []  # flat (path, t0, t1) records of plain blocks
        self.mbuf: list[int] = []  # flat (path, t0, t1, m0, m1) records of memory blocks
        self.path = 0
        self.tid = tid
        self.deadline = 0
        self.tokens: list[tuple[int, int, int, str, str]] = []
        self.costs: list[int] = []  # flat (path, flops, nbytes) per cost() call
        self.name = name


class _NoopBlock:
    """What ``measure()`` returns while the profiler is disabled."""

    __slots__ = ()

    def __enter__(self) -> _NoopBlock:
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> bool:
        return False

    def __call__(self, fn: F) -> F:
        return fn


_NOOP = _NoopBlock()


class Block:
    """A named block: a context manager and a decorator. Reusable and reentrant."""

    __slots__ = ("_prof", "name", "_children")

    def __init__(self, prof: Profiler, name: str) -> None:
        self._prof = prof
        self.name = name
        # parent path id -> this block's path id under that parent
        self._children: dict[int, int] = {}

    def __enter__(self) -> Block:
        prof = self._prof
        if prof._off:
            return self
        try:
            ts = prof._tls.ts
        except AttributeError:
            ts = prof._new_thread_state()
        parent = ts.path
        pid = self._children.get(parent)
        if pid is None:
            pid = prof._intern(parent, self.name, self._children)
        ts.stack.append((parent, _now()))
        ts.path = pid
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> bool:
        t1 = _now()
        try:
            ts = self._prof._tls.ts
            parent, t0 = ts.stack.pop()
        except (AttributeError, IndexError):
            return False  # entered while disabled
        buf = ts.buf
        buf += (ts.path, t0, t1)
        ts.path = parent
        if t1 >= ts.deadline or len(buf) >= self._prof._flush_len:
            self._prof._flush_thread(ts, t1)
        return False

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class MemBlock(Block):
    """A block that also records memory at its start and end (5-wide records in ts.mbuf)."""

    __slots__ = ()

    def __enter__(self) -> MemBlock:
        prof = self._prof
        if prof._off:
            return self
        m0 = prof._read_mem()
        super().__enter__()  # pushes (parent, t0); memory readings dominate the cost here
        parent, t0 = prof._tls.ts.stack.pop()
        prof._tls.ts.stack.append((parent, t0, m0))  # type: ignore[arg-type]
        return self

    def __exit__(self, et: object, ev: object, tb: object) -> bool:
        t1 = _now()
        prof = self._prof
        try:
            ts = prof._tls.ts
            entry = ts.stack.pop()
        except (AttributeError, IndexError):
            return False
        m1 = prof._read_mem()
        mbuf = ts.mbuf
        if len(entry) == 3:
            mbuf += (ts.path, entry[1], t1, entry[2], m1)
        else:  # entered as a plain block: no start reading
            mbuf += (ts.path, entry[1], t1, -1, m1)
        ts.path = entry[0]
        if t1 >= ts.deadline or len(mbuf) >= prof._mflush_len:
            prof._flush_thread(ts, t1)
        return False


# --------------------------------------------------------------------------- profiler

#: Lists queued for the sampler beyond which an owner thread flushes synchronously.
HANDOFF_MAX = 8


class Profiler:
    """Collects measurements of named blocks.

    Parameters:
        enabled: when False every call returns at once and nothing is recorded.
        memory: ``True`` (every block reads memory at start and end), ``"blocks"`` (only
            blocks opened with ``measure(name, memory=True)`` do), or ``False``.
        start: how this process began ("exec", "spawn", "forkserver"; a forked child's
            profiler says "fork"), sent in the hello frame.
        trace_python: start ``tracemalloc`` so readings include the traced-current figure.
        sink: where frames go; default: in memory (``statistics()``/``report()`` work).
        batch: records per flush; flush_interval_ms: the longest a record waits.
        sample_interval_ms: period of the background memory sampler (0 = no sampler).
            While it runs it also encodes and writes the frames (see the module doc).
        exact_limit: samples per op kept exactly before the bounded histogram takes over.
    """

    # the two attributes the C blocks read on every call: slots, read at their offsets
    __slots__ = ("_off", "_flush_len", "__dict__", "__weakref__")

    def __init__(
        self,
        enabled: bool = True,
        memory: bool | str = False,
        *,
        trace_python: bool = False,
        sink: StreamSink | MemorySink | None = None,
        batch: int = 1024,
        flush_interval_ms: float = 50.0,
        sample_interval_ms: float = 0.0,
        exact_limit: int | None = None,
        argv: list[str] | None = None,
        config: dict[str, Any] | None = None,
        start: str = "exec",
    ) -> None:
        if memory not in (True, False, "blocks"):
            raise ValueError("memory must be True, False or 'blocks'")
        self._off = not enabled
        self._memory = memory
        self._batch = max(1, int(batch))
        self._flush_len = self._batch * 3  # ts.buf: 3 ints a record
        self._mflush_len = self._batch * 5  # ts.mbuf: 5 ints a record
        self._interval_ns = int(flush_interval_ms * 1e6)
        # (thread state, list, memory?) handed over by owner threads for the sampler to write
        self._handoff: collections.deque[tuple[_ThreadState, list[int], bool]] = (
            collections.deque()
        )
        self._wake = threading.Event()  # set on a handoff (and on close)
        self._async = False  # True while the sampler runs: owners hand their lists over
        self._sample_s = sample_interval_ms / 1000.0
        self._tls = threading.local()
        self._threads: list[_ThreadState] = []
        self._lock = threading.RLock()
        self._paths: list[tuple[int, str]] = [(-1, "")]  # path id -> (parent, name)
        self._pending_names: list[tuple[int, int, str]] = []
        self._blocks: dict[str, Block] = {}
        self._mem_blocks: dict[str, Block] = {}
        # the table `measure(name)` without a memory argument reads from
        self._default_blocks = self._mem_blocks if memory is True else self._blocks
        self._gauges: dict[str, int] = {}
        self._mem_rows: tuple[list[int], list[int], list[int], dict[str, list[int]]] = (
            [],
            [],
            [],
            {},
        )
        self._mem_reader = MemoryReader() if memory else None
        if trace_python and not tracemalloc.is_tracing():
            tracemalloc.start()
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self.start_ns = _now()
        self.wall_time = time.time()
        if sink is None:
            sink = MemorySink()
            if exact_limit is not None:
                sink.state.exact_limit = exact_limit
        self._sink = sink
        self._argv = list(sys.argv if argv is None else argv)
        self._config = config
        self._start_kind = start
        self._pending_threads: list[tuple[int, str]] = []
        self._restart_sampler = False  # a forked child starts its sampler on first flush
        self._write_hello()
        self._sink.flush()
        _profilers.add(self)
        if _CCost is not None:
            # the C version of Profiler.cost (same semantics), shadowing the method
            self.cost = _CCost(self)
        if self._sample_s > 0 and enabled:
            self._start_sampler()

    # ------------------------------------------------------------------ public API

    @property
    def enabled(self) -> bool:
        return not self._off

    @enabled.setter
    def enabled(self, value: bool) -> None:
        if value and self._off:
            for ts in list(self._threads):  # blocks opened before disabling are abandoned
                ts.stack.clear()
                ts.path = 0
        self._off = not value

    @property
    def streaming(self) -> bool:
        return isinstance(self._sink, StreamSink)

    def measure(self, name: str | Callable[..., Any], memory: bool | None = None) -> Any:
        """A block named ``name``: ``with prof.measure(name):`` or ``@prof.measure(name)``.

        Used bare as a decorator (``@prof.measure``) the block takes the function's
        qualified name. ``memory=True`` reads memory at the block's start and end on a
        profiler created with ``memory="blocks"``.
        """
        if self._off:
            return name if callable(name) else _NOOP
        if memory is None:  # the hot case: a block seen before
            blk = self._default_blocks.get(name)
            if blk is not None:
                return blk
        return self._measure(name, memory)

    def _measure(self, name: str | Callable[..., Any], memory: bool | None) -> Any:
        if self._off:
            if callable(name):
                return name
            return _NOOP
        if callable(name):
            return self.measure(getattr(name, "__qualname__", repr(name)), memory)(name)
        if memory is None:
            memory = self._memory is True
        table = self._mem_blocks if (memory and self._memory) else self._blocks
        blk = table.get(name)
        if blk is None:
            if not isinstance(name, str) or not name or "/" in name:
                raise ValueError(f"block name must be a non-empty string without '/': {name!r}")
            if memory and self._memory:
                blk = MemBlock(self, name)
            else:
                blk = Block(self, name)
            table[name] = blk
        return blk

    def start(self, name: str) -> None:
        """Open a block explicitly; close it with :meth:`end`."""
        self.measure(name).__enter__()

    def end(self, name: str) -> None:
        """Close the innermost open block, which must be ``name``."""
        if self._off:
            return
        ts = getattr(self._tls, "ts", None)
        if ts is None or not ts.stack:
            raise ProfilerError(f"end({name!r}) without a matching start({name!r})")
        open_name = self._paths[ts.path][1]
        if open_name != name:
            raise ProfilerError(
                f"end({name!r}) but the innermost open block is {open_name!r}"
            )
        table = self._mem_blocks if len(ts.stack[-1]) == 3 else self._blocks
        blk = table.get(name) or self.measure(name)
        blk.__exit__(None, None, None)

    def cost(self, flops: int, nbytes: int) -> None:
        """Attribute FLOPs and bytes moved (ints) to one call of the innermost open block.

        One atomic list extend; the calls are summed per path when the list is written
        (a cost outside any block, path 0, is dropped there).
        """
        if self._off:
            return
        try:
            ts = self._tls.ts
        except AttributeError:
            return
        ts.costs += (ts.path, flops, nbytes)

    def token(self, request: int, index: int, phase: str, piece: str = "") -> None:
        """Record that token ``index`` of ``request`` was produced now (phase prefill/decode)."""
        if self._off:
            return
        try:
            ts = self._tls.ts
        except AttributeError:
            ts = self._new_thread_state()
        t = _now()
        ts.tokens.append((t, int(request), int(index), phase, piece))
        if t >= ts.deadline:
            self._flush_thread(ts, t)

    def gauge(self, name: str, value: int) -> None:
        """Set a named memory gauge (bytes), sampled with RSS, e.g. ``kv_cache_bytes``."""
        self._gauges[name] = int(value)

    def log(self, msg: str, level: str = "info") -> None:
        if self._off:
            return
        with self._lock:
            self._sink.write(protocol.encode_log(_now(), level, str(msg)))
            self._sink.flush()

    def set_config(self, config: dict[str, Any]) -> None:
        """Describe the run (workload options, shapes); shown by the app and reports."""
        with self._lock:
            self._sink.write(protocol.encode_meta(dict(config)))
            self._sink.flush()

    def sample_memory(self) -> None:
        """Take one memory sample now (the sampler thread calls this periodically)."""
        reader = self._mem_reader or MemoryReader()
        if self._mem_reader is None:
            self._mem_reader = reader
        with self._lock:
            t, rss, traced, gauges = self._mem_rows
            n = len(t)
            t.append(_now())
            rss.append(reader.rss())
            traced.append(reader.traced())
            for k in self._gauges:
                if k not in gauges:
                    gauges[k] = [-1] * n
            for k, col in gauges.items():
                col.append(self._gauges.get(k, -1))

    def flush(self) -> None:
        """Send everything recorded so far (names first, each thread's records in order).

        A process that ends with ``os._exit`` (a raw ``os.fork`` child) calls this first;
        multiprocessing's workers are flushed by zlprof's hook on their exit path.
        """
        with self._lock:
            self._write_all_locked()
            self._sink.flush()

    def close(self) -> None:
        """Flush and stop the sampler; the sink stays readable for in-memory profilers."""
        if self._closed:
            return
        self._async = False  # from now on owners flush synchronously
        self._stop.set()
        self._wake.set()
        if self._sampler is not None and self._sampler is not threading.current_thread():
            self._sampler.join(timeout=1.0)
        if self._mem_reader is not None or self._sample_s > 0:
            self.sample_memory()
        with self._lock:
            self._write_all_locked()
            if isinstance(self._sink, StreamSink):
                # everything this process measured has been sent: the parent can tell a
                # clean end from a process that died mid-run
                self._sink.write(protocol.encode_bye(_now(), "closed"))
            self._sink.flush()
        self._closed = True
        if isinstance(self._sink, StreamSink):
            self._sink.close()

    # fork ----------------------------------------------------------------------------

    def _resume_sampler(self) -> None:
        """Start the sampler a forked child's profiler had in its parent (first flush)."""
        with self._lock:
            if not self._restart_sampler:
                return
            self._restart_sampler = False
        if not self._closed:
            self._start_sampler()

    def _after_fork_child(self) -> None:
        """In a forked child (os.register_at_fork): start clean. No inherited open blocks,
        buffers, queued lists, gauges or sampler; the parent's unsent bytes are dropped,
        never sent twice; the child gets its own stream (a new connection, opened on the
        first flush) and re-sends the names it will use."""
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._handoff = collections.deque()
        had_sampler = self._sampler is not None
        self._sampler = None
        self._async = False
        ts = getattr(self._tls, "ts", None)
        self._threads = []
        self._pending_threads = []
        if ts is not None:
            # Reset in place: the C hot path caches this very object for this thread
            # (keyed by the profiler and the thread state, both unchanged by fork).
            ts.stack.clear()
            ts.buf = []
            ts.mbuf = []
            ts.costs = []
            ts.tokens = []
            ts.path = 0
            ts.deadline = 0  # the first block flushes: opens the channel, starts the sampler
            ts.tid = threading.get_native_id()
            self._threads.append(ts)
            self._pending_threads.append((ts.tid, ts.name))
        self._gauges = {}
        self._mem_rows = ([], [], [], {})
        if self._mem_reader is not None:  # its fd reads the parent's /proc/<pid>/statm
            self._mem_reader.close()
            self._mem_reader = MemoryReader()
        self._pending_names = [
            (i, parent, name) for i, (parent, name) in enumerate(self._paths) if i > 0
        ]
        self.start_ns = _now()
        self.wall_time = time.time()
        self._start_kind = "fork"
        old = self._sink
        if isinstance(old, StreamSink):
            old.abandon()
            self._sink = StreamSink(address=old.address, preamble=True)
            if old.address is None:
                self._sink.broken = True  # a pipe shared with the parent: never written
        elif isinstance(old, MemorySink):
            old.state = type(old.state)(exact_limit=old.state.exact_limit)
        self._write_hello()
        self._restart_sampler = had_sampler and not self._closed and not self._off
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None and self.streaming:
            # a multiprocessing child clears its finalizers after the fork, then runs
            # these: register the exit hook there
            mp_util.register_after_fork(self, _register_mp_exit)

    # in-memory views ---------------------------------------------------------------

    @property
    def state(self) -> Any:
        """The in-process SessionState (in-memory profilers only)."""
        if not isinstance(self._sink, MemorySink):
            raise ProfilerError("this profiler streams to a parent; statistics live there")
        self.flush()
        return self._sink.state

    def statistics(self, name: str) -> Any:
        """PerformanceStats of ``name``: a full path, or a block name merged over its paths."""
        return self.state.stats_for_name(name)

    def report(self) -> str:
        """The seed's text report of everything measured so far."""
        from ..reports import text_report

        return text_report(self.state)

    def reset(self) -> None:
        """Forget everything measured so far (open blocks keep running)."""
        self.flush()
        if isinstance(self._sink, MemorySink):
            self._sink.state.reset()

    # ------------------------------------------------------------------ internals

    def _read_mem(self) -> int:
        reader = self._mem_reader
        if reader is None:
            return -1
        if tracemalloc.is_tracing():
            return tracemalloc.get_traced_memory()[0]
        return reader.rss()

    def _new_thread_state(self) -> _ThreadState:
        cur = threading.current_thread()
        ts = _ThreadState(threading.get_native_id(), cur.name)
        ts.deadline = _now() + self._interval_ns
        self._tls.ts = ts
        with self._lock:
            self._threads.append(ts)
            self._pending_threads.append((ts.tid, ts.name))
        return ts

    def _intern(self, parent: int, name: str, children: dict[int, int]) -> int:
        with self._lock:
            pid = children.get(parent)
            if pid is None:
                pid = len(self._paths)
                self._paths.append((parent, name))
                self._pending_names.append((pid, parent, name))
                children[parent] = pid
            return pid

    def path_name(self, pid: int) -> str:
        parts = []
        while pid > 0:
            parent, name = self._paths[pid]
            parts.append(name)
            pid = parent
        return "/".join(reversed(parts))

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

    # Writers: every method below runs with self._lock held.

    def _write_hello(self) -> None:
        self._sink.write(
            protocol.encode_hello(
                pid=os.getpid(),
                ppid=os.getppid(),
                argv=self._argv,
                start_ns=self.start_ns,
                wall_time=self.wall_time,
                python=sys.version.split()[0],
                numpy_version=np.__version__,
                platform=sys.platform,
                config=self._config,
                start=self._start_kind,
            )
        )

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

        def run() -> None:
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
    if _pack_records is not None:
        try:
            cols = _pack_records(lst, n, w)
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
    if _c_sum_costs is not None:
        try:
            return _c_sum_costs(lst, n)  # type: ignore[no-any-return]
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


# --------------------------------------------------------------------------- default


def _start_kind() -> str:
    """How this process began: a multiprocessing child says its start method."""
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None and mp.parent_process() is not None:
        ctx = sys.modules.get("multiprocessing.context")
        method = None
        if ctx is not None:
            try:
                method = ctx._default_context.get_start_method(allow_none=True)
            except Exception:
                method = None
        return method if method in ("fork", "spawn", "forkserver") else "spawn"
    return "fork" if _FORKED else "exec"


def _make_default() -> Profiler:
    """The process-wide profiler: streams to the parent under ``zlprof live/record``."""
    os.environ.pop(ENV_FD, None)  # never trusted (see ENV_FD)
    address = os.environ.get(ENV_SOCKET)
    opts = os.environ.get(ENV_OPTIONS, "")
    flags = set(opts.split(",")) if opts else set()
    enabled = "off" not in flags
    if address:
        fd = connect_channel(address)
        if fd is not None:
            sink = StreamSink(fd, address=address, preamble=True)
            prof = Profiler(
                enabled=enabled,
                memory="blocks",
                sink=sink,
                sample_interval_ms=50.0,
                trace_python="traced" in flags,
                start=_start_kind(),
            )
            atexit.register(prof.close)
            _install_exit_hooks(prof)
            return prof
    prof = Profiler(enabled=enabled, memory="blocks")
    return prof


def _register_mp_exit(prof: Profiler) -> None:
    """Close ``prof`` on multiprocessing's own exit path (its children end with
    ``os._exit``, which skips atexit)."""
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.Finalize(None, prof.close, exitpriority=-100)


def _on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM while streaming (zlprof's quit, ``Pool.terminate``): send what was measured,
    then die of the signal as the default action would (same exit status).

    The handler runs between two bytecodes of the main thread, possibly inside a lock the
    flush needs (an Event's, the profiler's): so a helper thread closes the profiler and
    re-raises the signal, while the handler waits for it only briefly and then lets the
    main thread run on (and release what it holds)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    prof = _default

    def finish() -> None:
        try:
            if prof is not None and prof.streaming:
                prof.close()
        except Exception:
            pass
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=finish, name="zlprof-sigterm", daemon=True)
    t.start()
    t.join(0.5)


def _install_exit_hooks(prof: Profiler) -> None:
    mp = sys.modules.get("multiprocessing.process")
    if mp is not None and mp.parent_process() is not None:
        _register_mp_exit(prof)
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # not the main thread: no handler
        pass


# Fork safety: every profiler's lock is held across fork() (so no other thread is inside a
# write when the child's copy is taken), then the child's profilers start clean.
_profilers: weakref.WeakSet[Profiler] = weakref.WeakSet()
_forking: list[Profiler] = []


def _before_fork() -> None:
    _forking[:] = list(_profilers)
    for p in _forking:
        p._lock.acquire()


def _after_fork_parent() -> None:
    for p in reversed(_forking):
        p._lock.release()
    _forking.clear()


#: this interpreter was forked (zlprof was imported before the fork)
_FORKED = False


def _after_fork_child() -> None:
    global _FORKED
    _FORKED = True
    for p in _forking:
        try:
            p._after_fork_child()
        except Exception:  # never break the user's fork
            p._off = True
    _forking.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_parent, after_in_child=_after_fork_child
    )


_default: Profiler | None = None


def get_profiler() -> Profiler:
    """The process-wide default profiler (created on first use)."""
    global _default
    if _default is None:
        _default = _make_default()
    return _default


def measure(name: str | Callable[..., Any], memory: bool | None = None) -> Any:
    """``with zlprof.measure(name):`` or ``@zlprof.measure(name)`` on the default profiler."""
    return (_default or get_profiler()).measure(name, memory)


def flush() -> None:
    """Send everything the process-wide profiler holds now. Call it before ``os._exit``
    (a raw ``os.fork`` child), which skips every exit hook."""
    if _default is not None:
        _default.flush()


def cost(flops: int, nbytes: int) -> None:
    (_default or get_profiler()).cost(flops, nbytes)


def token(request: int, index: int, phase: str, piece: str = "") -> None:
    (_default or get_profiler()).token(request, index, phase, piece)


def gauge(name: str, value: int) -> None:
    (_default or get_profiler()).gauge(name, value)


# --------------------------------------------------------------------------- C hot path

# zlprof._speedups (optional, built by setup.py) implements Block.__enter__ and __exit__,
# and Profiler.cost, in C with the same semantics; the Python code above stays the
# reference and the fallback (no compiler, or ZLPROF_PURE_PYTHON=1). MemBlock stays pure
# Python: its memory readings dominate its cost. Profiler.measure instantiates whatever
# ``Block`` names; Profiler.__init__ installs ``_CCost(self)`` as ``self.cost`` unless
# ``_CCost`` is None.
_PyBlock = Block
_CCost: Any = None
_pack_records: Any = None  # the C versions of the writers' list conversions
_c_sum_costs: Any = None
SPEEDUPS = False
if os.environ.get("ZLPROF_PURE_PYTHON", "") in ("", "0"):
    try:
        from .. import _speedups
    except ImportError:
        pass
    else:

        class _CBlock(_speedups.Block):
            __slots__ = ()
            __doc__ = _PyBlock.__doc__
            __call__ = _PyBlock.__call__

        Block = _CBlock  # type: ignore[misc, assignment]
        _CCost = _speedups.Cost
        if sys.byteorder == "little":  # pack_records writes native byte order
            _pack_records = _speedups.pack_records
        _c_sum_costs = _speedups.sum_costs
        SPEEDUPS = True
