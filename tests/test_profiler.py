"""The Profiler: nesting, recursion, threads, exceptions, disabled, start/end, streaming."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zlprof
from zlprof import profiler as P
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


def test_odd_names_are_mended_not_refused() -> None:
    """'/' would join a block to its parents and a newline would break a line: the
    profiler mends such names by the block-name rule (zlprof.names) instead of raising."""
    prof = Profiler()
    with prof.measure("a/b"):
        with prof.measure("two\nlines"):
            pass
    with prof.measure(""):
        pass
    prof.start("c/d")
    prof.end("c/d")  # end() matches the name as given
    fulls = [r.full for r in prof.state.op_rows()]
    assert fulls == ["a\u2215b", "a\u2215b/two\\nlines", "(unnamed)", "c\u2215d"]
    with pytest.raises(TypeError):
        prof.measure(3)  # type: ignore[arg-type]


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


# --------------------------------------------------------------------------- streaming
# The hand-over of full buffers to the sampler thread, ticks, costs and close, in both
# implementations (C hot path and pure Python: the ``impl`` fixture of conftest.py).


class PipeReader:
    """The read end of a pipe, drained by a thread until EOF (``close()`` of the sink)."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.data = bytearray()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while chunk := os.read(self.r, 1 << 16):
            with self.lock:
                self.data += chunk

    def frames_so_far(self) -> list[protocol.Frame]:
        with self.lock:
            data = bytes(self.data)
        return protocol.FrameDecoder().feed(data)

    def frames(self) -> list[protocol.Frame]:
        """Every frame, once the writer has closed its end."""
        self.thread.join(10)
        assert not self.thread.is_alive()
        os.close(self.r)
        return protocol.decode_stream(bytes(self.data))


def check_stream(frames: list[protocol.Frame]) -> dict[str, Any]:
    """Names before use, per-thread order; records per (thread, path) and cost sums."""
    names: dict[int, tuple[int, str]] = {0: (-1, "")}

    def full(pid: int) -> str:
        parts = []
        while pid > 0:
            parent, name = names[pid]
            parts.append(name)
            pid = parent
        return "/".join(reversed(parts))

    counts: dict[tuple[int, str], int] = {}
    last_t1: dict[tuple[int, bool], int] = {}
    costs: dict[str, list[int]] = {}
    sizes: list[int] = []
    for f in frames:
        b = f.body
        if f.kind == "names":
            for pid, parent, name in b["paths"]:
                assert parent in names  # parents first
                names[pid] = (parent, name)
        elif f.kind == "meas":
            mem = "m0" in b
            sizes.append(b["n"])
            for i in range(b["n"]):
                pid = int(b["path"][i])
                assert pid in names, "a record before the name of its path"
                key = (b["tid"], full(pid))
                counts[key] = counts.get(key, 0) + 1
                # records of one thread's buffer arrive in the order they were recorded
                t1 = int(b["t1"][i])
                assert t1 >= last_t1.get((b["tid"], mem), 0)
                last_t1[(b["tid"], mem)] = t1
                assert int(b["t0"][i]) <= t1
                if mem:
                    assert int(b["m1"][i]) > 0
        elif f.kind == "costs":
            for pid, calls, flops, nbytes in b["rows"]:
                assert pid in names and pid > 0
                c = costs.setdefault(full(pid), [0, 0, 0])
                c[0] += calls
                c[1] += flops
                c[2] += nbytes
    return {"counts": counts, "costs": costs, "sizes": sizes}


