"""Measure named, nested blocks of code and stream them as protocol frames.

The hot path (``with prof.measure(name):``) does no locking and allocates one small tuple:
enter pushes ``(parent_path, t0)`` on a per-thread stack, exit appends ``(path, t0, t1)``
(plus memory readings when enabled) to a per-thread flat list. The owning thread flushes
its list when it holds ``batch`` records or ``flush_interval`` has passed; a background
sampler thread takes memory samples and flushes the lists of threads that went quiet.

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
import functools
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from . import protocol

_now = time.perf_counter_ns

ENV_FD = "ZLPROF_FD"
ENV_OPTIONS = "ZLPROF_OPTIONS"

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


class StreamSink:
    """Writes frames to a file descriptor (the pipe to the parent)."""

    def __init__(self, fd: int) -> None:
        # Our own buffered file object: sys.stdout may be unbuffered (PYTHONUNBUFFERED).
        self._f = os.fdopen(fd, "wb", buffering=1 << 16, closefd=True)
        self.broken = False

    def write(self, data: bytes) -> None:
        if self.broken:
            return
        try:
            self._f.write(data)
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self._f.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True

    def close(self) -> None:
        self.flush()
        try:
            self._f.close()
        except (OSError, ValueError):
            pass


class MemorySink:
    """Folds frames straight into an in-process :class:`~zlprof.session.SessionState`."""

    def __init__(self) -> None:
        from .session import SessionState

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
    __slots__ = ("stack", "buf", "path", "tid", "deadline", "tokens", "costs", "name")

    def __init__(self, tid: int, name: str) -> None:
        self.stack: list[tuple[int, int]] = []
        self.buf: list[int] = []
        self.path = 0
        self.tid = tid
        self.deadline = 0
        self.tokens: list[tuple[int, int, int, str, str]] = []
        self.costs: dict[int, list[int]] = {}
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
    """A block that also records memory at its start and end (records of width 5)."""

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
        buf = ts.buf
        if len(entry) == 3:
            buf += (ts.path, entry[1], t1, entry[2], m1)
        else:  # entered as a plain block: no start reading
            buf += (ts.path, entry[1], t1, -1, m1)
        ts.path = entry[0]
        if t1 >= ts.deadline or len(buf) >= prof._flush_len:
            prof._flush_thread(ts, t1)
        return False


class _WideBlock(Block):
    """A plain block on a profiler whose records carry memory columns (filled with -1)."""

    __slots__ = ()

    def __exit__(self, et: object, ev: object, tb: object) -> bool:
        t1 = _now()
        prof = self._prof
        try:
            ts = prof._tls.ts
            entry = ts.stack.pop()
        except (AttributeError, IndexError):
            return False
        buf = ts.buf
        buf += (ts.path, entry[1], t1, -1, -1)
        ts.path = entry[0]
        if t1 >= ts.deadline or len(buf) >= prof._flush_len:
            prof._flush_thread(ts, t1)
        return False


# --------------------------------------------------------------------------- profiler


class Profiler:
    """Collects measurements of named blocks.

    Parameters:
        enabled: when False every call returns at once and nothing is recorded.
        memory: ``True`` (every block reads memory at start and end), ``"blocks"`` (only
            blocks opened with ``measure(name, memory=True)`` do), or ``False``.
        trace_python: start ``tracemalloc`` so readings include the traced-current figure.
        sink: where frames go; default: in memory (``statistics()``/``report()`` work).
        batch: records per flush; flush_interval_ms: the longest a record waits.
        sample_interval_ms: period of the background memory sampler (0 = no sampler).
        exact_limit: samples per op kept exactly before the bounded histogram takes over.
    """

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
    ) -> None:
        if memory not in (True, False, "blocks"):
            raise ValueError("memory must be True, False or 'blocks'")
        self._off = not enabled
        self._memory = memory
        self._width = 5 if memory else 3
        self._batch = max(1, int(batch))
        self._flush_len = self._batch * self._width
        self._interval_ns = int(flush_interval_ms * 1e6)
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
        self._sink.write(
            protocol.encode_hello(
                pid=os.getpid(),
                argv=list(sys.argv if argv is None else argv),
                start_ns=self.start_ns,
                wall_time=self.wall_time,
                python=sys.version.split()[0],
                numpy_version=np.__version__,
                platform=sys.platform,
                config=config,
            )
        )
        self._sink.flush()
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
            elif self._width == 5:
                blk = _WideBlock(self, name)
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
        """Attribute FLOPs and bytes moved to one call of the innermost open block."""
        if self._off:
            return
        ts = getattr(self._tls, "ts", None)
        if ts is None or not ts.stack:
            return
        c = ts.costs.get(ts.path)
        if c is None:
            ts.costs[ts.path] = [1, int(flops), int(nbytes)]
        else:
            c[0] += 1
            c[1] += int(flops)
            c[2] += int(nbytes)

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
        """Send everything recorded so far."""
        with self._lock:
            for ts in list(self._threads):
                self._flush_thread_locked(ts, force=True)
            self._flush_mem_locked()
            self._sink.flush()

    def close(self) -> None:
        """Flush and stop the sampler; the sink stays readable for in-memory profilers."""
        if self._closed:
            return
        self._stop.set()
        if self._sampler is not None and self._sampler is not threading.current_thread():
            self._sampler.join(timeout=1.0)
        if self._mem_reader is not None or self._sample_s > 0:
            self.sample_memory()
        self.flush()
        self._closed = True
        if isinstance(self._sink, StreamSink):
            self._sink.close()

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
        from .reports import text_report

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
        ts = _ThreadState(threading.get_ident(), cur.name)
        ts.deadline = _now() + self._interval_ns
        self._tls.ts = ts
        with self._lock:
            self._threads.append(ts)
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
        with self._lock:
            self._flush_thread_locked(ts, force=True)
            self._sink.flush()
        ts.deadline = now + self._interval_ns

    def _flush_thread_locked(self, ts: _ThreadState, force: bool) -> None:
        sink = self._sink
        if self._pending_names:
            sink.write(protocol.encode_names(self._pending_names))
            self._pending_names = []
        buf = ts.buf
        n = len(buf)
        n -= n % self._width  # extends are atomic, but be safe
        if n:
            arr = np.frombuffer(array.array("q", buf[:n]), dtype=np.int64).reshape(
                -1, self._width
            )
            # remove exactly what was encoded: the owner may have appended meanwhile
            del buf[:n]
            if self._width == 5 and (arr[:, 3] >= 0).any() | (arr[:, 4] >= 0).any():
                sink.write(
                    protocol.encode_measurements(
                        ts.tid, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4]
                    )
                )
            else:  # no block in this batch read memory: leave the columns out
                sink.write(protocol.encode_measurements(ts.tid, arr[:, 0], arr[:, 1], arr[:, 2]))
        if ts.tokens:
            toks = ts.tokens[:]
            del ts.tokens[: len(toks)]
            sink.write(protocol.encode_tokens(toks))
        if ts.costs and (force or threading.get_ident() == ts.tid):
            costs, ts.costs = ts.costs, {}
            sink.write(protocol.encode_costs([(p, c[0], c[1], c[2]) for p, c in costs.items()]))

    def _flush_mem_locked(self) -> None:
        t, rss, traced, gauges = self._mem_rows
        if t:
            self._sink.write(protocol.encode_memory(t, rss, traced, gauges))
            self._mem_rows = ([], [], [], {k: [] for k in gauges})

    def _start_sampler(self) -> None:
        # Under zlprof the child runs in its own session, so nothing signals it if zlprof
        # itself is killed (SIGKILL): the sampler notices the new parent and stops it.
        watch_parent = isinstance(self._sink, StreamSink)
        parent = os.getppid()

        def run() -> None:
            while not self._stop.wait(self._sample_s):
                if watch_parent and os.getppid() != parent:
                    self._sink.broken = True
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                try:
                    self.sample_memory()
                    now = _now()
                    with self._lock:
                        for ts in list(self._threads):
                            # quiet threads: their owner has not flushed for a while
                            if now >= ts.deadline and (ts.buf or ts.tokens):
                                self._flush_thread_locked(ts, force=False)
                        self._flush_mem_locked()
                        self._sink.flush()
                except Exception:  # never let the sampler kill the program
                    pass

        self._sampler = threading.Thread(target=run, name="zlprof-sampler", daemon=True)
        self._sampler.start()


# --------------------------------------------------------------------------- default


def _make_default() -> Profiler:
    """The process-wide profiler: streams to the parent under ``zlprof live/record``."""
    fd_text = os.environ.get(ENV_FD)
    opts = os.environ.get(ENV_OPTIONS, "")
    flags = set(opts.split(",")) if opts else set()
    enabled = "off" not in flags
    if fd_text:
        try:
            fd = int(fd_text)
            os.fstat(fd)
        except (ValueError, OSError):
            fd = -1
        # do not leak the pipe into grandchildren that might also import zlprof
        os.environ.pop(ENV_FD, None)
        if fd >= 0:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
            prof = Profiler(
                enabled=enabled,
                memory="blocks",
                sink=StreamSink(fd),
                sample_interval_ms=50.0,
                trace_python="traced" in flags,
            )
            atexit.register(prof.close)
            return prof
    prof = Profiler(enabled=enabled, memory="blocks")
    return prof


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


def cost(flops: int, nbytes: int) -> None:
    (_default or get_profiler()).cost(flops, nbytes)


def token(request: int, index: int, phase: str, piece: str = "") -> None:
    (_default or get_profiler()).token(request, index, phase, piece)


def gauge(name: str, value: int) -> None:
    (_default or get_profiler()).gauge(name, value)


# --------------------------------------------------------------------------- C hot path

# zlprof._speedups (optional, built by setup.py) implements Block/_WideBlock __enter__ and
# __exit__ in C with the same semantics; the classes above stay the reference and the
# fallback (no compiler, or ZLPROF_PURE_PYTHON=1). MemBlock stays pure Python: its memory
# readings dominate its cost. Profiler.measure instantiates whatever Block/_WideBlock name.
_PyBlock, _PyWideBlock = Block, _WideBlock
SPEEDUPS = False
if os.environ.get("ZLPROF_PURE_PYTHON", "") in ("", "0"):
    try:
        from . import _speedups
    except ImportError:
        pass
    else:

        class _CBlock(_speedups.Block):
            __slots__ = ()
            __doc__ = _PyBlock.__doc__
            __call__ = _PyBlock.__call__

        class _CWideBlock(_speedups.WideBlock):
            __slots__ = ()
            __doc__ = _PyWideBlock.__doc__
            __call__ = _PyBlock.__call__

        Block, _WideBlock = _CBlock, _CWideBlock  # type: ignore[misc]
        SPEEDUPS = True
