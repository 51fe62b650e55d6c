"""``python -m zlprof.workload``: the built-in instrumented inference loop.

Standalone it prints the generated text to stdout and the text report to stderr. Under
``zlprof live`` / ``zlprof record`` the process-wide profiler streams to the parent.
SIGINT / SIGTERM end the current request cleanly (its end events are sent), then exit 0;
a second SIGINT interrupts at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any, NoReturn

PROG = "python -m zlprof.workload"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _blas_info() -> dict[str, Any]:
    try:
        from threadpoolctl import threadpool_info

        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                return {
                    "blas": f"{lib.get('internal_api')} {lib.get('version')} "
                    f"{lib.get('architecture') or ''}".strip(),
                    "blas_threads": lib.get("num_threads"),
                }
    except Exception:  # threadpoolctl cannot inspect every build
        pass
    return {"blas": "unknown", "blas_threads": None}


class _Stop:
    def __init__(self) -> None:
        self.flag = threading.Event()

    def install(self) -> None:
        def handler(signum: int, frame: Any) -> None:
            if self.flag.is_set() and signum == signal.SIGINT:
                raise KeyboardInterrupt
            self.flag.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread / not supported
                pass


def main(argv: list[str] | None = None) -> int:
    from .options import add_workload_arguments, resolve
    from .presets import WorkloadError

    parser = _Parser(
        prog=PROG,
        description="An instrumented float32 NumPy Llama-style decoder: tokenize, prefill, "
        "decode with a KV cache, sample; measured with zlprof.",
        allow_abbrev=False,
    )
    add_workload_arguments(parser)
    ns = parser.parse_args(argv)

    def fail(msg: str) -> int:
        print(f"{PROG}: error: {msg}", file=sys.stderr)
        return 2

    try:
        spec = resolve(ns)
    except WorkloadError as e:
        return fail(str(e))

    limiter = None
    if spec.threads:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(spec.threads)

    import zlprof

    from .generate import build_workload

    prof = zlprof.get_profiler()
    if not spec.profile:
        prof.enabled = False
    t_load = time.perf_counter()
    try:
        wl = build_workload(spec, prof)
    except WorkloadError as e:
        return fail(str(e))
    load_s = time.perf_counter() - t_load

    config = wl.describe()
    config.update(
        preset=spec.preset,
        weights_source=spec.weights or f"random (seed {spec.sampling.seed})",
        tokenizer_source=spec.tokenizer or "built-in byte-level BPE",
        load_s=round(load_s, 3),
        **_blas_info(),
    )
    if prof.enabled:
        prof.set_config(config)
        prof.gauge("weights_bytes", config["weights_bytes"])
        prof.gauge("kv_cache_bytes", 0)

    stop = _Stop()
    stop.install()
    wl.should_stop = stop.flag.is_set
    out = sys.stdout

    def on_result(res: Any) -> None:
        for prompt, text in zip(res.prompts, res.texts, strict=True):
            out.write(prompt + text + "\n")
        out.flush()

    t0 = time.perf_counter()
    try:
        wl.run(on_result, stop.flag.is_set)
    except BrokenPipeError:
        pass
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    n = wl.tokens_generated
    line = f"{PROG}: {wl.requests_done} request batch(es), {n} tokens in {elapsed:.2f} s"
    if not (prof.enabled and prof.streaming):
        # standalone; under zlprof the report gives the rates, each defined once (rates.py)
        line += f" ({n / elapsed if elapsed > 0 else 0.0:.1f} tok/s: output tokens / loop time)"
    print(line, file=sys.stderr)
    if prof.enabled:
        if prof.streaming:
            prof.flush()
        else:
            print(zlprof.report(), file=sys.stderr)
    if limiter is not None:
        limiter.restore_original_limits()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
