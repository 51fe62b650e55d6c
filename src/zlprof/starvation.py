"""Was the machine busy? A run's CPU availability, and when it voids a comparison.

A comparison of two runs' durations (``zlprof diff``, ``--baseline``) is a comparison of
wall-clock times. The part of a run during which the process was ready to run but waited
for a CPU (another process had its core), or ran on a virtual CPU the hypervisor had
taken away (steal time), measures the machine, not the code. The profiler's sampler
records both as reserved gauges of the memory samples (profiler/cpu.py: the process's
run and run-queue wait ns summed over its threads, the machine's steal and total ticks);
:func:`cpu_share` turns a session's series into its :class:`CpuShare`:

* ``wait``: the share of the process's runnable time spent waiting for a CPU,
  Δwait / (Δrun + Δwait);
* ``steal``: the share of the machine's CPU time the hypervisor stole, Δsteal / Δticks;
* ``busy`` = 1 - (1 - wait)(1 - steal): the share of the time CPU-bound work was
  ready but not running. CPU-bound work took ``slowdown`` = 1 / (1 - busy) times as long
  as on an idle machine.

:func:`compare_shares`: when one run's slowdown exceeds the other's by more than
:data:`BUSY_RATIO`, the comparison is unfair to that run: its apparent slowdowns (and the
other run's apparent speed-ups) may be the machine's. Those verdicts become
"inconclusive" (:func:`zlprof.diff.mark_busy`); verdicts against the bias stand (an op
faster in the run that had less CPU is faster despite it). Recordings made before these
readings existed (or on a system without ``/proc/<pid>/schedstat``) carry none: no
verdict is voided and the outputs say the CPU wait is unknown.

Why :data:`BUSY_RATIO` is 10 %: see the constant's comment (measured with
benchmarks/bench_baseline_fp.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .profiler.cpu import IDLE, PROBE, RUN, STEAL, TICKS, WAIT

#: One run's CPU-bound work slowed by the machine this much more than the other's
#: (slowdown_b / slowdown_a - 1, either way) makes the comparison inconclusive in that
#: direction. See the module doc and README ("The machine was busy").
BUSY_RATIO = 0.10
#: fewer reference-loop readings than this: the CPU's speed is unknown
MIN_PROBES = 5
#: fewer nanoseconds of runnable time than this (run + wait): no reading
MIN_RUNNABLE_NS = 50_000_000


@dataclass(frozen=True)
class CpuShare:
    """A run's CPU availability over its samples (see the module doc)."""

    #: share of the process's runnable time spent waiting for a CPU
    wait: float
    #: share of the machine's CPU time stolen by the hypervisor (0 without readings)
    steal: float
    #: run ns and wait ns over the span (summed over the process's threads)
    run_ns: int = 0
    wait_ns: int = 0
    #: share of the machine's CPU time (every CPU) used by other processes (None: unknown)
    others: float | None = None
    #: median ns of the reference loop (profiler/cpu.probe; None: unknown)
    probe_ns: float | None = None

    @property
    def busy(self) -> float:
        """Share of the time CPU-bound work was ready but not running."""
        return 1.0 - (1.0 - self.wait) * (1.0 - self.steal)

    @property
    def slowdown(self) -> float:
        """How many times longer CPU-bound work took than on an idle machine."""
        return 1.0 / max(1.0 - self.busy, 1e-6)

    def describe(self) -> str:
        """``waited for a CPU 31 % of its time`` (and the steal, when any)."""
        text = f"waited for a CPU {self.wait * 100:.0f} % of its time"
        if self.steal >= 0.01:
            text += f", {self.steal * 100:.0f} % stolen by the hypervisor"
        return text

    def as_dict(self) -> dict[str, float | None]:
        return {"wait": self.wait, "steal": self.steal, "busy": self.busy, "slowdown": self.slowdown,
                "others": self.others}


def _span(col: np.ndarray) -> int | None:
    good = col[col >= 0]
    if len(good) < 2:
        return None
    return int(good[-1] - good[0])


