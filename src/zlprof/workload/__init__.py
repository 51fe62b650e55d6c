"""The built-in instrumented NumPy inference workload (``python -m zlprof.workload``).

A float32 Llama-style decoder (model.py) with a KV cache (kvcache.py), a byte-level BPE
tokenizer (tokenizer.py) or a llama2.c checkpoint (llama2c.py), sampling (sampling.py) and
the generation loop with the seed's stages (generate.py). Options shared with the ``zlprof``
CLI live in options.py. Nothing here imports the TUI, the CLI or the report code.
"""

from .generate import BUILTIN_PROMPTS, GenerationConfig, RequestResult, Workload, build_workload
from .model import Model, random_weights
from .options import WorkloadSpec, add_workload_arguments, resolve, workload_argv
from .presets import PRESETS, ModelConfig, WorkloadError
from .sampling import Sampler, SamplingConfig

__all__ = [
    "BUILTIN_PROMPTS",
    "GenerationConfig",
    "Model",
    "ModelConfig",
    "PRESETS",
    "RequestResult",
    "Sampler",
    "SamplingConfig",
    "Workload",
    "WorkloadError",
    "WorkloadSpec",
    "add_workload_arguments",
    "build_workload",
    "random_weights",
    "resolve",
    "workload_argv",
]
