"""One definition of the op cost formulas: workload/costs.py, re-exported by the roofline,
used by the workload's CostModel; rmsnorm counted against the implementation."""

from __future__ import annotations

import numpy as np

from zlprof import roofline
from zlprof.workload import costs
from zlprof.workload.costs import CostModel, OpCost, rmsnorm_cost
from zlprof.workload.model import rmsnorm
from zlprof.workload.presets import ModelConfig


def test_roofline_reexports_the_one_definition() -> None:
    for name in (
        "OpCost",
        "matmul_cost",
        "attention_scores_cost",
        "attention_values_cost",
        "softmax_cost",
        "rmsnorm_cost",
        "embedding_cost",
    ):
        assert getattr(roofline, name) is getattr(costs, name)


def test_rmsnorm_1_64_is_260_flops() -> None:
    # model.rmsnorm per row of d: einsum x.x (d multiplies + d adds: 2d, the mat-vec
    # convention), ss /= d (1), ss += eps (1), sqrt (1), 1/ss (1), x * ss (d), * weight (d)
    d = 64
    counted = 2 * d + 1 + 1 + 1 + 1 + d + d
    assert counted == 260
    assert rmsnorm_cost(1, d) == OpCost(260, 4 * (2 * d + d))
    cfg = ModelConfig(d_model=64, n_layers=1, n_heads=2, n_kv_heads=2, ffn=8, vocab=8, context=4)
    fc = CostModel(cfg).forward(B=1, S=1, T=1)
    assert fc.rmsnorm == tuple(rmsnorm_cost(1, 64)) == (260, 768)
    assert fc.final_norm == (260, 768)
    # the implementation computes what was counted (and nothing is hidden in extra passes)
    x = np.arange(1, d + 1, dtype=np.float32)[None, :]
    w = np.full(d, 2.0, np.float32)
    want = 2.0 * x / np.sqrt((x * x).mean() + 1e-5)
    assert np.allclose(rmsnorm(x, w), want)


def test_cost_model_uses_the_generic_formulas() -> None:
    cfg = ModelConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn=48, vocab=64, context=16)
    fc = CostModel(cfg).forward(B=2, S=3, T=5)
    n = 6
    assert fc.qkv == tuple(costs.matmul_cost(n, 32 + 2 * 16, 32))
    assert fc.lm_head == tuple(costs.matmul_cost(2, 64, 32))
    assert fc.softmax == tuple(costs.softmax_cost(2 * 4 * 3, 5))
    sc = costs.attention_scores_cost(3, 5, 8, 4, 2)
    assert fc.scores == (2 * sc.flops, 2 * sc.nbytes)
    assert fc.embed == tuple(costs.embedding_cost(n, 32))
