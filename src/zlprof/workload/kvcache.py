"""A preallocated float32 KV cache for batched decoding with left padding.

Layout per layer: ``k[l]`` and ``v[l]`` of shape ``(B, Hkv, context, hs)``, so one head's
history is contiguous and ``k[l][:, :, :T]`` feeds the attention matmuls without copies.
The arrays come from ``np.zeros`` (lazily mapped pages): the resident set grows as
positions are written, which the memory samples show, and the ``kv_cache_bytes`` gauge
reports the bytes in use (``2 * layers * B * Hkv * T * hs * 4``).

Rows of a batch may have prompts of different lengths: shorter ones are left-padded, so
all rows share one write position; ``pads[b]`` slots at the start of row ``b`` are masked
out of attention (additive mask, a large negative number rather than -inf so a query that
sees only padding still gets finite, unused values).
"""

from __future__ import annotations

import numpy as np

from .presets import ModelConfig

MASK_VALUE = np.float32(-1e30)


class KVCache:
    def __init__(self, cfg: ModelConfig, batch: int, context: int | None = None) -> None:
        self.cfg = cfg
        self.batch = batch
        self.context = cfg.context if context is None else context
        shape = (batch, cfg.n_kv_heads, self.context, cfg.head_size)
        self.k = [np.zeros(shape, np.float32) for _ in range(cfg.n_layers)]
        self.v = [np.zeros(shape, np.float32) for _ in range(cfg.n_layers)]
        self.length = 0
        self.pads = np.zeros(batch, np.int64)
        self._pad_mask: np.ndarray | None = None  # (B, 1, 1, 1, context) or None
        self.bytes_per_position = cfg.kv_bytes_per_token(batch)

    def reset(self, pads: np.ndarray | list[int] | None = None) -> None:
        """Start a new batch of sequences; ``pads[b]`` = left-padding slots of row b."""
        self.length = 0
        if pads is None or not np.any(np.asarray(pads)):
            self.pads = np.zeros(self.batch, np.int64)
            self._pad_mask = None
            return
        self.pads = np.asarray(pads, np.int64).copy()
        m = np.zeros((self.batch, self.context), np.float32)
        idx = np.arange(self.context)
        m[idx[None, :] < self.pads[:, None]] = MASK_VALUE
        self._pad_mask = m.reshape(self.batch, 1, 1, 1, self.context)

    @property
    def nbytes_used(self) -> int:
        return self.length * self.bytes_per_position

    @property
    def nbytes_allocated(self) -> int:
        return self.context * self.bytes_per_position

    def attention_mask(self, pos: int, S: int) -> np.ndarray | None:
        """Additive mask of shape broadcastable to (B, Hkv, kv_mul, S, T), or None.

        ``T = pos + S``. Query ``i`` (absolute slot ``pos + i``) sees slots ``<= pos + i``
        that are not padding of its row.
        """
        T = pos + S
        pm = self._pad_mask
        if S == 1:
            return None if pm is None else pm[..., :T]
        j = np.arange(T)
        i = np.arange(pos, T)
        causal = np.where(j[None, :] > i[:, None], MASK_VALUE, np.float32(0)).astype(np.float32)
        causal = causal.reshape(1, 1, 1, S, T)
        if pm is None:
            return causal
        return np.minimum(causal, pm[..., :T])
