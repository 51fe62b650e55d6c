"""Is B different from A? The one significance test of zlprof (diff, bench, live baseline).

* :func:`mann_whitney_u`: the two-sided Mann-Whitney U test. Exact null distribution when
  there are no ties and both samples have at most ``EXACT_MAX`` values; otherwise the
  normal approximation with tie correction (variance ``n_a n_b / 12 * ((n + 1) - sum(t^3 -
  t) / (n (n - 1)))`` over tie groups of size t) and continuity correction (``|U - n_a n_b
  / 2| - 1/2``). No SciPy. Values may carry weights (multiplicities).
* :func:`benjamini_hochberg`: many ops are tested at once, so p-values are adjusted to
  control the false discovery rate (Benjamini-Hochberg step-up; the adjusted value of the
  i-th smallest of m p-values is ``min over j >= i of p_(j) * m / j``).
* :func:`decide`: the verdict. A change is reported only when it is both statistically
  significant (BH-adjusted p < ``alpha``) and larger than the minimum effect: ``min_effect``
  (5 %) or the op's noise floor, whichever is larger. Each test also reports an effect
  size, the probability of superiority P(B > A) + P(B = A) / 2 (0.5: no shift).
* :class:`FailRule` / :func:`parse_fail_on`: the CI gate ``--fail-on "[OP:]STAT>+N%"``.

The unit of replication (:func:`compare_accumulators`). Durations of one run are a time
series, not independent draws: neighbouring samples are correlated and the whole level
drifts within a run and between runs (CPU frequency, other load, memory layout). Ranking
every sample made a shift of a few percent between two runs of identical code
"significant" with thousands of samples (on a shared VM: 20 of 20 identical pairs had
false positives). So an op is tested on its **block medians**: each side's samples, in
arrival order, cut into 8 to 24 consecutive blocks (one a sample below 24 samples;
``blocks.BlockMedians``, kept as samples arrive, each block with its time span), the U
test run on the blocks' medians, so within-run drift is the noise the test sees.

The machine (:func:`machine_levels`, :func:`compare_blocks`). On a shared virtual CPU the
speed of the machine changes every few seconds by up to 2x, for every op at once; an
op's block medians then spread 10-80 % within a run, and whole runs of identical code
differ by as much. That part is common to the ops of a run: each block of an op gets the
**common level** of the other ops over the same time span (their block medians less
each op's median over both runs, the median over the ops: blocks.common_levels, the same
reference on both sides, so it carries how the runs differ as a whole too), and the op's
**sensitivity** to it (the slope of its block medians on their levels within each run,
shrunk towards 1: blocks.sensitivity; a 30 us matmul moves half as much as a 5 us
softmax). The test ranks block median - sensitivity x level ("machine-adjusted"), the
change is the adjusted blocks' median change, and the **noise floor** is twice the
adjusted blocks' spread (max / min - 1) in either run, the larger (``FLOOR_SPREADS``):
two runs still differ beyond the machine's common level (memory layout and the like),
which one run a side cannot estimate; the floor assumes each run's level may sit
anywhere its adjusted blocks reached within the run, so that two runs of identical code
differ by up to twice that. (Measured over 96 pairs of identical runs, 9,000 op tests:
the largest such change was 1.6 times one spread; a 10 % slowdown of one op in 30 s
runs, 2.9 to 10 times: README.) :func:`decide` reports a change only when the adjusted
change and the median's own change both exceed the floor and ``min_effect``, the same
way. Without block times or with fewer than two ops with blocks on both sides (token
latencies, recordings folded without times), the raw block medians are tested and the
floor is twice their spread.

The caveats. (1) An op that moved only as much as the other ops did cannot be told
from the machine: a change that slows every op alike is taken out with it (diff.py then
calls the ops the rule without the adjustment would report INCONCLUSIVE, ``COMMON``, and
``--fail-on`` exits EXIT_INCONCLUSIVE). An op the machine moves less than the typical op
(sensitivity below 1) shows such a change partly as its own. (2) The controls are the
other ops of the same program: with two or three ops, a change of one leaks into the
others' level (the median of few), and the rule that the raw median must move the same
way keeps that from being reported. (3) A real change smaller than twice the adjusted
blocks' spread within a run is not reported.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np

from .blocks import common_levels, median, sensitivity
from .blocks import spread as block_spread
from .stats import group_by


class BlockValues(Protocol):
    def values(self) -> np.ndarray: ...

    def spans(self) -> np.ndarray | None: ...


class Samples(Protocol):
    """What the test reads of an op's samples (``stats.OpAccumulator`` or a frozen copy)."""

    @property
    def count(self) -> int: ...

    @property
    def blocks(self) -> BlockValues: ...