def cpu_share(series: Mapping[str, np.ndarray]) -> CpuShare | None:
    """A session's CPU availability from its memory series (``SessionState.memory_series``
    or ``.memory``'s columns); None when the readings are missing or too short."""
    run_col, wait_col = series.get(RUN), series.get(WAIT)
    if run_col is None or wait_col is None:
        return None
    ok = (run_col >= 0) & (wait_col >= 0)
    run, wait = _span(run_col[ok]), _span(wait_col[ok])
    if run is None or wait is None or run < 0 or wait < 0 or run + wait < MIN_RUNNABLE_NS:
        return None
    steal, others = 0.0, None
    st_col, tk_col, id_col = series.get(STEAL), series.get(TICKS), series.get(IDLE)
    if st_col is not None and tk_col is not None:
        okt = (st_col >= 0) & (tk_col >= 0)
        st, tk = _span(st_col[okt]), _span(tk_col[okt])
        if st is not None and tk and tk > 0 and st >= 0:
            steal = min(1.0, st / tk)
            idle = _span(id_col[okt]) if id_col is not None and len(id_col) == len(okt) else None
            if idle is not None:
                others = min(1.0, max(0.0, (tk - idle - st - run) / tk))
    probe_ns = None
    pr = series.get(PROBE)
    if pr is not None:
        good = pr[pr > 0]
        if len(good) >= MIN_PROBES:
            probe_ns = float(np.median(good))
    return CpuShare(wait / (run + wait), steal, run, wait, others, probe_ns)


def session_share(state: object) -> CpuShare | None:
    """:func:`cpu_share` of a SessionState (its main process's memory series; reads the
    columns under the state's lock)."""
    mem = getattr(state, "memory", None)
    lock = getattr(state, "lock", None)
    if mem is None or lock is None:
        return None
    with lock:
        cols = {k: mem.get(k).copy() for k in (RUN, WAIT, STEAL, IDLE, TICKS, PROBE) if k in mem.names}
    return cpu_share(cols)


@dataclass(frozen=True)
class Busy:
    """The machine slowed one run notably more than the other."""

    #: "A" or "B": the run the machine slowed more
    side: str
    a: CpuShare
    b: CpuShare
    #: the machine's slowdown of B over A's, minus 1 (:func:`machine_ratio`)
    excess: float
    threshold: float = 0.0

    def note(self, a_name: str = "run A", b_name: str = "run B") -> str:
        """``the machine was busy (run B waited for a CPU 31 % of its time vs 2 %; ...)``;
        ``a_name`` / ``b_name``: what the two runs are called."""
        worse, other = (self.b, self.a) if self.side == "B" else (self.a, self.b)
        name = b_name if self.side == "B" else a_name
        bits = []
        if worse.wait - other.wait >= 0.01 or worse.steal - other.steal >= 0.01:
            bits.append(f"{name} {worse.describe()} vs {other.wait * 100:.0f} %")
        if worse.probe_ns and other.probe_ns and worse.probe_ns / other.probe_ns - 1 >= 0.01:
            subject = "its CPU" if bits else f"{name}'s CPU"
            loop = worse.probe_ns / other.probe_ns - 1
            bits.append(f"{subject} ran a reference loop {loop * 100:.0f} % slower")
        if not bits:
            bits.append(f"{name}'s CPU-bound work {abs(self.excess) * 100:.0f} % slower")
        return "the machine was busy (" + "; ".join(bits) + ")"

    def voids(self, slower: bool) -> bool:
        """Does the machine explain a verdict of B slower (``slower``) or B faster?"""
        return slower == (self.side == "B")

    def as_dict(self) -> dict[str, object]:
        return {"side": self.side, "machine_slowdown": self.excess, "threshold": self.threshold,
                "a": self.a.as_dict(), "b": self.b.as_dict(), "note": self.note()}


def machine_ratio(a: CpuShare, b: CpuShare) -> float:
    """How many times longer the machine made B's CPU-bound work than A's: the ratio of
    their wait-and-steal slowdowns times the ratio of their reference loops' CPU times
    (when both have them). 1.0: the same machine conditions."""
    r = b.slowdown / a.slowdown
    if a.probe_ns and b.probe_ns:
        r *= b.probe_ns / a.probe_ns
    return r


def compare_shares(a: CpuShare | None, b: CpuShare | None, threshold: float = BUSY_RATIO) -> Busy | None:
    """:class:`Busy` when the machine made one run's CPU-bound work more than
    ``threshold`` slower than the other's (:func:`machine_ratio`); None when it did not
    (or a side has no readings)."""
    if a is None or b is None:
        return None
    r = machine_ratio(a, b)
    if r - 1.0 > threshold:
        return Busy("B", a, b, r - 1.0, threshold)
    if 1.0 / r - 1.0 > threshold:
        return Busy("A", a, b, r - 1.0, threshold)
    return None
