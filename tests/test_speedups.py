"""The C hot path (zlprof._speedups) against the pure-Python blocks: identical behaviour.

Every behaviour test runs twice through the ``impl`` fixture (conftest.py): "c" (the classes
``Profiler.measure`` instantiates, the ``cost`` Profiler installs and the writers'
helpers when the extension is built) and "py" (the pure-Python versions, forced by
pointing ``profiler.Block`` at the Python class and the other hooks at None, which is what
ZLPROF_PURE_PYTHON=1 does at import). The "c" runs skip when the extension is not built
(no compiler at install time).
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from typing import Any

import numpy as np
import pytest

from conftest import implementation
from zlprof import profiler as P
from zlprof import protocol
from zlprof.profiler import Profiler, ProfilerError, StreamSink, accel, core

try:
    from zlprof import _speedups
except ImportError:  # not built
    _speedups = None



def run_with(kind: str, fn: Any) -> Any:
    """Run ``fn`` with the implementation ``kind`` (for side-by-side tests)."""
    with implementation(kind):
        return fn()


def names_counts(prof: Profiler) -> dict[str, int]:
    return {r.full: r.stats.count for r in prof.state.op_rows()}


class CollectSink:
    """Keeps every frame written (decoded), for exact comparisons."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.broken = False

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def frames(self) -> list[protocol.Frame]:
        return protocol.decode_stream(bytes(self.data))


def records(sink: CollectSink) -> list[tuple[Any, ...]]:
    """(thread, path, m0, m1) of every record in frame order (-1: no reading; plain blocks'
    frames carry no memory columns, memory blocks' frames do); t0 <= t1 checked."""
    names: dict[int, tuple[int, str]] = {0: (-1, "")}
    tids: dict[int, int] = {}
    out = []
    for f in sink.frames():
        if f.kind == "names":
            for pid, parent, name in f.body["paths"]:
                names[pid] = (parent, name)
        elif f.kind == "meas":
            b = f.body
            tid = tids.setdefault(b["tid"], len(tids))
            for i in range(b["n"]):
                pid = int(b["path"][i])
                parts = []
                while pid > 0:
                    parent, name = names[pid]
                    parts.append(name)
                    pid = parent
                assert b["t0"][i] <= b["t1"][i]
                m = (int(b["m0"][i]), int(b["m1"][i])) if "m0" in b else (-1, -1)
                out.append((tid, "/".join(reversed(parts)), *m))
    return out


# --------------------------------------------------------------------------- selection


def test_measure_instantiates_the_selected_implementation(impl: str) -> None:
    prof = Profiler()
    mem = Profiler(memory="blocks")
    blk, pblk, mblk = prof.measure("a"), mem.measure("b"), mem.measure("c", memory=True)
    if impl == "c":
        assert isinstance(blk, _speedups.Block) and isinstance(pblk, _speedups.Block)
    else:
        assert type(blk) is P._PyBlock and type(pblk) is P._PyBlock
    # plain blocks are the same class whatever the profiler's memory setting
    assert type(blk) is type(pblk) is accel.Block
    assert type(mblk) is P.MemBlock  # memory blocks stay pure Python
    assert (blk._prof, blk.name, blk._children) == (prof, "a", {})
    if impl == "c":  # the C cost shadows the method, bound to its profiler
        assert type(prof.cost) is _speedups.Cost and prof.cost.__self__ is prof
    else:
        assert prof.cost.__func__ is Profiler.cost and prof.cost.__self__ is prof