ALPHA = 0.05
#: A change smaller than this (relative change of the median) is never reported.
MIN_EFFECT = 0.05
#: A change must exceed this many times the larger spread of the two runs' block medians
#: (max / min - 1; the noise floor, module doc): each run's level may sit anywhere its
#: blocks reached, so two runs of identical code may differ by up to twice that.
FLOOR_SPREADS = 2.0
#: Fewer samples than this on a side: no verdict.
MIN_SAMPLES = 5
#: Largest sample size (each side) for the exact null distribution.
EXACT_MAX = 50
TEST_NAME = "Mann-Whitney U"
TEST_DESCRIPTION = (
    "Mann-Whitney U, two-sided, on block medians (each side's samples in arrival order cut "
    "into 8-24 consecutive blocks, one a sample below 24; exact without ties, else normal "
    "approximation with tie and continuity correction); p-values adjusted for the number "
    "of tests (Benjamini-Hochberg false discovery rate)"
)
#: what the samples of a test are (DiffRow.samples, the JSON's test.samples)
UNIT = "blocks"


class Verdict(StrEnum):
    """What a comparison of one op (or metric) found."""

    SLOWER = "slower"
    FASTER = "faster"
    SAME = "not significant"
    FEW = "too few samples"
    ONLY_A = "only in A"
    ONLY_B = "only in B"
    #: slower or faster, but in the direction the busy machine explains (starvation.py)
    INCONCLUSIVE = "inconclusive"

    @property
    def significant(self) -> bool:
        return self in (Verdict.SLOWER, Verdict.FASTER)


# --------------------------------------------------------------------------- the U test


@dataclass(frozen=True)
class MannWhitney:
    """Result of a two-sided Mann-Whitney U test of B against A."""

    n_a: int
    n_b: int
    #: U of A: pairs (a, b) with a > b, ties counting one half
    u_a: float
    #: U of B: pairs with b > a, ties one half (u_a + u_b = n_a * n_b)
    u_b: float
    #: standard score of u_b (positive: B's values tend to be larger); 0 for the exact test
    z: float
    p_value: float
    #: "exact" (null distribution enumerated) or "normal" (approximation)
    method: str = "normal"

    @property
    def prob_b_greater(self) -> float:
        """Effect size: P(B > A) + P(B = A) / 2; 0.5 means no shift, 1.0 every B above every A."""
        return self.u_b / (self.n_a * self.n_b)


def mann_whitney_u(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    weights_a: np.ndarray | None = None,
    weights_b: np.ndarray | None = None,
    normal: bool = False,
) -> MannWhitney:
    """Two-sided Mann-Whitney U test of ``b`` against ``a`` (see the module doc).

    ``weights_*`` give each value a multiplicity (histogram buckets); by default every
    value counts once. Ties get the average of the ranks they span. The exact null
    distribution is used without ties or weights up to ``EXACT_MAX`` values a side,
    unless ``normal`` asks for the approximation. ``z`` is the normal approximation's standard score either
    way. ValueError if a side is empty.
    """
    x = np.asarray(a)
    y = np.asarray(b)
    weighted = weights_a is not None or weights_b is not None
    wa = np.ones(len(x), np.float64) if weights_a is None else np.asarray(weights_a, np.float64)
    wb = np.ones(len(y), np.float64) if weights_b is None else np.asarray(weights_b, np.float64)
    n1 = float(wa.sum())
    n2 = float(wb.sum())
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples must be non-empty")
    values = np.concatenate([x, y])
    weights = np.concatenate([wa, wb])
    # a stable sort: two already sorted runs (accumulator samples) merge in linear time
    tied = group_by(values)
    counts = tied.reduce(weights)  # weight of each distinct value
    before = np.cumsum(counts) - counts
    avg_rank = np.repeat(before + (counts + 1.0) / 2.0, tied.counts)  # per sorted sample
    from_a = tied.order < len(x)
    r1 = float(np.dot(avg_rank[from_a], weights[tied.order][from_a]))
    u1 = r1 - n1 * (n1 + 1.0) / 2.0
    u2 = n1 * n2 - u1
    na, nb = int(round(n1)), int(round(n2))
    n = n1 + n2
    ties = float(np.sum(counts**3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) if n > 1 else 0.0
    if var <= 0:
        z, p = 0.0, 1.0  # every value tied: no evidence of a shift
    else:
        d = u2 - n1 * n2 / 2.0
        z = math.copysign(max(abs(d) - 0.5, 0.0), d) / math.sqrt(var)
        p = min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))
    if not normal and not weighted and len(counts) == len(values) and max(na, nb) <= EXACT_MAX:
        dist = _u_distribution(na, nb)
        total = sum(dist)
        k = int(round(u1))
        lo = sum(dist[: k + 1]) / total
        hi = sum(dist[k:]) / total
        return MannWhitney(na, nb, u1, u2, z, min(1.0, 2.0 * min(lo, hi)), "exact")
    return MannWhitney(na, nb, u1, u2, z, p, "normal")


