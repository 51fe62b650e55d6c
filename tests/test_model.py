"""The NumPy decoder: primitives against reference formulas, KV-cached decode against full
recomputation and against a naive per-row reference, and float32 all the way."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zlprof.workload.model import (
    Model,
    apply_rope_,
    random_weights,
    rmsnorm,
    rope_table,
    softmax_,
)
from zlprof.workload.presets import PRESETS, ModelConfig, WorkloadError

# small shapes: GQA (4 query heads share 2 KV heads), even head size
CFG = ModelConfig(d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn=48, vocab=64, context=40)


@pytest.fixture(scope="module")
def model() -> Model:
    return Model(CFG, random_weights(CFG, seed=3))


# --------------------------------------------------------------------------- primitives


def test_rmsnorm_matches_formula() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 17)).astype(np.float32)
    w = rng.standard_normal(17).astype(np.float32)
    got = rmsnorm(x, w, 1e-5)
    x64 = x.astype(np.float64)
    want = w * x64 / np.sqrt((x64 * x64).sum(-1, keepdims=True) / 17 + 1e-5)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_softmax_matches_formula_and_is_in_place() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((2, 5, 9)) * 30).astype(np.float32)
    x64 = x.astype(np.float64)
    want = np.exp(x64 - x64.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    out = softmax_(x)
    assert out is x and x.dtype == np.float32
    np.testing.assert_allclose(x, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-6)


def _rope_reference(vec: np.ndarray, pos: int, hs: int) -> np.ndarray:
    """llama2.c's loop: adjacent pairs, freq from the index within the head."""
    out = vec.astype(np.float64).copy()
    for i in range(0, vec.shape[0], 2):
        hd = i % hs
        freq = 1.0 / 10000.0 ** (hd / hs)
        a = pos * freq
        v0, v1 = vec[i], vec[i + 1]
        out[i] = v0 * math.cos(a) - v1 * math.sin(a)
        out[i + 1] = v0 * math.sin(a) + v1 * math.cos(a)
    return out


def test_rope_matches_llama2c_pairs() -> None:
    hs, heads, S = 8, 3, 5
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, S, heads, hs)).astype(np.float32)
    pos0 = 7
    rot = rope_table(hs, 32)[pos0 : pos0 + S]
    y = x.copy()
    apply_rope_(y, rot)
    assert y.dtype == np.float32
    for s in range(S):
        want = _rope_reference(x[0, s].reshape(-1), pos0 + s, hs)
        np.testing.assert_allclose(y[0, s].reshape(-1), want, rtol=1e-4, atol=1e-5)


