"""Model shapes (ModelConfig) and the built-in presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class WorkloadError(ValueError):
    """A value the user chose that cannot work (shown as one line, exit status 2)."""


@dataclass(frozen=True)
class ModelConfig:
    """Shapes of a Llama-style decoder (all float32)."""

    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn: int
    vocab: int
    context: int
    tied_embeddings: bool = True  # LM head shares the token embedding matrix
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    @property
    def head_size(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.head_size

    @property
    def kv_mul(self) -> int:
        return self.n_heads // self.n_kv_heads

    def validate(self) -> ModelConfig:
        for name in ("d_model", "n_layers", "n_heads", "n_kv_heads", "ffn", "vocab", "context"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise WorkloadError(
                    f"--{name.replace('_', '-')} must be a positive integer, got {v}"
                )
        if self.d_model % self.n_heads:
            raise WorkloadError(
                f"--n-heads {self.n_heads} does not divide --d-model {self.d_model}"
            )
        if self.n_heads % self.n_kv_heads:
            raise WorkloadError(
                f"--n-kv-heads {self.n_kv_heads} does not divide --n-heads {self.n_heads}"
            )
        if self.head_size % 2:
            raise WorkloadError(
                f"head size d_model/n_heads = {self.head_size} must be even (RoPE rotates pairs)"
            )
        return self

    def param_count(self) -> int:
        d, f, v = self.d_model, self.ffn, self.vocab
        per_layer = d * (d + 2 * self.kv_dim) + d * d + 2 * f * d + d * f + 2 * d
        head = 0 if self.tied_embeddings else v * d
        return v * d + self.n_layers * per_layer + d + head

    def weight_bytes(self) -> int:
        return 4 * self.param_count()

    def kv_bytes_per_token(self, batch: int = 1) -> int:
        """KV-cache bytes one position adds (K and V, every layer, float32)."""
        return 2 * self.n_layers * batch * self.kv_dim * 4

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# Sizes: tiny runs in well under a second per request (tests); small is the default of
# `zlprof live` (visibly live, GQA on); medium streams ~445 MB of weights a token and is
# clearly memory-bound. Vocabularies stay within the built-in tokenizer.
PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        d_model=256, n_layers=4, n_heads=8, n_kv_heads=4, ffn=704, vocab=8192, context=512
    ),
    "small": ModelConfig(
        d_model=512, n_layers=8, n_heads=8, n_kv_heads=4, ffn=1408, vocab=8192, context=1024
    ),
    "medium": ModelConfig(
        d_model=1024, n_layers=8, n_heads=16, n_kv_heads=16, ffn=2816, vocab=8192, context=1024
    ),
}

DEFAULT_PRESET = "small"
