"""CPU-availability readings for the profiler's periodic sampler.

A wall-clock comparison of two runs is meaningless for the part of a run during which the
process was ready to run but had no CPU (another process on its core) or its virtual CPU
was not running at all (the hypervisor took it away: steal time). :class:`CpuReader` reads
both, cheaply, at every memory sample of a streaming profiler; they travel as reserved
gauges of the ``mem`` frames (:data:`GAUGES`; the README's file format section), and
:mod:`zlprof.starvation` turns them into each run's CPU availability.

* the process's scheduler counters, summed over its threads: time on a CPU and time
  waiting on a run queue (ns; ``/proc/<pid>/task/<tid>/schedstat``: run ns, run-queue
  wait ns, timeslices). A thread's file is opened once and re-read with ``pread``; the
  thread list is re-read every :data:`RESCAN_EVERY` samples (at most
  :data:`MAX_THREADS` threads, the oldest); a thread that ended keeps counting with its
  last reading, so both sums only grow.
* the machine's stolen, idle and total CPU time (the ``cpu`` line of ``/proc/stat``,
  USER_HZ ticks over every CPU, stored as ns): how much the hypervisor took, and how
  busy the machine was besides this process.

* the CPU's speed: the time of a fixed reference loop (:func:`probe`, the fastest of
  three runs of about 3 us), one reading a sample. Run-queue wait and steal are what the guest kernel sees;
  a virtual CPU whose physical core is shared with another tenant runs slower without
  either (seen on this project's 2-vCPU KVM machine: an identical run 65 % slower
  throughout with 2 % wait and no steal).

Where the files are missing (not Linux, no schedstats) the reader reads nothing and the
frames carry no such gauges.
"""

from __future__ import annotations

import os
import threading
import time

from .memory import close_fd

#: reserved gauge names (``zlprof.`` is zlprof's prefix; the memory chart ignores them):
#: the process's run and run-queue wait ns (its threads summed); the machine's stolen,
#: idle (idle + iowait) and total CPU time, ns summed over every CPU
RUN, WAIT = "zlprof.run_ns", "zlprof.wait_ns"
STEAL, IDLE, TICKS = "zlprof.steal_ns", "zlprof.idle_ns", "zlprof.cpus_ns"
#: threads read at most (each costs a ``pread`` a sample, ~1 us): the main thread and
#: the first ones started are the measuring ones in the programs zlprof is made for
MAX_THREADS = 32
#: the time of :func:`probe` (not cumulative: one reading a sample)
PROBE = "zlprof.probe_ns"
GAUGES = (RUN, WAIT, STEAL, IDLE, TICKS, PROBE)
#: iterations of the reference loop, and how many times it runs a sample (the fastest
#: counts: an interrupt only lengthens one); about 10 us of CPU a sample in all on a
#: 2.4 GHz EPYC core
PROBE_LOOPS = 50
PROBE_REPEAT = 3
#: samples between two readings of the thread list and of /proc/stat (50 ms samples:
#: a quarter of a second)
RESCAN_EVERY = 5


def probe() -> int:
    """Ns of a fixed reference loop, the fastest of :data:`PROBE_REPEAT` runs: how fast
    the CPU ran this process's code just now. A host's other tenants (a busy sibling
    hyperthread, shared caches) slow a virtual CPU without any run-queue wait or steal;
    this sees it. The clock is ``perf_counter_ns`` (vDSO, ~50 ns; ``thread_time_ns`` is
    a system call, ~1 us under KVM): a run that was preempted is longer, and the fastest
    of three is one that was not."""
    clock = time.perf_counter_ns
    best = -1
    for _ in range(PROBE_REPEAT):
        t = clock()
        x = 0
        for i in range(PROBE_LOOPS):
            x ^= i * 7
        d = clock() - t
        if best < 0 or d < best:
            best = d
    return best


