"""The WORKLOAD options, shared by ``python -m zlprof.workload`` and the ``zlprof`` CLI.

``add_workload_arguments(parser)`` adds them (every default is ``None`` so we can tell what
the user set); ``workload_argv(ns)`` rebuilds the child's argv from parsed options;
``resolve(ns)`` applies presets and defaults and checks everything that can be checked
without loading weights, raising :class:`WorkloadError` with a one-line message.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .instrument import DEPTHS
from .presets import DEFAULT_PRESET, PRESETS, ModelConfig, WorkloadError
from .sampling import SamplingConfig

# dest -> (flag, kind); kind "flag" = store_true
_DIM_OPTIONS = (
    ("d_model", "--d-model"),
    ("n_layers", "--n-layers"),
    ("n_heads", "--n-heads"),
    ("n_kv_heads", "--n-kv-heads"),
    ("ffn", "--ffn"),
    ("vocab", "--vocab"),
    ("context", "--context"),
)

WORKLOAD_OPTIONS: tuple[tuple[str, str], ...] = (
    ("preset", "--preset"),
    ("batch", "--batch"),
    ("prompt", "--prompt"),
    ("max_tokens", "--max-tokens"),
    ("requests", "--requests"),
    ("seed", "--seed"),
    ("temperature", "--temperature"),
    ("top_k", "--top-k"),
    ("top_p", "--top-p"),
    ("repetition_penalty", "--repetition-penalty"),
    ("profile_depth", "--profile-depth"),
    ("no_profile", "--no-profile"),
    ("weights", "--weights"),
    ("tokenizer", "--tokenizer"),
    ("threads", "--threads"),
    *_DIM_OPTIONS,
)
"""(argparse dest, flag) of every workload option, in ``workload_argv`` order."""

DEFAULTS: dict[str, Any] = {
    "preset": DEFAULT_PRESET,
    "batch": 1,
    "max_tokens": 64,
    "requests": 1,
    "seed": 0,
    "temperature": 0.8,
    "top_k": 40,
    "top_p": 0.95,
    "repetition_penalty": 1.1,
    "profile_depth": "ops",
}


# --------------------------------------------------------------------------- value types


def _int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return v


T = TypeVar("T", int, float)


def _within(value: T, ok: bool, rule: str, text: str) -> T:
    """``value`` if ``ok``, else the argparse error ``{rule}, got {text!r}``."""
    if not ok:
        raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    v = _int(text)
    return _within(v, v > 0, "must be a positive integer", text)


def nonnegative_int(text: str) -> int:
    v = _int(text)
    return _within(v, v >= 0, "must be 0 or more", text)


def nonnegative_float(text: str) -> float:
    v = _float(text)
    return _within(v, v >= 0, "must be 0 or more", text)


def positive_float(text: str) -> float:
    v = _float(text)
    return _within(v, v > 0, "must be greater than 0", text)


def probability(text: str) -> float:
    v = _float(text)
    return _within(v, 0.0 < v <= 1.0, "must be in (0, 1]", text)


def seed_int(text: str) -> int:
    v = _int(text)
    if not 0 <= v < 2**63:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**63), got {text!r}")
    return v


# --------------------------------------------------------------------------- parser


def add_workload_arguments(
    parser: argparse.ArgumentParser, sweep: bool = False
) -> argparse._ArgumentGroup:
    """Add the WORKLOAD options (DESIGN.md) to ``parser``; returns their group.

    ``sweep=True`` (``zlprof bench``): every option takes a comma list, kept as text; the
    caller splits it and checks each value by parsing it with a plain workload parser.
    """
    if sweep:
        g = parser.add_argument_group(
            "workload (each option takes a comma list; the bench runs the cross product)"
        )
        for dest, flag in WORKLOAD_OPTIONS:
            if dest == "no_profile":
                g.add_argument(
                    flag,
                    dest=dest,
                    action="store_true",
                    default=None,
                    help="run the loop uninstrumented",
                )
            else:
                g.add_argument(flag, dest=dest, default=None, metavar="LIST")
        return g
    g = parser.add_argument_group(
        "workload", "the built-in NumPy inference workload (python -m zlprof.workload)"
    )
    g.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help=f"model size (default {DEFAULT_PRESET}); tiny: seconds, medium: ~445 MB of weights",
    )
    g.add_argument(
        "--batch",
        type=positive_int,
        default=None,
        metavar="N",
        help="prompts decoded together, one request each (default 1)",
    )
    g.add_argument(
        "--prompt",
        default=None,
        metavar="TEXT",
        help="prompt for every row (default: a small built-in set, in turn)",
    )
    g.add_argument(
        "--max-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="tokens generated per request (default 64)",
    )
    g.add_argument(
        "--requests",
        type=nonnegative_int,
        default=None,
        metavar="N",
        help="request batches to serve; 0 = until stopped (default 1)",
    )
    g.add_argument(
        "--seed",
        type=seed_int,
        default=None,
        metavar="N",
        help="seed of the weights and of sampling (default 0)",
    )
    g.add_argument(
        "--temperature",
        type=nonnegative_float,
        default=None,
        metavar="X",
        help="0 = greedy (default 0.8)",
    )
    g.add_argument(
        "--top-k",
        type=nonnegative_int,
        default=None,
        metavar="N",
        help="keep the N most likely tokens; 0 = off (default 40)",
    )
    g.add_argument(
        "--top-p",
        type=probability,
        default=None,
        metavar="X",
        help="nucleus: keep the smallest set with mass >= X; 1 = off (default 0.95)",
    )
    g.add_argument(
        "--repetition-penalty",
        type=positive_float,
        default=None,
        metavar="X",
        help="penalise tokens already in the row; 1 = off (default 1.1)",
    )
    g.add_argument(
        "--profile-depth",
        choices=DEPTHS,
        default=None,
        help="coarse: stages; layers: + per layer; ops: + per op (default ops)",
    )
    g.add_argument(
        "--no-profile", action="store_true", default=None, help="run the same loop uninstrumented"
    )
    g.add_argument(
        "--weights",
        default=None,
        metavar="FILE",
        help="a llama2.c checkpoint (model.bin) instead of random weights",
    )
    g.add_argument(
        "--tokenizer",
        default=None,
        metavar="FILE",
        help="the llama2.c tokenizer.bin that goes with --weights",
    )
    g.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        metavar="N",
        help="BLAS threads (default: the BLAS library's own choice)",
    )
    for dest, flag in _DIM_OPTIONS:
        g.add_argument(
            flag,
            dest=dest,
            type=positive_int,
            default=None,
            metavar="N",
            help=f"override the preset's {dest.replace('_', ' ')}",
        )
    return g


def workload_argv(ns: argparse.Namespace) -> list[str]:
    """The ``python -m zlprof.workload`` arguments that reproduce the options set in ``ns``."""
    argv: list[str] = []
    for dest, flag in WORKLOAD_OPTIONS:
        v = getattr(ns, dest, None)
        if v is None or v is False:
            continue
        if v is True:
            argv.append(flag)
        else:
            # "--prompt=TEXT" keeps a prompt that starts with "-" an argument
            argv.append(f"{flag}={v}")
    return argv


# --------------------------------------------------------------------------- resolve


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything the workload needs, defaults applied and checked."""

    preset: str | None
    model: ModelConfig | None  # None when the shapes come from --weights
    batch: int
    max_tokens: int
    requests: int
    prompt: str | None
    sampling: SamplingConfig
    profile: bool
    depth: str
    weights: str | None = None
    tokenizer: str | None = None
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _get(ns: argparse.Namespace, dest: str) -> Any:
    v = getattr(ns, dest, None)
    return DEFAULTS.get(dest) if v is None else v


