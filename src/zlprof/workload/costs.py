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
rmsnorm            n*(4*d + 4)  (see :func:`rmsnorm_cost`)        4*(2*n*d + d)        (x in, out, gain)
attention.qkv      2*n*Q*d                                         4*(Q*d + n*d + n*Q)
attention.rope     3*n*(d+kvd)   (6 per rotated pair)              4*(2*n*(d+kvd) + S*hs) (q,k in/out, cos|sin)
kv_cache_update    0                                               4*4*n*kvd            (k,v read + written)
attention.scores   2*B*H*S*T*hs + B*H*S*T   (dots, 1/sqrt(hs))     4*(n*d + B*Hkv*T*hs + B*H*S*T)
attention.softmax  5*B*H*S*T  (+1 per element if a mask is added)  4*2*B*H*S*T          (in place)
attention.out      2*B*H*S*T*hs + 2*n*d*d + n*d   (probs@V, Wo,    4*(B*H*S*T + B*Hkv*T*hs + d*d + 2*n*d)
                   residual add)
mlp.gate_up        2*n*2f*d + 5*n*f   (W1|W3, SiLU 4 + product 1)  4*(2f*d + n*d + n*f)
mlp.down           2*n*d*f + n*d      (W2, residual add)           4*(d*f + n*f + 2*n*d)
final_norm         m*(4*d + 4)                                     4*(2*m*d + d)
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

import math
from typing import NamedTuple

from .presets import ModelConfig

Cost = tuple[int, int]


# ---------------------------------------------------------------- generic op formulas
# The one definition of each op's cost: the workload's CostModel below and the roofline
# (``zlprof.roofline`` re-exports these) both use them.


class OpCost(NamedTuple):
    """FLOPs and bytes moved by one call of an operation."""

    flops: int
    nbytes: int

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOP/byte (``inf`` when no bytes move)."""
        return self.flops / self.nbytes if self.nbytes else math.inf

    def __add__(self, other: object) -> OpCost:
        if not isinstance(other, OpCost):
            return NotImplemented
        return OpCost(self.flops + other.flops, self.nbytes + other.nbytes)


def _check_dims(**dims: int) -> None:
    for name, v in dims.items():
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")


def _attention_dims(
    q_len: int, kv_len: int, head_dim: int, n_heads: int, n_kv_heads: int | None, dtype_bytes: int
) -> int:
    """Check an attention op's dimensions; the KV heads (``n_heads`` unless grouped)."""
    kvh = n_heads if n_kv_heads is None else n_kv_heads
    _check_dims(
        q_len=q_len,
        kv_len=kv_len,
        head_dim=head_dim,
        n_heads=n_heads,
        n_kv_heads=kvh,
        dtype_bytes=dtype_bytes,
    )
    return kvh


def matmul_cost(m: int, n: int, k: int, dtype_bytes: int = 4, *, batch: int = 1) -> OpCost:
    """``C[m, n] = A[m, k] @ B[k, n]`` (``batch`` independent products).

    FLOPs = 2 m n k (a multiply and an add per multiply-accumulate).
    Bytes = dtype_bytes (m k + k n + m n): A and B read once, C written once.

    A mat-vec (m = 1) on fp32 weights: 2 n k / (4 (k + k n + n)) ~ 0.5 FLOP/byte.
    A square product: 2 n^3 / (12 n^2) = n / 6 FLOP/byte.
    """
    _check_dims(m=m, n=n, k=k, dtype_bytes=dtype_bytes, batch=batch)
    return OpCost(batch * 2 * m * n * k, batch * dtype_bytes * (m * k + k * n + m * n))


def attention_scores_cost(
    q_len: int,
    kv_len: int,
    head_dim: int,
    n_heads: int = 1,
    n_kv_heads: int | None = None,
    dtype_bytes: int = 4,
    *,
    scale: bool = True,
) -> OpCost:
    """Scores ``S = Q K^T / sqrt(head_dim)`` for every head.

    Per head: FLOPs = 2 q_len kv_len head_dim, plus q_len kv_len for the scaling multiply
    when ``scale``. Bytes = dtype_bytes (n_heads q_len head_dim [Q read]
    + n_kv_heads kv_len head_dim [K read once per KV head, shared by its query group]
    + n_heads q_len kv_len [S written]).

    Decode (q_len = 1, kv_len = T, head_dim = 64, one head): FLOPs = 129 T,
    bytes = 4 (64 + 64 T + T) -> ~0.5 FLOP/byte. Prefill (q_len = kv_len = n >> d): ~d/2.
    """
    kvh = _attention_dims(q_len, kv_len, head_dim, n_heads, n_kv_heads, dtype_bytes)
    per_head = 2 * q_len * kv_len * head_dim + (q_len * kv_len if scale else 0)
    nbytes = dtype_bytes * (
        n_heads * q_len * head_dim + kvh * kv_len * head_dim + n_heads * q_len * kv_len
    )
    return OpCost(n_heads * per_head, nbytes)


