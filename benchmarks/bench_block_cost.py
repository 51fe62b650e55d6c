"""Cost of one measured block, as ratios to an empty `with` on a __slots__ class.

Everything is timed in the same run, interleaved, best of several repeats, so the
ratios hold on a noisy 2-core machine where absolute times drift.

Run: python benchmarks/bench_block_cost.py
"""

from __future__ import annotations

import timeit

import zlprof


class Empty:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def best(stmt: str, ns: dict, number: int, repeat: int = 7) -> float:
    return min(timeit.repeat(stmt, globals=ns, number=number, repeat=repeat)) / number


def main() -> None:
    number = 200_000
    on = zlprof.Profiler(batch=1 << 30, flush_interval_ms=1e9)  # no flushing in the loop
    on_mem = zlprof.Profiler(memory=True, batch=1 << 30, flush_interval_ms=1e9)
    off = zlprof.Profiler(enabled=False)
    ns = {"e": Empty(), "on": on, "on_mem": on_mem, "off": off}
    ns["blk"] = on.measure("x")
    ns["blk_off"] = off.measure("x")
    cases = {
        "empty with (slots class)": "with e: pass",
        "enabled  `with prof.measure('x')`": "with on.measure('x'): pass",
        "enabled  held block `with blk`": "with blk: pass",
        "enabled + memory readings": "with on_mem.measure('x'): pass",
        "disabled `with prof.measure('x')`": "with off.measure('x'): pass",
        "disabled held block": "with blk_off: pass",
    }
    times = {k: [] for k in cases}
    for _ in range(3):  # interleave the cases
        for k, stmt in cases.items():
            times[k].append(best(stmt, ns, number // 4 if "memory" in k else number, repeat=3))
            on._tls.ts.buf.clear() if hasattr(on._tls, "ts") else None
            on_mem._tls.ts.buf.clear() if hasattr(on_mem._tls, "ts") else None
    base = min(times["empty with (slots class)"])
    print(f"{'case':40} {'ns/block':>9} {'ratio':>7}")
    for k in cases:
        t = min(times[k])
        print(f"{k:40} {t * 1e9:9.0f} {t / base:7.2f}x")
    print("targets: enabled without memory <= 2.5x, disabled <= 1.5x")


if __name__ == "__main__":
    main()
