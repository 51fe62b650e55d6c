"""The Profiler: nesting, recursion, threads, exceptions, disabled, start/end, streaming."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import zlprof
from zlprof import protocol
from zlprof.profiler import Profiler, ProfilerError, StreamSink


def names_counts(prof: Profiler) -> dict[str, int]:
    return {r.full: r.stats.count for r in prof.state.op_rows()}


def test_nesting_records_paths_and_parents() -> None:
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
    # self time never exceeds total, children add up to at most the parent
    g = rows["generate"]
    assert g.self_ms <= g.stats.total_ms


def test_same_name_recursion() -> None:
    prof = Profiler()

    def fib(n: int) -> int:
        with prof.measure("fib"):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

    fib(5)
    counts = names_counts(prof)
    assert counts["fib"] == 1
    assert counts["fib/fib"] == 2
    assert sum(counts.values()) == 15  # fib(5) makes 15 calls
    assert prof.statistics("fib").count == 15  # merged over every path named fib


def test_durations_are_ordered_and_nested() -> None:
    prof = Profiler()
    with prof.measure("outer"):
        with prof.measure("inner"):
            sum(range(10000))
    st = prof.state
    outer = st.stats_for(st.path_id("outer"))
    inner = st.stats_for(st.path_id("outer/inner"))
    assert outer.total_ms >= inner.total_ms > 0


def test_exception_inside_block_still_records_and_propagates() -> None:
    prof = Profiler()
    with pytest.raises(ZeroDivisionError):
        with prof.measure("boom"):
            1 / 0  # noqa: B018
    with prof.measure("after"):
        pass
    assert names_counts(prof) == {"boom": 1, "after": 1}  # the stack unwound correctly


def test_decorator_forms() -> None:
    prof = Profiler()

    @prof.measure("named")
    def f(x: int) -> int:
        return x + 1

    @prof.measure
    def g() -> None:
        pass

    assert f(1) == 2
    g()
    counts = names_counts(prof)
    assert counts["named"] == 1
    assert any(k.endswith("g") for k in counts)
    assert f.__name__ == "f"


def test_threads_get_their_own_stacks_and_merge() -> None:
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


def test_disabled_records_nothing() -> None:
    prof = Profiler(enabled=False)
    with prof.measure("x"):
        prof.cost(10, 10)
        prof.token(0, 0, "decode", "a")

    @prof.measure("y")
    def f() -> int:
        return 3

    assert f() == 3
    prof.start("z")
    prof.end("z")
    assert prof.state.op_rows() == []
    assert prof.state.tokens_total == 0


def test_toggle_enabled_mid_block_does_not_corrupt() -> None:
    prof = Profiler()
    blk = prof.measure("a")
    blk.__enter__()
    prof.enabled = False
    blk.__exit__(None, None, None)
    prof.enabled = True
    with prof.measure("b"):
        pass
    assert "b" in names_counts(prof)


def test_start_end() -> None:
    prof = Profiler()
    prof.start("load")
    prof.start("parse")
    prof.end("parse")
    prof.end("load")
    assert names_counts(prof) == {"load": 1, "load/parse": 1}


def test_end_without_start_is_a_clear_error() -> None:
    prof = Profiler()
    with pytest.raises(ProfilerError, match="without a matching start"):
        prof.end("never")
    prof.start("a")
    with pytest.raises(ProfilerError, match="innermost open block is 'a'"):
        prof.end("b")


def test_bad_names_rejected() -> None:
    prof = Profiler()
    with pytest.raises(ValueError):
        prof.measure("a/b")
    with pytest.raises(ValueError):
        prof.measure("")


def test_costs_attach_to_innermost_block() -> None:
    prof = Profiler()
    for _ in range(4):
        with prof.measure("matmul"):
            prof.cost(200, 100)
    rows = prof.state.op_rows()
    assert (rows[0].cost_calls, rows[0].flops, rows[0].nbytes) == (4, 800, 400)


def test_memory_readings_per_block() -> None:
    prof = Profiler(memory="blocks")
    with prof.measure("alloc", memory=True):
        a = np.ones(8_000_000, dtype=np.float64)  # 64 MB touched
        a += 1
    with prof.measure("plain"):
        pass
    st = prof.statistics("alloc")
    assert st.mem_peak_bytes > 64_000_000
    assert st.mem_allocated_bytes > 32_000_000
    assert prof.statistics("plain").mem_peak_bytes == 0
    del a


def test_tokens_give_latencies() -> None:
    prof = Profiler()
    prof.token(7, -1, "start")
    for i in range(5):
        prof.token(7, i, "prefill" if i == 0 else "decode", "x")
    prof.token(7, 5, "end")
    s = prof.state
    assert s.tokens_total == 5
    assert s.ttft.count == 1 and s.tpot.count == 1 and s.itl.count == 4


def test_flush_by_batch_size() -> None:
    r, w = os.pipe()
    prof = Profiler(sink=StreamSink(w), batch=10, flush_interval_ms=1e9)
    for _ in range(25):
        with prof.measure("x"):
            pass
    os.set_blocking(r, False)
    data = os.read(r, 1 << 20)
    frames = protocol.FrameDecoder().feed(data)
    meas = [f for f in frames if f.kind == "meas"]
    assert [f.body["n"] for f in meas] == [10, 10]  # the 5 left wait for the next flush
    prof.close()
    rest = protocol.FrameDecoder().feed(os.read(r, 1 << 20))
    assert sum(f.body["n"] for f in rest if f.kind == "meas") == 5
    os.close(r)


def test_flush_by_interval_from_sampler() -> None:
    import time

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
    assert got == 1  # a quiet thread's record is flushed without another block ending
    prof.close()
    os.close(r)


def test_report_has_seed_layout() -> None:
    prof = Profiler()
    for _ in range(3):
        with prof.measure("forward_pass"):
            pass
    text = prof.report()
    assert text.startswith("=== Performance Profile Report ===")
    assert "Operation: forward_pass" in text
    for label in ("Measurements: 3", "Min:", "Max:", "Avg:", "Median:", "P95:", "P99:", "Std Dev:"):
        assert label in text
    assert "n*q//100" in text


def test_reset_forgets_statistics() -> None:
    prof = Profiler()
    with prof.measure("a"):
        pass
    prof.reset()
    assert prof.state.op_rows() == []


def test_module_level_api_collects_in_memory() -> None:
    with zlprof.measure("module_level_block"):
        pass
    assert zlprof.statistics("module_level_block").count >= 1


def test_module_level_report_stays_callable() -> None:
    """`zlprof.report()` is a function even after the reports module has been imported."""
    import zlprof.reports  # noqa: F401

    with zlprof.measure("x"):
        pass
    assert callable(zlprof.report)
    assert "Operation: x" in zlprof.report()
