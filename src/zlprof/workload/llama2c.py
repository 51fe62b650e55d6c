"""Load llama2.c checkpoints (``model.bin``, legacy v0) and tokenizers (``tokenizer.bin``).

The model computes what llama2.c's ``run.c`` computes (see /shared/llama2c-format.md):
matrices are (out, in) applied as ``W @ x``; RoPE rotates adjacent pairs; query head ``h``
reads KV head ``h // (n_heads / n_kv_heads)``; RMSNorm's eps is added to the mean square;
SiLU applies to ``w1``; the classifier is the token embedding unless the header's vocab
size is negative. Our :class:`~zlprof.workload.model.Model` uses those conventions for
every model, so a checkpoint only needs its matrices regrouped: ``[wq; wk; wv]`` become one
fused Q|K|V matrix and ``[w1; w3]`` one gate|up matrix (row blocks, no transposes).

The writers (:func:`write_checkpoint`, :func:`write_tokenizer`) produce the same format;
the tests use them to make small checkpoints.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable

import numpy as np

from .model import LayerWeights, Weights
from .presets import ModelConfig, WorkloadError
from .tokenizer import decode_streamed

HEADER = struct.Struct("<7i")
BOS = 1
EOS = 2


# --------------------------------------------------------------------------- checkpoint


def _config_from_header(vals: tuple[int, ...], path: str) -> ModelConfig:
    dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len = vals
    if min(dim, hidden, n_layers, n_heads, n_kv_heads, seq_len) <= 0 or vocab == 0:
        raise WorkloadError(f"{path}: not a llama2.c checkpoint (header {list(vals)})")
    if dim % n_heads or n_heads % n_kv_heads or (dim // n_heads) % 2:
        raise WorkloadError(
            f"{path}: unsupported shape: dim {dim}, n_heads {n_heads}, n_kv_heads {n_kv_heads}"
        )
    return ModelConfig(
        d_model=dim,
        n_layers=n_layers,
        n_heads=n_heads,
        n_kv_heads=n_kv_heads,
        ffn=hidden,
        vocab=abs(vocab),
        context=seq_len,
        tied_embeddings=vocab > 0,
    )


def _layout(cfg: ModelConfig) -> list[tuple[str, tuple[int, ...]]]:
    """The float32 arrays of a v0 checkpoint, in file order (after the 28-byte header)."""
    d, f, L, V = cfg.d_model, cfg.ffn, cfg.n_layers, cfg.vocab
    hs, kvd = cfg.head_size, cfg.kv_dim
    out = [
        ("token_embedding", (V, d)),
        ("rms_att", (L, d)),
        ("wq", (L, d, d)),
        ("wk", (L, kvd, d)),
        ("wv", (L, kvd, d)),
        ("wo", (L, d, d)),
        ("rms_ffn", (L, d)),
        ("w1", (L, f, d)),
        ("w2", (L, d, f)),
        ("w3", (L, f, d)),
        ("rms_final", (d,)),
        ("freq_cis", (2, cfg.context * hs // 2)),  # unused legacy RoPE tables
    ]
    if not cfg.tied_embeddings:
        out.append(("wcls", (V, d)))
    return out


def read_config(path: str) -> ModelConfig:
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEADER.size)
    except OSError as e:
        raise WorkloadError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    if len(head) < HEADER.size:
        raise WorkloadError(f"{path}: too short for a llama2.c checkpoint header")
    return _config_from_header(HEADER.unpack(head), path)


def load_checkpoint(path: str) -> tuple[ModelConfig, Weights]:
    """(shapes, weights) of a llama2.c v0 checkpoint; errors are :class:`WorkloadError`."""
    cfg = read_config(path)
    layout = _layout(cfg)
    need = HEADER.size + 4 * sum(int(np.prod(s)) for _, s in layout)
    size = os.path.getsize(path)
    if size < need:
        raise WorkloadError(
            f"{path}: truncated checkpoint: {size} bytes, the header's shapes need {need}"
        )
    mm = np.memmap(path, dtype="<f4", mode="r", offset=HEADER.size)
    arrays: dict[str, np.ndarray] = {}
    off = 0
    for name, shape in layout:
        k = int(np.prod(shape))
        arrays[name] = mm[off : off + k].reshape(shape)
        off += k

    def own(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a, dtype=np.float32)

    layers = []
    for i in range(cfg.n_layers):
        layers.append(
            LayerWeights(
                attn_norm=own(arrays["rms_att"][i]),
                wqkv=own(np.concatenate([arrays["wq"][i], arrays["wk"][i], arrays["wv"][i]])),
                wo=own(arrays["wo"][i]),
                ffn_norm=own(arrays["rms_ffn"][i]),
                w13=own(np.concatenate([arrays["w1"][i], arrays["w3"][i]])),
                w2=own(arrays["w2"][i]),
            )
        )
    emb = own(arrays["token_embedding"])
    head = emb if cfg.tied_embeddings else own(arrays["wcls"])
    weights = Weights(emb, layers, own(arrays["rms_final"]), head)
    del mm
    return cfg, weights


def write_checkpoint(path: str, cfg: ModelConfig, arrays: dict[str, np.ndarray]) -> None:
    """Write a v0 checkpoint from arrays named as in the format (``freq_cis`` optional)."""
    vocab = cfg.vocab if cfg.tied_embeddings else -cfg.vocab
    with open(path, "wb") as fh:
        fh.write(
            HEADER.pack(
                cfg.d_model, cfg.ffn, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, vocab, cfg.context
            )
        )
        for name, shape in _layout(cfg):
            a = arrays.get(name)
            if a is None and name == "freq_cis":
                a = np.zeros(shape, np.float32)
            if a is None:
                raise ValueError(f"missing array {name}")
            a = np.asarray(a, "<f4")
            if a.shape != shape:
                raise ValueError(f"array {name}: shape {a.shape}, want {shape}")
            fh.write(a.tobytes())


# --------------------------------------------------------------------------- tokenizer

_BYTE_PIECE = re.compile(rb"<0x([0-9A-Fa-f]{1,2})>")


class Llama2cTokenizer:
    """llama2.c's tokenizer: score-driven merges over code points, byte fallback."""

    bos_id = BOS
    eos_id = EOS
    stop_ids = frozenset({BOS})  # run.c stops when the next token is BOS; EOS is printed
    pad_id = 0

    def __init__(self, vocab: list[bytes], scores: list[float], max_token_length: int = 0) -> None:
        self.vocab = vocab
        self.scores = [float(s) for s in scores]
        self.vocab_size = len(vocab)
        self.max_token_length = max_token_length
        self._lookup: dict[bytes, int] = {}
        for i, s in enumerate(vocab):
            self._lookup.setdefault(s, i)
        # what each token prints as: "<0xHH>" pieces are the raw byte
        self._raw: list[bytes] = []
        for s in vocab:
            m = _BYTE_PIECE.match(s)
            self._raw.append(bytes([int(m.group(1), 16)]) if m else s)

    @classmethod
    def load(cls, path: str, vocab_size: int) -> Llama2cTokenizer:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as e:
            raise WorkloadError(f"cannot read tokenizer {path}: {e.strerror or e}") from None
        try:
            (max_len,) = struct.unpack_from("<I", data, 0)
            off = 4
            vocab: list[bytes] = []
            scores: list[float] = []
            for _ in range(vocab_size):
                score, n = struct.unpack_from("<fi", data, off)
                off += 8
                if n < 0 or off + n > len(data):
                    raise ValueError
                vocab.append(data[off : off + n])
                scores.append(score)
                off += n
        except (struct.error, ValueError):
            raise WorkloadError(
                f"{path}: not a llama2.c tokenizer for a vocabulary of {vocab_size} tokens"
            ) from None
        return cls(vocab, scores, max_len)

    # ------------------------------------------------------------------ encode

    def encode(self, text: str, bos: bool = True) -> list[int]:
        """run.c's ``encode(text, bos, eos=0)``."""
        lookup = self._lookup
        tokens: list[int] = [BOS] if bos else []
        if text:
            sp = lookup.get(b" ")
            if sp is None:
                raise WorkloadError("llama2.c tokenizer has no ' ' token (dummy prefix)")
            tokens.append(sp)
        data = text.encode("utf-8")
        buf = bytearray()
        for i, c in enumerate(data):
            if (c & 0xC0) != 0x80:
                buf.clear()
            buf.append(c)
            nxt = data[i + 1] if i + 1 < len(data) else 0
            if (nxt & 0xC0) == 0x80 and len(buf) < 4:
                continue
            tid = lookup.get(bytes(buf))
            if tid is not None:
                tokens.append(tid)
            else:
                tokens.extend(b + 3 for b in buf)
            buf.clear()
        vocab, scores = self.vocab, self.scores
        while True:
            best_score = -1e10
            best_id = -1
            best_idx = -1
            for i in range(len(tokens) - 1):
                tid = lookup.get(vocab[tokens[i]] + vocab[tokens[i + 1]])
                if tid is not None and scores[tid] > best_score:
                    best_score = scores[tid]
                    best_id = tid
                    best_idx = i
            if best_idx == -1:
                break
            tokens[best_idx : best_idx + 2] = [best_id]
        return tokens

    # ------------------------------------------------------------------ decode

    def piece_bytes(self, prev: int, token: int) -> bytes:
        """run.c's ``decode(prev, token)`` then ``safe_printf``: the bytes it prints."""
        if not 0 <= token < self.vocab_size:
            return b""
        if prev == BOS and self.vocab[token][:1] == b" ":
            piece = self.vocab[token][1:]
            m = _BYTE_PIECE.match(piece)
            if m:
                piece = bytes([int(m.group(1), 16)])
        else:
            piece = self._raw[token]
        if len(piece) == 1:
            c = piece[0]
            if not (0x20 <= c <= 0x7E or c in b" \t\n\v\f\r"):
                return b""
        return piece

    def decode_bytes(self, ids: Iterable[int], prev: int = BOS) -> bytes:
        out = []
        for t in ids:
            out.append(self.piece_bytes(prev, t))
            prev = t
        return b"".join(out)

    def decode(self, ids: Iterable[int], prev: int = BOS) -> str:
        return self.decode_bytes(ids, prev).decode("utf-8", errors="replace")

    def streamer(self, prev: int = BOS) -> Llama2cStreamer:
        return Llama2cStreamer(self, prev)


class Llama2cStreamer:
    """Text pieces of a token stream, holding back split UTF-8 sequences."""

    __slots__ = ("_tok", "_prev", "_pending")

    def __init__(self, tok: Llama2cTokenizer, prev: int) -> None:
        self._tok = tok
        self._prev = prev
        self._pending = b""

    def push(self, token: int) -> str:
        b = self._pending + self._tok.piece_bytes(self._prev, token)
        self._prev = token
        text, self._pending = decode_streamed(b)
        return text


def write_tokenizer(path: str, vocab: list[bytes], scores: list[float]) -> None:
    max_len = max((len(s) for s in vocab), default=0)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<I", max_len))
        for s, sc in zip(vocab, scores, strict=True):
            fh.write(struct.pack("<fi", float(sc), len(s)))
            fh.write(s)
