"""Token sampling: greedy, temperature, top-k, top-p (nucleus), repetition penalty.

Order, as in Hugging Face ``generate``: repetition penalty on the raw logits -> divide by
the temperature -> keep the top-k -> keep the top-p nucleus -> renormalise -> draw.

* temperature 0 means greedy: the argmax of the (penalised) logits, first index on ties.
* top-k keeps the ``k`` largest logits (0 = off).
* top-p keeps the smallest set of most probable tokens whose probabilities sum to at
  least ``p`` (always at least one token; 1.0 = off).
* repetition penalty ``r`` (CTRL): every token already in the row (prompt or output) has
  its logit divided by ``r`` if positive, multiplied by ``r`` if negative (1.0 = off).

Draws come from one ``numpy.random.Generator`` seeded once, so the same seed and options
give the same tokens. Probabilities are computed in float64 (only for the kept tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    seed: int = 0


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float64."""
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def top_k_indices(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest of a 1-D array, largest first (all if k <= 0 or >= n)."""
    n = logits.shape[0]
    if k <= 0 or k >= n:
        return np.argsort(-logits, kind="stable")
    part = np.argpartition(-logits, k - 1)[:k]
    return part[np.argsort(-logits[part], kind="stable")]


def top_p_count(sorted_probs: np.ndarray, p: float) -> int:
    """How many of the (descending) probabilities form the top-p nucleus."""
    if p >= 1.0:
        return int(sorted_probs.shape[0])
    cum = np.cumsum(sorted_probs)
    # first index where the cumulative mass reaches p; keep it and everything before
    k = int(np.searchsorted(cum, p, side="left")) + 1
    return max(1, min(k, int(sorted_probs.shape[0])))


def filtered_distribution(
    logits: np.ndarray, temperature: float, top_k: int = 0, top_p: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(token ids, probabilities) left after temperature, top-k and top-p; sums to 1.

    Ids come most probable first.
    """
    idx = top_k_indices(logits, top_k)
    z = logits[idx].astype(np.float64) / temperature
    z -= z[0]
    probs = np.exp(z)
    probs /= probs.sum()
    if top_p < 1.0:
        keep = top_p_count(probs, top_p)
        idx = idx[:keep]
        probs = probs[:keep] / probs[:keep].sum()
    return idx, probs


def apply_repetition_penalty_(logits: np.ndarray, seen: np.ndarray, penalty: float) -> None:
    """In place: logits of ``seen`` tokens divided by ``penalty`` (>0) or multiplied (<0)."""
    v = logits[seen]
    logits[seen] = np.where(v > 0, v / penalty, v * penalty)


class Sampler:
    """Samples one token per batch row, remembering each row's tokens for the penalty."""

    def __init__(self, cfg: SamplingConfig, batch: int, vocab: int) -> None:
        self.cfg = cfg
        self.batch = batch
        self.vocab = vocab
        self.rng = np.random.default_rng(cfg.seed)
        self.seen = np.zeros((batch, vocab), bool)
        self._rows = np.arange(batch)
        self._penalty = float(cfg.repetition_penalty)
        self._temp = float(cfg.temperature)

    def reset(self, prompts: list[list[int]] | None = None) -> None:
        """New requests: forget the rows' tokens, then remember their prompts."""
        self.seen[:] = False
        if prompts:
            for b, ids in enumerate(prompts):
                ids_arr = np.asarray(ids, np.int64)
                ids_arr = ids_arr[(ids_arr >= 0) & (ids_arr < self.vocab)]
                self.seen[b, ids_arr] = True

    def sample(self, logits: np.ndarray) -> np.ndarray:
        """Token ids (B,) for logits (B, V); the logits may be modified in place."""
        cfg = self.cfg
        if self._penalty != 1.0:
            apply_repetition_penalty_(logits, self.seen, self._penalty)
        if self._temp <= 0.0:
            out = np.argmax(logits, axis=-1)
        else:
            out = np.empty(logits.shape[0], np.int64)
            u = self.rng.random((logits.shape[0],))
            for b in range(logits.shape[0]):
                idx, probs = filtered_distribution(logits[b], self._temp, cfg.top_k, cfg.top_p)
                j = int(np.searchsorted(np.cumsum(probs), u[b], side="right"))
                out[b] = idx[min(j, idx.shape[0] - 1)]
        self.seen[self._rows, out] = True
        return out
