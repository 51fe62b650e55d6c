"""A float32 Llama-style decoder in NumPy: the forward pass the workload profiles.

Per layer: RMSNorm -> fused Q|K|V projection -> RoPE (llama2.c layout: adjacent pairs
(2i, 2i+1) of every head rotated by ``pos / theta^(2i/hs)``) -> K, V written to the cache
-> grouped-query causal attention over the cache -> output projection + residual ->
RMSNorm -> SwiGLU MLP (``W2 @ (silu(W1 x) * (W3 x))``) + residual. Then the final RMSNorm
and the LM head (tied to the token embedding unless a checkpoint says otherwise).

Every matrix is stored (out, in) row-major and applied as ``x @ W.T`` (one row of ``x``
per token): for a single token that is a mat-vec BLAS streams at memory bandwidth, and it
is the llama2.c layout (``y = W @ x``). Q, K and V share one matrix (rows ``[Wq; Wk; Wv]``)
and so do W1 and W3 (rows ``[W1; W3]``): one weight stream per projection.

Everything stays float32: scalars are Python floats (weak) or ``np.float32``, never NumPy
float64 scalars, which would promote whole arrays to float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .costs import CostModel
from .instrument import Probes, probes_off
from .kvcache import KVCache
from .presets import ModelConfig

F32 = np.float32


# --------------------------------------------------------------------------- primitives


def rmsnorm(x: np.ndarray, weight: np.ndarray, eps: float | np.floating = 1e-5) -> np.ndarray:
    """``weight * x / sqrt(mean(x^2) + eps)`` over the last axis (llama2.c's formula)."""
    d = x.shape[-1]
    ss = np.einsum("...i,...i->...", x, x)
    ss /= d
    ss += eps
    np.sqrt(ss, out=ss)
    np.divide(1.0, ss, out=ss)
    out = x * ss[..., None]
    out *= weight
    return out


def softmax_(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place (max-subtracted)."""
    x -= x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def rope_table(head_size: int, context: int, theta: float = 10000.0) -> np.ndarray:
    """Complex rotations ``exp(i * pos * freq_j)``, shape (context, head_size/2), complex64.

    ``freq_j = 1 / theta^(2j/hs)`` in float32, as llama2.c computes it with powf.
    """
    hd = np.arange(0, head_size, 2, dtype=F32)
    freq = F32(1.0) / np.power(F32(theta), hd / F32(head_size))
    ang = np.arange(context, dtype=F32)[:, None] * freq[None, :]
    rot = np.empty(ang.shape, np.complex64)
    rot.real = np.cos(ang)
    rot.imag = np.sin(ang)
    return rot


def apply_rope_(x: np.ndarray, rot: np.ndarray) -> None:
    """Rotate adjacent pairs of ``x`` (..., S, heads, hs) in place by ``rot`` (S, hs/2).

    Viewing each (v0, v1) pair as the complex number v0 + i*v1, the rotation is one
    complex multiply: v0' = v0*cos - v1*sin, v1' = v0*sin + v1*cos.
    """
    xc = x.view(np.complex64)
    xc *= rot[:, None, :]


# --------------------------------------------------------------------------- weights


@dataclass
class LayerWeights:
    attn_norm: np.ndarray  # (d,)
    wqkv: np.ndarray  # (d + 2*kvd, d): rows [Wq; Wk; Wv]
    wo: np.ndarray  # (d, d)
    ffn_norm: np.ndarray  # (d,)
    w13: np.ndarray  # (2*ffn, d): rows [W1 (gate, SiLU); W3 (up)]
    w2: np.ndarray  # (d, ffn)


@dataclass
class Weights:
    tok_emb: np.ndarray  # (V, d)
    layers: list[LayerWeights]
    final_norm: np.ndarray  # (d,)
    lm_head: np.ndarray  # (V, d); the same array as tok_emb when tied

    def nbytes(self) -> int:
        arrays = [self.tok_emb, self.final_norm]
        if self.lm_head is not self.tok_emb:
            arrays.append(self.lm_head)
        for lw in self.layers:
            arrays += [lw.attn_norm, lw.wqkv, lw.wo, lw.ffn_norm, lw.w13, lw.w2]
        return sum(a.nbytes for a in arrays)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Float32 uniform noise with the given standard deviation, made in place."""
    a = np.empty(shape, F32)
    rng.random(out=a, dtype=F32)  # [0, 1)
    a -= F32(0.5)
    a *= F32(std * np.sqrt(12.0))
    return a


def random_weights(cfg: ModelConfig, seed: int = 0) -> Weights:
    """Deterministic weights for ``seed``, scaled so activations stay O(1).

    Projections: std 1/sqrt(fan_in). Embedding rows: std 2/sqrt(d), so tied logits
    ``E @ norm(x)`` have std ~2: peaked enough to favour some tokens, flat enough that
    sampling varies. With a tied head, the residual stream must not stay dominated by
    the input token's own embedding (its logit would win every step and the text would
    repeat one token), so the projections that write the residual stream (Wo, W2) get a
    gain of 8/sqrt(2*layers): the layers' contributions then outweigh the embedding
    ~20:1 whatever the depth. Norm gains: 1 +- a little.
    """
    cfg.validate()
    rng = np.random.default_rng(seed)
    d, kvd, f, V, L = cfg.d_model, cfg.kv_dim, cfg.ffn, cfg.vocab, cfg.n_layers
    res = 8.0 / np.sqrt(2.0 * L)
    tok = _uniform(rng, (V, d), 2.0 / np.sqrt(d))
    layers = []
    for _ in range(L):
        layers.append(
            LayerWeights(
                attn_norm=1.0 + _uniform(rng, (d,), 0.1),
                wqkv=_uniform(rng, (d + 2 * kvd, d), 1.0 / np.sqrt(d)),
                wo=_uniform(rng, (d, d), res / np.sqrt(d)),
                ffn_norm=1.0 + _uniform(rng, (d,), 0.1),
                w13=_uniform(rng, (2 * f, d), 1.0 / np.sqrt(d)),
                w2=_uniform(rng, (d, f), res / np.sqrt(f)),
            )
        )
    final = 1.0 + _uniform(rng, (d,), 0.1)
    head = tok if cfg.tied_embeddings else _uniform(rng, (V, d), 2.0 / np.sqrt(d))
    return Weights(tok, layers, final, head)


# --------------------------------------------------------------------------- model


class Model:
    """The decoder. ``forward`` runs new tokens of every row through, using the cache."""

    def __init__(self, cfg: ModelConfig, weights: Weights) -> None:
        self.cfg = cfg.validate()
        self.w = weights
        self.rot = rope_table(cfg.head_size, cfg.context, cfg.rope_theta)
        self.costs = CostModel(cfg)
        self._scale = F32(1.0 / np.sqrt(cfg.head_size))
        self._eps = F32(cfg.norm_eps)
        self._off = probes_off(cfg.n_layers)
        self._check()

    def _check(self) -> None:
        cfg, w = self.cfg, self.w
        d, kvd, f, V = cfg.d_model, cfg.kv_dim, cfg.ffn, cfg.vocab
        want = {
            "tok_emb": (w.tok_emb, (V, d)),
            "final_norm": (w.final_norm, (d,)),
            "lm_head": (w.lm_head, (V, d)),
        }
        for i, lw in enumerate(w.layers):
            want[f"layer{i}.wqkv"] = (lw.wqkv, (d + 2 * kvd, d))
            want[f"layer{i}.wo"] = (lw.wo, (d, d))
            want[f"layer{i}.w13"] = (lw.w13, (2 * f, d))
            want[f"layer{i}.w2"] = (lw.w2, (d, f))
            want[f"layer{i}.attn_norm"] = (lw.attn_norm, (d,))
            want[f"layer{i}.ffn_norm"] = (lw.ffn_norm, (d,))
        if len(w.layers) != cfg.n_layers:
            raise ValueError(f"{len(w.layers)} layers of weights for {cfg.n_layers} layers")
        for name, (a, shape) in want.items():
            if a.shape != shape or a.dtype != F32 or not a.flags.c_contiguous:
                raise ValueError(
                    f"weight {name}: {a.shape} {a.dtype}, want {shape} float32 C-order"
                )

    def new_cache(self, batch: int, context: int | None = None) -> KVCache:
        return KVCache(self.cfg, batch, context)

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        tokens: np.ndarray,
        cache: KVCache,
        pr: Probes | None = None,
        all_logits: bool = False,
    ) -> np.ndarray:
        """Logits for ``tokens`` (B, S) appended at ``cache.length``.

        Returns (B, V) logits of each row's last position, or (B, S, V) with
        ``all_logits``. Advances ``cache.length`` by S.
        """
        if pr is None or len(pr.layers) < self.cfg.n_layers:
            pr = self._off
        cfg = self.cfg
        w = self.w
        B, S = tokens.shape
        d = cfg.d_model
        H, Hkv, hs, kvd = cfg.n_heads, cfg.n_kv_heads, cfg.head_size, cfg.kv_dim
        kvm = cfg.kv_mul
        f = cfg.ffn
        eps = self._eps
        scale = self._scale
        pos = cache.length
        T = pos + S
        if T > cache.context:
            raise ValueError(f"position {T} is past the context length {cache.context}")
        n = B * S
        mask = cache.attention_mask(pos, S)
        rot = self.rot[pos:T]
        oc = pr.op_cost
        pc = pr.pass_cost
        lc = pr.layer_cost
        if pr.any_cost:
            c = self.costs.forward(B, S, T, n if all_logits else B, mask is not None)
            # per-call (flops, bytes) as locals: the hot loop only unpacks them
            c_rms, c_qkv, c_rope, c_kv, c_sc, c_sm, c_out, c_gu, c_dn = c[1:10]
            if pr.forward_cost:  # coarse depth: the whole pass on the enclosing stage block
                pr.forward_cost(*c.total)

        with pr.embed:
            if pc:
                pc(*c.embed)
            x = w.tok_emb[tokens.reshape(n)]  # (n, d) gather: a copy

        rms, qkv_b, rope_b, kv_b = pr.rmsnorm, pr.qkv, pr.rope, pr.kv_update
        sc_b, sm_b, out_b, gu_b, dn_b = pr.scores, pr.softmax, pr.out, pr.gate_up, pr.down
        for li in range(cfg.n_layers):
            lw = w.layers[li]
            with pr.layers[li]:
                # every cost is reported right after its block opens, while the profiler's
                # per-thread state is still in cache (after a big mat-vec it no longer is)
                if lc:
                    lc(*c.layer)
                # ---- attention
                with rms:
                    if oc:
                        oc(*c_rms)
                    xn = rmsnorm(x, lw.attn_norm, eps)
                with qkv_b:
                    if oc:
                        oc(*c_qkv)
                    qkv = xn @ lw.wqkv.T  # (n, d + 2*kvd)
                with rope_b:
                    if oc:
                        oc(*c_rope)
                    # q and k are adjacent in each row: rotate both with one multiply
                    apply_rope_(qkv[:, : d + kvd].reshape(B, S, H + Hkv, hs), rot)
                with kv_b:
                    if oc:
                        oc(*c_kv)
                    kc = cache.k[li]
                    vc = cache.v[li]
                    kc[:, :, pos:T] = (
                        qkv[:, d : d + kvd].reshape(B, S, Hkv, hs).transpose(0, 2, 1, 3)
                    )
                    vc[:, :, pos:T] = qkv[:, d + kvd :].reshape(B, S, Hkv, hs).transpose(0, 2, 1, 3)
                with sc_b:
                    if oc:
                        oc(*c_sc)
                    if S == 1:
                        q = qkv[:, :d].reshape(B, Hkv, kvm, hs)
                    else:  # (B, S, Hkv, kvm, hs) -> (B, Hkv, kvm*S, hs)
                        q = (
                            qkv[:, :d]
                            .reshape(B, S, Hkv, kvm, hs)
                            .transpose(0, 2, 3, 1, 4)
                            .reshape(B, Hkv, kvm * S, hs)
                        )
                    att = q @ kc[:, :, :T].transpose(0, 1, 3, 2)  # (B, Hkv, kvm*S, T)
                    att *= scale
                with sm_b:
                    if oc:
                        oc(*c_sm)
                    if mask is not None:
                        a5 = att.reshape(B, Hkv, kvm, S, T)  # a view
                        a5 += mask
                    softmax_(att)
                with out_b:
                    if oc:
                        oc(*c_out)
                    ctx = att @ vc[:, :, :T]  # (B, Hkv, kvm*S, hs)
                    if S == 1:
                        ctx = ctx.reshape(n, d)
                    else:
                        ctx = ctx.reshape(B, Hkv, kvm, S, hs).transpose(0, 3, 1, 2, 4).reshape(n, d)
                    x += ctx @ lw.wo.T
                # ---- MLP
                with rms:
                    if oc:
                        oc(*c_rms)
                    xn = rmsnorm(x, lw.ffn_norm, eps)
                with gu_b:
                    if oc:
                        oc(*c_gu)
                    h13 = xn @ lw.w13.T  # (n, 2f)
                    g = h13[:, :f]
                    h = np.negative(g)
                    np.exp(h, out=h)
                    h += 1.0
                    np.divide(g, h, out=h)  # silu(g) = g / (1 + exp(-g))
                    h *= h13[:, f:]
                with dn_b:
                    if oc:
                        oc(*c_dn)
                    x += h @ lw.w2.T

        with pr.final_norm:
            if pc:
                pc(*c.final_norm)
            if not all_logits:
                x = x.reshape(B, S, d)[:, -1]
            xn = rmsnorm(x, w.final_norm, eps)
        with pr.lm_head:
            if pc:
                pc(*c.lm_head)
            logits = xn @ w.lm_head.T
        cache.length = T
        if all_logits:
            return logits.reshape(B, S, cfg.vocab)
        return logits

    def full_logits(self, tokens: np.ndarray, pads: list[int] | None = None) -> np.ndarray:
        """Logits (B, S, V) of every position of ``tokens`` (B, S) in one pass, no kept cache.

        ``pads[b]``: left-padding slots of row b (masked out, as in generation).
        """
        B, S = tokens.shape
        cache = self.new_cache(B, max(S, 1))
        cache.reset(pads)
        return self.forward(tokens, cache, all_logits=True)
