"""The generation loop, with the seed's stages.

Per request (one prompt per batch row, each row its own request id)::

    token(req, -1, "start")                     every row
    tokenize                                    prompts -> ids (left-padded batch)
    prefill                                     the whole prompt batch in one forward pass
    sampling                                    first token -> token(req, 0, "prefill", text)
    repeat: forward_pass  (each layer writes its kv_cache_update)
            sampling                            -> token(req, i, "decode", text)
    decode                                      every row's tokens -> text
    token(req, n, "end")                        n = tokens the row generated

A row stops at ``max_tokens`` or when it samples a stop token (the end-of-sequence token;
it is not counted or printed); the batch stops when every row has, or when the context is
full. Finished rows ride along in the batch (static batching) without emitting tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .instrument import Probes
from .model import Model
from .presets import WorkloadError
from .sampling import Sampler, SamplingConfig

BUILTIN_PROMPTS = (
    "Once upon a time, in a small village by the sea,",
    "The profiler showed that the forward pass",
    "To make inference fast on a CPU, the first thing to measure is",
    "Memory bandwidth, not arithmetic, limits single-token decoding because",
    "The key-value cache grows with every token, so",
    "Return a new list containing the items of the iterable",
    "In the beginning the universe was created.",
    "A good benchmark reports the median, the tail and the spread of",
)


class Tokenizer(Protocol):
    bos_id: int
    eos_id: int
    stop_ids: frozenset[int]
    pad_id: int
    vocab_size: int

    def encode(self, text: str, bos: bool = True) -> list[int]: ...

    def decode(self, ids: Any, prev: int | None = ...) -> str: ...

    def streamer(self, prev: int | None = ...) -> Any: ...


@dataclass(frozen=True)
class GenerationConfig:
    batch: int = 1
    max_tokens: int = 64
    requests: int = 1  # 0 = until stopped
    prompt: str | None = None  # None = the built-in prompts, in turn
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    stop_at_eos: bool = True


@dataclass
class RequestResult:
    request_ids: list[int]
    prompts: list[str]
    prompt_tokens: list[int]
    tokens: list[list[int]]
    texts: list[str]
    elapsed_ns: int

    @property
    def generated(self) -> int:
        return sum(len(t) for t in self.tokens)


class Workload:
    """A model, a tokenizer and a loop that serves requests, instrumented by ``probes``."""

    # what ``zlprof bench`` reads from a generator (set by zlprof.bench.worker.builtin_generator)
    bench_config: dict[str, Any] | None = None
    requests_per_run: int = 1

    def __init__(
        self,
        model: Model,
        tokenizer: Tokenizer,
        gen: GenerationConfig,
        profiler: Any = None,
        depth: str = "ops",
    ) -> None:
        self.model = model
        self.tok = tokenizer
        self.gen = gen
        cfg = model.cfg
        if gen.batch < 1:
            raise WorkloadError("--batch must be at least 1")
        if gen.max_tokens < 1:
            raise WorkloadError("--max-tokens must be at least 1")
        if tokenizer.vocab_size > cfg.vocab:
            raise WorkloadError(
                f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {cfg.vocab}"
            )
        self.prompts = (gen.prompt,) if gen.prompt is not None else BUILTIN_PROMPTS
        self._encoded = [tokenizer.encode(p) for p in self.prompts]
        longest = max(len(ids) for ids in self._encoded)
        if longest > cfg.context:
            raise WorkloadError(
                f"the context ({cfg.context} positions) is shorter than the prompt "
                f"({longest} tokens)"
            )
        self.cache = model.new_cache(gen.batch)
        self.sampler = Sampler(gen.sampling, gen.batch, cfg.vocab)
        self.set_profiling(profiler, depth)
        self.requests_done = 0
        self.tokens_generated = 0
        # checked once per token: True ends the current request early (cleanly)
        self.should_stop: Callable[[], bool] | None = None

    def set_profiling(self, profiler: Any, depth: str = "ops") -> None:
        """(Re)bind the instrumentation: ``profiler=None`` or a disabled one = off."""
        self.probes = Probes(profiler, depth, self.model.cfg.n_layers)

    def prompts_for(self, k: int) -> list[str]:
        B = self.gen.batch
        return [self.prompts[(k * B + b) % len(self.prompts)] for b in range(B)]

    # ------------------------------------------------------------------ one request

    def run_request(self, k: int) -> RequestResult:
        """Serve request batch ``k`` (rows get request ids ``k*B .. k*B+B-1``)."""
        pr = self.probes
        tok = self.tok
        model = self.model
        cache = self.cache
        sampler = self.sampler
        gen = self.gen
        B = gen.batch
        prompts = self.prompts_for(k)
        req_ids = [k * B + b for b in range(B)]
        emit = pr.token
        gauge = pr.gauge
        cost = pr.cost
        t_start = time.perf_counter_ns()
        if emit:
            for r in req_ids:
                emit(r, -1, "start")

        with pr.tokenize:
            ids = [tok.encode(p) for p in prompts]
            P = max(len(x) for x in ids)
            pads = [P - len(x) for x in ids]
            batch = np.full((B, P), tok.pad_id, np.int64)
            for b, x in enumerate(ids):
                batch[b, pads[b] :] = x
        if P > cache.context:
            raise WorkloadError(
                f"the context ({cache.context} positions) is shorter than the prompt ({P} tokens)"
            )
        cache.reset(pads)
        sampler.reset(ids)
        stop_ids = tok.stop_ids if gen.stop_at_eos else frozenset()
        streams = [tok.streamer(x[-1]) for x in ids] if emit else None
        out: list[list[int]] = [[] for _ in range(B)]
        active = [True] * B
        n_active = B
        samp_cost = model.costs.sampling(B)

        with pr.prefill:
            logits = model.forward(batch, cache, pr)
        if gauge:
            gauge("kv_cache_bytes", cache.nbytes_used)
        phase = "prefill"
        should_stop = self.should_stop
        while True:
            with pr.sampling:
                if cost:
                    cost(*samp_cost)
                nxt = sampler.sample(logits)
            for b in range(B):
                if not active[b]:
                    continue
                t = int(nxt[b])
                if t in stop_ids:
                    active[b] = False
                    n_active -= 1
                    continue
                ob = out[b]
                ob.append(t)
                if emit and streams is not None:  # (streams exist exactly when emit does)
                    emit(req_ids[b], len(ob) - 1, phase, streams[b].push(t))
                if len(ob) >= gen.max_tokens:
                    active[b] = False
                    n_active -= 1
            if n_active == 0 or cache.length >= cache.context:
                break
            if should_stop is not None and should_stop():
                break
            phase = "decode"
            with pr.forward_pass:
                logits = model.forward(nxt.reshape(B, 1), cache, pr)
            if gauge:
                gauge("kv_cache_bytes", cache.nbytes_used)

        with pr.decode:
            texts = [tok.decode(out[b], ids[b][-1]) for b in range(B)]
        if emit:
            for b in range(B):
                emit(req_ids[b], len(out[b]), "end")
        res = RequestResult(
            req_ids, prompts, [len(x) for x in ids], out, texts, time.perf_counter_ns() - t_start
        )
        self.requests_done += 1
        self.tokens_generated += res.generated
        return res

    # ------------------------------------------------------------------ many

    def run(
        self,
        on_result: Callable[[RequestResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        requests: int | None = None,
    ) -> int:
        """Serve ``requests`` request batches (0 = until ``should_stop()``); returns the count."""
        n = self.gen.requests if requests is None else requests
        k = 0
        while n == 0 or k < n:
            if should_stop is not None and should_stop():
                break
            res = self.run_request(k)
            if on_result is not None:
                on_result(res)
            k += 1
        return k

    def describe(self) -> dict[str, Any]:
        """The run's configuration for ``set_config`` and the report header."""
        cfg = self.model.cfg
        gen = self.gen
        s = gen.sampling
        return {
            "workload": "zlprof.workload",
            "d_model": cfg.d_model,
            "n_layers": cfg.n_layers,
            "n_heads": cfg.n_heads,
            "n_kv_heads": cfg.n_kv_heads,
            "head_size": cfg.head_size,
            "ffn": cfg.ffn,
            "vocab": cfg.vocab,
            "context": cfg.context,
            "tied_embeddings": cfg.tied_embeddings,
            "dtype": "float32",
            "params": cfg.param_count(),
            "weights_bytes": self.model.w.nbytes(),
            "weight_bytes_per_token": self.model.costs.weight_bytes_read_per_token(),
            "kv_cache_bytes_per_token": cfg.kv_bytes_per_token(gen.batch),
            "kv_cache_bytes_max": self.cache.nbytes_allocated,
            "batch": gen.batch,
            "max_tokens": gen.max_tokens,
            "requests": gen.requests,
            "prompts": len(self.prompts),
            "prompt": gen.prompt,
            "seed": s.seed,
            "temperature": s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "repetition_penalty": s.repetition_penalty,
            "profile_depth": self.probes.depth if self.probes.enabled else "off",
            "tokenizer_vocab": self.tok.vocab_size,
        }


def build_workload(spec: Any, profiler: Any = None) -> Workload:
    """Model, tokenizer and loop for a resolved :class:`~zlprof.workload.options.WorkloadSpec`."""
    from .model import random_weights

    if spec.weights is not None:
        from .llama2c import Llama2cTokenizer, load_checkpoint

        cfg, weights = load_checkpoint(spec.weights)
        tok: Any = Llama2cTokenizer.load(spec.tokenizer, cfg.vocab)
    else:
        from .tokenizer import TokenizerError, builtin_tokenizer

        cfg = spec.model
        try:
            tok = builtin_tokenizer(cfg.vocab)
        except TokenizerError as e:
            raise WorkloadError(str(e)) from None
        weights = random_weights(cfg, spec.sampling.seed)
    model = Model(cfg, weights)
    gen = GenerationConfig(
        batch=spec.batch,
        max_tokens=spec.max_tokens,
        requests=spec.requests,
        prompt=spec.prompt,
        sampling=spec.sampling,
    )
    return Workload(model, tok, gen, profiler, spec.depth)
