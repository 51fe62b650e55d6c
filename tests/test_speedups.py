"""The C hot path (zlprof._speedups) against the pure-Python blocks: identical behaviour.

Every behaviour test runs twice through the ``impl`` fixture: "c" (the classes
``Profiler.measure`` instantiates when the extension is built) and "py" (the pure-Python
classes, forced by pointing ``profiler.Block``/``profiler._WideBlock`` at them, which is
what ZLPROF_PURE_PYTHON=1 does at import). The "c" runs skip when the extension is not
built (no compiler at install time).
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

import pytest

from zlprof import profiler as P
from zlprof import protocol
from zlprof.profiler import Profiler, ProfilerError, StreamSink

try:
    from zlprof import _speedups
except ImportError:  # not built
    _speedups = None

IMPLS = ["c", "py"]


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "c":
        if not P.SPEEDUPS:
            pytest.skip("zlprof._speedups is not built (or ZLPROF_PURE_PYTHON=1)")
    else:
        monkeypatch.setattr(P, "Block", P._PyBlock)
        monkeypatch.setattr(P, "_WideBlock", P._PyWideBlock)
    return request.param


def run_with(kind: str, fn: Any) -> Any:
    """Run ``fn`` with the blocks of implementation ``kind`` (for side-by-side tests)."""
    saved = P.Block, P._WideBlock
    if kind == "py":
        P.Block, P._WideBlock = P._PyBlock, P._PyWideBlock
    try:
        return fn()
    finally:
        P.Block, P._WideBlock = saved


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
    """(thread, path, m0, m1) of every record in order (-1: no reading); t0 <= t1 checked."""
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
                # (batches where no block read memory leave the columns out)
                m = (int(b["m0"][i]), int(b["m1"][i])) if "m0" in b else (-1, -1)
                out.append((tid, "/".join(reversed(parts)), *m))
    return out


# --------------------------------------------------------------------------- selection


def test_measure_instantiates_the_selected_implementation(impl: str) -> None:
    prof = Profiler()
    wide = Profiler(memory="blocks")
    blk, wblk, mblk = prof.measure("a"), wide.measure("b"), wide.measure("c", memory=True)
    if impl == "c":
        assert isinstance(blk, _speedups.Block) and not isinstance(blk, _speedups.WideBlock)
        assert isinstance(wblk, _speedups.WideBlock)
    else:
        assert type(blk) is P._PyBlock and type(wblk) is P._PyWideBlock
    assert type(mblk) is P.MemBlock  # memory blocks stay pure Python
    assert (blk._prof, blk.name, blk._children) == (prof, "a", {})


def test_pure_python_forced_by_environment() -> None:
    code = (
        "import zlprof.profiler as P; print(P.SPEEDUPS, type(P.Profiler().measure('x')).__name__)"
    )
    env = dict(os.environ, ZLPROF_PURE_PYTHON="1")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "Block"]
    env.pop("ZLPROF_PURE_PYTHON")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0] == str(_speedups is not None)


@pytest.mark.skipif(_speedups is None, reason="zlprof._speedups is not built")
def test_clock_is_perf_counter_ns() -> None:
    # the C blocks' timestamps must sit on time.perf_counter_ns()'s clock
    best = None
    for _ in range(2000):
        a = time.perf_counter_ns()
        b = _speedups.perf_counter_ns()
        c = time.perf_counter_ns()
        assert a <= b <= c
        best = c - a if best is None else min(best, c - a)
    assert best is not None and best < 5_000  # within a few microseconds


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


def test_flush_on_batch_size(impl: str) -> None:
    r, w = os.pipe()
    prof = Profiler(sink=StreamSink(w), batch=10, flush_interval_ms=1e9)
    for _ in range(25):
        with prof.measure("x"):
            pass
    os.set_blocking(r, False)
    frames = protocol.FrameDecoder().feed(os.read(r, 1 << 20))
    assert [f.body["n"] for f in frames if f.kind == "meas"] == [10, 10]
    assert len(prof._tls.ts.buf) == 15
    prof.close()
    rest = protocol.FrameDecoder().feed(os.read(r, 1 << 20))
    assert sum(f.body["n"] for f in rest if f.kind == "meas") == 5
    os.close(r)


def test_flush_on_interval_by_owner(impl: str) -> None:
    sink = CollectSink()
    prof = Profiler(sink=sink, batch=1 << 20, flush_interval_ms=5)
    with prof.measure("first"):
        pass  # deadline not passed yet (set when the thread state was created)
    assert not [f for f in sink.frames() if f.kind == "meas"]
    time.sleep(0.02)
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
    deadline = time.monotonic() + 5
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


def test_wide_records_and_memory_blocks(impl: str) -> None:
    sink = CollectSink()
    prof = Profiler(sink=sink, memory="blocks")
    with prof.measure("plain"):
        with prof.measure("mem", memory=True):
            with prof.measure("inner"):
                pass
    prof.start("s")
    prof.end("s")
    prof.flush()
    recs = records(sink)
    assert [r[1] for r in recs] == ["plain/mem/inner", "plain/mem", "plain", "s"]
    by = {r[1]: r for r in recs}
    assert by["plain"][2:] == (-1, -1) and by["plain/mem/inner"][2:] == (-1, -1)
    assert by["plain/mem"][2] > 0 and by["plain/mem"][3] > 0  # real memory readings


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
            self.path = 0
            self.tid = tid
            self.deadline = 0
            self.tokens = []
            self.costs = {}
            self.name = name

    monkeypatch.setattr(P, "_ThreadState", DictTS)
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


def scripted_run(kind: str) -> tuple[list[tuple[Any, ...]], list[Any], dict[str, int]]:
    def run() -> tuple[list[tuple[Any, ...]], list[Any], dict[str, int]]:
        sink = CollectSink()
        prof = Profiler(sink=sink, memory="blocks", batch=7, flush_interval_ms=1e9)
        narrow_sink = CollectSink()
        narrow = Profiler(sink=narrow_sink, batch=5, flush_interval_ms=1e9)

        def fib(n: int) -> int:
            with prof.measure("fib"):
                with narrow.measure("nfib"):
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
            for _ in range(20):
                with prof.measure("worker"):
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
        return recs + [("narrow",)] + records(narrow_sink), names, counts

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