def test_handoff_delivers_every_record_once_in_order(impl: str) -> None:
    reader = PipeReader()
    prof = Profiler(
        sink=StreamSink(reader.w),
        memory="blocks",
        batch=50,
        flush_interval_ms=5,
        sample_interval_ms=2,
    )
    assert prof._async  # the sampler runs: owners hand their full buffers over
    n, k_threads = 3000, 4
    barrier = threading.Barrier(k_threads)
    tids: dict[int, int] = {}

    def work(k: int) -> None:
        tids[k] = threading.get_native_id()
        barrier.wait()
        for i in range(n):
            with prof.measure("req"):
                prof.cost(k + 1, 3)
                with prof.measure(f"step{k}"):
                    pass
                if i % 100 == 0:
                    with prof.measure("mem", memory=True):
                        prof.cost(1, 2**40)
            if i % 500 == 0:
                prof.token(k, i, "decode", "x")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(k_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    prof.close()
    frames = reader.frames()
    got = check_stream(frames)
    want = {}
    for k in range(k_threads):
        want[(tids[k], "req")] = n
        want[(tids[k], f"req/step{k}")] = n
        want[(tids[k], "req/mem")] = n // 100
    assert got["counts"] == want  # every record exactly once
    assert 50 in got["sizes"]  # full buffers were handed over and written whole
    assert got["costs"] == {
        "req": [k_threads * n, n * sum(range(1, k_threads + 1)), 3 * k_threads * n],
        "req/mem": [k_threads * n // 100, k_threads * n // 100, 2**40 * k_threads * n // 100],
    }
    toks = [r for f in frames if f.kind == "tokens" for r in f.body["rows"]]
    assert len(toks) == k_threads * n // 500


def test_handed_over_batches_are_written_without_waiting_for_a_tick(impl: str) -> None:
    import time

    reader = PipeReader()
    # ticks an hour apart: only the hand-over wakes the sampler
    prof = Profiler(
        sink=StreamSink(reader.w), batch=10, flush_interval_ms=1e9, sample_interval_ms=3_600_000
    )
    for _ in range(25):
        with prof.measure("x"):
            pass
    deadline = time.monotonic() + 60  # (a hang guard: the loop ends when the data is in)
    sizes: list[int] = []
    while time.monotonic() < deadline and sum(sizes) < 20:
        time.sleep(0.01)
        sizes = [f.body["n"] for f in reader.frames_so_far() if f.kind == "meas"]
    assert sizes == [10, 10]  # written by the sampler; the last 5 wait
    assert len(prof._tls.ts.buf) == 5 * 3
    # close wakes the sampler instead of waiting for its next tick, an hour away: a close
    # still running after a minute is waiting for the tick (a hang guard, not a speed test)
    closer = threading.Thread(target=prof.close, daemon=True)
    closer.start()
    closer.join(timeout=60)
    assert not closer.is_alive()
    assert [f.body["n"] for f in reader.frames() if f.kind == "meas"] == [10, 10, 5]


def test_owner_flushes_itself_when_the_sampler_falls_behind(impl: str) -> None:
    sink_reader = PipeReader()
    prof = Profiler(
        sink=StreamSink(sink_reader.w), batch=10, flush_interval_ms=1e9, sample_interval_ms=10_000
    )
    with prof._lock:  # the sampler cannot write while we hold the lock (an RLock: we can)
        for _ in range(10 * P.HANDOFF_MAX):
            with prof.measure("x"):
                pass
        assert len(prof._handoff) == P.HANDOFF_MAX  # handed over, nothing written
        assert not [f for f in sink_reader.frames_so_far() if f.kind == "meas"]
        for _ in range(10):
            with prof.measure("x"):
                pass
        # the queue was full: the owner drained it and wrote its own buffer, in order
        assert not prof._handoff
        prof._sink.flush()
    prof.close()
    frames = sink_reader.frames()
    got = check_stream(frames)
    assert got["sizes"] == [10] * (P.HANDOFF_MAX + 1)


@pytest.mark.parametrize("sampler", [False, True])
def test_close_sends_everything(impl: str, sampler: bool) -> None:
    reader = PipeReader()
    prof = Profiler(
        sink=StreamSink(reader.w),
        memory="blocks",
        batch=1 << 20,
        flush_interval_ms=1e9,
        sample_interval_ms=10_000 if sampler else 0,
    )
    prof.token(1, -1, "start")
    for i in range(300):
        with prof.measure("outer"):
            prof.cost(2, 5)
            with prof.measure(f"inner{i % 3}", memory=i % 2 == 0):
                prof.cost(1, 1)
        prof.token(1, i, "decode", "t")
    prof.token(1, 300, "end")
    assert not [f for f in reader.frames_so_far() if f.kind in ("meas", "costs", "tokens")]
    prof.close()  # (atexit does this for the default profiler)
    got = check_stream(reader.frames())
    tid = threading.get_native_id()
    assert got["counts"] == {
        (tid, "outer"): 300,
        **{(tid, f"outer/inner{j}"): 100 for j in range(3)},
    }
    assert got["costs"] == {
        "outer": [300, 600, 1500],
        **{f"outer/inner{j}": [100, 100, 100] for j in range(3)},
    }
    from zlprof.session import SessionState

    st = SessionState()
    st.ingest_bytes(bytes(reader.data))
    assert st.tokens_total == 300
    assert len(st.memory.get("rss")) >= 1  # the sample close() takes


def test_costs_sum_exactly_across_threads(impl: str) -> None:
    reader = PipeReader()
    prof = Profiler(
        sink=StreamSink(reader.w), batch=64, flush_interval_ms=1, sample_interval_ms=1
    )
    big = 2**48  # the sums stay within int64, as costs frames need
    k_threads, n = 3, 4000

    def work(k: int) -> None:
        for i in range(n):
            with prof.measure("op"):
                prof.cost(big + i, k)
                with prof.measure(f"t{k}"):
                    prof.cost(i, 1)
            prof.cost(99, 99)  # outside any block: dropped

    threads = [threading.Thread(target=work, args=(k,)) for k in range(k_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    prof.close()
    got = check_stream(reader.frames())
    tri = n * (n - 1) // 2
    assert got["costs"] == {
        "op": [k_threads * n, k_threads * (n * big + tri), n * sum(range(k_threads))],
        **{f"op/t{k}": [n, tri, n] for k in range(k_threads)},
    }


def test_plain_and_memory_blocks_stream_together(impl: str) -> None:
    from zlprof.session import SessionState

    reader = PipeReader()
    prof = Profiler(
        sink=StreamSink(reader.w),
        memory="blocks",
        batch=8,
        flush_interval_ms=2,
        sample_interval_ms=1,
    )

    def work() -> None:
        for i in range(400):
            with prof.measure("step", memory=i % 4 == 0):
                with prof.measure("plain"):
                    pass

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    work()
    for t in threads:
        t.join()
    prof.close()
    frames = reader.frames()
    check_stream(frames)
    meas = [f.body for f in frames if f.kind == "meas"]
    assert any("m0" in b for b in meas) and any("m0" not in b for b in meas)
    st = SessionState()
    st.ingest_many(frames)
    counts: dict[str, int] = {}
    for r in st.op_rows():
        counts[r.full] = counts.get(r.full, 0) + r.stats.count
    # "step" with and without memory readings are two blocks, two path ids, one name
    assert counts == {"step": 3 * 400, "step/plain": 3 * 400}
    assert st.stats_for_name("step").count == 3 * 400


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_sampler_thread_leaves_sigterm_to_the_main_thread() -> None:
    """A process-directed SIGTERM must reach a thread that runs Python handlers: were the
    sampler to take it, a pool worker blocked on its queue would never see it and
    Pool.terminate() would hang (seen ~1 run in 8 before this)."""
    import signal
    import threading
    import time

    prof = Profiler(sample_interval_ms=5.0)
    try:
        deadline = time.monotonic() + 10
        sampler = None
        while sampler is None and time.monotonic() < deadline:
            sampler = next((t for t in threading.enumerate() if t.name == "zlprof-sampler"
                            and t.native_id is not None), None)
            time.sleep(0.01)
        assert sampler is not None
        time.sleep(0.05)  # the thread masks the signals first thing
        status = Path(f"/proc/self/task/{sampler.native_id}/status").read_text()
        blocked = int(next(ln for ln in status.splitlines() if ln.startswith("SigBlk:"))
                      .split()[1], 16)
        assert blocked & (1 << (signal.SIGTERM - 1))
        main_status = Path(f"/proc/self/task/{threading.main_thread().native_id}/status")
        main_blocked = int(next(ln for ln in main_status.read_text().splitlines()
                                if ln.startswith("SigBlk:")).split()[1], 16)
        assert not main_blocked & (1 << (signal.SIGTERM - 1))  # control: main takes it
    finally:
        prof.close()


def test_blocks_in_asyncio_tasks_warn_once_that_they_nest_per_thread() -> None:
    """The open blocks are a stack per thread: two tasks whose blocks stay open across an
    await nest into each other. The profiler says so, once, as a session warning (the app
    shows it over the table); a program without an event loop gets no such warning."""
    import asyncio

    from zlprof.profiler.core import ASYNCIO_WARNING

    prof = Profiler()

    async def request() -> None:
        with prof.measure("request"):
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(request(), request(), request())
        with prof.measure("between_awaits"):  # a second new name: no second warning
            pass

    asyncio.run(main())
    state = prof.state
    assert state.warnings == [ASYNCIO_WARNING.removeprefix("zlprof: ")]
    assert sum(1 for _t, lvl, _m in state.logs if lvl == "warning") == 1
    # what the warning is about: the limitation is real, and documented by this test
    assert {r.full for r in state.op_rows()} >= {"request", "request/request"}

    plain = Profiler()
    with plain.measure("request"):
        pass
    assert plain.state.warnings == []
