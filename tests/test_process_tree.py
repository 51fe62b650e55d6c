"""Process trees: every process of the tree streams its own measurements, attributed.

tests/programs/tree.py forks, uses multiprocessing with each start method, a Pool, a
ProcessPoolExecutor, a Python subprocess and threads, with known block counts per process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from zlprof import protocol
from zlprof.protocol import Frame
from zlprof.recording import read_recording
from zlprof.replay import ReplaySource
from zlprof.reports import chrome_trace, csv_report, json_report, measurements_csv
from zlprof.session import WHOLE, SessionState, View
from zlprof.sources import LiveSource


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ZLPROF_FD", None)
    env.pop("ZLPROF_SOCKET", None)
    return env

TREE = Path(__file__).parent / "programs" / "tree.py"

#: name -> (count, start method of the process(es) that measure it)
EXPECTED = {
    "parent_setup": (1, "exec"),
    "fork_child": (200, "fork"),
    "mp_fork": (10, "fork"),
    "mp_spawn": (20, "spawn"),
    "mp_forkserver": (30, "forkserver"),
    "pool_task": (800, "fork"),
    "executor_task": (50, "fork"),
    "sub_work": (40, "exec"),
    "thread_work": (50, "exec"),
    "parent_work": (100, "exec"),
}


def _counts(state: SessionState, view: View = WHOLE) -> dict[str, int]:
    return {r.full: r.stats.count for r in state.op_rows(view=view)}


def _run(argv: list[str], out: Path | None, env: dict[str, str] | None = None,
         timeout: float = 900) -> LiveSource:
    src = LiveSource(argv, out, env=env or child_env())
    src.start()
    try:
        assert src.wait(timeout), "the tree did not finish"
    finally:
        src.stop()
    return src


@pytest.fixture(params=["c", "pure"])
def impl_env(request: pytest.FixtureRequest) -> dict[str, str]:
    env = child_env()
    if request.param == "pure":
        env["ZLPROF_PURE_PYTHON"] = "1"
    else:
        env.pop("ZLPROF_PURE_PYTHON", None)
    return env


def test_tree_counts_match_per_process_and_merged(tmp_path: Path, impl_env: dict[str, str]) -> None:
    out = tmp_path / "tree.zlp"
    src = _run([sys.executable, str(TREE)], out, impl_env)
    st = src.state
    assert src.status == "ended", (src.status, list(src.stderr_tail))
    assert st.warnings == []
    merged = _counts(st)
    assert merged == {k: n for k, (n, _) in EXPECTED.items()}

    # per process: each name is measured only by processes of the expected start method
    # and the per-process counts add up to the merged ones
    per_name: dict[str, int] = {}
    procs = st.process_rows()
    roots = [p for p in procs if p.depth == 0]
    root = next(p for p in procs if p.start == "exec" and p.ppid == os.getpid())
    for p in procs:
        counts = _counts(st, View(p.stream))
        assert sum(counts.values()) == p.measurements
        for name, n in counts.items():
            assert EXPECTED[name][1] == p.start, (name, p)
            per_name[name] = per_name.get(name, 0) + n
    assert per_name == merged
    assert _counts(st, View(root.stream)) == {
        "parent_setup": 1, "thread_work": 50, "parent_work": 100}
    # the fork child, the mp children, 2 pool workers, 2 executor workers, the subprocess
    assert sorted(p.start for p in procs) == sorted(
        ["exec", "fork", "fork", "spawn", "forkserver", "fork", "fork", "fork", "fork", "exec"])
    # every child but the forkserver's (whose parent, the fork server, measures nothing)
    # sits under the root
    assert {p.pid for p in procs if p.depth == 1} | {root.pid} | {p.pid for p in roots} == {
        p.pid for p in procs}
    sub = next(p for p in procs if "sub_work" in _counts(st, View(p.stream)))
    assert sub.ppid == root.pid
    # subprocess.run reaps it at once: zlprof sees its status only if it is still a zombie
    assert (sub.state, sub.status) in (("exited", 0), ("ended", None))
    assert st.processes[sub.stream].said_bye

    # threads: the root's main thread and its two workers, each with its own counts
    threads = st.thread_keys(View(root.stream))
    assert len(threads) == 3
    by_thread = [_counts(st, View(*k)) for k in threads]
    assert {"parent_setup": 1, "parent_work": 100} in by_thread
    assert by_thread.count({"thread_work": 25}) == 2
    names = st.processes[root.stream].threads
    assert names[root.pid] == "MainThread"

    # shares never pass 100 %, in any view
    for view in [View(), *(View(p.stream) for p in procs), *(View(*k) for k in st.thread_keys())]:
        assert sum(r.self_share for r in st.op_rows(view=view)) <= 1.0
        assert all(0 <= r.stats.share <= 1.0 for r in st.op_rows(view=view))

    # the recording keeps every process's stream: a replay yields the same statistics
    rep = ReplaySource(out, speed=None)
    rep.start()
    assert rep.wait(300)
    assert _counts(rep.state) == merged
    assert {(p.pid, p.start, p.measurements) for p in rep.state.process_rows()} == {
        (p.pid, p.start, p.measurements) for p in procs}


def test_reports_and_exports_carry_pid_and_tid(tmp_path: Path) -> None:
    out = tmp_path / "tree.zlp"
    src = _run([sys.executable, str(TREE)], out)
    st = src.state
    doc = json.loads(json_report(st))
    assert doc["ops"]["pool_task"]["count"] == 800
    procs = {p["pid"]: p for p in doc["processes"]}
    assert len(procs) == 10
    assert sum(p["ops"].get("pool_task", {}).get("count", 0) for p in procs.values()) == 800
    root = next(p for p in procs.values() if "parent_work" in p["ops"])
    assert [t["ops"].get("thread_work", {}).get("count") for t in root["threads"]].count(25) == 2

    rows = [line.split(",") for line in csv_report(st).splitlines()]
    head = rows[0]
    assert head[-3:] == ["scope", "pid", "tid"]
    tree_rows = [r for r in rows[1:] if r[-3] == "tree"]
    assert {r[0]: int(r[2]) for r in tree_rows}["parent_work"] == 100
    thread_rows = [r for r in rows[1:] if r[-3] == "thread" and r[0] == "thread_work"]
    assert sorted(int(r[2]) for r in thread_rows) == [25, 25]
    assert len({r[-1] for r in thread_rows}) == 2

    frames = read_recording(out).frames
    trace = chrome_trace(frames)
    meta = [e for e in trace["traceEvents"] if e["ph"] == "M"]
    pids = {e["pid"] for e in meta if e["name"] == "process_name"}
    assert pids == set(procs)
    tnames = {(e["pid"], e["tid"]): e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert tnames[(root["pid"], root["pid"])].startswith("MainThread")
    x = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(x) == sum(n for n, _ in EXPECTED.values())
    pool_pids = {e["pid"] for e in x if e["name"] == "pool_task"}
    assert len(pool_pids) <= 2 and pool_pids <= set(procs)

    import io

    buf = io.StringIO()
    n = measurements_csv(frames, buf)
    lines = buf.getvalue().splitlines()
    assert n == len(lines) - 1 and lines[0].endswith(",pid")
    assert {line.split(",")[-1] for line in lines[1:] if line.startswith("fork_child,")} == {
        str(next(p for p in procs.values() if "fork_child" in p["ops"])["pid"])}


KILLED = textwrap.dedent(
    """
    import os, signal, sys, time
    import zlprof
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for _ in range(300):
            with zlprof.measure("victim_work"):
                pass
        zlprof.flush()
        os.write(w, b"x")
        while True:
            time.sleep(1)
    os.read(r, 1)
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    time.sleep(1.0)  # a zombie while zlprof reads its status
    os.waitpid(pid, 0)
    for _ in range(10):
        with zlprof.measure("survivor_work"):
            pass
    """
)


def test_worker_killed_by_sigkill_keeps_what_it_sent(tmp_path: Path) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    out = tmp_path / "killed.zlp"
    src = _run([sys.executable, str(script)], out)
    st = src.state
    assert _counts(st) == {"victim_work": 300, "survivor_work": 10}
    victim = next(p for p in st.process_rows() if p.start == "fork")
    assert victim.state == "killed" and victim.status == -signal.SIGKILL
    assert "SIGKILL" in victim.label
    assert not st.processes[victim.stream].said_bye
    # the recording keeps it too
    rep = SessionState()
    rep.ingest_many(read_recording(out).frames)
    assert _counts(rep) == {"victim_work": 300, "survivor_work": 10}
    assert next(p for p in rep.process_rows() if p.start == "fork").state == "killed"


STALE = textwrap.dedent(
    """
    import os, sys
    import zlprof
    for _ in range(50):
        with zlprof.measure("work"):
            pass
    zlprof.flush()
    print(zlprof.get_profiler().streaming)
    """
)


def test_spawned_child_with_a_stale_fd_number_writes_nothing_to_it(tmp_path: Path) -> None:
    victim = tmp_path / "unrelated.txt"
    script = tmp_path / "stale.py"
    script.write_text(STALE)
    with open(victim, "wb") as f:
        fd = f.fileno()
        env = child_env()
        env["ZLPROF_FD"] = str(fd)  # an inherited number that names the user's file
        out = subprocess.run([sys.executable, str(script)], env=env, pass_fds=(fd,),
                             capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"  # collected in memory
    assert victim.read_bytes() == b""


def test_a_socket_that_does_not_answer_the_handshake_gets_nothing(tmp_path: Path) -> None:
    script = tmp_path / "stale.py"
    script.write_text(STALE)
    path = str(tmp_path / "not-zlprof.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = srv.accept()
        conn.sendall(b"HELLO, I am some other program\n")
        conn.settimeout(10)
        data = b""
        while True:
            try:
                part = conn.recv(4096)
            except OSError:
                break
            if not part:
                break
            data += part
        got.append(data)
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    env = child_env()
    env["ZLPROF_SOCKET"] = path
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    t.join(15)
    srv.close()
    assert out.stdout.strip() == "False"
    assert got == [b""]

    # a path that is not a socket at all
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    env["ZLPROF_SOCKET"] = str(plain)
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False" and plain.read_bytes() == b""


IN_MEMORY_FORK = textwrap.dedent(
    """
    import json, os
    import zlprof
    with zlprof.measure("before"):
        pass
    r, w = os.pipe()
    with zlprof.measure("outer"):
        pid = os.fork()
        if pid == 0:
            for _ in range(7):
                with zlprof.measure("inner"):
                    pass
            st = zlprof.get_profiler().state
            rows = {r.full: r.stats.count for r in st.op_rows()}
            os.write(w, json.dumps(rows).encode())
            os._exit(0)
    os.waitpid(pid, 0)
    child = json.loads(os.read(r, 1 << 16))
    st = zlprof.get_profiler().state
    print(json.dumps([child, {r.full: r.stats.count for r in st.op_rows()}]))
    """
)


@pytest.mark.parametrize("pure", [False, True])
def test_fork_in_memory_child_starts_clean(tmp_path: Path, pure: bool) -> None:
    script = tmp_path / "mem.py"
    script.write_text(IN_MEMORY_FORK)
    env = child_env()
    if pure:
        env["ZLPROF_PURE_PYTHON"] = "1"
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                         text=True, timeout=60, check=True)
    child, parent = json.loads(out.stdout)
    # no inherited records ("before"), no inherited open block ("outer/inner")
    assert child == {"inner": 7}
    assert parent == {"before": 1, "outer": 1}


LINGER = textwrap.dedent(
    """
    import multiprocessing as mp, time
    import zlprof

    def forever():
        while True:
            with zlprof.measure("loop"):
                time.sleep(0.01)

    if __name__ == "__main__":
        p = mp.get_context("spawn").Process(target=forever)
        p.start()
        with zlprof.measure("main"):
            pass
        print("started", p.pid, flush=True)
        p.join()
    """
)


def test_stop_ends_the_whole_tree_and_closes_the_recording(tmp_path: Path) -> None:
    script = tmp_path / "linger.py"
    script.write_text(LINGER)
    out = tmp_path / "linger.zlp"
    src = LiveSource([sys.executable, str(script)], out, env=child_env())
    src.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(src.state.processes) < 2:
        time.sleep(0.05)
    assert len(src.state.processes) == 2
    pids = [p.pid for p in src.state.processes.values()]
    time.sleep(0.3)
    try:
        assert len(src.state.processes) == 2
    finally:
        src.stop(grace_s=2.0)
    assert src.finished
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert src.writer is not None and src.writer.closed
    rep = SessionState()
    rep.ingest_many(read_recording(out).frames)
    assert _counts(rep)["loop"] >= 1
    assert all(p.state != "running" for p in rep.processes.values())


# --------------------------------------------------------------------------- unit level


def _meas(stream: int, tid: int, path: list[int], t0: list[int], t1: list[int]) -> Frame:
    return Frame("meas", {"tid": tid, "n": len(path), "path": np.asarray(path, np.int32),
                          "t0": np.asarray(t0, np.int64), "t1": np.asarray(t1, np.int64)},
                 stream)


def _hello(stream: int, pid: int, ppid: int, start_ns: int, start: str) -> Frame:
    return Frame("hello", {"schema": [2, 1], "pid": pid, "ppid": ppid, "argv": ["x"],
                           "start_ns": start_ns, "config": {}, "start": start}, stream)


def test_each_process_names_its_own_path_ids() -> None:
    st = SessionState()
    st.ingest_many([
        _hello(1, 100, 1, 0, "exec"),
        Frame("names", {"paths": [[1, 0, "a"], [2, 1, "b"]]}, 1),
        _hello(2, 101, 100, 0, "spawn"),
        # the same paths under other ids, plus one of its own
        Frame("names", {"paths": [[1, 0, "c"], [2, 0, "a"], [3, 2, "b"]]}, 2),
        _meas(1, 7, [1, 2, 2], [0, 10, 20], [100, 15, 25]),
        _meas(2, 9, [2, 3, 1], [0, 10, 100], [100, 20, 110]),
        Frame("costs", {"rows": [[3, 2, 10, 20]]}, 2),
    ])
    assert _counts(st) == {"a": 2, "a/b": 3, "c": 1}
    assert _counts(st, View(1)) == {"a": 1, "a/b": 2}
    assert _counts(st, View(2)) == {"a": 1, "a/b": 1, "c": 1}
    assert _counts(st, View(2, 9)) == _counts(st, View(2))
    assert _counts(st, View(1, 9)) == {}
    ab = next(r for r in st.op_rows() if r.full == "a/b")
    assert (ab.flops, ab.nbytes) == (10, 20)
    # two threads that each measured all the time: the shares of the whole tree are of
    # their summed wall time, so they stay within 100 %
    assert sum(r.self_share for r in st.op_rows()) <= 1.0
    rows = st.process_rows()
    assert [(r.pid, r.depth) for r in rows] == [(100, 0), (101, 1)]


def test_proc_frames_set_the_process_state() -> None:
    st = SessionState()
    st.ingest_many([
        _hello(1, 100, 1, 0, "exec"), _hello(2, 101, 100, 0, "fork"), _hello(3, 102, 100, 0, "fork"),
        Frame("proc", {"stream": 2, "pid": 101, "event": "exit", "status": -9,
                       "reason": "killed by SIGKILL"}),
        Frame("proc", {"stream": 3, "pid": 102, "event": "exit", "status": None,
                       "reason": "ended (status unknown)"}),
        Frame("proc", {"stream": 1, "pid": 100, "event": "exit", "status": 3,
                       "reason": "exited with status 3"}),
    ])
    states = {r.pid: (r.state, r.label) for r in st.process_rows()}
    assert states == {100: ("exited", "exited with status 3"),
                      101: ("killed", "killed by SIGKILL"),
                      102: ("ended", "ended (status unknown)")}


def test_proc_and_bye_frames_round_trip() -> None:
    raw = (protocol.encode_proc(stream=3, pid=5, event="exit", status=-9, reason="killed")
           + protocol.encode_bye(12))
    frames = protocol.decode_stream(raw)
    assert [f.kind for f in frames] == ["proc", "bye"]
    assert frames[0].body["status"] == -9 and frames[1].body["t"] == 12


RACE = textwrap.dedent(
    """
    import threading
    import zlprof
    go = threading.Barrier(8)
    def work():
        go.wait()  # every thread makes its first measure at once
        for _ in range(25):
            with zlprof.measure("raced"):
                pass
    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    """
)


def test_threads_racing_to_their_first_measure_share_one_channel(tmp_path: Path) -> None:
    """Found by hand: three threads starting at once opened three channels, so one
    process showed as three, each with its own memory sampler."""
    script = tmp_path / "race.py"
    script.write_text(RACE)
    for attempt in range(3):  # the race is timing-dependent: try it a few times
        out = tmp_path / f"race{attempt}.zlp"
        src = _run([sys.executable, str(script)], out)
        assert _counts(src.state) == {"raced": 200}
        hellos = [f for f in read_recording(out).frames if f.kind == "hello"]
        assert len(hellos) == 1, [f.stream for f in hellos]
        assert len(src.state.process_rows()) == 1


STUCK = textwrap.dedent(
    """
    import ctypes, os, signal, sys, threading, zlprof
    libc = ctypes.CDLL(None, use_errno=True)
    with zlprof.measure("parent"):
        pass
    pid = os.fork()  # the watcher is for children (a pool worker's parent waits for it)
    if pid:
        print("child", pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print("child status", os.waitstatus_to_exitcode(status), flush=True)
        sys.exit(0)
    for _ in range(500):
        with zlprof.measure("before_stuck"):
            pass
    if sys.argv[1] == "no-watcher":
        signal.set_wakeup_fd(-1)
    # The shape of a pool worker that missed its SIGTERM: the signal reaches the process
    # (its C-level handler runs, in another thread here) but the main thread stays
    # blocked in C and never runs the Python handler.
    def other():
        while True:
            libc.pause()
    threading.Thread(target=other, daemon=True).start()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    libc.pause()
    """
)


@pytest.mark.parametrize("watcher", [True, False])
def test_sigterm_missed_by_a_blocked_main_thread_still_ends_the_process(
    tmp_path: Path, watcher: bool
) -> None:
    """Found in the suite (a Pool.terminate() that hung): in a child process, the watcher
    thread finishes a SIGTERM the main thread cannot handle, flushing first. Control:
    without it, the child sleeps on (and is killed by the test)."""
    script = tmp_path / "stuck.py"
    script.write_text(STUCK)
    src = LiveSource([sys.executable, str(script), "watcher" if watcher else "no-watcher"],
                     tmp_path / "stuck.zlp", env=child_env())
    src.start()
    try:
        deadline = time.monotonic() + 300
        child = None
        while child is None:
            assert time.monotonic() < deadline and not src.finished, "the program never forked"
            child = next((int(line.split()[1]) for line in list(src.stdout_tail)
                          if line.startswith("child ")), None)
            time.sleep(0.05)
        while _counts(src.state).get("before_stuck", 0) < 500:  # the child is blocked
            assert time.monotonic() < deadline and not src.finished, _counts(src.state)
            time.sleep(0.05)
        os.kill(child, signal.SIGTERM)
        if watcher:
            assert src.wait(300), "SIGTERM did not end the blocked child"
            # died of the signal, as its parent saw it (zlprof sees the status only when
            # it reads the zombie before the parent reaps it)
            assert f"child status {-signal.SIGTERM}" in list(src.stdout_tail)
            row = next(p for p in src.state.process_rows() if p.pid == child)
            assert src.state.processes[row.stream].said_bye  # it flushed, then died
            assert _counts(src.state) == {"parent": 1, "before_stuck": 500}
        else:
            assert not src.wait(3.0)  # the hang the watcher prevents
    finally:
        src.stop()


def test_a_sigterm_in_a_forked_childs_first_moments_is_kept_pending_then_handled(tmp_path: Path) -> None:
    """SIGTERM is blocked across fork() until zlprof's after-fork hook has run: one that
    reaches a just-forked child (Pool.terminate racing a worker's start) stays pending,
    not noted by CPython's handler and cleared by its after-fork signal reset (which lost
    it for good and left terminate() waiting for that worker forever); then it ends the
    child through zlprof's handler, as SIGTERM's default action would."""
    script = tmp_path / "early_term.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        r, w = os.pipe()

        def early():  # an after-fork hook that runs before zlprof's (registered first)
            os.kill(os.getpid(), signal.SIGTERM)
            os.write(w, b"P" if signal.SIGTERM in signal.sigpending() else b"D")

        os.register_at_fork(after_in_child=early)
        from zlprof.profiler import default  # registers its own hooks after ours
        signal.signal(signal.SIGTERM, default._on_sigterm)
        pid = os.fork()
        if pid == 0:
            for _ in range(200):  # the signal is handled at the next bytecodes
                sum(range(1000))
            os._exit(7)  # not reached: SIGTERM ended the child
        _, status = os.waitpid(pid, 0)
        print(os.read(r, 1).decode(), os.waitstatus_to_exitcode(status))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    pending, code = out.stdout.split()
    assert pending == "P"  # blocked in the child's first moments: kept, not lost
    assert int(code) == -signal.SIGTERM  # then handled: the child died of it


def test_pool_workers_of_a_program_whose_threads_measure_first_lose_nothing(tmp_path: Path) -> None:
    """The profiler made by a thread other than the main one can set no SIGTERM handler;
    a worker forked afterwards gets it in its after-fork hook (its forking thread is its
    main thread), so ``Pool.terminate`` (``with Pool()``) costs none of its measurements
    (before: the last flush interval of each worker, 26-31 of 400 here)."""
    script = tmp_path / "pool_after_threads.py"
    script.write_text(textwrap.dedent("""
        import threading, time
        from multiprocessing import get_context
        import zlprof

        def task(i):
            with zlprof.measure("pool_task"):
                time.sleep(0.002)
            return i

        def thread_work():
            for _ in range(300):
                with zlprof.measure("thread_op"):
                    time.sleep(0.001)

        if __name__ == "__main__":
            ts = [threading.Thread(target=thread_work) for _ in range(2)]
            for t in ts: t.start()  # (the threads make the profiler)
            with get_context("fork").Pool(2) as p:  # terminate() on exit
                p.map(task, range(400))
            for t in ts: t.join()
    """))
    src = _run([sys.executable, str(script)], None)
    counts = _counts(src.state)
    procs = [(p.pid, p.start, p.label, p.said_bye, p.measurements)
             for p in src.state.processes.values()]
    assert counts["thread_op"] == 600, (counts, procs, src.state.warnings)
    assert counts["pool_task"] == 400, (counts, procs, src.state.warnings)


@pytest.mark.parametrize("pure", [False, True])
def test_a_raw_fork_child_ending_with_os_exit_loses_nothing(tmp_path: Path, pure: bool) -> None:
    """A raw ``os.fork`` child that ends with ``os._exit`` (skipping atexit) and never
    calls ``zlprof.flush()``: its measurements arrive, and it says goodbye (before: a
    short child's 200 blocks were all lost, found in the tmux pass)."""
    script = tmp_path / "raw_fork.py"
    script.write_text(textwrap.dedent("""
        import os
        import zlprof

        with zlprof.measure("parent_work"):
            pass
        pid = os.fork()
        if pid == 0:
            for _ in range(200):
                with zlprof.measure("fork_child"):
                    pass
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """))
    env = child_env()
    if pure:
        env["ZLPROF_PURE_PYTHON"] = "1"
    src = _run([sys.executable, str(script)], None, env=env)
    counts = _counts(src.state)
    procs = [(p.pid, p.start, p.said_bye, p.measurements) for p in src.state.processes.values()]
    assert counts.get("fork_child") == 200, (counts, procs, src.state.warnings)
    assert counts.get("parent_work") == 1
    child = next(p for p in src.state.processes.values() if p.start == "fork")
    assert child.said_bye, procs
    assert "3" in src.stdout_tail  # the child's own exit status is kept
