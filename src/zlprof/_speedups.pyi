"""Type stub of zlprof._speedups, the optional C hot path (src/zlprof/_speedups.c).

The C types keep the semantics of the pure-Python reference in zlprof.profiler (Block,
Profiler.cost); zlprof/profiler/accel.py imports this module only when it is built and
ZLPROF_PURE_PYTHON is unset.
"""

from types import TracebackType
from typing import Any, Literal, final

from typing_extensions import disjoint_base

from zlprof.profiler import Profiler

@disjoint_base
class Block:
    """Block(prof, name): the C hot path of zlprof.profiler.Block."""

    _prof: Profiler
    name: str
    _children: dict[int, int]  # parent path id -> this block's path id under it
    def __init__(self, prof: Profiler, name: str) -> None: ...
    def __enter__(self) -> Block:
        """Open the block; returns the block."""

    def __exit__(
        self,
        et: type[BaseException] | None,
        ev: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> Literal[False]:
        """Close the block and record (path, t0, t1); never swallows exceptions."""

@final
class Cost:
    """Cost(prof): prof.cost(flops, nbytes) in C (see Profiler.cost)."""

    @property
    def __self__(self) -> Profiler: ...
    def __new__(cls, prof: Profiler) -> Cost: ...
    def __call__(self, flops: int, nbytes: int) -> None: ...

def perf_counter_ns() -> int:
    """The clock the C blocks read (must agree with time.perf_counter_ns())."""

def pack_records(lst: list[Any], n: int, width: int, /) -> list[bytes]:
    """The columns of the first n items of the flat list ``lst`` as ``width`` bytes objects
    (column 0 int32, the others int64, native byte order)."""

def sum_costs(lst: list[Any], n: int, /) -> list[tuple[int, int, int, int]]:
    """[(path, calls, flops, bytes)] of the first n items of flat (path, flops, nbytes)
    triples, ascending path, path 0 dropped."""
