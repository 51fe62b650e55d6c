"""significance.py: the one U test, Benjamini-Hochberg, verdicts and --fail-on rules,
against values computed by hand (no SciPy)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from zlprof import bench, diff
from zlprof import significance as sig
from zlprof.significance import (
    FailRule,
    FailRuleError,
    Verdict,
    benjamini_hochberg,
    decide,
    mann_whitney_u,
    min_p_value,
    parse_fail_on,
    violations,
)


def test_one_implementation() -> None:
    assert diff.mann_whitney_u is sig.mann_whitney_u
    for name in ("mann_whitney_u", "min_p_value", "_u_distribution", "_average_ranks"):
        assert not hasattr(bench, name)


def test_exact_hand_computed() -> None:
    # A = 1 2 3, B = 4 5 6: U_B = 9, the most extreme of C(6,3) = 20 equally likely
    # orderings; two-sided: 2/20 = 0.1
    r = mann_whitney_u([1, 2, 3], [4, 5, 6])
    assert r.method == "exact" and r.u_b == 9 and r.p_value == pytest.approx(0.1)
    # A = 1 2 4, B = 3 5 6: ranks of A 1 2 4, U_A = 7 - 6 = 1. Orderings with U_A <= 1:
    # U=0 (1 ordering), U=1 (1): P(U_A <= 1) = 2/20; two-sided 0.2
    r = mann_whitney_u([1, 2, 4], [3, 5, 6])
    assert r.u_a == 1 and r.p_value == pytest.approx(0.2)
    assert min_p_value(3, 3) == pytest.approx(0.1)
    assert min_p_value(5, 5) == pytest.approx(2 / 252)


def test_exact_matches_enumeration() -> None:
    rng = np.random.default_rng(7)
    for n1, n2 in ((3, 4), (5, 5), (4, 7)):
        a, b = rng.random(n1), rng.random(n2) + 0.3
        r = mann_whitney_u(a, b)
        allv = np.concatenate([a, b])
        ranks = allv.argsort().argsort() + 1
        u_obs = ranks[:n1].sum() - n1 * (n1 + 1) / 2
        us = [sum(c) - n1 * (n1 + 1) / 2 for c in itertools.combinations(range(1, n1 + n2 + 1), n1)]
        mu = n1 * n2 / 2
        extreme = sum(1 for x in us if abs(x - mu) >= abs(u_obs - mu))
        assert r.u_a == pytest.approx(u_obs)
        assert r.p_value == pytest.approx(min(1.0, extreme / len(us)))


def test_normal_with_ties_hand_computed() -> None:
    # A = 1 2 3 4, B = 3 5 6 7 8 (a tie, so the normal approximation): ranks
    # 1 2 3.5 | 3.5 5 6 7 8 9; R_A = 11.5, U_A = 1.5, U_B = 18.5; tie group t = 2:
    # var = 20/12 * (10 - 6/72) = 16.527778; z = (8.5 - 0.5) / 4.065438 = 1.967808
    r = mann_whitney_u([1, 2, 3, 4], [3, 5, 6, 7, 8])
    assert r.method == "normal"
    assert r.z == pytest.approx(1.967808, abs=1e-6)
    assert r.p_value == pytest.approx(0.049090, abs=1e-6)
    # 60 a side, values in {1..4}: the tie correction dominates
    a = [1, 1, 2, 2, 3] * 12
    b = [2, 3, 3, 4, 4] * 12
    r = mann_whitney_u(a, b)
    # by hand: groups 1:24, 2:36, 3:36, 4:24 (n = 120); average ranks 12.5, 42.5, 78.5,
    # 108.5; R_A = 24*12.5 + 24*42.5 + 12*78.5 = 2262, U_A = 2262 - 1830 = 432,
    # U_B = 3600 - 432 = 3168; sum(t^3 - t) = 2*(24^3-24) + 2*(36^3-36) = 120840;
    # var = 3600/12 * (121 - 120840/14280) = 300 * 112.537815 = 33761.34;
    # z = (1368 - 0.5) / 183.7426 = 7.44248
    assert r.u_a == 432 and r.u_b == 3168
    assert r.z == pytest.approx(7.44248, abs=1e-4)
    assert r.p_value < 1e-12


def test_histogram_weights_equal_repeats() -> None:
    a = np.array([1, 1, 2, 5, 5, 5])
    b = np.array([2, 5, 6, 6])
    plain = mann_whitney_u(a, b)
    w = mann_whitney_u([1, 2, 5], [2, 5, 6], [2, 1, 3], [1, 1, 2])
    assert (w.u_a, w.u_b, w.z, w.p_value) == pytest.approx((plain.u_a, plain.u_b, plain.z, plain.p_value))


def test_benjamini_hochberg_hand_computed() -> None:
    # p = .01 .04 .03 .20 (m = 4): sorted .01 .03 .04 .20 -> p*m/rank = .04 .06 .0533 .20,
    # then the running minimum from the top: .04 .0533 .0533 .20
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    assert q == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.20])
    assert benjamini_hochberg([0.5, None, math.nan]) == [0.5, None, None]
    assert benjamini_hochberg([]) == []
    # one p-value is its own q-value; q never exceeds 1
    assert benjamini_hochberg([0.7, 0.9]) == pytest.approx([0.9, 0.9])


def test_fdr_keeps_null_ops_quiet() -> None:
    # 45 ops, no real difference: unadjusted, about 2 would be "significant" at 0.05;
    # adjusted, a false discovery happens in at most ~5 % of such comparisons
    rng = np.random.default_rng(3)
    runs_with_any = 0
    for _ in range(40):
        ps = [mann_whitney_u(rng.lognormal(0, .3, 60), rng.lognormal(0, .3, 60)).p_value
              for _ in range(45)]
        runs_with_any += any(q < 0.05 for q in benjamini_hochberg(ps))  # type: ignore[operator]
    assert runs_with_any <= 6


def test_decide() -> None:
    assert decide(0.001, 0.10) == Verdict.SLOWER
    assert decide(0.001, -0.10) == Verdict.FASTER
    assert decide(0.001, 0.02) == Verdict.SAME  # below the minimum effect
    assert decide(0.2, 0.50) == Verdict.SAME  # not significant
    assert decide(None, 0.5) == Verdict.SAME
    assert decide(0.001, 0.02, min_effect=0.01) == Verdict.SLOWER
    assert decide(0.001, -0.10, lower_is_better=False) == Verdict.SLOWER  # a rate dropped
    assert Verdict.SLOWER.significant and not Verdict.FEW.significant
    assert str(Verdict.SAME) == "not significant"


def test_parse_fail_on() -> None:
    r = parse_fail_on("p95>+5%")
    assert r == FailRule("p95>+5%", None, "p95", 0.05)
    r = parse_fail_on(" forward_pass:p99 > +10.5% ")
    assert (r.op, r.stat, r.threshold) == ("forward_pass", "p99", pytest.approx(0.105))
    assert parse_fail_on("p50>5%").stat == "median"
    assert parse_fail_on("forward_pass/layer0/attention:mean>+1%").op == "forward_pass/layer0/attention"
    for bad in ("p95>5", "p42>+5%", "p95<+5%", "", "x:y:p95>+5%x"):
        with pytest.raises(FailRuleError):
            parse_fail_on(bad)


def test_violations() -> None:
    rules = [parse_fail_on("p50>+5%"), parse_fail_on("attention:p99>+20%")]
    rows = [
        ("forward_pass", Verdict.SLOWER, {"median": 0.08, "p99": 0.3}),
        ("forward_pass/layer0/attention", Verdict.SLOWER, {"median": 0.04, "p99": 0.25}),
        ("sampling", Verdict.SAME, {"median": 0.30, "p99": 0.3}),  # not significant
        ("decode", Verdict.FASTER, {"median": -0.3}),
    ]
    found = violations(rules, rows)
    assert [(v.rule.text, v.op) for v in found] == [
        ("p50>+5%", "forward_pass"),
        ("attention:p99>+20%", "forward_pass/layer0/attention"),
    ]
    assert found[0].line() == "FAIL p50>+5%: forward_pass median +8.0% (slower)"
    assert sig.unmatched_rules([parse_fail_on("nope:p50>+1%")], ["a", "b/c"])
    assert not sig.unmatched_rules([parse_fail_on("c:p50>+1%")], ["a", "b/c"])


def test_overall_shift() -> None:
    assert sig.overall_shift([0.2, 0.2, 0.2]) == pytest.approx(0.2)
    # the median on a log scale: log1p(-0.1), 0, log1p(0.5) -> 0
    assert sig.overall_shift([-0.1, 0.0, 0.5, None]) == pytest.approx(0.0)
    assert sig.overall_shift([None]) is None


# --------------------------------------------------------------------------- block medians


def test_compare_blocks_hand_computed() -> None:
    # block medians 10..14 against 20..24: complete separation of 5 and 5, exactly
    # 2 / C(10, 5) = 2 / 252; noise floor: twice the larger spread, 24/20 - 1 = 0.2 vs
    # 14/10 - 1 = 0.4 -> 2 x 0.4 = 0.8
    bt = sig.compare_blocks(np.log([10.0, 11, 12, 13, 14]), np.log([20.0, 21, 22, 23, 24]))
    assert bt.test.method == "exact" and bt.test.p_value == pytest.approx(2 / 252)
    assert sig.FLOOR_SPREADS == 2.0
    assert bt.floor == pytest.approx(0.8)
    assert (bt.blocks_a, bt.blocks_b) == (5, 5)


def test_decide_needs_more_than_the_noise_floor() -> None:
    assert decide(0.001, 0.30, floor=0.4) == Verdict.SAME
    assert decide(0.001, 0.40, floor=0.4) == Verdict.SAME  # must exceed it
    assert decide(0.001, 0.45, floor=0.4) == Verdict.SLOWER
    assert decide(0.001, -0.45, floor=0.4) == Verdict.FASTER
    assert decide(0.001, 0.04, floor=0.01) == Verdict.SAME  # and the minimum effect


def test_compare_blocks_adjusted_for_the_common_level_hand_computed() -> None:
    # x's block medians move twice as much as the common level c in A and sit 0.3 (log)
    # higher in B at c = 0 (blocks.py's hand-computed example): beta = 1.842105 (the
    # within-run slope 2, shrunk towards 1); adjusted A: 10 + (2 - beta) c = 10 -
    # 0.0157895 (x4), 10 + 0.0157895 (x2); B: 10.3. Adjusted change: exp(10.3 - (10 -
    # 0.0157895)) - 1 = exp(0.3157895) - 1 = 1.3498588 * 1.0159148 - 1 = 0.371342; floor: twice A's
    # adjusted spread, 2 x (exp(0.031579) - 1) = 2 x 0.032083 = 0.064166 (B's is 0); the raw
    # blocks': 2 x (exp(0.4) - 1) = 2 x 0.491825 = 0.983649
    ca = np.array([-0.1, -0.1, 0.1, 0.1, -0.1, -0.1])
    cb = np.zeros(6)
    a, b = 10 + 2 * ca, np.full(6, 10.3)
    bt = sig.compare_blocks(a, b, (ca, cb))
    assert bt.beta == pytest.approx(1.842105, abs=1e-6)
    assert bt.adjusted == pytest.approx(0.371342, abs=1e-6)
    assert bt.floor == pytest.approx(0.064166, abs=1e-6)
    assert bt.raw_floor == pytest.approx(0.983649, abs=1e-6)
    # every adjusted B block above every adjusted A block: U_B = 36 of 36
    assert bt.test.u_b == 36 and bt.test.p_value < 0.01
    assert bt.raw_test is not None and bt.raw_test.u_b == 36
    # without levels, or with a level missing for too many blocks: the raw blocks
    plain = sig.compare_blocks(a, b)
    assert plain.adjusted is None and plain.floor == pytest.approx(0.983649, abs=1e-6)
    few = sig.compare_blocks(a, b, (np.r_[ca[:4], np.nan, np.nan], cb))
    assert few.adjusted is None
    # a block without a level is left out (5 of 6 remain)
    some = sig.compare_blocks(a, b, (np.r_[ca[:5], np.nan], cb))
    assert some.adjusted is not None and (some.blocks_a, some.blocks_b) == (5, 6)


def test_decide_on_the_adjusted_change() -> None:
    # adjusted and raw change both past the floor and the minimum effect, the same way
    assert decide(0.001, 0.12, floor=0.08, adjusted=0.10) == Verdict.SLOWER
    assert decide(0.001, -0.12, floor=0.08, adjusted=-0.10) == Verdict.FASTER
    # the floor applies to the smaller of the two
    assert decide(0.001, 0.30, floor=0.08, adjusted=0.07) == Verdict.SAME
    assert decide(0.001, 0.07, floor=0.08, adjusted=0.30) == Verdict.SAME
    # the median itself must have moved by the minimum effect, the same way
    assert decide(0.001, 0.04, floor=0.01, adjusted=0.10) == Verdict.SAME
    assert decide(0.001, -0.10, floor=0.01, adjusted=0.10) == Verdict.SAME
    assert decide(0.001, 0.10, floor=0.01, adjusted=0.04) == Verdict.SAME
    assert decide(0.2, 0.10, floor=0.01, adjusted=0.10) == Verdict.SAME


def test_machine_levels_of_accumulators() -> None:
    from zlprof.blocks import BlockMedians

    sec = 1_000_000_000

    class Acc:
        def __init__(self, d: list[int], timed: bool = True) -> None:
            self.count = len(d)
            self.blocks = BlockMedians()
            t1 = np.arange(len(d), dtype=np.int64) * sec  # samples end at 0, 1, 2, ... s
            self.blocks.add(np.asarray(d, np.int64), t1 if timed else None)

    a = {"x": Acc([100] * 7), "y": Acc([10, 10, 10, 20, 20, 10, 10]), "old": Acc([5] * 7, timed=False)}
    b = {"x": Acc([100] * 7), "y": Acc([10] * 7), "old": Acc([5] * 7, timed=False)}
    levels = sig.machine_levels(a, b)
    # "old" has no block times: no control and not adjusted. One sample a block: the
    # first block is the instant 0 (no span: no level), then (0, 1], (1, 2], ... s. x's
    # level is y's deviation from its median over both runs (log 10) over the same
    # second: log 2 over (2, 3] and (3, 4] in A, 0 elsewhere
    assert set(levels) == {"x", "y"}
    ca, cb = levels["x"]
    assert math.isnan(ca[0]) and math.isnan(cb[0])
    assert ca[1:] == pytest.approx([0, 0, math.log(2), math.log(2), 0, 0], abs=1e-12)
    assert cb[1:] == pytest.approx(np.zeros(6), abs=1e-12)


class _Acc:
    def __init__(self, d: np.ndarray) -> None:
        from zlprof.blocks import BlockMedians

        self.count = len(d)
        self.blocks = BlockMedians()
        self.blocks.add(d)


def _drifting(rng: np.random.Generator, level: float, n: int = 20_000) -> np.ndarray:
    # a run whose level wanders +-4 % over time (CPU frequency, neighbours), with noise
    drift = 1 + 0.04 * np.sin(np.linspace(0, 3 * np.pi, n) + rng.uniform(0, 6))
    return (level * drift * rng.lognormal(0, 0.05, n)).astype(np.int64)


def test_drift_within_runs_is_not_a_change() -> None:
    # two runs of the same op, the second 3 % slower as a whole and both drifting: every
    # sample ranked gives a tiny p-value; block medians and the noise floor do not report it
    rng = np.random.default_rng(11)
    a, b = _drifting(rng, 100_000), _drifting(rng, 103_000)
    assert mann_whitney_u(a, b).p_value < 1e-6
    bt = sig.compare_accumulators(_Acc(a), _Acc(b))
    assert bt is not None and bt.floor > 0.05
    change = float(np.median(b)) / float(np.median(a)) - 1
    assert decide(bt.test.p_value, change, floor=bt.floor) == Verdict.SAME
    # a 20 % slowdown of the same drifting op is found
    c = _drifting(rng, 120_000)
    bt = sig.compare_accumulators(_Acc(a), _Acc(c))
    assert bt is not None and bt.test.p_value < 1e-4
    change = float(np.median(c)) / float(np.median(a)) - 1
    assert decide(bt.test.p_value, change, floor=bt.floor) == Verdict.SLOWER


def test_u_distribution_is_cached() -> None:
    sig._u_distribution.cache_clear()
    mann_whitney_u(np.arange(20.0), np.arange(20.0) + 0.5)
    mann_whitney_u(np.arange(20.0), np.arange(20.0) + 0.25)
    info = sig._u_distribution.cache_info()
    assert (info.misses, info.hits) == (1, 1)
