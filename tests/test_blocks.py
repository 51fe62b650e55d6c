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