class CpuReader:
    """Cumulative scheduler and steal readings of this process (see the module doc)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._dir = f"/proc/{self.pid}/task"
        self._fds: dict[int, int] = {}
        self._last: dict[int, tuple[int, int]] = {}
        self._gone = [0, 0]  # run, wait of threads that ended
        self._n = 0
        self._stat: int | None = None
        self._steal: tuple[int, int, int] | None = None
        try:
            self._tick_ns = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        except (AttributeError, ValueError, OSError):
            self._tick_ns = 10_000_000
        try:
            self._stat = os.open("/proc/stat", os.O_RDONLY)
        except OSError:
            self._stat = None
        self.ok = os.path.isfile(f"/proc/{self.pid}/schedstat")
        # read() comes from the sampler and, once more, from the profiler's close(),
        # which may run beside a sampler still finishing its tick (a SIGTERM's flush
        # thread): two readers of an ended thread's fd would both close and forget it
        self._lock = threading.Lock()

    def _rescan(self) -> None:
        try:
            tids = {int(t) for t in os.listdir(self._dir)}
        except (OSError, ValueError):
            return
        for tid in sorted(tids - self._fds.keys()):
            if len(self._fds) >= MAX_THREADS:
                break
            try:
                self._fds[tid] = os.open(f"{self._dir}/{tid}/schedstat", os.O_RDONLY)
            except OSError:
                pass

    def sched(self) -> tuple[int, int] | None:
        """(run ns, wait ns) summed over the process's threads, or None."""
        if not self.ok:
            return None
        if self._n % RESCAN_EVERY == 0:
            self._rescan()
        self._n += 1
        last = self._last
        for tid, fd in list(self._fds.items()):
            try:
                f = os.pread(fd, 64, 0).split()
                last[tid] = (int(f[0]), int(f[1]))
            except (OSError, ValueError, IndexError):  # the thread ended: keep its last
                if self._fds.pop(tid, None) is not None:
                    close_fd(fd)
                run, wait = last.pop(tid, (0, 0))
                self._gone[0] += run
                self._gone[1] += wait
        run, wait = self._gone
        for r, w in last.values():
            run += r
            wait += w
        return run, wait

    def steal(self) -> tuple[int, int, int] | None:
        """(stolen, idle, total) ns of the machine, every CPU summed, or None."""
        if self._stat is None:
            return None
        try:
            line = os.pread(self._stat, 256, 0).split(b"\n", 1)[0].split()
            ticks = [int(x) for x in line[1:9]]  # user nice system idle iowait irq softirq steal
        except (OSError, ValueError):
            return None
        if len(ticks) < 8:
            return None
        ns = self._tick_ns
        return ticks[7] * ns, (ticks[3] + ticks[4]) * ns, sum(ticks) * ns

    def read(self) -> dict[str, int]:
        """The gauges of one sample (empty where nothing can be read). ``/proc/stat``
        costs about twice the schedstat reads (the kernel formats every CPU's line and
        every interrupt's count), and steal ticks are 10 ms coarse: it is re-read every
        :data:`RESCAN_EVERY` samples and repeated in between. Thread-safe."""
        with self._lock:
            return self._read_locked()

    def _read_locked(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self._n % RESCAN_EVERY == 0 or self._steal is None:
            self._steal = self.steal()
        s = self.sched()
        if s is not None:
            out[RUN], out[WAIT] = s
        if self._steal is not None:
            out[STEAL], out[IDLE], out[TICKS] = self._steal
        if self.ok:
            out[PROBE] = probe()
        return out

    def close_after_fork(self) -> None:
        """Close the parent's reader in a forked child: a thread of the parent may have
        held the lock across the fork (the sampler in a read), and no thread of the child
        will release it."""
        self._lock = threading.Lock()
        self.close()

    def close(self) -> None:
        with self._lock:
            self.ok = False  # a read after close reopens nothing
            for fd in self._fds.values():
                close_fd(fd)
            self._fds.clear()
            close_fd(self._stat)
            self._stat = None