def test_rope_is_not_rotate_half() -> None:
    # position 1, only the first pair set: it must rotate into element 1, not element hs/2
    hs = 8
    x = np.zeros((1, 1, 1, hs), np.float32)
    x[..., 0] = 1.0
    apply_rope_(x, rope_table(hs, 4)[1:2])
    assert x[0, 0, 0, 1] == pytest.approx(math.sin(1.0), rel=1e-6)
    assert x[0, 0, 0, hs // 2] == 0.0


def test_rope_view_of_fused_qkv_is_in_place(model: Model) -> None:
    # the model rotates q|k inside the fused qkv buffer through a reshaped view
    d, kvd = CFG.d_model, CFG.kv_dim
    qkv = np.random.default_rng(0).standard_normal((6, d + 2 * kvd)).astype(np.float32)
    view = qkv[:, : d + kvd].reshape(2, 3, CFG.n_heads + CFG.n_kv_heads, CFG.head_size)
    assert np.shares_memory(view, qkv)


# --------------------------------------------------------------------------- reference model


def _silu(z: np.ndarray) -> np.ndarray:
    return z / (1.0 + np.exp(-z))


def _reference_logits(m: Model, tokens: list[int]) -> np.ndarray:
    """Naive float64 forward of one sequence, position by position, no cache object."""
    cfg, w = m.cfg, m.w
    d, H, Hkv, hs, f = cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_size, cfg.ffn
    kvd = cfg.kv_dim
    ks: list[list[np.ndarray]] = [[] for _ in range(cfg.n_layers)]
    vs: list[list[np.ndarray]] = [[] for _ in range(cfg.n_layers)]
    out = []

    def norm(x: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g * x / np.sqrt((x * x).mean() + cfg.norm_eps)

    for pos, t in enumerate(tokens):
        x = w.tok_emb[t].astype(np.float64)
        for li, lw in enumerate(w.layers):
            wq, wk, wv = np.split(lw.wqkv.astype(np.float64), [d, d + kvd])
            xb = norm(x, lw.attn_norm)
            q = _rope_reference(wq @ xb, pos, hs)
            k = _rope_reference(wk @ xb, pos, hs)
            v = wv @ xb
            ks[li].append(k)
            vs[li].append(v)
            att_out = np.zeros(d)
            for h in range(H):
                g = h // (H // Hkv)
                qh = q[h * hs : (h + 1) * hs]
                sc = np.array([qh @ kk[g * hs : (g + 1) * hs] for kk in ks[li]]) / math.sqrt(hs)
                a = np.exp(sc - sc.max())
                a /= a.sum()
                att_out[h * hs : (h + 1) * hs] = sum(
                    a[j] * vs[li][j][g * hs : (g + 1) * hs] for j in range(len(a))
                )
            x = x + lw.wo @ att_out
            xb = norm(x, lw.ffn_norm)
            w1, w3 = np.split(lw.w13.astype(np.float64), [f])
            x = x + lw.w2 @ (_silu(w1 @ xb) * (w3 @ xb))
        out.append(w.lm_head @ norm(x, w.final_norm))
    return np.array(out)


def _decode_all(
    m: Model, batch: np.ndarray, pads: list[int], steps: np.ndarray
) -> list[np.ndarray]:
    """Prefill ``batch`` then feed ``steps`` (B, n) one column at a time; logits per step."""
    cache = m.new_cache(batch.shape[0])
    cache.reset(pads)
    got = [m.forward(batch, cache)]
    for j in range(steps.shape[1]):
        got.append(m.forward(steps[:, j : j + 1], cache))
    return got


def test_cached_decode_equals_full_recompute_batch1(model: Model) -> None:
    seq = np.array([[5, 9, 2, 33, 17, 8, 40, 1, 63, 12]])
    P = 4
    got = _decode_all(model, seq[:, :P], [0], seq[:, P:])
    full = model.full_logits(seq)
    for j, logits in enumerate(got):
        np.testing.assert_allclose(logits[0], full[0, P - 1 + j], rtol=1e-4, atol=1e-4)
    # and both agree with the naive float64 reference
    ref = _reference_logits(model, seq[0].tolist())
    np.testing.assert_allclose(full[0], ref, rtol=1e-3, atol=1e-3)


def test_cached_decode_equals_full_recompute_batch3_padded(model: Model) -> None:
    rows = [[5, 9, 2, 33], [7, 1], [60, 61, 62]]  # different prompt lengths: left padding
    P = max(len(r) for r in rows)
    pads = [P - len(r) for r in rows]
    batch = np.zeros((3, P), np.int64)
    for b, r in enumerate(rows):
        batch[b, pads[b] :] = r
    steps = np.array([[4, 8, 15], [16, 23, 42], [3, 2, 1]])
    got = _decode_all(model, batch, pads, steps)
    full = model.full_logits(np.concatenate([batch, steps], axis=1), pads)
    for j, logits in enumerate(got):
        np.testing.assert_allclose(logits, full[:, P - 1 + j], rtol=1e-4, atol=1e-4)
    # padding is invisible: each row matches its own unpadded reference
    for b, r in enumerate(rows):
        ref = _reference_logits(model, r + steps[b].tolist())
        row = np.array([g[b] for g in got])
        np.testing.assert_allclose(row, ref[len(r) - 1 :], rtol=1e-3, atol=1e-3)


def test_gqa_shares_kv_heads_by_integer_division(model: Model) -> None:
    # the naive reference maps query head h to kv head h // kv_mul; the model must agree
    seq = [1, 2, 3, 4, 5, 6]
    ref = _reference_logits(model, seq)
    full = model.full_logits(np.array([seq]))[0]
    np.testing.assert_allclose(full, ref, rtol=1e-3, atol=1e-3)
    assert CFG.kv_mul == 2


def test_context_overflow_is_refused(model: Model) -> None:
    cache = model.new_cache(1)
    model.forward(np.zeros((1, CFG.context), np.int64), cache)
    with pytest.raises(ValueError, match="context"):
        model.forward(np.zeros((1, 1), np.int64), cache)


# --------------------------------------------------------------------------- float32


class _Float32Guard(np.ndarray):
    """Fails any ufunc (matmul included) whose inputs would promote past float32."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):  # type: ignore[no-untyped-def]
        plain = [i.view(np.ndarray) if isinstance(i, _Float32Guard) else i for i in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(
                o.view(np.ndarray) if isinstance(o, _Float32Guard) else o for o in kwargs["out"]
            )
        arrays = [i for i in plain if isinstance(i, np.ndarray | np.generic)]
        if arrays and ufunc.__name__ not in ("isnan", "isfinite"):
            rt = np.result_type(*arrays)
            assert rt not in (np.float64, np.complex128), (
                f"{ufunc.__name__} promotes to {rt}: {[getattr(a, 'dtype', type(a)) for a in plain]}"
            )
        res = getattr(ufunc, method)(*plain, **kwargs)
        if isinstance(res, np.ndarray):
            assert res.dtype not in (np.float64, np.complex128), f"{ufunc.__name__} -> {res.dtype}"
            return res.view(_Float32Guard)
        return res

    def __array_function__(self, func, types, args, kwargs):  # type: ignore[no-untyped-def]
        # einsum, concatenate, ...: results stay guarded so later ufuncs are checked too
        res = super().__array_function__(func, types, args, kwargs)
        if isinstance(res, np.ndarray):
            assert res.dtype not in (np.float64, np.complex128), f"{func.__name__} -> {res.dtype}"
            return res.view(_Float32Guard)
        return res


def _guard(a: np.ndarray) -> np.ndarray:
    return a.view(_Float32Guard)


def test_step_stays_float32() -> None:
    cfg = CFG
    w = random_weights(cfg, 0)
    w.tok_emb = _guard(w.tok_emb)
    w.lm_head = w.tok_emb
    w.final_norm = _guard(w.final_norm)
    for lw in w.layers:
        for name in ("attn_norm", "wqkv", "wo", "ffn_norm", "w13", "w2"):
            setattr(lw, name, _guard(getattr(lw, name)))
    m = Model(cfg, w)
    m.rot = _guard(m.rot)
    cache = m.new_cache(2)
    cache.k = [_guard(k) for k in cache.k]
    cache.v = [_guard(v) for v in cache.v]
    cache.reset([1, 0])
    logits = m.forward(np.array([[0, 3, 4], [5, 6, 7]]), cache)  # prefill, padded
    assert logits.dtype == np.float32
    logits = m.forward(np.array([[8], [9]]), cache)  # decode
    assert logits.dtype == np.float32
    assert all(k.dtype == np.float32 for k in cache.k)


def test_presets_have_the_documented_shapes() -> None:
    med = PRESETS["medium"]
    assert (med.d_model, med.n_layers, med.n_heads, med.n_kv_heads, med.ffn, med.vocab) == (
        1024,
        8,
        16,
        16,
        2816,
        8192,
    )
    assert 440e6 < med.weight_bytes() < 450e6  # ~445 MB
    tiny = PRESETS["tiny"]
    assert (tiny.d_model, tiny.n_layers) == (256, 4)


def test_random_weights_are_deterministic_and_sane() -> None:
    a = random_weights(CFG, 5)
    b = random_weights(CFG, 5)
    c = random_weights(CFG, 6)
    assert np.array_equal(a.layers[1].w13, b.layers[1].w13)
    assert not np.array_equal(a.layers[1].w13, c.layers[1].w13)
    m = Model(CFG, a)
    logits = m.full_logits(np.arange(20).reshape(1, 20) % CFG.vocab)
    assert np.isfinite(logits).all()
    assert logits.std() > 0.1  # not degenerate


@pytest.mark.parametrize(
    "kw, msg",
    [
        ({"n_heads": 5}, "does not divide --d-model"),
        ({"n_kv_heads": 3}, "does not divide --n-heads"),
        ({"d_model": 0}, "positive"),
        ({"n_heads": 32}, "must be even"),
    ],
)
def test_bad_shapes_are_refused(kw: dict[str, int], msg: str) -> None:
    base = CFG.as_dict()
    base.update(kw)
    with pytest.raises(WorkloadError, match=msg):
        ModelConfig(**base).validate()
