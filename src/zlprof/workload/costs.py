"""FLOPs and bytes moved per call of each instrumented op, from the shapes alone.

Conventions (every formula below follows them):

* FLOPs count multiplies and adds separately (a multiply-add is 2); ``exp``, ``sqrt`` and
  a division count 1 each. A mat-vec ``y = W @ x`` with ``W`` of shape (out, in) is
  ``2 * out * in`` FLOPs.
* Bytes are the *compulsory* traffic of the op on float32 data: every operand read once
  and every result written once (``4 *`` elements). Intermediates that a fused kernel
  would keep in registers or cache are not counted. A mat-vec on fp32 weights moves
  ``4 * (out*in + in + out)`` bytes, so its intensity is ~0.5 FLOP/byte (the seed's
  "I = 2" forgot that each weight is 4 bytes and used once per token).

Symbols: ``B`` batch rows, ``S`` new positions per row in this call (prompt length in
prefill, 1 in decode), ``n = B*S`` token rows, ``T`` positions attended (cache length
after the write), ``d`` model width, ``H``/``Hkv`` query/KV heads, ``hs`` head size,
``kvd = Hkv*hs``, ``Q = d + 2*kvd`` (fused q|k|v rows), ``f`` FFN width, ``V`` vocab,
``m`` rows that get logits (``B`` in generation: only the last position of each row).

=================  ==============================================  ==============================================
op                 FLOPs                                           bytes
=================  ==============================================  ==============================================
embed              0                                               4*(n*d + n*d)        (gather rows, write x)
rmsnorm            4*n*d   (square, sum, scale, gain)              4*(2*n*d + d)        (x in, out, gain)
attention.qkv      2*n*Q*d                                         4*(Q*d + n*d + n*Q)
attention.rope     3*n*(d+kvd)   (6 per rotated pair)              4*(2*n*(d+kvd) + S*hs) (q,k in/out, cos|sin)
kv_cache_update    0                                               4*4*n*kvd            (k,v read + written)
attention.scores   2*B*H*S*T*hs + B*H*S*T   (dots, 1/sqrt(hs))     4*(n*d + B*Hkv*T*hs + B*H*S*T)
attention.softmax  5*B*H*S*T  (+1 per element if a mask is added)  4*2*B*H*S*T          (in place)
attention.out      2*B*H*S*T*hs + 2*n*d*d + n*d   (probs@V, Wo,    4*(B*H*S*T + B*Hkv*T*hs + d*d + 2*n*d)
                   residual add)
mlp.gate_up        2*n*2f*d + 5*n*f   (W1|W3, SiLU 4 + product 1)  4*(2f*d + n*d + n*f)
mlp.down           2*n*d*f + n*d      (W2, residual add)           4*(d*f + n*f + 2*n*d)
final_norm         4*m*d                                           4*(2*m*d + d)
lm_head            2*m*V*d                                         4*(V*d + m*d + m*V)
sampling           8*B*V  (penalty 2, temperature 1, softmax 5)    4*3*B*V              (approximate)
=================  ==============================================  ==============================================

A layer's cost is the sum of its ops (rmsnorm twice); a forward pass's is embed + layers +
final_norm + lm_head. Each op is reported once per call at ``ops`` depth; at ``layers``
depth each layer block reports its layer total; at ``coarse`` depth ``prefill`` /
``forward_pass`` report the forward total; so costs always sit on the innermost measured
blocks and never count twice.
"""

from __future__ import annotations

from typing import NamedTuple

from .presets import ModelConfig

Cost = tuple[int, int]


class ForwardCosts(NamedTuple):
    """(flops, bytes) per call of each op for one forward pass of a given shape."""

    embed: Cost
    rmsnorm: Cost
    qkv: Cost
    rope: Cost
    kv_update: Cost
    scores: Cost
    softmax: Cost
    out: Cost
    gate_up: Cost
    down: Cost
    final_norm: Cost
    lm_head: Cost
    layer: Cost  # one layer: every op above from rmsnorm to down (rmsnorm twice)
    total: Cost  # the whole forward pass


class CostModel:
    """Per-op FLOPs/bytes for one model; shape constants precomputed once."""

    def __init__(self, cfg: ModelConfig) -> None:
        d = cfg.d_model
        kvd = cfg.kv_dim
        f = cfg.ffn
        self.cfg = cfg
        self.d = d
        self.H = cfg.n_heads
        self.Hkv = cfg.n_kv_heads
        self.hs = cfg.head_size
        self.kvd = kvd
        self.Q = d + 2 * kvd
        self.f = f
        self.V = cfg.vocab
        self._cache: dict[tuple[int, int, int, int, bool], ForwardCosts] = {}

    def forward(
        self, B: int, S: int, T: int, m: int | None = None, masked: bool = False
    ) -> ForwardCosts:
        """Costs of a forward pass over ``B x S`` new tokens attending ``T`` positions."""
        if m is None:
            m = B
        key = (B, S, T, m, masked)
        got = self._cache.get(key)
        if got is not None:
            return got
        d, H, Hkv, hs, kvd, Q, f, V = (
            self.d,
            self.H,
            self.Hkv,
            self.hs,
            self.kvd,
            self.Q,
            self.f,
            self.V,
        )
        n = B * S
        att = B * H * S * T  # score elements
        embed = (0, 4 * (n * d + n * d))
        rms = (4 * n * d, 4 * (2 * n * d + d))
        qkv = (2 * n * Q * d, 4 * (Q * d + n * d + n * Q))
        rope = (3 * n * (d + kvd), 4 * (2 * n * (d + kvd) + S * hs))
        kv = (0, 4 * 4 * n * kvd)
        scores = (2 * att * hs + att, 4 * (n * d + B * Hkv * T * hs + att))
        softmax = ((6 if masked else 5) * att, 4 * 2 * att)
        out = (
            2 * att * hs + 2 * n * d * d + n * d,
            4 * (att + B * Hkv * T * hs + d * d + 2 * n * d),
        )
        gate_up = (2 * n * 2 * f * d + 5 * n * f, 4 * (2 * f * d + n * d + n * f))
        down = (2 * n * d * f + n * d, 4 * (d * f + n * f + 2 * n * d))
        fnorm = (4 * m * d, 4 * (2 * m * d + d))
        head = (2 * m * V * d, 4 * (V * d + m * d + m * V))
        ops = (rms, qkv, rope, kv, scores, softmax, out, rms, gate_up, down)
        layer = (sum(c[0] for c in ops), sum(c[1] for c in ops))
        L = self.cfg.n_layers
        total = (
            embed[0] + L * layer[0] + fnorm[0] + head[0],
            embed[1] + L * layer[1] + fnorm[1] + head[1],
        )
        fc = ForwardCosts(
            embed,
            rms,
            qkv,
            rope,
            kv,
            scores,
            softmax,
            out,
            gate_up,
            down,
            fnorm,
            head,
            layer,
            total,
        )
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = fc
        return fc

    def sampling(self, B: int) -> Cost:
        return (8 * B * self.V, 4 * 3 * B * self.V)

    def weight_bytes_read_per_token(self) -> int:
        """Weight bytes one decode step streams (embedding: one row per token)."""
        cfg = self.cfg
        d = self.d
        per_layer = 4 * (self.Q * d + d * d + 2 * self.f * d + d * self.f + 2 * d)
        return cfg.n_layers * per_layer + 4 * (self.V * d + d)
