"""Process-memory readings for the profiler: RSS and tracemalloc's traced current.

Holds :class:`MemoryReader` and :func:`close_fd` (the profiler's one way to close a
kept-open descriptor: this reader's and the socket sink's): when readings are taken
(block starts and ends, the sampler's samples) is decided by the blocks and the profiler.
"""

from __future__ import annotations

import os
import tracemalloc


def close_fd(fd: int | None) -> None:
    """Close ``fd`` (None: nothing to close), ignoring one that is already gone."""
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


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
        close_fd(self._fd)
        self._fd = None