@functools.lru_cache(maxsize=1024)
def _u_distribution(n1: int, n2: int) -> tuple[int, ...]:
    """Counts of orderings giving U = 0..n1*n2 (Gaussian binomial coefficients)."""
    size = n1 * n2 + 1
    c = [0] * size
    c[0] = 1
    for i in range(1, n1 + 1):
        m = n2 + i  # multiply by (1 - q^m)
        for k in range(size - 1, m - 1, -1):
            c[k] -= c[k - m]
        for k in range(i, size):  # divide by (1 - q^i)
            c[k] += c[k - i]
    return tuple(c)


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value the U test can give for these sample sizes."""
    if n1 == 0 or n2 == 0:
        return 1.0
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class BlockTest:
    """The U test of one op on its block medians, and its noise floor."""

    test: MannWhitney
    #: the larger spread of the two sides' (machine-adjusted, when ``adjusted`` is set)
    #: block medians (max / min - 1): a change must exceed it to be reported (module doc)
    floor: float
    blocks_a: int
    blocks_b: int
    #: the change of the median block once the machine's common level is taken out
    #: (exp(median of B's adjusted blocks - median of A's) - 1); None: not adjusted (a
    #: recording without block times, fewer than two ops with blocks, ...)
    adjusted: float | None = None
    #: the op's sensitivity to the common level (blocks.sensitivity); None: not adjusted
    beta: float | None = None
    #: when adjusted: the test of the block medians as they are and their spread (what
    #: decides an op without the adjustment; see diff.decide_rows)
    raw_test: MannWhitney | None = None
    raw_floor: float | None = None


def compare_blocks(a: np.ndarray, b: np.ndarray, levels: tuple[np.ndarray, np.ndarray] | None = None) -> BlockTest:
    """The U test of block medians ``b`` against ``a`` (log values, blocks.BlockMedians) and
    the noise floor of the two; ValueError if a side is empty.

    ``levels``: the common level of each block of A and of B (blocks.common_levels). With
    them, each block median less ``beta`` times its block's common level is what the test
    ranks and the floor spreads (blocks without a level are left out); without them, or
    with fewer than ``MIN_SAMPLES`` blocks a side that have one, the block medians as
    they are."""
    if levels is not None:
        ca, cb = levels
        ka, kb = np.isfinite(ca), np.isfinite(cb)
        if len(ca) == len(a) and len(cb) == len(b) and ka.sum() >= MIN_SAMPLES and kb.sum() >= MIN_SAMPLES:
            ya, yb, ca, cb = a[ka], b[kb], ca[ka], cb[kb]
            beta = sensitivity(ya, yb, ca, cb)
            ra, rb = ya - beta * ca, yb - beta * cb
            adjusted = math.expm1(median(rb) - median(ra))
            return BlockTest(mann_whitney_u(ra, rb), noise_floor(ra, rb), len(ra), len(rb), adjusted,
                             beta, mann_whitney_u(a, b), noise_floor(a, b))
    return BlockTest(mann_whitney_u(a, b), noise_floor(a, b), len(a), len(b))


def noise_floor(a: np.ndarray, b: np.ndarray) -> float:
    """The change two runs' block medians (log values) must exceed: ``FLOOR_SPREADS``
    times the larger of their spreads (blocks.spread: max / min - 1; module doc)."""
    return FLOOR_SPREADS * max(block_spread(a), block_spread(b))


def compare_accumulators(a: Samples, b: Samples, levels: tuple[np.ndarray, np.ndarray] | None = None) -> BlockTest | None:
    """The test of two ``stats.OpAccumulator`` (or frozen copies) on their block medians
    (``levels``: as for :func:`compare_blocks`); None when a side has no block (its
    samples known only from a recording's summary)."""
    va, vb = a.blocks.values(), b.blocks.values()
    if len(va) == 0 or len(vb) == 0:
        return None
    return compare_blocks(va, vb, levels)


def machine_levels(a: Mapping[str, Samples], b: Mapping[str, Samples]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The common level of every block of every op of two runs (blocks.common_levels),
    from the ops' block medians and block times; empty when fewer than two ops have timed
    blocks on both sides (then nothing is adjusted)."""
    runs: list[dict[str, tuple[np.ndarray, np.ndarray]]] = []
    for side in (a, b):
        run = {}
        for name, acc in side.items():
            spans = acc.blocks.spans()
            values = acc.blocks.values()
            if spans is not None and len(values) and len(spans) == len(values):
                run[name] = (values, spans)
        runs.append(run)
    return common_levels((runs[0], runs[1]), MIN_SAMPLES)


# --------------------------------------------------------------------------- many tests


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order.

    ``None`` or NaN entries (no test) are passed through and not counted in m.
    """
    given = {i: p for i, p in enumerate(p_values) if p is not None and not math.isnan(p)}
    out: list[float | None] = [None] * len(p_values)
    m = len(given)
    if m == 0:
        return out
    ranked = sorted(given, key=given.__getitem__)
    running = 1.0
    for rank in range(m, 0, -1):
        i = ranked[rank - 1]
        running = min(running, float(given[i]) * m / rank)
        out[i] = running
    return out


def decide(
    q_value: float | None,
    change: float | None,
    *,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
    floor: float = 0.0,
    lower_is_better: bool = True,
    adjusted: float | None = None,
) -> Verdict:
    """The verdict of one tested op: SLOWER / FASTER when the FDR-adjusted p-value is
    below ``alpha`` and the relative change of the median is at least ``min_effect`` and
    more than the op's noise ``floor`` (BlockTest.floor), else SAME.

    ``adjusted`` (BlockTest.adjusted): the change once the machine's common level is
    taken out. Then it is the change that must be at least ``min_effect`` and above the
    floor (which is then twice the adjusted blocks' spread), and the median itself (``change``)
    must have moved at least ``min_effect`` the same way: a change the adjustment alone
    made is not reported.

    ``lower_is_better=False`` for rates (tokens per second): a drop is SLOWER.
    """
    if q_value is None or change is None or not (q_value < alpha) or abs(change) < min_effect:
        return Verdict.SAME
    if adjusted is not None:
        if (abs(adjusted) < min_effect or adjusted * change <= 0
                or min(abs(adjusted), abs(change)) <= floor):
            return Verdict.SAME
    elif abs(change) <= floor:
        return Verdict.SAME
    worse = change > 0 if lower_is_better else change < 0
    return Verdict.SLOWER if worse else Verdict.FASTER


def overall_shift(changes: Sequence[float | None]) -> float | None:
    """The typical relative change over many ops: the median of their median changes
    (on a log scale), None without any. When it is large, every op moved together: the
    whole run was slower or faster (machine load, CPU frequency, or a change that
    touches everything), which per-op tests of one run against another cannot tell apart.
    """
    logs = [math.log1p(c) for c in changes if c is not None and c > -1.0]
    if not logs:
        return None
    return math.expm1(float(np.median(logs)))


def relative_change(a: float, b: float) -> float | None:
    """``b / a - 1``; None when undefined (a not positive, a value not finite)."""
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return None
    return b / a - 1.0


# --------------------------------------------------------------------------- CI gate

#: Statistics a --fail-on rule can name, and the canonical name each maps to.
RULE_STATS = {"p50": "median", "median": "median", "p95": "p95", "p99": "p99", "mean": "mean",
              "avg": "mean"}
_RULE = re.compile(
    r"^\s*(?:(?P<op>[^:]+?)\s*:\s*)?(?P<stat>[a-z0-9]+)\s*>\s*\+?\s*(?P<pct>\d+(?:\.\d+)?)\s*%\s*$",
    re.IGNORECASE,
)
#: exit status of ``zlprof diff`` / ``zlprof bench --compare`` when a --fail-on rule is
#: violated (1 is a failure to run, 2 a usage mistake)
EXIT_REGRESSION = 3
#: exit status of ``zlprof diff`` when no rule is violated but one would have been by an
#: op whose verdict was made inconclusive (BUSY: the busy machine, starvation.py; COMMON:
#: the op moved only as much as every op did): neither pass nor fail
EXIT_INCONCLUSIVE = 4


class FailRuleError(ValueError):
    """A --fail-on rule that does not parse; ``rule`` is the text given."""

    def __init__(self, rule: str, why: str) -> None:
        super().__init__(f"--fail-on {rule!r}: {why}")
        self.rule = rule
        self.why = why


@dataclass(frozen=True)
class FailRule:
    """``[OP:]STAT>+N%``: fail when OP (any op if None) is significantly slower and its
    STAT grew by more than ``threshold`` (relative)."""

    text: str
    op: str | None
    #: canonical statistic: median | p95 | p99 | mean
    stat: str
    threshold: float

    def matches(self, name: str) -> bool:
        """Does op ``name`` (a full call path) fall under this rule? A rule's op matches
        the full path, or the last part of it (``attention`` names every layer's)."""
        if self.op is None:
            return True
        return name == self.op or name.rsplit("/", 1)[-1] == self.op


def parse_fail_on(text: str) -> FailRule:
    """Parse one ``--fail-on`` rule; FailRuleError (one line) when it does not parse."""
    m = _RULE.match(text)
    if m is None:
        raise FailRuleError(text, 'expected [OP:]STAT>+N%, e.g. "p95>+5%" or "forward_pass:p99>+10%"')
    stat = m.group("stat").lower()
    if stat not in RULE_STATS:
        raise FailRuleError(text, f"unknown statistic {stat!r} (use p50, p95, p99 or mean)")
    op = m.group("op")
    return FailRule(text.strip(), op.strip() if op else None, RULE_STATS[stat], float(m.group("pct")) / 100.0)


#: why a verdict is INCONCLUSIVE: the busy machine (starvation.py), or the op moved only
#: as much as the machine's common level says the other ops did (diff.decide_rows)
BUSY = "the machine was busy"
COMMON = "as much as every op: the machine or a change touching every op"


@dataclass(frozen=True)
class Violation:
    """One op that broke one rule."""

    rule: FailRule
    op: str
    change: float
    verdict: Verdict
    #: with the verdict INCONCLUSIVE: why (BUSY or COMMON)
    why: str = BUSY

    def line(self) -> str:
        """``FAIL p50>+5%: op median +12.0% (slower)``; an op made inconclusive:
        ``INCONCLUSIVE p50>+5%: op median +12.0% (slower, but the machine was busy)``."""
        if self.verdict == Verdict.INCONCLUSIVE:
            return (f"INCONCLUSIVE {self.rule.text}: {self.op} {self.rule.stat} "
                    f"{self.change * 100:+.1f}% (slower, but {self.why})")
        return (f"FAIL {self.rule.text}: {self.op} {self.rule.stat} {self.change * 100:+.1f}% "
                f"({self.verdict})")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"rule": self.rule.text, "op": self.op, "stat": self.rule.stat,
                                  "change": self.change, "verdict": str(self.verdict)}
        if self.verdict == Verdict.INCONCLUSIVE:
            out["why"] = self.why
        return out


def violations(
    rules: Sequence[FailRule], rows: Sequence[tuple[str, Verdict, dict[str, float | None]]]
) -> list[Violation]:
    """Every (rule, op) where the op is SLOWER and the rule's statistic grew past the
    threshold. ``rows``: (op name, verdict, relative change by canonical statistic)."""
    out = []
    for rule in rules:
        for name, verdict, change in rows:
            c = change.get(rule.stat)
            if rule.matches(name) and verdict == Verdict.SLOWER and c is not None and c > rule.threshold:
                out.append(Violation(rule, name, c, verdict))
    return out


def inconclusive_violations(
    rules: Sequence[FailRule], rows: Sequence[tuple[str, Verdict, dict[str, float | None]]],
    why: str = BUSY,
) -> list[Violation]:
    """The violations an inconclusive verdict hid: ``rows`` as for :func:`violations`,
    with each op's verdict before it was made inconclusive (``why``); each one found is
    returned with the verdict INCONCLUSIVE."""
    return [Violation(v.rule, v.op, v.change, Verdict.INCONCLUSIVE, why) for v in violations(rules, rows)]


def unmatched_rules(rules: Sequence[FailRule], names: Sequence[str]) -> list[FailRule]:
    """Rules naming an op that is in neither session (a typo must not pass a CI gate)."""
    return [r for r in rules if r.op is not None and not any(r.matches(n) for n in names)]