def resolve(ns: argparse.Namespace) -> WorkloadSpec:
    """Apply presets and defaults to parsed options; :class:`WorkloadError` if they clash."""
    weights = getattr(ns, "weights", None)
    tokenizer = getattr(ns, "tokenizer", None)
    dims = {dest: getattr(ns, dest, None) for dest, _ in _DIM_OPTIONS}
    if (weights is None) != (tokenizer is None):
        raise WorkloadError("--weights and --tokenizer go together")
    model: ModelConfig | None = None
    preset = _get(ns, "preset")
    if weights is not None:
        assert tokenizer is not None  # (checked just above: they go together)
        for path, flag in ((weights, "--weights"), (tokenizer, "--tokenizer")):
            if not os.path.isfile(path):
                raise WorkloadError(f"{flag}: no such file: {path}")
        set_dims = [flag for dest, flag in _DIM_OPTIONS if dims[dest] is not None]
        if set_dims:
            raise WorkloadError(
                f"{set_dims[0]} cannot be combined with --weights (the checkpoint sets it)"
            )
        if getattr(ns, "preset", None) is not None:
            raise WorkloadError("--preset cannot be combined with --weights")
        preset = None
    else:
        base = PRESETS[preset]
        fields: dict[str, Any] = {
            k: (dims[k] if dims.get(k) is not None else v) for k, v in base.as_dict().items()
        }
        model = ModelConfig(**fields)
        model.validate()
        from .tokenizer import max_vocab

        if model.vocab > max_vocab():
            raise WorkloadError(
                f"--vocab {model.vocab} is larger than the built-in tokenizer's {max_vocab()} tokens"
            )
        if model.vocab < 258:
            raise WorkloadError("--vocab must be at least 258 (256 bytes + 2 special tokens)")
    sampling = SamplingConfig(
        temperature=float(_get(ns, "temperature")),
        top_k=int(_get(ns, "top_k")),
        top_p=float(_get(ns, "top_p")),
        repetition_penalty=float(_get(ns, "repetition_penalty")),
        seed=int(_get(ns, "seed")),
    )
    return WorkloadSpec(
        preset=preset,
        model=model,
        batch=int(_get(ns, "batch")),
        max_tokens=int(_get(ns, "max_tokens")),
        requests=int(_get(ns, "requests")),
        prompt=getattr(ns, "prompt", None),
        sampling=sampling,
        profile=not bool(getattr(ns, "no_profile", None)),
        depth=_get(ns, "profile_depth"),
        weights=weights,
        tokenizer=tokenizer,
        threads=getattr(ns, "threads", None),
    )
