"""The live comparison against a baseline recording (``--baseline OLD.zlp``).

:class:`BaselineComparator` holds a finished session (the baseline) and compares a
running SessionState with it, op by op, as samples arrive: the same rows, test,
false-discovery control and verdicts as ``zlprof diff`` (diff.compare_op / decide_rows,
significance.py), with the baseline as A and the current session as B. The app's
refresher thread calls :meth:`BaselineComparator.compare` off the UI thread (at most
every ``every_s`` seconds) and puts the result, a
:class:`BaselineView`, into the snapshot; widgets only render it.

Under the state's lock each op's statistics, block medians and block times
(blocks.BlockMedians, kept by the accumulator as samples arrive: at most 24 of each an
op) are copied; the machine's common level of every block (significance.machine_levels,
from both sessions' blocks so far) and the tests, on at most 24 block medians a side,
run after the lock is released. The cost of a refresh grows with the number of ops
(the common level: with the square of it up to blocks.LEAVE_ONE_OUT ops), not with the
number of samples.

The machine: both sessions' CPU readings (starvation.py) are compared at every
refresh; when the machine slowed one run notably more, the verdicts it explains become
INCONCLUSIVE and the summary line says why (``BaselineView.busy``).

``drill_overlay`` gives the drill-down both histograms on shared log-spaced buckets.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import significance as sig
from .diff import DiffRow, compare_op, decide_rows, mark_busy
from .session import SessionState
from .significance import Verdict
from .starvation import Busy, compare_shares, session_share
from .stats import OpAccumulator, PerformanceStats


class _Blocks:
    def __init__(self, values: np.ndarray, spans: np.ndarray | None) -> None:
        self._v = values
        self._s = spans

    def values(self) -> np.ndarray:
        return self._v

    def spans(self) -> np.ndarray | None:
        return self._s


class _Frozen:
    """What the test reads of an OpAccumulator, captured at one moment: its count, block
    medians and block times (at most blocks.MAX_BLOCKS of each, so the copy under the
    lock is cheap)."""

    def __init__(self, acc: OpAccumulator) -> None:
        self.count = acc.count
        self.blocks = _Blocks(acc.blocks.values(), acc.blocks.spans())


@dataclass(frozen=True)
class OpComparison:
    """One op of the current session against the baseline."""

    full: str
    verdict: Verdict
    #: relative change (current / baseline - 1) of median, p95, p99, mean
    change: dict[str, float | None]
    q_value: float | None = None
    n_base: int = 0
    n_current: int = 0
    #: the op's noise floor (significance.BlockTest.floor)
    floor: float | None = None
    #: the change with the machine's common level taken out (BlockTest.adjusted; None:
    #: not adjusted)
    adjusted: float | None = None
    #: an INCONCLUSIVE verdict's reason (significance.BUSY or COMMON), else None
    why: str | None = None


@dataclass
class BaselineView:
    """The comparison the screens show (built off the UI thread)."""

    label: str
    ops: dict[str, OpComparison] = field(default_factory=dict)
    #: ops measured only in the baseline / only in the current session (full paths)
    only_baseline: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    #: the op the summary quotes (the top-level op with the most time), and its p50 change
    main_op: str | None = None
    version: int = -1
    #: the typical op's change of median (significance.overall_shift)
    shift: float | None = None
    #: the machine slowed one run notably more than the other (starvation.py): the
    #: verdicts it explains are INCONCLUSIVE; None when it did not or is unknown
    busy: Busy | None = None
    #: both runs carry CPU readings (False: an old baseline, or no /proc schedstat)
    cpu_known: bool = False

    def counts(self) -> dict[Verdict, int]:
        out: dict[Verdict, int] = {}
        for c in self.ops.values():
            out[c.verdict] = out.get(c.verdict, 0) + 1
        return out

    def summary(self) -> str:
        """``vs OLD.zlp: 3 ops slower, 1 faster, 41 unchanged; forward_pass p50 -4.1 %``."""
        n = self.counts()
        same = n.get(Verdict.SAME, 0) + n.get(Verdict.FEW, 0)
        bits = [f"{_ops(n.get(Verdict.SLOWER, 0))} slower", f"{n.get(Verdict.FASTER, 0)} faster",
                f"{same} unchanged"]
        if n.get(Verdict.INCONCLUSIVE):
            bits.append(f"{n[Verdict.INCONCLUSIVE]} inconclusive")
        text = f"vs {self.label}: "
        if self.busy is not None:  # first: the line is cut at the terminal's width
            text += f"{self.machine_text()}; "
        text += ", ".join(bits)
        extra = []
        if self.only_current:
            extra.append(f"{len(self.only_current)} new")
        if self.only_baseline:
            names = ", ".join(self.only_baseline[:3]) + (" …" if len(self.only_baseline) > 3 else "")
            extra.append(f"{len(self.only_baseline)} only in baseline ({names})")
        if extra:
            text += " (" + "; ".join(extra) + ")"
        main = self.ops.get(self.main_op or "")
        p50 = main.change.get("median") if main is not None else None
        if main is not None and p50 is not None:
            text += f"; {main.full} p50 {p50 * 100:+.1f} %"
        if self.busy is None and self.shift is not None and abs(self.shift) >= sig.MIN_EFFECT:
            text += f"; every op {self.shift * 100:+.0f} % (whole run: machine load?)"
        return text

    def machine_text(self) -> str | None:
        """The busy-machine note alone (None when the machine was comparable)."""
        return None if self.busy is None else "inconclusive: " + self.busy.note("the baseline", "this run")


def _ops(n: int) -> str:
    return f"{n} op" if n == 1 else f"{n} ops"


@dataclass
class DrillOverlay:
    """Both histograms of one op on the same buckets (for the drill-down)."""

    edges_ms: np.ndarray
    counts: np.ndarray
    baseline_counts: np.ndarray
    baseline: PerformanceStats | None
    comparison: OpComparison | None


class BaselineComparator:
    """Compares a live SessionState with a baseline session (see the module doc)."""

    def __init__(
        self,
        baseline: SessionState,
        label: str,
        *,
        every_s: float = 1.0,
        alpha: float = sig.ALPHA,
        min_effect: float = sig.MIN_EFFECT,
    ) -> None:
        self.baseline = baseline
        self.label = label
        self.every_s = every_s
        self.alpha = alpha
        self.min_effect = min_effect
        with baseline.lock:
            self._accs = {baseline.name_of(p): a for p, a in baseline.ops.items() if a.count}
            self._frozen = {n: _Frozen(a) for n, a in self._accs.items()}
            self._stats = {n: a.stats(n, baseline.wall_ns) for n, a in self._accs.items()}
            self._order = [r.full for r in baseline.op_rows() if r.full in self._accs]
        self.cpu = session_share(baseline)
        self._last: BaselineView | None = None
        self._at = -math.inf
        self._key: tuple[int, int] = (-1, -1)

    @classmethod
    def load(cls, path: str | Path, **kw: float) -> BaselineComparator:
        """The comparator of a recording; RecordingError (one line) for a bad file."""
        from .recording import load_session

        return cls(load_session(path), Path(path).name, **kw)

    def compare(self, state: SessionState, force: bool = False) -> BaselineView:
        """The comparison of ``state`` now, or the last one if it is younger than
        ``every_s`` (and ``force`` is not set) or the state has not changed."""
        key = (id(state), state.version)
        now = time.monotonic()
        if self._last is not None and (key == self._key or (not force and now - self._at < self.every_s)):
            return self._last
        self._key, self._at = key, now
        self._last = self.compare_now(state)
        return self._last

    def stale(self, state: SessionState) -> bool:
        """Has ``state`` changed since the last comparison, and is a new one due?"""
        return (id(state), state.version) != self._key and time.monotonic() - self._at >= self.every_s

    def compare_now(self, state: SessionState) -> BaselineView:
        with state.lock:
            version = state.version
            cur: dict[str, tuple[_Frozen, PerformanceStats]] = {}
            for pid, acc in state.ops.items():
                if acc.count:
                    name = state.name_of(pid)
                    cur[name] = (_Frozen(acc), acc.stats(name, state.wall_ns))
            top = [r for r in state.op_rows() if r.depth == 0 and r.full in cur]
            cpu = session_share(state)
        levels = sig.machine_levels(dict(self._frozen), {n: fz for n, (fz, _st) in cur.items()})
        rows: list[DiffRow] = []
        for name, (fz, st) in cur.items():
            base = self._frozen.get(name)
            rows.append(compare_op(name, "op", base, fz, self._stats.get(name), st,
                                   levels=levels.get(name)))
        decide_rows(rows, self.alpha, self.min_effect)
        busy = compare_shares(self.cpu, cpu)
        if not mark_busy(rows, busy, self.min_effect):
            busy = None  # the ops did not move with the machine: their verdicts stand
        view = BaselineView(self.label, version=version, busy=busy,
                            cpu_known=self.cpu is not None and cpu is not None)
        for r in rows:
            view.ops[r.op] = OpComparison(
                r.op, Verdict(r.verdict), dict(r.change), r.q_value,
                r.a.count if r.a else 0, r.b.count if r.b else 0, r.floor, r.adjusted,
                r.why,
            )
        view.shift = sig.overall_shift([r.change.get("median") for r in rows
                                        if r.test is not None and r.verdict != Verdict.FEW])
        view.only_current = [r.op for r in rows if r.verdict == Verdict.ONLY_B]
        view.only_baseline = [n for n in self._order if n not in cur]
        both = [r for r in top if r.full in self._frozen]
        if both:
            view.main_op = max(both, key=lambda r: r.stats.total_ms).full
        return view

    def drill_overlay(self, state: SessionState, full: str, bins: int) -> DrillOverlay | None:
        """Histograms of op ``full`` in both sessions on shared log buckets (None when the
        baseline has no such op)."""
        from .tui.model import log_edges

        base = self._accs.get(full)
        if base is None:
            return None
        with state.lock:
            pid = state.path_id(full)
            acc = state.ops.get(pid) if pid is not None else None
            lo, hi = base.moments.lo, base.moments.hi
            if acc is not None and acc.count:
                lo, hi = min(lo, acc.moments.lo), max(hi, acc.moments.hi)
            edges = log_edges(lo, hi, bins)
            counts = acc.histogram_counts(edges) if acc is not None and acc.count else np.zeros(len(edges) - 1, np.int64)
        base_counts = base.histogram_counts(edges)
        last = self._last.ops.get(full) if self._last is not None else None
        return DrillOverlay(edges / 1e6, np.asarray(counts, np.int64), np.asarray(base_counts, np.int64),
                            self._stats.get(full), last)
