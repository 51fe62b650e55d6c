"""llama2.c checkpoints: the loader round-trips what the writer wrote, and greedy generation
matches a straightforward reference of run.c written here from the format notes."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from zlprof.workload.__main__ import main as workload_main
from zlprof.workload.generate import GenerationConfig, Workload
from zlprof.workload.llama2c import (
    Llama2cTokenizer,
    load_checkpoint,
    write_checkpoint,
    write_tokenizer,
)
from zlprof.workload.model import Model
from zlprof.workload.presets import ModelConfig, WorkloadError
from zlprof.workload.sampling import SamplingConfig

EXTRA = [
    b" ", b"a", b"b", b"c", b"t", b"h", b"e", b"ab", b"abc", b" a", b" ab", b"th", b"he",
    b"the", b" the", b"ca", b"ba", b"\xc3\xa9", b"\xc3\xa9t", b"cat", b" cat",
]  # fmt: skip


def _vocab() -> tuple[list[bytes], list[float]]:
    vocab = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)] + EXTRA
    rng = np.random.default_rng(7)
    scores = (
        [0.0, 0.0, 0.0] + [0.0] * 256 + [float(np.float32(s)) for s in rng.normal(size=len(EXTRA))]
    )
    return vocab, scores


def _config(shared: bool) -> ModelConfig:
    vocab, _ = _vocab()
    return ModelConfig(
        d_model=24, n_layers=2, n_heads=4, n_kv_heads=2, ffn=40, vocab=len(vocab), context=48,
        tied_embeddings=shared,
    )  # fmt: skip


def _arrays(cfg: ModelConfig, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    d, f, L, V, kvd = cfg.d_model, cfg.ffn, cfg.n_layers, cfg.vocab, cfg.kv_dim

    def r(*shape: int, s: float = 0.3) -> np.ndarray:
        return (rng.standard_normal(shape) * s).astype(np.float32)

    a = {
        "token_embedding": r(V, d, s=1.0),
        "rms_att": 1 + r(L, d, s=0.1),
        "wq": r(L, d, d),
        "wk": r(L, kvd, d),
        "wv": r(L, kvd, d),
        "wo": r(L, d, d),
        "rms_ffn": 1 + r(L, d, s=0.1),
        "w1": r(L, f, d),
        "w2": r(L, d, f),
        "w3": r(L, f, d),
        "rms_final": 1 + r(d, s=0.1),
        "freq_cis": r(2, cfg.context * cfg.head_size // 2),
    }
    if not cfg.tied_embeddings:
        a["wcls"] = r(V, d, s=1.0)
    return a


@pytest.fixture(params=[True, False], ids=["shared", "unshared"])
def checkpoint(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    cfg = _config(request.param)
    arrays = _arrays(cfg, 1 if request.param else 2)
    mpath, tpath = tmp_path / "model.bin", tmp_path / "tokenizer.bin"
    write_checkpoint(str(mpath), cfg, arrays)
    vocab, scores = _vocab()
    write_tokenizer(str(tpath), vocab, scores)
    return cfg, arrays, mpath, tpath


# --------------------------------------------------------------------------- reference


def ref_encode(vocab: list[bytes], scores: list[float], text: str) -> list[int]:
    """run.c encode(text, bos=1, eos=0), spelled out."""
    ids = {s: i for i, s in enumerate(vocab)}
    toks = [1]
    if text:
        toks.append(ids[b" "])
    data = text.encode()
    i = 0
    while i < len(data):  # one code point: lead byte + continuation bytes (max 4)
        j = i + 1
        while j < len(data) and data[j] & 0xC0 == 0x80 and j - i < 4:
            j += 1
        cp = data[i:j]
        toks += [ids[cp]] if cp in ids else [b + 3 for b in cp]
        i = j
    while True:
        best = (-1e10, -1, -1)
        for k in range(len(toks) - 1):
            m = vocab[toks[k]] + vocab[toks[k + 1]]
            if m in ids and scores[ids[m]] > best[0]:
                best = (scores[ids[m]], ids[m], k)
        if best[2] < 0:
            return toks
        toks[best[2] : best[2] + 2] = [best[1]]


def ref_forward(a: dict[str, np.ndarray], cfg: ModelConfig, token: int, pos: int, kc, vc):  # type: ignore[no-untyped-def]
    """run.c forward(), loops and all, float32."""
    f32 = np.float32
    d, hs, H, Hkv = cfg.d_model, cfg.head_size, cfg.n_heads, cfg.n_kv_heads
    kv_mul = H // Hkv

    def rms(x, w):  # type: ignore[no-untyped-def]
        ss = f32(np.sum(x * x, dtype=f32) / f32(len(x)) + f32(1e-5))
        return w * (f32(1.0) / f32(math.sqrt(ss)) * x)

    x = a["token_embedding"][token].copy()
    for li in range(cfg.n_layers):
        xb = rms(x, a["rms_att"][li])
        q = a["wq"][li] @ xb
        k = a["wk"][li] @ xb
        v = a["wv"][li] @ xb
        for i in range(0, d, 2):
            hd = i % hs
            freq = f32(1.0) / f32(10000.0) ** (f32(hd) / f32(hs))
            val = f32(pos) * freq
            fcr, fci = f32(math.cos(val)), f32(math.sin(val))
            for vec in (q, k) if i < cfg.kv_dim else (q,):
                v0, v1 = vec[i], vec[i + 1]
                vec[i] = v0 * fcr - v1 * fci
                vec[i + 1] = v0 * fci + v1 * fcr
        kc[li][pos] = k
        vc[li][pos] = v
        xb = np.zeros(d, f32)
        for h in range(H):
            g = h // kv_mul
            qh = q[h * hs : (h + 1) * hs]
            att = np.array(
                [
                    qh @ kc[li][t][g * hs : (g + 1) * hs] / f32(math.sqrt(hs))
                    for t in range(pos + 1)
                ],
                f32,
            )
            att = np.exp(att - att.max())
            att /= att.sum()
            for t in range(pos + 1):
                xb[h * hs : (h + 1) * hs] += att[t] * vc[li][t][g * hs : (g + 1) * hs]
        x = x + a["wo"][li] @ xb
        xb = rms(x, a["rms_ffn"][li])
        h1 = a["w1"][li] @ xb
        h3 = a["w3"][li] @ xb
        x = x + a["w2"][li] @ (h1 / (f32(1.0) + np.exp(-h1)) * h3)
    x = rms(x, a["rms_final"])
    wcls = a["token_embedding"] if cfg.tied_embeddings else a["wcls"]
    return wcls @ x


def ref_generate(a, cfg, prompt_tokens: list[int], steps: int) -> list[int]:  # type: ignore[no-untyped-def]
    """run.c generate() with -t 0: the tokens it prints after the prompt."""
    kc = [np.zeros((cfg.context, cfg.kv_dim), np.float32) for _ in range(cfg.n_layers)]
    vc = [np.zeros((cfg.context, cfg.kv_dim), np.float32) for _ in range(cfg.n_layers)]
    token, out = prompt_tokens[0], []
    for pos in range(steps):
        logits = ref_forward(a, cfg, token, pos, kc, vc)
        if pos < len(prompt_tokens) - 1:
            nxt = prompt_tokens[pos + 1]
        else:
            nxt = int(np.argmax(logits))
            if nxt == 1:
                break
            out.append(nxt)
        token = nxt
    return out


# --------------------------------------------------------------------------- tests


def test_loader_round_trips_the_written_arrays(checkpoint) -> None:  # type: ignore[no-untyped-def]
    cfg, a, mpath, _ = checkpoint
    got_cfg, w = load_checkpoint(str(mpath))
    assert got_cfg == cfg
    assert np.array_equal(w.tok_emb, a["token_embedding"])
    assert (w.lm_head is w.tok_emb) == cfg.tied_embeddings
    if not cfg.tied_embeddings:
        assert np.array_equal(w.lm_head, a["wcls"])
    for i, lw in enumerate(w.layers):
        assert np.array_equal(lw.wqkv, np.concatenate([a["wq"][i], a["wk"][i], a["wv"][i]]))
        assert np.array_equal(lw.w13, np.concatenate([a["w1"][i], a["w3"][i]]))
        assert np.array_equal(lw.wo, a["wo"][i])
        assert np.array_equal(lw.w2, a["w2"][i])
        assert np.array_equal(lw.attn_norm, a["rms_att"][i])
        assert np.array_equal(lw.ffn_norm, a["rms_ffn"][i])
        assert lw.wqkv.flags.c_contiguous and lw.wqkv.dtype == np.float32
    assert np.array_equal(w.final_norm, a["rms_final"])


@pytest.mark.parametrize("text", ["", "abc", "the cat", "a bc éta zz", "the the cat ab", "🙂 ok"])
def test_encode_matches_reference(tmp_path: Path, text: str) -> None:
    vocab, scores = _vocab()
    write_tokenizer(str(tmp_path / "t.bin"), vocab, scores)
    tok = Llama2cTokenizer.load(str(tmp_path / "t.bin"), len(vocab))
    assert tok.encode(text) == ref_encode(vocab, scores, text)


def test_decode_follows_run_c(tmp_path: Path) -> None:
    vocab, scores = _vocab()
    tok = Llama2cTokenizer(vocab, scores)
    sp_a = vocab.index(b" a")
    assert tok.piece_bytes(1, sp_a) == b"a"  # leading space dropped after BOS
    assert tok.piece_bytes(5, sp_a) == b" a"
    assert tok.piece_bytes(5, 0x41 + 3) == b"A"  # <0x41>
    assert tok.piece_bytes(5, 0x07 + 3) == b""  # unprintable single byte
    assert tok.piece_bytes(5, 0x0A + 3) == b"\n"
    assert tok.decode([vocab.index(b"\xc3\xa9t")], prev=5) == "ét"


def test_greedy_tokens_match_reference(checkpoint) -> None:  # type: ignore[no-untyped-def]
    cfg, a, mpath, tpath = checkpoint
    prompt = "the cat"
    vocab, scores = _vocab()
    ptoks = ref_encode(vocab, scores, prompt)
    steps = 24
    want = ref_generate(a, cfg, ptoks, steps)
    assert len(want) > 3

    got_cfg, w = load_checkpoint(str(mpath))
    tok = Llama2cTokenizer.load(str(tpath), got_cfg.vocab)
    gen = GenerationConfig(
        batch=1,
        max_tokens=steps - len(ptoks) + 1,
        prompt=prompt,
        sampling=SamplingConfig(temperature=0.0, repetition_penalty=1.0),
    )
    wl = Workload(Model(got_cfg, w), tok, gen)
    res = wl.run_request(0)
    assert res.tokens[0] == want
    assert res.texts[0] == tok.decode(want, prev=ptoks[-1])


def test_workload_main_runs_a_checkpoint(checkpoint, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    cfg, a, mpath, tpath = checkpoint
    vocab, scores = _vocab()
    ptoks = ref_encode(vocab, scores, "ab")
    want = ref_generate(a, cfg, ptoks, 12)
    tok = Llama2cTokenizer(vocab, scores)
    argv = ["--weights", str(mpath), "--tokenizer", str(tpath), "--temperature", "0",
            "--repetition-penalty", "1", "--prompt", "ab", "--max-tokens", str(12 - len(ptoks) + 1),
            "--no-profile"]  # fmt: skip
    assert workload_main(argv) == 0
    out = capsys.readouterr().out
    assert out == "ab" + tok.decode(want, prev=ptoks[-1]) + "\n"


def test_truncated_and_bad_files_are_one_line_errors(checkpoint, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, a, mpath, tpath = checkpoint
    data = mpath.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkloadError, match="truncated"):
        load_checkpoint(str(cut))
    bad = tmp_path / "bad.bin"
    bad.write_bytes(struct.pack("<7i", 0, 0, 0, 0, 0, 0, 0))
    with pytest.raises(WorkloadError, match="not a llama2.c checkpoint"):
        load_checkpoint(str(bad))
    with pytest.raises(WorkloadError, match="cannot read"):
        load_checkpoint(str(tmp_path / "missing.bin"))
    short = tmp_path / "short_tok.bin"
    short.write_bytes(tpath.read_bytes()[:100])
    with pytest.raises(WorkloadError, match="not a llama2.c tokenizer"):
        Llama2cTokenizer.load(str(short), cfg.vocab)