def attention_values_cost(
    q_len: int,
    kv_len: int,
    head_dim: int,
    n_heads: int = 1,
    n_kv_heads: int | None = None,
    dtype_bytes: int = 4,
) -> OpCost:
    """Weighted values ``O = P V`` for every head (P: q_len x kv_len, V: kv_len x head_dim).

    Per head: FLOPs = 2 q_len kv_len head_dim. Bytes = dtype_bytes (n_heads q_len kv_len
    [P read] + n_kv_heads kv_len head_dim [V read] + n_heads q_len head_dim [O written]).
    """
    kvh = _attention_dims(q_len, kv_len, head_dim, n_heads, n_kv_heads, dtype_bytes)
    nbytes = dtype_bytes * (
        n_heads * q_len * kv_len + kvh * kv_len * head_dim + n_heads * q_len * head_dim
    )
    return OpCost(n_heads * 2 * q_len * kv_len * head_dim, nbytes)


def softmax_cost(rows: int, n: int, dtype_bytes: int = 4, *, masked: bool = False) -> OpCost:
    """Numerically stable softmax over ``rows`` rows of ``n`` elements.

    FLOPs = 5 per element: max (a compare), subtract the max, exp (counted as one FLOP),
    sum, and the final divide; 6 when a mask is added first. (The seed's 4n leaves out
    the max pass.) Bytes = dtype_bytes 2 rows n: the input read once and the output
    written once (in place); the repeated passes over a row are assumed to hit the cache.
    Intensity 5 / 8 = 0.625 FLOP/byte for fp32.
    """
    _check_dims(rows=rows, n=n, dtype_bytes=dtype_bytes)
    return OpCost((6 if masked else 5) * rows * n, dtype_bytes * 2 * rows * n)


def rmsnorm_cost(rows: int, d: int, dtype_bytes: int = 4, *, weight: bool = True) -> OpCost:
    """RMSNorm ``y = x / sqrt(mean(x^2) + eps) * w`` over ``rows`` vectors of ``d``.

    Counted on :func:`zlprof.workload.model.rmsnorm`'s steps, per row: the dot product
    ``x . x`` (d multiplies + d adds = 2 d, the same convention as a mat-vec's 2 n k),
    divide by d (1), add eps (1), sqrt (1), reciprocal (1), scale x (d), multiply by the
    weight (d): 4 d + 4 (3 d + 4 without a weight). rmsnorm(1, 64) = 260 FLOPs.
    Bytes = dtype_bytes (2 rows d + d): x read and y written per row, the weight vector
    read once per call (shared by all rows).
    One fp32 row: (4 d + 4) / (12 d) ~ 0.33 FLOP/byte (the seed's 0.375 omits the weight).
    """
    _check_dims(rows=rows, d=d, dtype_bytes=dtype_bytes)
    per_row = (4 if weight else 3) * d + 4
    nbytes = dtype_bytes * (2 * rows * d + (d if weight else 0))
    return OpCost(rows * per_row, nbytes)


def embedding_cost(rows: int, d: int, dtype_bytes: int = 4) -> OpCost:
    """Token-embedding lookup of ``rows`` tokens: no FLOPs, a row read and written each."""
    _check_dims(rows=rows, d=d, dtype_bytes=dtype_bytes)
    return OpCost(0, dtype_bytes * 2 * rows * d)


def _pair(c: OpCost) -> Cost:
    return (c.flops, c.nbytes)


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
        embed = _pair(embedding_cost(n, d))
        rms = _pair(rmsnorm_cost(n, d))
        qkv = _pair(matmul_cost(n, Q, d))
        rope = (3 * n * (d + kvd), 4 * (2 * n * (d + kvd) + S * hs))
        kv = (0, 4 * 4 * n * kvd)
        sc = attention_scores_cost(S, T, hs, H, Hkv)
        scores = (B * sc.flops, B * sc.nbytes)
        softmax = _pair(softmax_cost(B * H * S, T, masked=masked))
        out = (
            2 * att * hs + 2 * n * d * d + n * d,
            4 * (att + B * Hkv * T * hs + d * d + 2 * n * d),
        )
        gate_up = (2 * n * 2 * f * d + 5 * n * f, 4 * (2 * f * d + n * d + n * f))
        down = (2 * n * d * f + n * d, 4 * (d * f + n * f + 2 * n * d))
        fnorm = _pair(rmsnorm_cost(m, d))
        head = _pair(matmul_cost(m, V, d))
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
