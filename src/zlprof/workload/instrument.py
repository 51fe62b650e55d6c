"""Pre-bound measure blocks and cost hooks for one profile depth.

The model and the generation loop never look names up on the hot path: every block is
created once here, and an op that is below the chosen depth gets a shared no-op context
(``with`` on it costs ~0.1 us) and ``None`` for its cost hook (skipped with one ``if``),
so ``--no-profile`` runs the very same loop with every hook inert.

Depths:
    coarse  tokenize, prefill, forward_pass, sampling, decode
    layers  + per layer ``layer{i}`` and the per-pass ``embed``, ``final_norm``, ``lm_head``
    ops     + inside each layer: rmsnorm, attention.qkv, attention.rope, kv_cache_update,
            attention.scores, attention.softmax, attention.out, mlp.gate_up, mlp.down

Costs are reported on the innermost measured blocks only (see costs.py), so the hooks are:
``op_cost`` (ops depth), ``layer_cost`` (layers depth exactly), ``pass_cost`` (embed,
final_norm, lm_head at layers and ops depth), ``forward_cost`` (coarse depth) and
``cost`` (top-level stages such as sampling, any depth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

DEPTHS = ("coarse", "layers", "ops")

# The per-layer operations at depth "ops" (the names Probes gives their blocks).
LAYER_OPS = (
    "rmsnorm",
    "attention.qkv",
    "attention.rope",
    "kv_cache_update",
    "attention.scores",
    "attention.softmax",
    "attention.out",
    "mlp.gate_up",
    "mlp.down",
)


class _Null:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, et: object, ev: object, tb: object) -> Literal[False]:
        return False


NULL = _Null()

CostHook = Callable[[int, int], None] | None


class Probes:
    """Blocks and hooks bound for one profiler, depth and layer count."""

    def __init__(self, prof: Any = None, depth: str = "ops", n_layers: int = 0) -> None:
        if depth not in DEPTHS:
            raise ValueError(f"profile depth must be one of {', '.join(DEPTHS)}")
        on = prof is not None and prof.enabled
        self.enabled = on
        self.depth = depth
        lvl = DEPTHS.index(depth) if on else -1

        def blk(name: str, level: int, memory: bool = False) -> Any:
            if lvl < level:
                return NULL
            return prof.measure(name, memory=memory) if memory else prof.measure(name)

        # the request-level stages read memory at start and end (a reading costs ~1 us warm
        # and ~13 us right after a large mat-vec has flushed the caches); the per-token
        # forward_pass does not: the profiler's 50 ms sampler already draws RSS and the KV
        # cache over time.
        self.tokenize = blk("tokenize", 0, True)
        self.prefill = blk("prefill", 0, True)
        self.forward_pass = blk("forward_pass", 0)
        self.sampling = blk("sampling", 0)
        self.decode = blk("decode", 0, True)

        self.layers = [blk(f"layer{i}", 1) for i in range(n_layers)]
        self.embed = blk("embed", 1)
        self.final_norm = blk("final_norm", 1)
        self.lm_head = blk("lm_head", 1)

        self.rmsnorm = blk("rmsnorm", 2)
        self.qkv = blk("attention.qkv", 2)
        self.rope = blk("attention.rope", 2)
        self.kv_update = blk("kv_cache_update", 2)
        self.scores = blk("attention.scores", 2)
        self.softmax = blk("attention.softmax", 2)
        self.out = blk("attention.out", 2)
        self.gate_up = blk("mlp.gate_up", 2)
        self.down = blk("mlp.down", 2)

        c = prof.cost if on else None
        self.cost: CostHook = c
        self.forward_cost: CostHook = c if lvl == 0 else None
        self.layer_cost: CostHook = c if lvl == 1 else None
        self.pass_cost: CostHook = c if lvl >= 1 else None
        self.op_cost: CostHook = c if lvl == 2 else None
        self.any_cost = c is not None
        self.token = prof.token if on else None
        self.gauge = prof.gauge if on else None


def probes_off(n_layers: int) -> Probes:
    return Probes(None, "ops", n_layers)
