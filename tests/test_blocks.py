"""blocks.py: block medians kept as samples arrive (the unit of the baseline comparison's
test), against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zlprof.blocks import BASE, MAX_BLOCKS, BlockMedians, spread
from zlprof.stats import OpAccumulator


def test_one_sample_a_block_until_the_first_merge() -> None:
    b = BlockMedians()
    b.add(np.array([5, 3, 4, 1, 2]))
    assert b.size == 1 and len(b) == 5 and b.pending == 0
    assert np.allclose(np.exp(b.values()), [5, 3, 4, 1, 2])


def test_merge_takes_the_median_of_three_neighbours() -> None:
    # 24 samples 1..24: at the 24th block, each 3 neighbours merge: medians of (1,2,3),
    # (4,5,6), ... = 2, 5, 8, ..., 23; new blocks are 3 samples long
    b = BlockMedians()
    b.add(np.arange(1, 25))
    assert (BASE, MAX_BLOCKS) == (3, 24)
    assert b.size == 3 and len(b) == 8
    assert np.allclose(np.exp(b.values()), [2, 5, 8, 11, 14, 17, 20, 23])
    # a new block: the exact median of its 3 samples (arrival order does not matter)
    b.add(np.array([300, 100]))
    assert len(b) == 8 and b.pending == 2
    b.add(np.array([200, 7]))
    assert len(b) == 9 and b.pending == 1
    assert math.exp(b.values()[-1]) == pytest.approx(200)


def test_second_merge_is_a_median_of_medians() -> None:
    # 72 samples: 8 blocks of 3 after the first merge, 16 more blocks of 3 make 24, which
    # merge into 8 blocks of 9: the median of three block medians. Blocks of 3 of the
    # values below have medians 2, 50, 4 (then 11, 14, 17, ... as for 1..72); the first
    # 9-block is median(2, 50, 4) = 4 (the exact median of its 9 samples would be 5).
    head = [1, 2, 90, 50, 40, 60, 3, 4, 5]
    b = BlockMedians()
    b.add(np.array(head + list(range(10, 73)), np.int64))
    assert b.size == 9 and len(b) == 8
    assert math.exp(b.values()[0]) == pytest.approx(4)
    assert np.allclose(np.exp(b.values()[1:]), [14, 23, 32, 41, 50, 59, 68])


def test_batches_do_not_matter_and_memory_is_bounded() -> None:
    rng = np.random.default_rng(5)
    d = rng.integers(1000, 2000, 100_000)
    whole = BlockMedians()
    whole.add(d)
    parts = BlockMedians()
    cuts = np.sort(rng.choice(len(d), 300, replace=False))
    for piece in np.split(d, cuts):
        parts.add(piece)
    assert np.array_equal(whole.values(), parts.values())
    assert whole.size == parts.size and whole.pending == parts.pending
    assert MAX_BLOCKS // BASE <= len(whole) < MAX_BLOCKS
    assert whole.pending < whole.size


def test_small_batches_put_aside_are_joined() -> None:
    from zlprof.blocks import COALESCE

    big = BlockMedians()
    big.size = 10_000  # as after many merges
    for i in range(200):
        big.add(np.full(3, i + 1, np.int64))
    assert big.pending == 600 and len(big) == 0
    assert len(big._pending) < COALESCE
    big.add(np.full(9_400, 7, np.int64))  # completes the first block
    assert len(big) == 1 and big.pending == 0 and math.exp(big.values()[0]) == pytest.approx(7)


def test_zero_duration_and_copy() -> None:
    b = BlockMedians()
    b.add(np.array([0, 0, 5]))
    assert b.values()[0] == 0.0  # counted as 1 ns
    c = b.copy()
    c.add(np.array([7]))
    assert len(b) == 3 and len(c) == 4


def test_spread() -> None:
    assert spread(np.log([10.0, 12.0, 11.0])) == pytest.approx(0.2)
    assert spread(np.log([10.0])) == 0.0 and spread(np.zeros(0)) == 0.0


def test_accumulator_keeps_blocks_and_replay_refills_them() -> None:
    rng = np.random.default_rng(2)
    d = rng.integers(100, 200, 5000)
    acc = OpAccumulator(exact_limit=1000)  # past the exact limit: blocks all the same
    t1 = np.arange(len(d), dtype=np.int64)
    for s in range(0, len(d), 700):
        acc.add(d[s : s + 700], t1[s : s + 700])
    ref = BlockMedians()
    ref.add(d)
    assert np.array_equal(acc.blocks.values(), ref.values())
    twin = acc.clone()
    assert np.array_equal(twin.blocks.values(), ref.values())
    empty = acc.clone(samples=False)
    assert len(empty.blocks) == 0
    empty.refill(t1, d)
    assert np.array_equal(empty.blocks.values(), ref.values())


# --------------------------------------------------------------------------- block times


def test_blocks_keep_their_end_times() -> None:
    b = BlockMedians()
    b.add(np.array([5, 3, 4, 1, 2]), np.array([10, 20, 30, 40, 50]))
    # one sample a block: each block starts where the one before ended, the first at its
    # first sample's end
    assert b.spans().tolist() == [[10, 10], [10, 20], [20, 30], [30, 40], [40, 50]]
    # 24 samples ending at 10, 20, ..., 240: after the merge 8 blocks of 3, ending at the
    # third sample of each (30, 60, ..., 240); the batches do not matter
    t1 = np.arange(10, 250, 10)
    whole, parts = BlockMedians(), BlockMedians()
    whole.add(np.arange(1, 25), t1)
    for s in (0, 5, 6, 17):
        e = {0: 5, 5: 6, 6: 17, 17: 24}[s]
        parts.add(np.arange(1, 25)[s:e], t1[s:e])
    assert whole.spans().tolist() == [[10, 30]] + [[30 * i, 30 * (i + 1)] for i in range(1, 8)]
    assert np.array_equal(whole.spans(), parts.spans())
    whole.add(np.array([300, 100]), np.array([250, 260]))  # pending: no new block
    assert len(whole.spans()) == 8
    whole.add(np.array([7]), np.array([270]))
    assert whole.spans()[-1].tolist() == [240, 270]
    c = whole.copy()
    assert np.array_equal(c.spans(), whole.spans())
    # a batch without times: no block has a span any more
    whole.add(np.array([1, 2, 3]))
    assert whole.spans() is None and len(whole) == 10


def _runs() -> tuple[dict, dict]:
    # three ops, six one-second blocks each in both runs. y and z follow the machine:
    # in run A slower (+0.2 in log) from 2 s to 4 s, in run B steady in between.
    sec = 1_000_000_000
    spans = np.array([[i * sec, (i + 1) * sec] for i in range(6)], np.int64)
    ya = np.array([1.0, 1.0, 1.2, 1.2, 1.0, 1.0])
    yb = np.full(6, 1.1)
    xa = 10 + 2 * (ya - 1.1)  # x moves twice as much as the machine...
    xb = np.full(6, 10.3)  # ...and is 0.3 (log) slower in B at the same machine level
    a = {"x": (xa, spans), "y": (ya, spans), "z": (ya + 5, spans)}
    b = {"x": (xb, spans), "y": (yb, spans), "z": (yb + 5, spans)}
    return a, b


def test_common_level_hand_computed() -> None:
    from zlprof.blocks import common_levels

    a, b = _runs()
    levels = common_levels((a, b))
    # y's median over both runs' 12 blocks (1.0 x4, 1.1 x6, 1.2 x2) is 1.1, z's 6.1; x's
    # level is the median of y's and z's deviations over each block's second: in A
    # -0.1 -0.1 +0.1 +0.1 -0.1 -0.1, in B 0
    ca, cb = levels["x"]
    assert ca == pytest.approx([-0.1, -0.1, 0.1, 0.1, -0.1, -0.1])
    assert cb == pytest.approx(np.zeros(6), abs=1e-12)
    # y's own level leaves y out: the median of x's and z's deviations, the mean of two
    # (x over both runs: 9.8 x4, 10.2 x2, 10.3 x6 -> median (10.2 + 10.3) / 2 = 10.25; in
    # A x - 10.25 = -0.45 or -0.05 and z - 6.1 = -0.1 or +0.1: (-0.45 - 0.1) / 2 = -0.275,
    # (-0.05 + 0.1) / 2 = 0.025)
    ya_level = levels["y"][0]
    assert ya_level == pytest.approx([-0.275, -0.275, 0.025, 0.025, -0.275, -0.275])
    # an op with too few blocks, or in one run only, gets no level
    a["w"] = (np.zeros(3), a["x"][1][:3])
    assert "w" not in common_levels((a, b))
    assert common_levels(({"x": a["x"]}, {"x": b["x"]})) == {}


def test_sensitivity_hand_computed() -> None:
    from zlprof.blocks import BETA_PRIOR, BETA_WEIGHT, sensitivity

    assert (BETA_PRIOR, BETA_WEIGHT) == (1.0, 0.01)
    ca = np.array([-0.1, -0.1, 0.1, 0.1, -0.1, -0.1])
    cb = np.zeros(6)
    # x = 10 + 2 c in A: within A, c's deviations from its mean (-1/30) are -1/15 (x4)
    # and +2/15 (x2): Sxx = 4/225 + 8/225 = 12/225 = 0.053333, Sxy = 2 Sxx (B adds
    # nothing: c is constant there); beta = (Sxy + 0.01 * 1) / (Sxx + 0.01)
    # = 0.116667 / 0.063333 = 1.842105
    beta = sensitivity(10 + 2 * ca, np.full(6, 10.3), ca, cb)
    assert beta == pytest.approx(0.116667 / 0.063333, rel=1e-4)
    # no variation of the common level in either run: the prior
    assert sensitivity(np.ones(6), np.ones(6) * 2, np.zeros(6), np.zeros(6)) == pytest.approx(1.0)
    # kept within 0..2
    assert sensitivity(10 - 50 * ca, np.full(6, 10.0), ca, cb) == 0.0
