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

# The package's modules: memory (MemoryReader), channel (the socket channel and the
# sinks), blocks (the Python blocks and the per-thread state), accel (the C accelerator's
# hookup: which Block, Cost and list conversions run), writer (flushing, encoding, the
# sampler: a base class of Profiler), core (Profiler), default (the process-wide profiler,
# its exit and fork hooks). Every public name of zlprof.profiler from before it became a
# package is importable from here, and so are the private names tests and benchmarks read.
# Module state that changes at run time is set where it is read: the implementation
# hooks in ``accel``, the default profiler (``_default``) in ``default``.

from .accel import SPEEDUPS, Block, _c_sum_costs, _CCost, _pack_records, _PyBlock
from .blocks import F, MemBlock, _ThreadState
from .channel import (
    CONNECT_TIMEOUT_S,
    ENV_FD,
    ENV_OPTIONS,
    ENV_SOCKET,
    MemorySink,
    StreamSink,
    connect_channel,
)
from .core import Profiler, ProfilerError
from .default import cost, flush, gauge, get_profiler, measure, token
from .memory import MemoryReader
from .writer import HANDOFF_MAX, _encode_records, _sum_costs

__all__ = [
    "Block",
    "_c_sum_costs",
    "_CCost",
    "connect_channel",
    "CONNECT_TIMEOUT_S",
    "cost",
    "_encode_records",
    "ENV_FD",
    "ENV_OPTIONS",
    "ENV_SOCKET",
    "F",
    "flush",
    "gauge",
    "get_profiler",
    "HANDOFF_MAX",
    "measure",
    "MemBlock",
    "MemoryReader",
    "MemorySink",
    "_pack_records",
    "Profiler",
    "ProfilerError",
    "_PyBlock",
    "SPEEDUPS",
    "StreamSink",
    "_sum_costs",
    "_ThreadState",
    "token",
]
