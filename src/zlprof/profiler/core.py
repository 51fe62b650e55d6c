"""The Profiler: its public API, the per-thread state, path interning, fork handling.

:class:`Profiler` inherits the flushing, encoding and sampling half from
:class:`~zlprof.profiler.writer._Writer`; the blocks are in :mod:`.blocks`, the sinks in
:mod:`.channel`, and the process-wide default profiler (with its exit and fork hooks) in
:mod:`.default`. Also here: :data:`_profilers` (every live profiler, for the fork hooks)
and the multiprocessing exit hook a forked child's profiler registers.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import tracemalloc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import protocol
from ..names import sanitize_block_name
from . import accel
from .blocks import _NOOP, Block, MemBlock, _now, _ThreadState
from .channel import MemorySink, StreamSink
from .cpu import CpuReader
from .memory import MemoryReader
from .writer import _Writer

#: the warning a profiler sends once when blocks are measured in an asyncio event loop
#: (a ``log`` frame of level "warning" beginning "zlprof: ": the session lists it)
ASYNCIO_WARNING = (
    "zlprof: blocks measured in asyncio tasks: the open blocks are a stack per thread, not "
    "per task, so blocks of concurrent tasks open across an await nest into each other; "
    "measure between awaits, or whole requests in a thread of their own"
)


class ProfilerError(RuntimeError):
    """Misuse of the profiler API, e.g. ``end()`` of a block that was never started."""


class Profiler(_Writer):
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
            While it runs it also encodes and writes the frames (see the package doc).
        exact_limit: samples per op kept exactly before the bounded histogram takes over.
    """

    # the two attributes the C blocks read on every call: slots, read at their offsets
    # (``__dict__`` and ``__weakref__`` come from _Writer's slots)
    __slots__ = ("_off", "_flush_len")

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
        self._cpu_reader: CpuReader | None = None  # the sampler's (created when it starts)
        if trace_python and not tracemalloc.is_tracing():
            tracemalloc.start()
        self._sampler: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False
        self._loop_warned = False  # (_warn_if_in_event_loop)
        self._close_lock = threading.RLock()  # (a handler of the program may close too)
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
        if accel._CCost is not None:
            # the C version of Profiler.cost (same semantics), shadowing the method
            self.cost = accel._CCost(self)
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
            if not isinstance(name, str):
                raise TypeError(f"a block name is a string, not {type(name).__name__}")
            if not self._loop_warned:
                self._warn_if_in_event_loop()
            # '/' joins a block to its parents; control characters would break a line:
            # mended, never refused (zlprof.names); the table keeps the name as given
            shown = sanitize_block_name(name)
            if memory and self._memory:
                blk = MemBlock(self, shown)
            else:
                blk = accel.Block(self, shown)
            table[name] = blk
        return blk

    def _warn_if_in_event_loop(self) -> None:
        """Once: a block first measured inside a running asyncio event loop. The open
        blocks are a stack per thread, not per task, so blocks of concurrent tasks that
        stay open across an ``await`` nest into each other (seen: 8 concurrent requests
        shown as a chain 16 deep). Said, not guessed around: a warning the app shows."""
        aio = sys.modules.get("asyncio")
        if aio is None:
            return
        try:
            running = aio.events._get_running_loop() is not None
        except Exception:
            return
        if running:
            self._loop_warned = True
            self.log(ASYNCIO_WARNING, level="warning")

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
        if open_name != sanitize_block_name(name):
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
        """Set a named memory gauge (bytes), sampled with RSS, e.g. ``kv_cache_bytes``.
        Names beginning ``zlprof.`` are zlprof's own (profiler/cpu.py): ValueError."""
        if name.startswith("zlprof."):
            raise ValueError(f"gauge name {name!r}: names beginning 'zlprof.' are reserved")
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

    def flush(self) -> None:
        """Send everything recorded so far (names first, each thread's records in order).

        A process that ends with ``os._exit`` calls this first; a forked child need not
        (its ``os._exit`` is zlprof's, which closes the default profiler first:
        ``default._exit_after_close``), nor multiprocessing's workers (their exit path is
        hooked).
        """
        with self._lock:
            self._write_all_locked()
            self._sink.flush()

    def close(self) -> None:
        """Flush and stop the sampler; the sink stays readable for in-memory profilers.

        Once, whoever calls: a second caller waits for the first and returns. A pool
        worker closes on its exit path (the sentinel ``Pool.terminate`` sends) and, at
        the same moment, from the SIGTERM that follows; two interleaved closes raced in
        the readings, and the loser's process was killed before its flush."""
        with self._close_lock:
            if self._closed:
                return
            self._close_locked()

    def _close_locked(self) -> None:
        self._async = False  # from now on owners flush synchronously
        self._stop.set()
        self._wake.set()
        if self._sampler is not None and self._sampler is not threading.current_thread():
            self._sampler.join(timeout=1.0)
        if self._mem_reader is not None or self._sample_s > 0:
            try:  # a last sample; nothing here may cost the flush below
                self.sample_memory()
            except Exception:
                pass
        with self._lock:
            self._write_all_locked()
            if isinstance(self._sink, StreamSink):
                # everything this process measured has been sent: the parent can tell a
                # clean end from a process that died mid-run
                self._sink.write(protocol.encode_bye(_now(), "closed"))
            self._sink.flush()
        self._closed = True
        sampler = self._sampler
        if self._cpu_reader is not None and (sampler is None or not sampler.is_alive()):
            self._cpu_reader.close()
            self._cpu_reader = None
        if isinstance(self._sink, StreamSink):
            self._sink.close()

    # fork ----------------------------------------------------------------------------

    def _after_fork_child(self) -> None:
        """In a forked child (os.register_at_fork): start clean. No inherited open blocks,
        buffers, queued lists, gauges or sampler; the parent's unsent bytes are dropped,
        never sent twice; the child gets its own stream (a new connection, opened on the
        first flush) and re-sends the names it will use."""
        self._lock = threading.RLock()
        self._close_lock = threading.RLock()  # (a handler of the program may close too)
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
        if self._cpu_reader is not None:  # its fds read the parent's threads
            self._cpu_reader.close_after_fork()
            self._cpu_reader = None
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


def _register_mp_exit(prof: Profiler) -> None:
    """Close ``prof`` on multiprocessing's own exit path (its children end with
    ``os._exit``, which skips atexit)."""
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.Finalize(None, prof.close, exitpriority=-100)


# Every live profiler (the fork hooks in .default hold their locks across fork()).
_profilers: weakref.WeakSet[Profiler] = weakref.WeakSet()
