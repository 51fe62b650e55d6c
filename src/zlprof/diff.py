"""Compare two sessions op by op: did each operation get faster, slower, or neither?

For every operation (full call path) present in either session: the change in median,
p95, p99 and mean duration (statistics from stats.py, as everywhere else), and the
Mann-Whitney U test of significance.py (the one implementation, shared with ``zlprof
bench --compare`` and the live ``--baseline`` columns) on the two sessions' samples of
that op. Many ops are tested at once, so the p-values are adjusted for the false
discovery rate (Benjamini-Hochberg, over every op and token latency of the diff). Like
pyperf's ``compare_to``, a difference is reported only when it is both significant
(adjusted p < ``alpha``, default 0.05) and large enough to matter (the median moved by at
least ``min_effect``, default 5 %); otherwise the op is "not significant". Ops measured in
only one session are listed as such; an op with fewer than ``MIN_SAMPLES`` samples on a
side is "too few samples".

The unit of the test is a block of consecutive samples, not a sample: each side's samples
of an op, in arrival order, are cut into 8-24 blocks (one a sample below 24 samples).
Where both runs' blocks carry their times and two or more ops have blocks, the machine's
**common level** (how slow the other ops ran over the same time, significance.py) is
taken out of every block median first: the U test ranks the machine-adjusted block
medians, the **noise floor** is twice their spread within either run (max / min - 1,
the larger), and a change is reported only when the adjusted change and the median's own
change are both beyond it and at least the minimum effect, the same way. Without block
times (token latencies, fewer than two ops) the raw block medians are tested and the
floor is twice their spread. Each row carries the floor (``floor``, the column
"floor" of the text table) and the adjusted change (``adjusted``, the column "adjusted").

Token latencies (time to first token, time per output token, inter-token latency) are
compared the same way, as rows of kind "latency".

The machine: each recording carries its process's CPU wait, the machine's steal and a
reference loop's speed (profiler/cpu.py); when the machine slowed one run notably more
than the other (starvation.py), the verdicts it explains become "inconclusive" and the
output says why (``DiffResult.busy``, the JSON's ``machine``).

``diff_sessions(a, b)`` is the data function (the app's compare screen uses it);
``diff_main(args)`` is ``zlprof diff A B [--format text|json] [--fail-on RULE]``: with
rules, it exits ``EXIT_REGRESSION`` (3) when an op got significantly slower past a rule's
threshold, printing one line per violation on stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from . import significance as sig
from .session import SessionState
from .significance import (  # noqa: F401 - re-exported: the diff's vocabulary
    ALPHA,
    MIN_EFFECT,
    MIN_SAMPLES,
    TEST_DESCRIPTION,
    TEST_NAME,
    MannWhitney,
    Verdict,
    mann_whitney_u,
)
from .starvation import Busy, CpuShare, compare_shares, session_share
from .stats import OpAccumulator, PerformanceStats

#: the minimum effect, under the name this module used first
MIN_CHANGE = MIN_EFFECT
METRICS = ("median", "p95", "p99", "mean")
_FIELD = {"median": "median_ms", "p95": "p95_ms", "p99": "p99_ms", "mean": "avg_ms"}
LATENCIES = (("ttft", "time to first token"), ("tpot", "time per output token"),
             ("itl", "inter-token latency"))


# --------------------------------------------------------------------------- the diff


@dataclass
class DiffRow:
    """One operation (or token latency) compared across the two sessions."""

    op: str
    #: "op" for an operation (full call path), "latency" for a token latency
    kind: str
    #: slower | faster | not significant | too few samples | only in A | only in B
    verdict: Verdict
    a: PerformanceStats | None
    b: PerformanceStats | None
    #: relative change B/A - 1 of median, p95, p99, mean (None where undefined)
    change: dict[str, float | None] = field(default_factory=dict)
    test: MannWhitney | None = None
    #: what the test ranked: "blocks" (block medians, see significance.py); None without a test
    samples: str | None = None
    depth: int = 0
    #: the test's p-value adjusted for every test of the diff (Benjamini-Hochberg)
    q_value: float | None = None
    #: the op's noise floor (significance.BlockTest.floor): a smaller change is not reported
    floor: float | None = None
    #: block medians tested on each side
    blocks: tuple[int, int] | None = None
    #: the verdict before it was made "inconclusive", and why (significance.BUSY: the busy
    #: machine, starvation.py; significance.COMMON: the op moved only with the others)
    masked: Verdict | None = None
    why: str | None = None
    #: the change of the median block with the machine's common level taken out
    #: (significance.BlockTest.adjusted; None: not adjusted, the floor is then the raw
    #: block medians' spread) and the op's sensitivity to that level
    adjusted: float | None = None
    beta: float | None = None
    #: when adjusted: the test of the block medians as they are, its FDR-adjusted p-value
    #: and their spread (the verdict the op would get without the adjustment)
    raw_test: MannWhitney | None = None
    raw_q: float | None = None
    raw_floor: float | None = None

    @property
    def significant(self) -> bool:
        return Verdict(self.verdict).significant

    @property
    def ratio(self) -> float | None:
        """Median B / median A."""
        c = self.change.get("median")
        return None if c is None else 1.0 + c

    def as_dict(self) -> dict[str, Any]:
        def stats(s: PerformanceStats | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {
                "count": s.count,
                "median_ms": _num(s.median_ms),
                "p95_ms": _num(s.p95_ms),
                "p99_ms": _num(s.p99_ms),
                "mean_ms": _num(s.avg_ms),
                "std_ms": _num(s.std_ms),
                "total_ms": _num(s.total_ms),
                "estimator": s.estimator,
            }

        t = self.test
        return {
            "op": self.op,
            "kind": self.kind,
            "verdict": str(self.verdict),
            "significant": self.significant,
            "ratio": _num(self.ratio),
            "a": stats(self.a),
            "b": stats(self.b),
            "change": {k: _num(v) for k, v in self.change.items()},
            "verdict_before_machine": None if self.masked is None else str(self.masked),
            "inconclusive_because": self.why,
            "test": None
            if t is None
            else {
                "name": TEST_NAME,
                "samples": self.samples,
                "u_a": t.u_a,
                "u_b": t.u_b,
                "z": t.z,
                "method": t.method,
                "p_value": t.p_value,
                "q_value": self.q_value,
                "prob_b_greater": t.prob_b_greater,
                "noise_floor": self.floor,
                "noise_floor_of": None if t is None else ("machine-adjusted block medians"
                                                          if self.adjusted is not None else "block medians"),
                "adjusted_change": _num(self.adjusted),
                "sensitivity": _num(self.beta),
                "blocks_a": self.blocks[0] if self.blocks else None,
                "blocks_b": self.blocks[1] if self.blocks else None,
            },
        }


@dataclass
class DiffResult:
    a_label: str
    b_label: str
    rows: list[DiffRow]
    alpha: float = ALPHA
    min_effect: float = MIN_EFFECT
    test: str = TEST_DESCRIPTION
    a_summary: dict[str, Any] = field(default_factory=dict)
    b_summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: --fail-on rules checked, and what broke them
    rules: list[sig.FailRule] = field(default_factory=list)
    violations: list[sig.Violation] = field(default_factory=list)
    #: each run's CPU availability (None: not recorded) and whether the machine slowed
    #: one notably more than the other (starvation.py; its verdicts are inconclusive)
    a_cpu: CpuShare | None = None
    b_cpu: CpuShare | None = None
    busy: Busy | None = None
    #: with a busy machine: did the ops move with it (their verdicts voidable, mark_busy)?
    busy_ops: bool = False
    #: violations the busy machine made inconclusive (--fail-on: EXIT_INCONCLUSIVE)
    inconclusive: list[sig.Violation] = field(default_factory=list)

    @property
    def min_change(self) -> float:
        return self.min_effect

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[str(r.verdict)] = out.get(str(r.verdict), 0) + 1
        return out

    def shift(self) -> float | None:
        """The median change of the tested ops' medians (significance.overall_shift)."""
        return sig.overall_shift([r.change.get("median") for r in self.rows
                                  if r.kind == "op" and r.test is not None and r.verdict != Verdict.FEW])

    def check(self, rules: list[sig.FailRule]) -> list[sig.Violation]:
        """Check --fail-on rules against the ops (not the token latencies)."""
        self.rules = list(rules)
        self.violations = sig.violations(
            rules, [(r.op, Verdict(r.verdict), r.change) for r in self.rows if r.kind == "op"]
        )
        self.inconclusive = [
            v for why in (sig.BUSY, sig.COMMON) for v in sig.inconclusive_violations(
                rules, [(r.op, r.masked, r.change) for r in self.rows
                        if r.kind == "op" and r.masked is not None and r.why == why], why)
        ]
        return self.violations

    def common_note(self) -> str | None:
        """``3 op(s) moved only as much as every op (...): inconclusive`` or None."""
        n = sum(r.verdict == Verdict.INCONCLUSIVE and r.why == sig.COMMON for r in self.rows)
        if not n:
            return None
        return (f"inconclusive: {n} op(s) moved only as much as the other ops did at the same "
                "time (the machine's common level): the machine, or a change that touches "
                "every op; two runs cannot tell which")

    def exit_status(self) -> int:
        """0; EXIT_REGRESSION when a --fail-on rule is violated; EXIT_INCONCLUSIVE when
        none is but one would be by an op made inconclusive (the busy machine, or an op
        that moved only with every other op)."""
        if self.violations:
            return sig.EXIT_REGRESSION
        return sig.EXIT_INCONCLUSIVE if self.inconclusive else 0

    def machine_note(self) -> str | None:
        """``inconclusive: the machine was busy (...)`` or None."""
        if self.busy is None:
            return None
        n = sum(r.verdict == Verdict.INCONCLUSIVE and r.why == sig.BUSY for r in self.rows)
        which = "slower" if self.busy.side == "B" else "faster"
        if not self.busy_ops:
            shift = self.shift()
            moved = "" if shift is None else f" (the typical op {_pct(shift)})"
            return (f"{self.busy.note()}, but the ops did not move with it{moved}: op verdicts "
                    "stand" + (f"; {n} token latenc{'y' if n == 1 else 'ies'} {which} in B "
                               "inconclusive" if n else ""))
        text = f"inconclusive: {self.busy.note()}, and the typical op moved {_pct(self.shift())}"
        return text + (f"; {n} verdict(s) {which} in B are not reported as such" if n else
                       f"; nothing {which} in B")

    def row(self, op: str) -> DiffRow:
        for r in self.rows:
            if r.op == op:
                return r
        raise KeyError(op)

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": {"label": self.a_label, **_json_summary(self.a_summary)},
            "b": {"label": self.b_label, **_json_summary(self.b_summary)},
            "test": self.test,
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "fdr": "benjamini-hochberg",
            "rule": self.rule(),
            "counts": self.counts(),
            "overall_shift": _num(self.shift()),
            "rows": [r.as_dict() for r in self.rows],
            "warnings": list(self.warnings),
            "fail_on": [r.text for r in self.rules],
            "violations": [v.as_dict() for v in self.violations],
            "inconclusive": [v.as_dict() for v in self.inconclusive],
            "machine": {
                "a": None if self.a_cpu is None else self.a_cpu.as_dict(),
                "b": None if self.b_cpu is None else self.b_cpu.as_dict(),
                "busy": None if self.busy is None else {**self.busy.as_dict(), "ops_moved": self.busy_ops},
                "note": self.machine_note(),
                "common_note": self.common_note(),
            },
            "exit_status": self.exit_status() if self.rules else 0,
        }

    def rule(self) -> str:
        return (
            f"significant when the FDR-adjusted p < {self.alpha:g} (Benjamini-Hochberg over "
            f"all tests) and the median moved by at least {self.min_effect * 100:g}% and by "
            "more than the op's noise floor (twice how far its block medians spread within "
            "either run); where the runs' blocks carry their times, block medians are adjusted for "
            "the machine's common level (how slow the other ops ran at the same time: "
            "\"adjusted\"), the floor is twice the adjusted blocks' spread, and the adjusted change "
            "must pass the same way"
        )

    def to_text(self) -> str:
        return format_text(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def _num(v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return float(v)


def _json_summary(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("argv", "elapsed_s", "measurements", "tokens", "tokens_per_s", "end_status")
    return {k: s.get(k) for k in keys}


def compare_op(
    name: str,
    kind: str,
    acc_a: sig.Samples | None,
    acc_b: sig.Samples | None,
    st_a: PerformanceStats | None,
    st_b: PerformanceStats | None,
    depth: int = 0,
    levels: tuple[Any, Any] | None = None,
) -> DiffRow:
    """One row, tested but without its verdict (:func:`decide_rows` gives it, after the
    p-values of every row are adjusted together). ``levels``: the common level of the
    op's blocks in A and B (significance.machine_levels), None: not adjusted."""
    if acc_a is None or acc_a.count == 0:
        return DiffRow(name, kind, Verdict.ONLY_B, None, st_b, depth=depth)
    if acc_b is None or acc_b.count == 0:
        return DiffRow(name, kind, Verdict.ONLY_A, st_a, None, depth=depth)
    assert st_a is not None and st_b is not None
    change = {m: sig.relative_change(getattr(st_a, _FIELD[m]), getattr(st_b, _FIELD[m]))
              for m in METRICS}
    bt = sig.compare_accumulators(acc_a, acc_b, levels)
    if bt is None:  # samples known only from a summary: nothing to rank
        return DiffRow(name, kind, Verdict.FEW, st_a, st_b, change, depth=depth)
    few = min(acc_a.count, acc_b.count, bt.blocks_a, bt.blocks_b) < MIN_SAMPLES
    return DiffRow(name, kind, Verdict.FEW if few else Verdict.SAME, st_a, st_b, change, bt.test,
                   sig.UNIT, depth, floor=bt.floor, blocks=(bt.blocks_a, bt.blocks_b),
                   adjusted=bt.adjusted, beta=bt.beta, raw_test=bt.raw_test, raw_floor=bt.raw_floor)


def decide_rows(rows: list[DiffRow], alpha: float = ALPHA, min_effect: float = MIN_EFFECT) -> None:
    """Adjust the p-values of the tested rows together (Benjamini-Hochberg) and give each
    its verdict (significance.decide).

    A row tested on machine-adjusted blocks gets the adjusted verdict when that is slower
    or faster. When it is not, but the block medians as they are (their own BH-adjusted
    p-values and floor: the rule without the adjustment) would have called the op
    slower or faster, the op moved, but only as much as the common level says the
    other ops did: the machine, or a change that touches every op, which two runs
    cannot tell apart. Such a verdict is INCONCLUSIVE (``why`` significance.COMMON, the
    verdict before in ``masked``): ``--fail-on`` exits EXIT_INCONCLUSIVE, not 0."""
    tested = [r for r in rows if r.test is not None and r.verdict != Verdict.FEW]
    qs = sig.benjamini_hochberg([r.test.p_value if r.test is not None else None for r in tested])
    raw = sig.benjamini_hochberg([(r.raw_test or r.test).p_value if r.test is not None else None
                                  for r in tested])
    for r, q, q_raw in zip(tested, qs, raw, strict=True):
        r.q_value = q
        r.verdict = sig.decide(q, r.change.get("median"), alpha=alpha, min_effect=min_effect,
                               floor=r.floor or 0.0, adjusted=r.adjusted)
        if r.adjusted is None or r.verdict.significant:
            continue
        r.raw_q = q_raw
        before = sig.decide(q_raw, r.change.get("median"), alpha=alpha, min_effect=min_effect,
                            floor=r.raw_floor or 0.0)
        if before.significant:
            r.masked, r.why, r.verdict = before, sig.COMMON, Verdict.INCONCLUSIVE


#: the busy machine voids op verdicts only when the ops moved with it (see mark_busy)
REQUIRE_SHIFT = True


def ops_moved(rows: list[DiffRow], busy: Busy, min_effect: float = MIN_EFFECT) -> bool:
    """Did the ops move as a whole the way the busy machine pushes them: the typical
    op's median change (significance.overall_shift) at least ``min_effect`` towards
    the run the machine slowed?"""
    shift = sig.overall_shift([r.change.get("median") for r in rows
                               if r.kind == "op" and r.test is not None and r.verdict != Verdict.FEW])
    if shift is None:
        return False
    return shift >= min_effect if busy.side == "B" else shift <= -min_effect / (1 + min_effect)


def mark_busy(rows: list[DiffRow], busy: Busy | None, min_effect: float = MIN_EFFECT,
              require_shift: bool | None = None) -> bool:
    """Verdicts the busy machine explains (B slower when the machine slowed B more, B
    faster when it slowed A more) become INCONCLUSIVE; the verdict before is kept in
    ``masked``. Verdicts against the machine's bias stand.

    Which verdicts the machine explains: token latencies (their times include the waits
    between ops) always; ops when the ops moved as a whole with the machine
    (:func:`ops_moved`). When the readings say the machine slowed a run but the typical
    op did not move, the machine did not reach the ops' medians (short ops are rarely
    preempted; see starvation.py), and an op that moved alone moved by itself.
    ``require_shift=False`` voids op verdicts on the readings alone. Returns whether op
    verdicts were voidable (False without a busy machine)."""
    if busy is None:
        return False
    if require_shift is None:
        require_shift = REQUIRE_SHIFT
    moved = not require_shift or ops_moved(rows, busy, min_effect)
    for r in rows:
        if r.kind == "op" and not moved:
            continue
        if r.verdict in (Verdict.SLOWER, Verdict.FASTER) and busy.voids(r.verdict == Verdict.SLOWER):
            r.masked = Verdict(r.verdict)
            r.verdict = Verdict.INCONCLUSIVE
            r.why = sig.BUSY
    return moved


def diff_sessions(
    a: SessionState,
    b: SessionState,
    *,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    a_label: str = "A",
    b_label: str = "B",
) -> DiffResult:
    """Compare every op (by full call path) and token latency of session ``b`` to ``a``."""
    with a.lock, b.lock:
        accs_a = {a.name_of(pid): acc for pid, acc in a.ops.items() if acc.count}
        accs_b = {b.name_of(pid): acc for pid, acc in b.ops.items() if acc.count}
        order = [r.full for r in a.op_rows() if r.full in accs_a]
        order += [r.full for r in b.op_rows() if r.full in accs_b and r.full not in accs_a]
        depth = {r.full: r.depth for r in [*a.op_rows(), *b.op_rows()]}
        levels = sig.machine_levels(accs_a, accs_b)
        rows: list[DiffRow] = []
        for name in order:
            acc_a, acc_b = accs_a.get(name), accs_b.get(name)
            st_a = acc_a.stats(name, a.wall_ns) if acc_a is not None else None
            st_b = acc_b.stats(name, b.wall_ns) if acc_b is not None else None
            rows.append(
                compare_op(name, "op", acc_a, acc_b, st_a, st_b, depth.get(name, 0),
                           levels.get(name))
            )
        for key, _title in LATENCIES:
            la: OpAccumulator = getattr(a, key)
            lb: OpAccumulator = getattr(b, key)
            if la.count == 0 and lb.count == 0:
                continue
            rows.append(
                compare_op(key, "latency", la, lb, la.stats(key), lb.stats(key))
            )
        sa, sb = a.summary(), b.summary()
        cpu_a, cpu_b = session_share(a), session_share(b)
    decide_rows(rows, alpha, min_effect)
    busy = compare_shares(cpu_a, cpu_b)
    moved = mark_busy(rows, busy, min_effect)
    return DiffResult(
        a_label, b_label, rows, alpha, min_effect, a_summary=sa, b_summary=sb,
        warnings=[f"{a_label}: {w}" for w in sa.get("warnings", [])]
        + [f"{b_label}: {w}" for w in sb.get("warnings", [])],
        a_cpu=cpu_a, b_cpu=cpu_b, busy=busy, busy_ops=moved,
    )


# --------------------------------------------------------------------------- output


def _pct(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 100:+.1f}%"


def _ms(v: float | None) -> str:
    from . import fmt

    return fmt.ms(v) if v is not None else "-"


def _p(t: MannWhitney | None) -> str:
    if t is None:
        return "-"
    return f"{t.p_value:.3f}" if t.p_value >= 0.001 else "<0.001"


def _q(r: DiffRow) -> str:
    """The FDR-adjusted p-value of a row (the raw p-value where there is none)."""
    if r.q_value is None:
        return _p(r.test)
    return f"{r.q_value:.3f}" if r.q_value >= 0.001 else "<0.001"


def _verdict(r: DiffRow) -> str:
    if r.significant and r.ratio is not None:
        ratio = r.ratio if r.verdict == "slower" else 1.0 / r.ratio
        return f"{ratio:.2f}x {r.verdict}"
    return r.verdict


def _describe(label: str, s: dict[str, Any]) -> str:
    """``  A: path  [program]  1.0s, 240 measurements, 25.0 tok/s end-to-end`` (one line;
    the app's compare screen shows it too)."""
    from . import fmt
    from .sessions import program_name

    argv = program_name(s.get("argv") or []) if s.get("argv") else ""
    tps = s.get("end_to_end_tokens_per_s", s.get("tokens_per_s")) or 0.0
    bits = [fmt.duration_s(s.get("elapsed_s") or 0.0), f"{s.get('measurements', 0):,} measurements"]
    if s.get("tokens"):
        bits.append(f"{tps:.1f} tok/s end-to-end")
    return f"  {label}" + (f"  [{argv}]" if argv else "") + "  " + ", ".join(bits)


def _describe_lines(label: str, s: dict[str, Any], width: int | None) -> list[str]:
    """:func:`_describe` wrapped to ``width``; a long path abbreviated from the left."""
    from .textwidth import cut, wrap

    if width is not None:
        label = cut(label, max(24, width - 40), "start")
    return wrap(_describe(label, s), width, "  ", "      ")


def _throughput_lines(res: DiffResult, width: int | None) -> list[str]:
    """Each rate both sessions have, A -> B, labelled with what it divides."""
    from .rates import DEFINITIONS
    from .textwidth import wrap

    out = []
    for key in ("decode_tokens_per_s", "end_to_end_tokens_per_s"):
        name, divides = DEFINITIONS[key]
        ta, tb = res.a_summary.get(key), res.b_summary.get(key)
        if key == "end_to_end_tokens_per_s":
            ta = ta if ta is not None else res.a_summary.get("tokens_per_s")
            tb = tb if tb is not None else res.b_summary.get("tokens_per_s")
        if ta and tb:
            out += wrap(
                f"{name} tok/s ({divides}): {ta:.1f} -> {tb:.1f} ({_pct(tb / ta - 1)})",
                width, "", "  ",
            )
    return out


#: the text table's columns; at a narrow terminal they go in ``drop`` order (p99 first),
#: the operation name is abbreviated first and the median change and verdict always stay
def _columns() -> list[Any]:
    from .textwidth import Column

    return [
        Column("operation", align="left", cut="end", min_width=20),
        Column("n A", drop=2),
        Column("n B", drop=3),
        Column("median A", drop=6),
        Column("median B", drop=7),
        Column("median"),
        Column("p95", drop=4),
        Column("p99", drop=1),
        Column("mean", drop=5),
        Column("q-value", drop=8),
        Column("adjusted", drop=9),
        Column("floor", drop=10),
        Column("verdict", align="left"),
    ]


def format_text(res: DiffResult, width: int | None = None) -> str:
    """An aligned table: one row per op, token latencies last.

    ``width``: a terminal's columns, which the table fits (names abbreviated and indented
    by call depth, then columns left out in a stated order); None (piped): ops by their
    full path, one row a line, nothing cut.
    """
    from .textwidth import render_table, wrap

    out = ["zlprof diff: B compared to A"]
    out += _describe_lines(f"A: {res.a_label}", res.a_summary, width)
    out += _describe_lines(f"B: {res.b_label}", res.b_summary, width)
    out += wrap(f"test: {res.test}; {res.rule()}; changes are B/A - 1", width, "", "      ")
    out.append("")
    body: list[list[str]] = []
    for r in res.rows:
        if r.kind != "op":
            name = f"[{r.op}]"
        elif width is None:
            name = r.op
        else:
            name = "  " * r.depth + r.op.rsplit("/", 1)[-1]
        p = _q(r)
        body.append([
            name,
            f"{r.a.count:,}" if r.a else "-",
            f"{r.b.count:,}" if r.b else "-",
            _ms(r.a.median_ms) if r.a else "-",
            _ms(r.b.median_ms) if r.b else "-",
            *(_pct(r.change.get(m)) for m in METRICS),
            p,
            _pct(r.adjusted),
            "-" if r.floor is None else f"{r.floor * 100:.1f}%",
            _verdict(r),
        ])
    if not body:
        out.append("no measurements in either session")
        return "\n".join(out) + "\n"
    table = render_table(_columns(), body, width)
    out.extend(table.lines)
    out.append("")
    out += wrap("durations in ms; [ttft] [tpot] [itl] are token latencies", width)
    note = table.note(width)
    if note:
        out += wrap(note, width)
    counts = res.counts()
    out += wrap(
        "summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda x: -x[1])),
        width,
    )
    out += _throughput_lines(res, width)
    note = res.machine_note()
    if note is not None:
        out += wrap(note, width)
    elif res.a_cpu is None or res.b_cpu is None:
        out += wrap("machine: CPU wait not recorded in "
                    + ("A and B" if res.a_cpu is None and res.b_cpu is None
                       else "A" if res.a_cpu is None else "B")
                    + " (made before zlprof recorded it): a busy machine cannot be told "
                    "from a change", width)
    else:
        out += wrap(f"machine: A {res.a_cpu.describe()}, B {res.b_cpu.describe()}; "
                    "comparable", width)
    note = res.common_note()
    if note is not None:
        out += wrap(note, width)
    shift = res.shift()
    if shift is not None and abs(shift) >= res.min_effect and not (res.busy and res.busy_ops):
        out += wrap(f"overall: the typical op moved {_pct(shift)}: the whole run was "
                    f"{'slower' if shift > 0 else 'faster'} (machine load or CPU frequency "
                    "between runs, or a change that touches everything)", width)
    if res.rules:
        line = f"--fail-on: {len(res.violations)} violation(s) of " + ", ".join(r.text for r in res.rules)
        if res.inconclusive and not res.violations:
            whys = sorted({v.why for v in res.inconclusive})
            line += (f"; {len(res.inconclusive)} inconclusive ({'; '.join(whys)}): exit "
                     f"{sig.EXIT_INCONCLUSIVE}, re-run on a quieter machine")
        out += wrap(line, width)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- command


def parse_rules(texts: list[str] | None) -> list[sig.FailRule]:
    """The --fail-on rules of a command line; FailRuleError (one line) for a bad one."""
    return [sig.parse_fail_on(t) for t in texts or []]


def diff_main(args: argparse.Namespace) -> int:
    """``zlprof diff A B [--format text|json] [--fail-on RULE ...]``.

    Exit status: 0, or ``EXIT_REGRESSION`` (3) when a --fail-on rule is violated (one
    line per violation on stderr), or ``EXIT_INCONCLUSIVE`` (4) when none is but one
    would be by an op made inconclusive: its slowdown the busy machine explains
    (starvation.py) or it moved only as much as every op did (one ``INCONCLUSIVE`` line
    each on stderr, and the machine's figures when it was busy); 2 for a bad rule or
    format. A bad file raises RecordingError (the command line prints it as one line).
    """
    from .recording import load_session

    fmt_name = getattr(args, "format", "text") or "text"
    if fmt_name not in ("text", "json"):
        print(f"zlprof: error: unknown format {fmt_name!r}", file=sys.stderr)
        return 2
    try:
        rules = parse_rules(getattr(args, "fail_on", None))
    except sig.FailRuleError as e:
        print(f"zlprof: error: {e}", file=sys.stderr)
        return 2
    a = load_session(args.a)
    b = load_session(args.b)
    res = diff_sessions(a, b, a_label=str(args.a), b_label=str(args.b))
    for w in res.warnings:
        print(f"zlprof: warning: {w}", file=sys.stderr)
    missing = sig.unmatched_rules(rules, [r.op for r in res.rows if r.kind == "op"])
    if missing:
        print(f"zlprof: error: --fail-on {missing[0].text!r}: no op {missing[0].op!r} in "
              "either session", file=sys.stderr)
        return 2
    res.check(rules)
    if fmt_name == "json":
        sys.stdout.write(res.to_json())
    else:
        from .textwidth import terminal_width

        sys.stdout.write(format_text(res, terminal_width()))
    sys.stdout.flush()
    for v in res.violations:
        print(f"zlprof: {v.line()}", file=sys.stderr)
    if rules and not res.violations:
        for v in res.inconclusive:
            print(f"zlprof: {v.line()}", file=sys.stderr)
        if res.inconclusive and res.busy is not None:
            print(f"zlprof: {res.machine_note()}", file=sys.stderr)
        if any(v.why == sig.COMMON for v in res.inconclusive):
            print(f"zlprof: {res.common_note()}", file=sys.stderr)
    return res.exit_status() if rules else 0
