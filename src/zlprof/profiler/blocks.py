"""The pure-Python blocks: what ``measure(name)`` returns, and the per-thread state.

Holds :class:`Block` (the reference implementation of the hot path; the C accelerator's
class replaces it when built, see :mod:`.accel`), :class:`MemBlock` (memory readings at
start and end; always Python), the disabled profiler's no-op block and the per-thread
state (:class:`_ThreadState`) the blocks append records to. Flushing those records is the
profiler's (:mod:`.writer`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .core import Profiler

#: the clock of every record (the C blocks read the same clock)
_now = time.perf_counter_ns

F = TypeVar("F", bound=Callable[..., Any])


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
        prof._tls.ts.stack.append((parent, t0, m0))
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
