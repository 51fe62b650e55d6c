"""Synthetic recordings for the replay, diff and sessions tests (helpers + their sanity tests).

``write_synthetic`` writes a ``.zlp`` the way the child's profiler streams: a hello, a
names frame, then every ``tick_s`` of session time a measurement batch (forward_pass with
attention and mlp nested in it, then sampling), a memory sample, the tokens produced and
their costs, now and then a line of standard output; an end frame last.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zlprof import protocol
from zlprof.recording import RecordingWriter, load_session

START_NS = 10**12
#: median durations (ns) of the synthetic ops
MEDIANS = {
    "forward_pass/attention": 400_000,
    "forward_pass/mlp": 600_000,
    "sampling": 150_000,
}
PATHS = [(1, 0, "forward_pass"), (2, 1, "attention"), (3, 1, "mlp"), (4, 0, "sampling")]


def write_synthetic(
    path: Path,
    *,
    seconds: float = 6.0,
    tick_s: float = 0.05,
    iters_per_tick: int = 10,
    seed: int = 0,
    scale: dict[str, float] | None = None,
    sigma: float = 0.1,
    wall_time: float = 1_700_000_000.0,
    argv: list[str] | None = None,
    memory_columns: bool = True,
    end: bool = True,
) -> Path:
    """Write a deterministic synthetic recording; ``scale`` multiplies ops' durations."""
    rng = np.random.default_rng(seed)
    scale = scale or {}
    ticks = int(round(seconds / tick_s))
    tick_ns = int(tick_s * 1e9)
    tok = 0
    req = 0
    with RecordingWriter(path, force=True) as w:
        w.write_raw(
            protocol.encode_hello(
                pid=4242,
                argv=argv or ["synthetic.py", "--seed", str(seed)],
                start_ns=START_NS,
                wall_time=wall_time,
                python="3.11.0",
                numpy_version=np.__version__,
                platform="linux",
                config={"preset": "synthetic", "batch": 1},
            )
        )
        w.write_raw(protocol.encode_names(PATHS))
        w.write_raw(protocol.encode_meta({"seed": seed}))
        w.write_raw(protocol.encode_tokens([(START_NS + 1000, 0, 0, "start", "")]))
        for i in range(ticks):
            t = START_NS + i * tick_ns + 10_000
            k = iters_per_tick
            dur = {
                op: (rng.lognormal(np.log(med), sigma, k) * scale.get(op, 1.0)).astype(np.int64)
                for op, med in MEDIANS.items()
            }
            a = dur["forward_pass/attention"]
            m = dur["forward_pass/mlp"]
            s = dur["sampling"]
            span = 3500 + a + m + s  # one iteration, gaps included
            f0 = t + np.concatenate([[0], np.cumsum(span)[:-1]])
            p = np.tile(np.asarray([2, 3, 1, 4], np.int32), k)
            t0 = np.stack([f0 + 1000, f0 + 2000 + a, f0, f0 + 3000 + a + m], 1).ravel()
            t1 = np.stack(
                [f0 + 1000 + a, f0 + 2000 + a + m, f0 + 2500 + a + m, f0 + 3000 + a + m + s], 1
            ).ravel()
            ends = (f0 + span).tolist()
            t = ends[-1]
            tokens = []
            for e in ends:
                tok += 1
                tokens.append((e, req, tok, "decode", "ab"[tok % 2]))
                if tok % 40 == 0:
                    tokens.append((e + 1, req, tok, "end", ""))
                    req += 1
                    tokens.append((e + 2, req, 0, "start", ""))
            if memory_columns:
                m0 = (100 << 20) + i * 4096 + np.arange(len(p), dtype=np.int64)
                w.write_raw(protocol.encode_measurements(1, p, t0, t1, m0, m0 + 64))
            else:
                w.write_raw(protocol.encode_measurements(1, p, t0, t1))
            w.write_raw(protocol.encode_tokens(tokens))
            w.write_raw(protocol.encode_costs([(2, k, 10**6, 10**5), (3, k, 3 * 10**6, 2 * 10**5)]))
            w.write_raw(
                protocol.encode_memory(
                    [t + 100], [(200 << 20) + i * 8192], [-1], {"kv_cache_bytes": [i * 1024]}
                )
            )
            if i % 25 == 0:
                w.write_raw(protocol.encode_log(t + 200, "stdout", f"tick {i}"))
        if end:
            w.write_raw(protocol.encode_end(0, "exited normally"))
    return path


def test_synthetic_recording_folds(tmp_path: Path) -> None:
    p = write_synthetic(tmp_path / "a.zlp", seconds=1.0)
    st = load_session(p)
    assert not st.warnings
    assert st.measurements == 20 * 10 * 4
    assert st.tokens_total == 200
    names = {r.full for r in st.op_rows()}
    assert names == {"forward_pass", "forward_pass/attention", "forward_pass/mlp", "sampling"}
    assert 0.95 < st.elapsed_ns / 1e9 < 1.05


def test_synthetic_scale_shows(tmp_path: Path) -> None:
    a = load_session(write_synthetic(tmp_path / "a.zlp", seconds=1.0))
    b = load_session(write_synthetic(tmp_path / "b.zlp", seconds=1.0, scale={"sampling": 2.0}))
    ma = a.stats_for_name("sampling").median_ms
    mb = b.stats_for_name("sampling").median_ms
    assert 1.9 < mb / ma < 2.1
