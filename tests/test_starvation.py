"""The busy-machine guard: the sampler's CPU readings (profiler/cpu.py), a run's CPU
availability and the comparison of two (starvation.py), and what diff, its exit code and
the live baseline make of them. Readings here are built by hand; nothing depends on how
fast or busy the machine running the tests is."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from zlprof import protocol
from zlprof.cli import main
from zlprof.diff import diff_sessions
from zlprof.profiler import Profiler
from zlprof.profiler.cpu import GAUGES, IDLE, PROBE, RUN, STEAL, TICKS, WAIT, CpuReader
from zlprof.recording import RecordingWriter, load_session
from zlprof.significance import BUSY, COMMON, EXIT_INCONCLUSIVE, EXIT_REGRESSION, Verdict
from zlprof.starvation import BUSY_RATIO, Busy, CpuShare, compare_shares, cpu_share, machine_ratio

MS = 1_000_000


def series(n: int = 11, *, wait: float, steal: float = 0.0, probe: int | None = 3000,
           step_ns: int = 100 * MS, cpus: int = 2, others: float = 0.0) -> dict[str, np.ndarray]:
    """Hand-built readings: ``n`` samples ``step_ns`` apart of a single-threaded process
    that is runnable all the time and waits for a CPU ``wait`` of it."""
    k = np.arange(n, dtype=np.int64)
    total = k * step_ns * cpus
    run = (k * step_ns * (1 - wait)).astype(np.int64)
    out = {
        "t": 10**9 + k * step_ns,
        RUN: 5 * MS + run,
        WAIT: 7 * MS + (k * step_ns * wait).astype(np.int64),
        STEAL: (total * steal).astype(np.int64),
        TICKS: total,
        IDLE: (total - run - (total * steal).astype(np.int64) - (total * others).astype(np.int64)),
    }
    if probe is not None:
        out[PROBE] = np.full(n, probe, np.int64)
    return out


# --------------------------------------------------------------------------- one run


def test_cpu_share_of_hand_built_readings() -> None:
    s = cpu_share(series(wait=0.25, steal=0.1, others=0.3))
    assert s is not None
    assert s.wait == pytest.approx(0.25)
    assert s.steal == pytest.approx(0.1)
    assert s.others == pytest.approx(0.3)
    # ready but not running: waiting 25 %, and 10 % of the running stolen
    assert s.busy == pytest.approx(1 - 0.75 * 0.9)
    assert s.slowdown == pytest.approx(1 / (0.75 * 0.9))
    assert s.probe_ns == 3000
    assert "waited for a CPU 25 % of its time, 10 % stolen by the hypervisor" == s.describe()


def test_unread_samples_and_missing_columns() -> None:
    cols = series(wait=0.5)
    cols[RUN][0] = cols[WAIT][0] = -1  # a sample before the readings began: ignored
    cols[PROBE][:3] = -1
    s = cpu_share(cols)
    assert s is not None and s.wait == pytest.approx(0.5) and s.probe_ns == 3000
    # a recording made before the readings existed: unknown, not "idle"
    assert cpu_share({"t": cols["t"], "rss": cols["t"]}) is None
    # too short a span to say anything
    assert cpu_share(series(n=2, wait=0.5, step_ns=MS)) is None
    # too few reference-loop readings: the CPU's speed is unknown, the wait is not
    few = series(n=4, wait=0.5)
    s = cpu_share(few)
    assert s is not None and s.probe_ns is None


def test_probe_is_a_median() -> None:
    cols = series(wait=0.0)
    cols[PROBE] = np.array([3000, 3100, 2900, 90000, 3000, 3050, 2950, 3000, 3020, 2980, 3000])
    s = cpu_share(cols)
    assert s is not None and s.probe_ns == 3000  # an interrupted reading does not move it


# --------------------------------------------------------------------------- two runs


def test_machine_ratio_combines_wait_and_speed() -> None:
    a = CpuShare(wait=0.0, steal=0.0, probe_ns=1000)
    b = CpuShare(wait=0.5, steal=0.0, probe_ns=1200)
    assert machine_ratio(a, b) == pytest.approx(2.0 * 1.2)
    assert machine_ratio(b, a) == pytest.approx(1 / 2.4)
    # without the loop on a side: the wait alone
    assert machine_ratio(CpuShare(0.0, 0.0), b) == pytest.approx(2.0)


def test_compare_shares_threshold_and_side() -> None:
    quiet = CpuShare(0.02, 0.0, probe_ns=1000)
    assert compare_shares(quiet, quiet) is None
    assert compare_shares(None, quiet) is None and compare_shares(quiet, None) is None
    just_under = CpuShare(1 - 0.98 / (1 + BUSY_RATIO) - 0.001, 0.0, probe_ns=1000)
    assert compare_shares(quiet, just_under) is None
    starved = CpuShare(0.40, 0.0, probe_ns=1000)
    busy = compare_shares(quiet, starved)
    assert busy is not None and busy.side == "B" and busy.excess == pytest.approx(0.98 / 0.6 - 1)
    assert busy.voids(slower=True) and not busy.voids(slower=False)
    assert busy.note() == "the machine was busy (run B waited for a CPU 40 % of its time vs 2 %)"
    back = compare_shares(starved, quiet)
    assert back is not None and back.side == "A" and back.voids(slower=False)
    # the same wait, a slower CPU: the reference loop says so
    slow_cpu = CpuShare(0.02, 0.0, probe_ns=1300)
    busy = compare_shares(quiet, slow_cpu)
    assert busy is not None and busy.side == "B"
    assert busy.note("the baseline", "this run") == (
        "the machine was busy (this run's CPU ran a reference loop 30 % slower)")


# --------------------------------------------------------------------------- recordings


NAMES = [(1, 0, "step"), (2, 1, "work"), (3, 0, "other"), (4, 0, "more"), (5, 0, "most")]


def write_run(path: Path, *, scale: float = 1.0, wait: float | None = 0.02, probe: int = 3000,
              seconds: float = 6.0, seed: int = 0, alone: bool = False) -> Path:
    """A recording of rounds of NAMES every 0.1 s (``work`` ~1 ms x scale, and so its
    parent ``step``; the other ops too unless ``alone``), with the sampler's CPU readings
    (``wait``: None for a recording made before them)."""
    rng = np.random.RandomState(seed)
    start = 10**9
    step = 100 * MS
    n = int(seconds * 1e9 / step)
    cpu = series(n + 1, wait=wait or 0.0, probe=probe, step_ns=step)
    with RecordingWriter(path, force=True) as w:
        w.write_raw(protocol.encode_hello(pid=5, argv=["python", "prog.py"], start_ns=start,
                                          wall_time=1.7e9, python="3.11", numpy_version="1",
                                          platform="test"))
        w.write_raw(protocol.encode_names(NAMES))
        for i in range(n):
            c = start + i * step
            pids, t0s, t1s = [], [], []
            for _ in range(4):
                d = int(MS * scale * (1 + 0.1 * rng.rand()))
                pids += [2, 1]
                t0s += [c + 1000, c]
                t1s += [c + 1000 + d, c + d + 3000]
                c += d + 5000
                for pid in (3, 4, 5):
                    o = int(MS * (1.0 if alone else scale) * (1 + 0.1 * rng.rand()))
                    pids.append(pid)
                    t0s.append(c)
                    t1s.append(c + o)
                    c += o + 2000
            w.write_raw(protocol.encode_measurements(1, np.array(pids), np.array(t0s), np.array(t1s)))
            gauges = {} if wait is None else {k: [int(cpu[k][i])] for k in GAUGES}
            w.write_raw(protocol.encode_memory([start + i * step], [50 * MS], [-1], gauges))
        w.write_raw(protocol.encode_end(0, "exited normally"))
    return path


@pytest.fixture
def runs(tmp_path: Path) -> dict[str, Path]:
    return {
        "old": write_run(tmp_path / "old.zlp", seed=1),
        "slow_busy": write_run(tmp_path / "slow_busy.zlp", scale=1.3, wait=0.45, seed=2),
        "slow_quiet": write_run(tmp_path / "slow_quiet.zlp", scale=1.3, seed=3),
        "one_slow_quiet": write_run(tmp_path / "one_slow_quiet.zlp", scale=1.3, seed=8, alone=True),
        "one_slow_busy": write_run(tmp_path / "one_slow_busy.zlp", scale=1.3, wait=0.45, seed=7,
                                   alone=True),
        "fast_busy": write_run(tmp_path / "fast_busy.zlp", scale=0.7, wait=0.45, seed=4),
        "old_format": write_run(tmp_path / "old_format.zlp", seed=5, wait=None),
        "slow_old_format": write_run(tmp_path / "slow_old_format.zlp", scale=1.3, seed=6, wait=None,
                                     alone=True),
    }


def test_recordings_carry_the_readings_and_the_diff_voids_what_the_machine_explains(
        runs: dict[str, Path]) -> None:
    a, b = load_session(runs["old"]), load_session(runs["slow_busy"])
    assert cpu_share(a.memory_series()) is not None
    res = diff_sessions(a, b)
    assert res.busy is not None and res.busy.side == "B"
    work = res.row("step/work")
    assert work.verdict == Verdict.INCONCLUSIVE and work.masked == Verdict.SLOWER
    assert "the machine was busy (run B waited for a CPU 45 % of its time vs 2 %)" in res.to_text()
    # every op faster although B had less CPU: not what the busy machine explains, but
    # every op moved together, as a machine moves them (significance.COMMON: two runs
    # cannot tell that from a change touching every op); the against-the-bias rule is
    # test_mark_busy_voids_only_what_the_machine_explains
    res = diff_sessions(a, load_session(runs["fast_busy"]))
    work = res.row("step/work")
    assert res.busy is not None and work.verdict == Verdict.INCONCLUSIVE
    assert work.why == COMMON and work.masked == Verdict.FASTER
    # a busy machine, but only one op (and its parent) moved, the typical op did not:
    # the machine did not reach the medians; the op's verdict stands
    res = diff_sessions(a, load_session(runs["one_slow_busy"]))
    assert res.busy is not None and not res.busy_ops
    assert res.row("step/work").verdict == Verdict.SLOWER and res.row("other").verdict == Verdict.SAME
    assert "but the ops did not move with it (the typical op " in res.to_text()
    # a quiet machine: an op that moved alone is slower, and the text says the runs were
    # comparable; every op slower is inconclusive (significance.COMMON), not a machine verdict
    res = diff_sessions(a, load_session(runs["one_slow_quiet"]))
    assert res.busy is None and res.row("step/work").verdict == Verdict.SLOWER
    every = diff_sessions(a, load_session(runs["slow_quiet"]))
    assert every.busy is None and every.row("step/work").why == COMMON
    assert "machine: A waited for a CPU 2 % of its time, B waited for a CPU 2 % of its time; comparable" \
        in res.to_text()


def test_fail_on_exit_codes_with_a_busy_machine(runs: dict[str, Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    old = str(runs["old"])
    assert main(["diff", old, str(runs["one_slow_quiet"]), "--fail-on", "p50>+5%"]) == EXIT_REGRESSION
    capsys.readouterr()
    assert main(["diff", old, str(runs["slow_quiet"]), "--fail-on", "p50>+5%"]) == EXIT_INCONCLUSIVE
    assert "moved only as much as the other ops did" in capsys.readouterr().err
    assert main(["diff", old, str(runs["slow_busy"]), "--fail-on", "p50>+5%"]) == EXIT_INCONCLUSIVE == 4
    err = capsys.readouterr().err.splitlines()
    assert any(line.startswith("zlprof: INCONCLUSIVE p50>+5%: step/work median +") for line in err)
    assert not any("FAIL" in line for line in err)
    assert any("inconclusive: the machine was busy (run B waited for a CPU 45 %" in line for line in err)
    capsys.readouterr()
    assert main(["diff", old, str(runs["one_slow_busy"]), "--fail-on", "p50>+5%"]) == EXIT_REGRESSION
    assert "FAIL p50>+5%: step/work median +" in capsys.readouterr().err
    # no rule a slowdown would break: a pass, busy or not
    assert main(["diff", old, str(runs["slow_busy"]), "--fail-on", "p50>+60%"]) == 0
    # without rules, diff reports and exits 0
    assert main(["diff", old, str(runs["slow_busy"])]) == 0
    # recordings without readings: no machine verdict (a slowdown of one op fails), and
    # the text says so
    capsys.readouterr()
    assert main(["diff", str(runs["old_format"]), str(runs["slow_old_format"]), "--fail-on",
                 "p50>+5%"]) == EXIT_REGRESSION
    assert "CPU wait not recorded in A and B" in capsys.readouterr().out


def test_mark_busy_voids_only_what_the_machine_explains() -> None:
    from zlprof.diff import DiffRow, mark_busy

    a = CpuShare(0.02, 0.0, 98, 2)
    b = CpuShare(0.45, 0.0, 55, 45)
    busy = compare_shares(a, b)
    assert busy is not None and busy.side == "B"

    def rows() -> list[DiffRow]:
        out = [DiffRow(f"op{i}", "op", Verdict.SAME, None, None, {"median": 0.3}) for i in range(3)]
        out[0].verdict, out[0].test = Verdict.SLOWER, object()  # type: ignore[assignment]
        out[1].verdict, out[1].test = Verdict.FASTER, object()  # type: ignore[assignment]
        out[2].test = object()  # type: ignore[assignment]
        return out

    # the ops moved with the machine (typical op +30 %): B slower is what the machine
    # explains (inconclusive, why BUSY); B faster is against its bias and stands
    r = rows()
    assert mark_busy(r, busy)
    assert (r[0].verdict, r[0].masked, r[0].why) == (Verdict.INCONCLUSIVE, Verdict.SLOWER, BUSY)
    assert r[1].verdict == Verdict.FASTER and r[1].masked is None
    # the typical op did not move: nothing voided
    r = rows()
    for x in r:
        x.change = {"median": 0.0}
    assert not mark_busy(r, busy) and r[0].verdict == Verdict.SLOWER


def test_json_carries_the_machine(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(runs["old"]), str(runs["slow_busy"]), "--format", "json",
                 "--fail-on", "p50>+5%"]) == 4
    doc = json.loads(capsys.readouterr().out)
    assert doc["exit_status"] == 4 and doc["violations"] == []
    assert {v["op"] for v in doc["inconclusive"]} >= {"step/work"}
    m = doc["machine"]
    assert m["busy"]["side"] == "B" and m["busy"]["threshold"] == BUSY_RATIO and m["busy"]["ops_moved"]
    assert m["a"]["wait"] == pytest.approx(0.02) and m["b"]["wait"] == pytest.approx(0.45)
    assert m["note"].startswith("inconclusive: the machine was busy")
    row = next(r for r in doc["rows"] if r["op"] == "step/work")
    assert row["verdict"] == "inconclusive" and row["verdict_before_machine"] == "slower"


def test_busy_note_names_the_runs() -> None:
    b = Busy("A", CpuShare(0.3, 0.0), CpuShare(0.0, 0.0), 1 / 1.3 * 0.7 - 1)
    assert b.note("the baseline", "this run").startswith("the machine was busy (the baseline waited")


# --------------------------------------------------------------------------- the sampler


needs_schedstat = pytest.mark.skipif(not os.path.isfile(f"/proc/{os.getpid()}/schedstat"),
                                     reason="no /proc/<pid>/schedstat")


@needs_schedstat
def test_cpu_reader_counts_every_thread_and_keeps_ended_ones() -> None:
    r = CpuReader()
    try:
        first = r.read()
        assert set(first) >= {RUN, WAIT, PROBE}
        done = threading.Event()

        def spin() -> None:
            x = 0
            for i in range(200_000):
                x ^= i
            done.wait(5)

        t = threading.Thread(target=spin)
        t.start()
        for _ in range(5):  # a rescan finds the new thread
            r.read()
        mid = r.read()
        done.set()
        t.join()
        for _ in range(5):
            last = r.read()
        # the counters only grow, the ended thread's time included
        assert mid[RUN] > first[RUN] and last[RUN] >= mid[RUN] and last[WAIT] >= mid[WAIT]
        assert last[PROBE] > 0
    finally:
        r.close()


@needs_schedstat
def test_cpu_reader_read_by_two_threads_while_threads_end() -> None:
    """The sampler and a closing profiler may read at once: an ended thread's fd is closed
    once and forgotten once (before: ``KeyError`` in one of them, which cost a SIGTERMed
    pool worker its last flush), and the sums still only grow."""
    r = CpuReader()
    errors: list[BaseException] = []
    stop = threading.Event()

    def churn() -> None:  # short-lived threads for the readers to find and lose
        while not stop.is_set():
            t = threading.Thread(target=lambda: sum(range(20_000)))
            t.start()
            t.join()

    def reader(runs: list[int]) -> None:
        try:
            for _ in range(400):
                runs.append(r.read()[RUN])
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    runs_a: list[int] = []
    runs_b: list[int] = []
    c = threading.Thread(target=churn)
    c.start()
    readers = [threading.Thread(target=reader, args=(x,)) for x in (runs_a, runs_b)]
    try:
        for t in readers:
            t.start()
        for t in readers:
            t.join()
    finally:
        stop.set()
        c.join()
        r.close()
    assert errors == []
    assert len(runs_a) == len(runs_b) == 400
    # each reader's view only grows (reads are serialised: one total order)
    assert runs_a == sorted(runs_a) and runs_b == sorted(runs_b)
    assert r.read() == {}  # closed: reads nothing, reopens nothing
    assert r._fds == {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_while_the_sampler_reads_does_not_hang_the_child() -> None:
    """The child's after-fork hook closes the parent's CPU reader, whose lock a parent
    thread (the sampler, mid-read) may have held at the fork: the child must not wait for
    it (it did: a pool worker hung in its after-fork hook, and the pool with it)."""
    prof = Profiler(sample_interval_ms=1.0)
    try:
        deadline = time.monotonic() + 5
        while prof._cpu_reader is None and time.monotonic() < deadline:
            time.sleep(0.01)
        reader = prof._cpu_reader
        assert reader is not None
        with reader._lock:  # as the sampler holds it during a read
            pid = os.fork()
            if pid == 0:  # the child: the after-fork hooks have run if we get here
                os._exit(0)
        deadline = time.monotonic() + 10
        code = None  # None: still running at the deadline (hung)
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.02)
        if code is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert code == 0, "the child hung in its after-fork hook" if code is None else code
    finally:
        prof.close()


def test_close_flushes_even_when_the_last_sample_fails() -> None:
    """``close()`` takes a last memory sample before the final flush; a failing reading
    never costs the measurements (a pool worker's SIGTERM flush lost 14 of 400 so)."""
    prof = Profiler(sample_interval_ms=1.0)
    for _ in range(100):
        with prof.measure("x"):
            pass

    class Broken:
        def read(self) -> dict[str, int]:
            raise KeyError(1234)

        def close(self) -> None:
            pass

    prof._stop.set()  # the sampler ends; its reader is replaced by one that fails
    assert prof._sampler is not None
    prof._sampler.join(5)
    prof._cpu_reader = Broken()  # type: ignore[assignment]
    prof.close()
    state = prof._sink.state  # type: ignore[union-attr]
    assert state.stats_for_name("x").count == 100


@needs_schedstat
def test_streaming_sampler_puts_the_readings_in_memory_frames() -> None:
    prof = Profiler(sample_interval_ms=1.0)
    with prof.measure("x"):
        pass
    prof.sample_memory()
    prof.close()
    state = prof._sink.state  # type: ignore[union-attr]
    cols = state.memory_series()
    assert set(GAUGES) <= set(cols)
    assert (cols[RUN] >= 0).all() and cols[RUN][-1] >= cols[RUN][0]
    # an in-memory profiler without a sampler reads none (its gauges are the user's)
    quiet = Profiler(memory=True)
    quiet.sample_memory()
    quiet.close()
    assert not set(GAUGES) & set(quiet._sink.state.memory_series())  # type: ignore[union-attr]