def test_pure_python_forced_by_environment() -> None:
    code = (
        "import zlprof.profiler as P; print(P.SPEEDUPS, type(P.Profiler().measure('x')).__name__)"
    )
    env = dict(os.environ, ZLPROF_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "Block"]
    hooks = "import zlprof.profiler as P; print(P._CCost, P._pack_records, P._c_sum_costs)"
    out = subprocess.run(
        [sys.executable, "-c", hooks], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["None", "None", "None"]
    env.pop("ZLPROF_PURE_PYTHON")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == str(_speedups is not None)


@pytest.mark.skipif(_speedups is None, reason="zlprof._speedups is not built")
def test_clock_is_perf_counter_ns() -> None:
    # the C blocks' timestamps must sit on time.perf_counter_ns()'s clock
    for _ in range(2000):
        a = time.perf_counter_ns()
        b = _speedups.perf_counter_ns()
        c = time.perf_counter_ns()
        assert a <= b <= c  # (a different clock would fall outside the bracket)


def test_block_timestamps_bracketed_by_perf_counter(impl: str) -> None:
    sink = CollectSink()
    prof = Profiler(sink=sink)
    a = time.perf_counter_ns()
    with prof.measure("x"):
        b = time.perf_counter_ns()
    c = time.perf_counter_ns()
    prof.flush()
    (m,) = [f for f in sink.frames() if f.kind == "meas"]
    t0, t1 = int(m.body["t0"][0]), int(m.body["t1"][0])
    assert a <= t0 <= b <= t1 <= c


# --------------------------------------------------------------------------- behaviour


def test_nesting_and_parents(impl: str) -> None:
    prof = Profiler()
    for _ in range(3):
        with prof.measure("generate"):
            with prof.measure("forward_pass"):
                with prof.measure("attention"):
                    pass
            with prof.measure("sampling"):
                pass
    assert names_counts(prof) == {
        "generate": 3,
        "generate/forward_pass": 3,
        "generate/forward_pass/attention": 3,
        "generate/sampling": 3,
    }
    rows = {r.full: r for r in prof.state.op_rows()}
    assert rows["generate/forward_pass/attention"].parent == "generate/forward_pass"
    assert rows["generate"].parent == ""


def test_recursion(impl: str) -> None:
    prof = Profiler()

    def fib(n: int) -> int:
        with prof.measure("fib"):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(6) == 8
    counts = names_counts(prof)
    assert sum(counts.values()) == 25
    assert counts["fib"] == 1 and counts["fib/fib"] == 2
    assert prof.statistics("fib").count == 25


def test_same_name_under_different_parents(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("shared")
    for outer in ("a", "b", "c"):
        with prof.measure(outer):
            with blk:
                pass
            with blk:
                pass
    with blk:
        pass
    assert names_counts(prof) == {
        "a": 1,
        "b": 1,
        "c": 1,
        "a/shared": 2,
        "b/shared": 2,
        "c/shared": 2,
        "shared": 1,
    }
    assert len(blk._children) == 4  # one path id per parent
    assert len(set(blk._children.values())) == 4


def test_threads(impl: str) -> None:
    prof = Profiler()
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        for _ in range(500):
            with prof.measure("req"):
                with prof.measure("step"):
                    pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert names_counts(prof) == {"req": 2000, "req/step": 2000}
    assert len(prof._threads) == 4


def test_many_short_threads(impl: str) -> None:
    prof = Profiler()

    def work(i: int) -> None:
        with prof.measure("t"):
            with prof.measure(f"n{i % 3}"):
                pass

    for i in range(60):
        t = threading.Thread(target=work, args=(i,))
        t.start()
        t.join()
    counts = names_counts(prof)
    assert counts["t"] == 60
    assert counts["t/n0"] == counts["t/n1"] == counts["t/n2"] == 20


def test_exception_inside_block_propagates_and_records(impl: str) -> None:
    prof = Profiler()
    with pytest.raises(ZeroDivisionError) as info:
        with prof.measure("outer"):
            with prof.measure("boom"):
                1 / 0  # noqa: B018
    assert info.value.__context__ is None  # nothing chained by __exit__
    with prof.measure("after"):
        pass
    assert names_counts(prof) == {"outer": 1, "outer/boom": 1, "after": 1}
    assert prof._tls.ts.stack == [] and prof._tls.ts.path == 0


def test_exit_returns_false_for_any_exception(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("x")
    for exc in (ValueError("v"), KeyboardInterrupt(), StopIteration()):
        assert blk.__enter__() is blk
        assert blk.__exit__(type(exc), exc, None) is False


def test_exception_from_flush_propagates_from_exit(impl: str) -> None:
    prof = Profiler(batch=1)

    def broken_flush(ts: Any, now: int) -> None:
        raise RuntimeError("sink failed")

    prof._flush_thread = broken_flush  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="sink failed"):
        with prof.measure("x"):
            pass
    with pytest.raises(RuntimeError, match="sink failed") as info:
        with prof.measure("y"):
            raise KeyError("body")
    assert isinstance(info.value.__context__, KeyError)  # chained like in Python


def test_disabled(impl: str) -> None:
    prof = Profiler(enabled=False)
    with prof.measure("x"):
        pass

    @prof.measure("y")
    def f() -> int:
        return 3

    assert f() == 3
    prof.start("z")
    prof.end("z")
    assert prof.state.op_rows() == []


def test_held_block_while_disabled(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("x")
    prof.enabled = False
    assert blk.__enter__() is blk
    assert blk.__exit__(None, None, None) is False  # no thread state: AttributeError path
    with prof.measure("y"):  # the no-op block
        with blk:
            pass
    prof.enabled = True
    with blk:
        pass
    prof.enabled = False
    with blk:  # thread state exists, stack empty: IndexError path
        pass
    prof.enabled = True
    assert names_counts(prof) == {"x": 1}


def test_toggle_enabled_mid_block(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("a")
    blk.__enter__()
    prof.enabled = False
    blk.__exit__(None, None, None)
    prof.enabled = True
    with prof.measure("b"):
        pass
    assert names_counts(prof) == {"a": 1, "b": 1}


def test_exit_without_enter(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("x")
    assert blk.__exit__(None, None, None) is False
    with prof.measure("y"):
        pass
    assert blk.__exit__(None, None, None) is False
    assert names_counts(prof) == {"y": 1}


def test_start_end(impl: str) -> None:
    prof = Profiler()
    prof.start("load")
    prof.start("parse")
    prof.end("parse")
    prof.end("load")
    assert names_counts(prof) == {"load": 1, "load/parse": 1}
    with pytest.raises(ProfilerError, match="without a matching start"):
        prof.end("never")


def test_decorator(impl: str) -> None:
    prof = Profiler()

    @prof.measure("named")
    def f(x: int) -> int:
        """Doc."""
        return x + 1

    @prof.measure
    def g() -> None:
        raise ValueError

    assert f(1) == 2 and f.__name__ == "f" and f.__doc__ == "Doc."
    with pytest.raises(ValueError):
        g()
    counts = names_counts(prof)
    assert counts["named"] == 1
    assert sum(v for k, v in counts.items() if k.endswith("g")) == 1


def test_explicit_method_calls(impl: str) -> None:
    prof = Profiler()
    blk = prof.measure("x")
    cls = type(blk)
    assert cls.__enter__(blk) is blk
    assert cls.__exit__(blk, None, None, None) is False
    with pytest.raises(TypeError):
        blk.__exit__(None, None)
    with pytest.raises(TypeError):
        blk.__enter__(1)
    assert names_counts(prof) == {"x": 1}


def test_cost(impl: str) -> None:
    prof = Profiler()
    prof.cost(1, 1)  # no thread state yet: nothing
    with prof.measure("a"):
        prof.cost(2, 3)
        prof.cost(flops=4, nbytes=5)
        prof.cost(6, nbytes=7)
        with pytest.raises(TypeError):
            prof.cost(1)  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            prof.cost(1, 2, 3)  # type: ignore[call-arg]
        with prof.measure("b"):
            prof.cost(10**12, 2**62)
    prof.cost(8, 9)  # outside any block: path 0, dropped when written
    ts = prof._tls.ts
    assert ts.costs[:6] == [ts.costs[0], 2, 3, ts.costs[0], 4, 5]  # flat triples
    rows = {r.full: (r.cost_calls, r.flops, r.nbytes) for r in prof.state.op_rows()}
    assert rows == {"a": (3, 12, 15), "a/b": (1, 10**12, 2**62)}
    assert ts.costs == []
    prof.enabled = False
    prof.cost(1, 1)
    assert ts.costs == []


def test_sum_costs(impl: str) -> None:
    import random

    rng = random.Random(5)
    flat: list[Any] = []
    for _ in range(3000):
        flat += [rng.choice([0, 1, 2, 3, 7, 300]), rng.randrange(-5, 10**9), rng.randrange(10**6)]

    def brute(items: list[Any]) -> list[tuple[int, int, int, int]]:
        acc: dict[int, list[int]] = {}
        for i in range(0, len(items), 3):
            p, f, b = int(items[i]), int(items[i + 1]), int(items[i + 2])
            if p:
                c = acc.setdefault(p, [0, 0, 0])
                c[0] += 1
                c[1] += f
                c[2] += b
        return sorted((p, *c) for p, c in acc.items())  # type: ignore[misc]

    assert P._sum_costs(flat, len(flat)) == brute(flat)
    assert P._sum_costs(flat, 30) == brute(flat[:30])
    assert P._sum_costs(flat, 0) == []
    assert P._sum_costs([0, 5, 5], 3) == []
    # values past int64, numpy ints: exact sums
    big = [1, 2**62, 1, 1, 2**61, 1, 2, 2**70, 1, 2, 5 - 2**70, 2, 3, np.int64(5), np.int32(6)]
    assert P._sum_costs(big, len(big)) == brute(big)
    # a sum past int64 (frames carry int64s) saturates instead of failing the flush
    top = 2**63 - 1
    huge = [1, 2**62, -(2**62), 1, 2**62, -(2**62), 1, 2**62, -(2**62), 2, 2**80, 1]
    assert P._sum_costs(huge, len(huge)) == [(1, 3, top, -top), (2, 1, top, 1)]
    # path ids past the C table
    far = [70000, 1, 2, 70000, 3, 4, 5, 6, 7]
    assert P._sum_costs(far, len(far)) == brute(far)


def test_encoded_records_match_the_protocol_encoder(impl: str) -> None:
    import random

    rng = random.Random(1)
    for w in (3, 5):
        flat = []
        for _ in range(200):
            flat += [rng.randrange(1, 500), rng.randrange(1 << 50), rng.randrange(1 << 50)]
            if w == 5:
                flat += [rng.choice([-1, rng.randrange(1 << 40)]), rng.randrange(1 << 40)]
        arr = np.array(flat, dtype=np.int64).reshape(-1, w).T
        want = protocol.encode_measurements(77, *arr)
        assert P._encode_records(77, flat, len(flat), w) == want
        assert P._encode_records(77, flat + [1, 2], len(flat), w) == want  # first n only


def test_flush_on_batch_size(impl: str) -> None:
    r, w = os.pipe()
    prof = Profiler(sink=StreamSink(w), batch=10, flush_interval_ms=1e9)
    for _ in range(25):
        with prof.measure("x"):
            pass
    os.set_blocking(r, False)
    frames = protocol.FrameDecoder().feed(os.read(r, 1 << 20))
    assert [f.body["n"] for f in frames if f.kind == "meas"] == [10, 10]
    assert len(prof._tls.ts.buf) == 5 * 3  # five flat (path, t0, t1) records
    prof.close()
    rest = protocol.FrameDecoder().feed(os.read(r, 1 << 20))
    assert sum(f.body["n"] for f in rest if f.kind == "meas") == 5
    os.close(r)


def test_flush_on_interval_by_owner(impl: str) -> None:
    sink = CollectSink()
    prof = Profiler(sink=sink, batch=1 << 20, flush_interval_ms=3_600_000)
    with prof.measure("first"):
        pass  # deadline an hour away (set when the thread state was created)
    assert not [f for f in sink.frames() if f.kind == "meas"]
    ts = prof._tls.ts
    ts.deadline = time.perf_counter_ns()  # the interval is over (no sleeping for it)
    with prof.measure("second"):
        pass
    meas = [f for f in sink.frames() if f.kind == "meas"]
    assert sum(f.body["n"] for f in meas) == 2  # the owner flushed on the deadline
    assert prof._tls.ts.buf == []


def test_flush_by_sampler_for_quiet_thread(impl: str) -> None:
    r, w = os.pipe()
    prof = Profiler(sink=StreamSink(w), flush_interval_ms=20, sample_interval_ms=10)
    with prof.measure("once"):
        pass
    deadline = time.monotonic() + 60  # (a hang guard: the loop ends when the data is in)
    dec = protocol.FrameDecoder()
    got = 0
    os.set_blocking(r, False)
    while time.monotonic() < deadline and not got:
        try:
            frames = dec.feed(os.read(r, 1 << 16))
        except BlockingIOError:
            time.sleep(0.01)
            continue
        got += sum(f.body["n"] for f in frames if f.kind == "meas")
    assert got == 1
    prof.close()
    os.close(r)


def test_sampler_flushing_while_threads_append(impl: str) -> None:
    # the sampler slices and deletes ts.buf of other threads: records must never tear
    sink = CollectSink()
    prof = Profiler(
        sink=sink, memory="blocks", batch=1 << 20, flush_interval_ms=0.5, sample_interval_ms=1
    )

    def work() -> None:
        for _ in range(3000):
            with prof.measure("a"):
                with prof.measure("b"):
                    pass

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    prof.close()
    recs = records(sink)
    assert len(recs) == 18000
    assert {r[1:] for r in recs} == {("a/b", -1, -1), ("a", -1, -1)}


def test_plain_and_memory_blocks_in_one_session(impl: str) -> None:
    sink = CollectSink()
    prof = Profiler(sink=sink, memory="blocks")
    with prof.measure("plain"):
        with prof.measure("mem", memory=True):
            with prof.measure("inner"):
                pass
    prof.start("s")
    prof.end("s")
    ts = prof._tls.ts
    assert len(ts.buf) == 3 * 3 and len(ts.mbuf) == 5  # 3-wide and 5-wide records
    prof.flush()
    meas = [f.body for f in sink.frames() if f.kind == "meas"]
    # one frame of plain records without memory columns, one of memory records with them
    assert [("m0" in b, b["n"]) for b in meas] == [(False, 3), (True, 1)]
    recs = records(sink)
    assert [r[1] for r in recs] == ["plain/mem/inner", "plain", "s", "plain/mem"]
    by = {r[1]: r for r in recs}
    assert by["plain"][2:] == (-1, -1) and by["plain/mem/inner"][2:] == (-1, -1)
    assert by["plain/mem"][2] > 0 and by["plain/mem"][3] > 0  # real memory readings
    from zlprof.session import SessionState

    st = SessionState()  # both kinds of frames fold into one session
    st.ingest_bytes(bytes(sink.data))
    assert {r.full: r.stats.count for r in st.op_rows()} == {
        "plain": 1,
        "plain/mem": 1,
        "plain/mem/inner": 1,
        "s": 1,
    }


def test_several_profilers_interleaved(impl: str) -> None:
    # more profilers than the C per-thread cache holds, used alternately in one thread
    profs = [Profiler() for _ in range(7)]
    for _ in range(50):
        for k, p in enumerate(profs):
            with p.measure("outer"):
                with profs[(k + 1) % len(profs)].measure("other"):
                    with p.measure("inner"):
                        pass
    for p in profs:
        assert names_counts(p) == {"outer": 50, "outer/inner": 50, "other": 50}


def test_several_profilers_in_threads(impl: str) -> None:
    profs = [Profiler() for _ in range(3)]

    def work(k: int) -> None:
        for _ in range(300):
            for p in profs:
                with p.measure(f"w{k}"):
                    pass

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in profs:
        assert names_counts(p) == {"w0": 300, "w1": 300, "w2": 300}


def test_dead_profiler_address_reuse(impl: str) -> None:
    # a profiler freed and another allocated (often at the same address) never share state
    for i in range(30):
        prof = Profiler()
        with prof.measure("x"):
            with prof.measure(f"y{i}"):
                pass
        assert names_counts(prof) == {"x": 1, f"x/y{i}": 1}
        del prof
        gc.collect()


def test_profiler_is_collectable(impl: str) -> None:
    prof = Profiler()
    for _ in range(3):
        with prof.measure("x"):
            pass
    ref = weakref.ref(prof)
    del prof
    gc.collect()
    assert ref() is None  # the C thread cache holds no strong reference


def test_other_thread_state_classes(impl: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a thread-state class without __slots__ (the C code then uses getattr/setattr) and
    # list subclasses for the stack and the buffer
    class L(list):
        pass

    class DictTS:
        def __init__(self, tid: int, name: str) -> None:
            self.stack = L()
            self.buf = L()
            self.mbuf = L()
            self.path = 0
            self.tid = tid
            self.deadline = 0
            self.tokens = []
            self.costs = []
            self.name = name

    monkeypatch.setattr(core, "_ThreadState", DictTS)  # where Profiler reads it
    prof = Profiler(batch=4)
    for _ in range(5):
        with prof.measure("a"):
            with prof.measure("b"):
                pass
    assert isinstance(prof._tls.ts, DictTS)
    assert names_counts(prof) == {"a": 5, "a/b": 5}


def test_thread_state_class_modified_after_use(impl: str) -> None:
    prof = Profiler()
    with prof.measure("a"):
        pass
    P._ThreadState.extra_attribute = 1  # changes the type's version tag
    try:
        with prof.measure("a"):
            with prof.measure("b"):
                pass
    finally:
        del P._ThreadState.extra_attribute
    with prof.measure("a"):
        pass
    assert names_counts(prof) == {"a": 3, "a/b": 1}


# --------------------------------------------------------------------------- equivalence


def cost_totals(sink: CollectSink) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for f in sink.frames():
        if f.kind == "costs":
            for pid, calls, flops, nbytes in f.body["rows"]:
                c = out.setdefault(pid, [0, 0, 0])
                c[0] += calls
                c[1] += flops
                c[2] += nbytes
    return out


def scripted_run(kind: str) -> tuple[Any, ...]:
    def run() -> tuple[Any, ...]:
        sink = CollectSink()
        prof = Profiler(sink=sink, memory="blocks", batch=7, flush_interval_ms=1e9)
        narrow_sink = CollectSink()
        narrow = Profiler(sink=narrow_sink, batch=5, flush_interval_ms=1e9)

        def fib(n: int) -> int:
            with prof.measure("fib"):
                prof.cost(n, 2 * n)
                with narrow.measure("nfib"):
                    narrow.cost(1, n)
                    return n if n < 2 else fib(n - 1) + fib(n - 2)

        for step in range(4):
            with prof.measure("generate"):
                fib(4)
                with prof.measure("forward", memory=step % 2 == 0):
                    with prof.measure("attention"):
                        pass
                try:
                    with narrow.measure("fails"):
                        with prof.measure("fails"):
                            raise ValueError(step)
                except ValueError:
                    pass
                prof.start("manual")
                prof.end("manual")

        def worker() -> None:
            for i in range(20):
                with prof.measure("worker"):
                    prof.cost(i, 10**15)
                    with narrow.measure("w"):
                        pass

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        prof.close()
        narrow.close()
        names = [f.body["paths"] for f in sink.frames() if f.kind == "names"]
        recs = records(sink)
        counts: dict[str, int] = {}
        for r in recs:
            counts[r[1]] = counts.get(r[1], 0) + 1
        costs = (cost_totals(sink), cost_totals(narrow_sink))
        return recs + [("narrow",)] + records(narrow_sink), names, counts, costs

    return run_with(kind, run)


@pytest.mark.skipif(not P.SPEEDUPS, reason="zlprof._speedups is not built")
def test_c_and_python_record_identically() -> None:
    c = scripted_run("c")
    py = scripted_run("py")

    # memory readings differ between runs: compare them as "present" / -1
    def norm(rs: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [r[:2] + tuple(m if m == -1 else "mem" for m in r[2:]) for r in rs]

    assert norm(c[0]) == norm(py[0])
    assert c[1] == py[1]  # same path ids interned in the same order
    assert c[2] == py[2]
    assert c[2]["generate/fib/fib/fib"] == 4 * 4  # fib(4) makes 4 calls at depth 3
    assert c[3] == py[3]  # the same costs per path id
    assert sum(v[0] for v in c[3][0].values()) == 4 * 9 + 20  # fib(4) makes 9 calls
