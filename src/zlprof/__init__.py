"""zlprof: a live terminal profiler for inference loops.

The instrumentation API (what a program's own code calls)::

    import zlprof

    with zlprof.measure("forward_pass"):   # the process-wide profiler
        ...
    @zlprof.measure("sampling")            # also a decorator
    def sample(logits): ...

    prof = zlprof.Profiler(memory=True)    # an explicit, in-memory instance
    with prof.measure("tokenize"): ...
    prof.statistics("tokenize")            # -> PerformanceStats
    print(prof.report())

Under ``zlprof live`` / ``zlprof record`` the process-wide profiler of every process of the
tree streams frames to zlprof over its own connection to a Unix socket (``ZLPROF_SOCKET``);
otherwise it collects in memory. ``zlprof.flush()`` sends what is held now (call it before
``os._exit``; in a forked child zlprof's ``os._exit`` closes the profiler itself).
"""

from .profiler import (
    Profiler,
    ProfilerError,
    cost,
    flush,
    gauge,
    get_profiler,
    measure,
    token,
)
from .stats import PerformanceStats

__version__ = "0.1.0"


def statistics(name: str) -> PerformanceStats:
    """Statistics of ``name`` on the process-wide profiler (in-memory mode)."""
    return get_profiler().statistics(name)


def report() -> str:
    """The text report of the process-wide profiler (in-memory mode)."""
    return get_profiler().report()


def reset() -> None:
    get_profiler().reset()


__all__ = [
    "PerformanceStats",
    "Profiler",
    "ProfilerError",
    "cost",
    "flush",
    "gauge",
    "get_profiler",
    "measure",
    "report",
    "reset",
    "statistics",
    "token",
]
