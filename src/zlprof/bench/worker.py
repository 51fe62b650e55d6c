"""``python -m zlprof.bench.worker``: the child side of ``zlprof bench``.

The parent (:mod:`zlprof.bench.runner`) starts this module under the profiler's channel
(its connection to zlprof's socket, ``ZLPROF_SOCKET``). It builds a generator once, runs
the warm-up runs, then the measured runs, and announces every run on the channel so the
parent can time it out, watch its memory and stop it::

    python -m zlprof.bench.worker --warmup N --runs N --first-index K
                                 [--generator MODULE:FUNCTION] -- GENERATOR-ARGS...

Each run is:

1. ``prof.flush()``, then a ``log`` frame of level ``"bench"`` whose message is JSON
   ``{"event": "run_start", "phase": "warmup"|"measure", "index": i, "t": ns}`` (sent at
   once: log frames are flushed immediately), then a memory sample (the run's baseline);
2. the work, inside a measured block ``bench_warmup`` or ``bench_run`` (so a recording's
   report shows the run durations as an operation, and the workload's stages nest under
   it): ``requests`` calls of ``generator.run_request(k)``;
3. a memory sample, ``prof.flush()`` (so every token event of the run is on the pipe
   before it), then ``{"event": "run_end", "phase", "index", "t0", "t1",
   "duration_ns", "tokens", "characters", "requests", "batches"}``.

A generator is what ``FUNCTION(argv)`` returns: an object with ``run_request(k)`` whose
result has ``generated`` (tokens), ``texts`` (list of str) and ``request_ids`` (list),
and optionally ``describe() -> dict``. It reports token events itself
(``zlprof.token``). The default generator is the built-in workload
(:func:`builtin_generator`), built from the WORKLOAD options in GENERATOR-ARGS.

This module imports nothing from the UI, the CLI or the report code: it must start fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

PROG = "python -m zlprof.bench.worker"
LOG_LEVEL = "bench"

_now = time.perf_counter_ns


class ChildError(Exception):
    """A problem with the generator or its options (one line; exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


# --------------------------------------------------------------------------- generators


class _TokensOnly:
    """What the workload's Probes see under ``--no-profile`` in a bench: no blocks, no
    costs, but token events and gauges still flow (TTFT/TPOT/ITL need them)."""

    enabled = True

    def __init__(self, prof: Any) -> None:
        from ..workload.instrument import NULL

        self._null = NULL
        self.token = prof.token
        self.gauge = prof.gauge

    def measure(self, name: str, memory: bool = False) -> Any:
        return self._null

    def cost(self, flops: int, nbytes: int) -> None:
        return None


def builtin_generator(argv: list[str]) -> Any:
    """The built-in NumPy workload, built from WORKLOAD options.

    In a bench the profile depth defaults to ``coarse`` (five stage blocks per token, so
    the instrumentation stays off the measurement) and ``--no-profile`` keeps token
    events (for TTFT/TPOT/ITL) while dropping every block. ``--requests N`` is the
    number of request batches per run (default 1); 0 ("until stopped") is refused.
    """
    from ..workload.options import add_workload_arguments, resolve
    from ..workload.presets import WorkloadError

    parser = _Parser(prog="zlprof bench", allow_abbrev=False)
    add_workload_arguments(parser)
    ns = parser.parse_args(argv)
    if getattr(ns, "profile_depth", None) is None:
        ns.profile_depth = "coarse"
    if getattr(ns, "requests", None) == 0:
        raise ChildError("--requests 0 (until stopped) cannot be benchmarked; give N >= 1")
    try:
        spec = resolve(ns)
    except WorkloadError as e:
        raise ChildError(str(e)) from None
    if spec.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(spec.threads)  # kept for the life of the process

    import zlprof

    from ..workload.generate import build_workload

    prof = zlprof.get_profiler()
    hooks: Any = prof if spec.profile else _TokensOnly(prof)
    t0 = time.perf_counter()
    try:
        wl = build_workload(spec, hooks)
    except WorkloadError as e:
        raise ChildError(str(e)) from None
    config = wl.describe()
    config.update(
        preset=spec.preset,
        profile_depth=spec.depth if spec.profile else "off (token events only)",
        load_s=round(time.perf_counter() - t0, 3),
    )
    wl.bench_config = config
    wl.requests_per_run = max(1, spec.requests)
    prof.gauge("weights_bytes", int(config.get("weights_bytes") or 0))
    prof.gauge("kv_cache_bytes", 0)
    return wl


def load_generator(spec: str | None) -> Callable[[list[str]], Any]:
    """``MODULE:FUNCTION`` (imported, never evaluated) or the built-in workload."""
    if not spec:
        return builtin_generator
    mod_name, sep, func_name = spec.partition(":")
    if not sep or not mod_name or not func_name:
        raise ChildError(f"--generator must be MODULE:FUNCTION, not {spec!r}")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ChildError(f"cannot import generator module {mod_name!r}: {e}") from None
    fn = getattr(mod, func_name, None)
    if not callable(fn):
        raise ChildError(f"{mod_name} has no callable {func_name!r}")
    return fn


# --------------------------------------------------------------------------- runs


def _announce(prof: Any, body: dict[str, Any]) -> None:
    prof.log(json.dumps(body, separators=(",", ":")), level=LOG_LEVEL)


def run_one(prof: Any, gen: Any, phase: str, index: int, first_batch: int, requests: int) -> int:
    """One warm-up or measured run; returns the number of request batches it served."""
    block = prof.measure("bench_run" if phase == "measure" else "bench_warmup", memory=True)
    prof.flush()
    _announce(prof, {"event": "run_start", "phase": phase, "index": index, "t": _now()})
    prof.sample_memory()  # the run's baseline RSS (taken after run_start's time)
    tokens = chars = reqs = 0
    t0 = _now()
    with block:
        for j in range(requests):
            res = gen.run_request(first_batch + j)
            tokens += int(getattr(res, "generated", 0) or 0)
            chars += sum(len(t) for t in (getattr(res, "texts", None) or ()))
            ids = getattr(res, "request_ids", None)
            reqs += len(ids) if ids is not None else 1
    t1 = _now()
    prof.sample_memory()
    prof.flush()
    _announce(
        prof,
        {
            "event": "run_end",
            "phase": phase,
            "index": index,
            "t0": t0,
            "t1": t1,
            "duration_ns": t1 - t0,
            "tokens": tokens,
            "characters": chars,
            "requests": reqs,
            "batches": requests,
        },
    )
    return requests


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        i = argv.index("--")
        own, rest = argv[:i], argv[i + 1 :]
    else:
        own, rest = argv, []
    parser = _Parser(prog=PROG, allow_abbrev=False)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--first-index", type=int, default=0)
    parser.add_argument("--generator", default=None, metavar="MODULE:FUNCTION")
    ns = parser.parse_args(own)

    import zlprof

    prof = zlprof.get_profiler()
    try:
        gen = load_generator(ns.generator)(rest)
    except ChildError as e:
        print(f"zlprof: error: {e}", file=sys.stderr)
        return 2
    config = dict(getattr(gen, "bench_config", None) or {})
    if not config and callable(getattr(gen, "describe", None)):
        config = dict(gen.describe())
    config["bench"] = {
        "warmup_runs": ns.warmup,
        "runs": ns.runs,
        "first_index": ns.first_index,
        "generator": ns.generator or "zlprof.workload",
    }
    prof.set_config(config)
    per_run = int(getattr(gen, "requests_per_run", 1) or 1)
    batch = 0
    for i in range(ns.warmup):
        batch += run_one(prof, gen, "warmup", i, batch, per_run)
    for j in range(ns.runs):
        batch += run_one(prof, gen, "measure", ns.first_index + j, batch, per_run)
    prof.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
