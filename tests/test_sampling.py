"""Sampling: greedy, temperature, top-k/top-p keep exactly the right mass, repetition
penalty, seeded reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlprof.workload.sampling import (
    Sampler,
    SamplingConfig,
    apply_repetition_penalty_,
    filtered_distribution,
    softmax,
    top_k_indices,
    top_p_count,
)

PROBS = np.array([0.05, 0.4, 0.1, 0.25, 0.15, 0.05])  # sorted: .4 .25 .15 .1 .05 .05
LOGITS = np.log(PROBS).astype(np.float32)


def test_top_k_keeps_the_k_largest_and_their_mass() -> None:
    idx, p = filtered_distribution(LOGITS, temperature=1.0, top_k=3)
    assert idx.tolist() == [1, 3, 4]
    # renormalised from exactly the kept mass 0.4 + 0.25 + 0.15 = 0.8
    np.testing.assert_allclose(p, np.array([0.4, 0.25, 0.15]) / 0.8, rtol=1e-6)


@pytest.mark.parametrize(
    "top_p, kept",
    [
        (0.39, [1]),  # 0.4 already reaches 0.39: one token
        (0.41, [1, 3]),  # 0.65
        (0.64, [1, 3]),
        (0.7, [1, 3, 4]),  # 0.8
        (0.85, [1, 3, 4, 2]),  # 0.9
        (0.999, [1, 3, 4, 2, 0, 5]),
        (0.01, [1]),  # always at least one
    ],
)
def test_top_p_keeps_the_smallest_nucleus(top_p: float, kept: list[int]) -> None:
    idx, p = filtered_distribution(LOGITS, temperature=1.0, top_p=top_p)
    assert idx.tolist() == kept
    mass = PROBS[kept].sum()
    np.testing.assert_allclose(p, PROBS[kept] / mass, rtol=1e-6)
    # minimal: without its last token the nucleus would fall short of top_p
    assert PROBS[kept[:-1]].sum() < top_p - 1e-12 or len(kept) == 1


def test_top_k_then_top_p_compose() -> None:
    # top-k 3 -> (.5, .3125, .1875); top-p .8 -> first two (.8125)
    idx, p = filtered_distribution(LOGITS, temperature=1.0, top_k=3, top_p=0.8)
    assert idx.tolist() == [1, 3]
    np.testing.assert_allclose(p, [0.4 / 0.65, 0.25 / 0.65], rtol=1e-6)


@given(
    st.lists(st.floats(-20, 20, allow_nan=False), min_size=2, max_size=60),
    st.floats(0.01, 0.999),
)
@settings(max_examples=200, deadline=None)
def test_top_p_mass_property(logits: list[float], p: float) -> None:
    lg = np.array(logits, np.float32)
    probs = softmax(lg)
    order = np.argsort(-probs, kind="stable")
    k = top_p_count(probs[order], p)
    kept = probs[order][:k].sum()
    assert kept >= p - 1e-9 or k == len(logits)
    assert k == 1 or probs[order][: k - 1].sum() < p


def test_top_p_one_keeps_everything() -> None:
    assert top_p_count(np.array([1.0, 0.0, 0.0]), 1.0) == 3


def test_top_k_indices_orders_largest_first() -> None:
    x = np.array([3.0, 9.0, 1.0, 7.0, 5.0], np.float32)
    assert top_k_indices(x, 2).tolist() == [1, 3]
    assert top_k_indices(x, 0).tolist() == [1, 3, 4, 0, 2]


def test_temperature_sharpens_and_flattens() -> None:
    _, cold = filtered_distribution(LOGITS, temperature=0.5)
    _, hot = filtered_distribution(LOGITS, temperature=2.0)
    _, one = filtered_distribution(LOGITS, temperature=1.0)
    assert cold[0] > one[0] > hot[0]
    np.testing.assert_allclose(one, np.sort(PROBS)[::-1], rtol=1e-6)


def test_greedy_takes_the_first_maximum() -> None:
    s = Sampler(SamplingConfig(temperature=0.0, repetition_penalty=1.0), batch=2, vocab=4)
    logits = np.array([[1, 5, 5, 0], [2, 2, 1, 0]], np.float32)
    assert s.sample(logits).tolist() == [1, 0]


def test_repetition_penalty_divides_positive_multiplies_negative() -> None:
    logits = np.array([[2.0, -2.0, 3.0, -1.0]], np.float32)
    seen = np.array([[True, True, False, False]])
    apply_repetition_penalty_(logits, seen, 2.0)
    assert logits.tolist() == [[1.0, -4.0, 3.0, -1.0]]
    assert logits.dtype == np.float32


def test_repetition_penalty_steers_greedy_away_from_seen_tokens() -> None:
    s = Sampler(SamplingConfig(temperature=0.0, repetition_penalty=2.0), batch=1, vocab=3)
    s.reset([[0]])  # the prompt contains token 0
    assert s.sample(np.array([[3.0, 2.0, 1.0]], np.float32)).tolist() == [1]  # 1.5 < 2
    # now 0 and 1 are both seen: 1.5, 1.0, 1.0 -> back to 0
    assert s.sample(np.array([[3.0, 2.0, 1.0]], np.float32)).tolist() == [0]
    assert s.sample(np.array([[3.0, 2.0, 1.9]], np.float32)).tolist() == [2]  # 1.9 > 1.5


def test_same_seed_same_draws_and_only_kept_tokens() -> None:
    cfg = SamplingConfig(temperature=1.0, top_k=3, top_p=1.0, repetition_penalty=1.0, seed=11)
    logits = np.tile(LOGITS, (2, 1))
    a = Sampler(cfg, 2, 6)
    b = Sampler(cfg, 2, 6)
    da = [a.sample(logits.copy()).tolist() for _ in range(300)]
    db = [b.sample(logits.copy()).tolist() for _ in range(300)]
    assert da == db
    flat = np.array(da).ravel()
    assert set(flat.tolist()) <= {1, 3, 4}
    # frequencies follow the renormalised top-3 mass (.5, .3125, .1875)
    freq = np.bincount(flat, minlength=6)[[1, 3, 4]] / flat.size
    np.testing.assert_allclose(freq, [0.5, 0.3125, 0.1875], atol=0.06)
    c = Sampler(SamplingConfig(temperature=1.0, top_k=3, seed=12), 2, 6)
    dc = [c.sample(logits.copy()).tolist() for _ in range(300)]
    assert dc != da
