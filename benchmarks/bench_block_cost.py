"""Cost of one measured block (and one ``cost()`` call), as ratios to an empty `with` on a
__slots__ class.

Everything is timed in the same run, interleaved, best of several repeats, so the
ratios hold on a noisy 2-core machine where absolute times drift. The pure-Python blocks
and, when zlprof._speedups is built, the C blocks are timed side by side. These are warm
timings (a tight loop); in a real model loop, after big mat-vecs have evicted the caches,
every call costs more (see bench_profile_overhead.py).

Run: python benchmarks/bench_block_cost.py
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

import zlprof
from zlprof import profiler as P
from zlprof.profiler import accel


class Empty:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def best(stmt: str, ns: dict, number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(stmt, globals=ns, number=number, repeat=repeat)) / number


def with_impl(impl: str, fn: Callable[[], Any]) -> Any:
    """Run fn with the profilers it creates using implementation ``impl`` ("py" or "c"):
    the blocks Profiler.measure makes and the cost Profiler installs."""
    saved = accel.Block, accel._CCost
    if impl == "py":
        accel.Block, accel._CCost = P._PyBlock, None
    try:
        return fn()
    finally:
        accel.Block, accel._CCost = saved


def main() -> None:
    number = 200_000
    impls = ["py", "c"] if P.SPEEDUPS else ["py"]
    ns: dict[str, Any] = {"e": Empty()}
    profs = []

    def setup(impl: str) -> None:
        # measure() caches its blocks per profiler: create them now with impl's classes
        on = zlprof.Profiler(batch=1 << 30, flush_interval_ms=1e9)  # no flushing in the loop
        wide = zlprof.Profiler(memory="blocks", batch=1 << 30, flush_interval_ms=1e9)
        on_mem = zlprof.Profiler(memory=True, batch=1 << 30, flush_interval_ms=1e9)
        off = zlprof.Profiler(enabled=False)
        ns.update(
            {f"on_{impl}": on, f"wide_{impl}": wide, f"mem_{impl}": on_mem, f"off_{impl}": off}
        )
        ns[f"blk_{impl}"] = on.measure("x")
        ns[f"wblk_{impl}"] = wide.measure("x")
        ns[f"blk_off_{impl}"] = off.measure("x")
        ns[f"cost_{impl}"] = on.cost
        profs.extend([on, wide, on_mem])

    for impl in impls:
        with_impl(impl, lambda impl=impl: setup(impl))
    rows = {
        "enabled  `with prof.measure('x')`": "with on_{}.measure('x'): pass",
        "enabled  held block `with blk`": "with blk_{}: pass",
        "memory='blocks' (the default profiler), plain block": "with wide_{}.measure('x'): pass",
        "memory='blocks', held plain block": "with wblk_{}: pass",
        "held block + one cost(flops, nbytes)": "with blk_{0}: cost_{0}(100, 200)",
        "enabled + memory readings (MemBlock)": "with mem_{}.measure('x'): pass",
        "disabled `with prof.measure('x')`": "with off_{}.measure('x'): pass",
        "disabled held block": "with blk_off_{}: pass",
    }
    cases = {("base", ""): "with e: pass"}
    for k, stmt in rows.items():
        for impl in impls:
            cases[(k, impl)] = stmt.format(impl)
    times: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    for _ in range(3):  # interleave the cases
        for k, stmt in cases.items():
            times[k].append(best(stmt, ns, number // 4 if "memory r" in k[0] else number, repeat=3))
            for prof in profs:
                ts = getattr(prof._tls, "ts", None)
                if ts is not None:
                    ts.buf.clear()
                    ts.mbuf.clear()
                    ts.costs.clear()
    base = min(times[("base", "")])
    print(f"empty `with` on a __slots__ class: {base * 1e9:.0f} ns (= 1.00x)")
    head = "".join(
        f" {name + ' ns':>10} {'ratio':>7}"
        for name in (["Python", "C"] if P.SPEEDUPS else ["Python"])
    )
    print(f"{'case':52}{head}")
    for k in rows:
        line = f"{k:52}"
        for impl in impls:
            t = min(times[(k, impl)])
            line += f" {t * 1e9:10.0f} {t / base:6.2f}x"
        print(line)
    if not P.SPEEDUPS:
        print("(zlprof._speedups is not built or ZLPROF_PURE_PYTHON=1: Python only)")
    print("targets: enabled without memory <= 2.5x, disabled <= 1.5x")


if __name__ == "__main__":
    main()
