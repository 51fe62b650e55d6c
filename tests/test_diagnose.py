"""Bottleneck rules: each fires on a synthetic session built to show its symptom, stays
silent on a healthy one, and says "not enough data" when it lacks samples."""

from __future__ import annotations

import numpy as np
import pytest

from zlprof import protocol
from zlprof.diagnose import (
    KV_MIN_R2,
    TAIL_MIN_SAMPLES,
    Hint,
    diagnose,
    linear_fit,
    rule_batch_scaling,
    rule_kv_growth,
    rule_prefill,
    rule_roofline,
    rule_tail,
    rule_time_share,
    sweep_points,
    time_shares,
)
from zlprof.roofline import MachinePeaks, matmul_cost
from zlprof.session import SessionState

MS = 1_000_000  # ns


class Synth:
    """Builds a SessionState from protocol frames with exact, chosen timings (ns)."""

    def __init__(self, config: dict | None = None) -> None:
        self.frames = [
            protocol.encode_hello(
                pid=1,
                argv=["synth"],
                start_ns=0,
                wall_time=0.0,
                python="3.11",
                numpy_version=np.__version__,
                platform="linux",
                config=config or {},
            )
        ]
        self.ids: dict[str, int] = {}
        self.recs: list[tuple[int, int, int]] = []
        self.t = 0

    def pid(self, full: str) -> int:
        if full not in self.ids:
            parent = self.pid(full.rsplit("/", 1)[0]) if "/" in full else 0
            self.ids[full] = len(self.ids) + 1
            self.frames.append(
                protocol.encode_names([(self.ids[full], parent, full.rsplit("/", 1)[-1])])
            )
        return self.ids[full]

    def block(self, full: str, t0: int, t1: int) -> None:
        self.recs.append((self.pid(full), t0, t1))
        self.t = max(self.t, t1)

    def run(self, full: str, durations_ms: list[float] | np.ndarray) -> None:
        """Back-to-back calls of one block from the current clock."""
        for d in durations_ms:
            t0 = self.t
            self.block(full, t0, t0 + int(d * MS))

    def cost(self, full: str, calls: int, flops: int, nbytes: int) -> None:
        self.frames.append(protocol.encode_costs([(self.pid(full), calls, flops, nbytes)]))

    def memory(self, t: list[int], rss: list[int], **gauges: list[int]) -> None:
        self.frames.append(protocol.encode_memory(t, rss, [-1] * len(t), gauges))
        self.t = max(self.t, max(t))

    def tokens(self, rows: list[tuple[int, int, int, str, str]]) -> None:
        self.frames.append(protocol.encode_tokens(rows))
        self.t = max(self.t, max(r[0] for r in rows))

    def state(self) -> SessionState:
        st = SessionState()
        out = list(self.frames)
        if self.recs:
            a = np.asarray(self.recs, np.int64)
            out.append(protocol.encode_measurements(1, a[:, 0], a[:, 1], a[:, 2]))
        st.ingest_bytes(b"".join(out))
        return st


def rules_of(hints: list[Hint], rule: str) -> list[Hint]:
    return [h for h in hints if h.rule == rule]


def is_silent(hints: list[Hint]) -> bool:
    return hints == []


def not_enough(hints: list[Hint]) -> bool:
    return (
        len(hints) == 1
        and hints[0].severity == "info"
        and "not enough data" in hints[0].evidence
        and hints[0].data.get("not_enough_data") is True
    )


# ---------------------------------------------------------------------- rule 1: tail


def test_tail_fires_on_spikes() -> None:
    s = Synth()
    durs = np.full(200, 2.0)
    durs[::40] = 9.0  # 5 spikes of 200 -> p99 (index 198) is a spike
    s.run("forward_pass", durs)
    st = s.state()
    (h,) = rule_tail(st, st.op_rows())
    assert h.severity == "warning" and h.op == "forward_pass"
    assert "p99 9.000 ms vs median 2.000 ms (4.5x) over 200 calls" in h.evidence
    assert "threshold: p99 > 3x median, >= 100 calls" in h.evidence
    assert "GC pauses" in h.suggestion and "thread contention" in h.suggestion


def test_tail_reports_innermost_op_and_critical() -> None:
    s = Synth()
    for i in range(150):
        t0 = s.t
        d = 30 if i % 50 == 0 else 1  # 3 spikes: 30x the median
        s.block("forward_pass/layer0/attention", t0, t0 + d * MS)
        s.block("forward_pass/layer0", t0, t0 + d * MS + 10_000)
        s.block("forward_pass", t0, t0 + d * MS + 20_000)
    st = s.state()
    hints = rule_tail(st, st.op_rows())
    assert [h.op for h in hints] == ["forward_pass/layer0/attention"]
    assert hints[0].severity == "critical"
    assert "also in the enclosing forward_pass/layer0, forward_pass" in hints[0].evidence


def test_tail_silent_when_healthy() -> None:
    s = Synth()
    s.run("forward_pass", np.random.default_rng(0).uniform(2.0, 2.4, 300))
    st = s.state()
    assert is_silent(rule_tail(st, st.op_rows()))


def test_tail_not_enough_samples() -> None:
    s = Synth()
    durs = np.full(TAIL_MIN_SAMPLES - 1, 1.0)
    durs[-5:] = 50.0
    s.run("forward_pass", durs)
    st = s.state()
    hints = rule_tail(st, st.op_rows())
    assert not_enough(hints)
    assert f">= {TAIL_MIN_SAMPLES} calls" in hints[0].evidence and "99" in hints[0].evidence


def test_tail_ignores_negligible_ops() -> None:
    s = Synth()
    s.run("forward_pass", np.full(200, 10.0))
    tiny = np.full(200, 0.001)
    tiny[::20] = 0.01  # spiky, but 0.05 % of the time
    s.run("sampling", tiny)
    st = s.state()
    assert is_silent(rule_tail(st, st.op_rows()))


# ------------------------------------------------------------------ rule 2: KV growth


def kv_session(
    n_req: int = 1,
    tokens: int = 64,
    per_token: int = 64 * 1024,
    rss0: int = 4 << 20,
    flat: bool = False,
    gauge: bool = True,
    config: dict | None = None,
) -> SessionState:
    s = Synth(config)
    t = MS
    tok_rows, mt, rss, kv = [], [], [], []
    total = 0
    for r in range(n_req):
        tok_rows.append((t, r, 0, "start", ""))
        for i in range(tokens):
            t += 5 * MS
            tok_rows.append((t, r, i, "prefill" if i == 0 else "decode", "x"))
            total += 1
            mt.append(t + 1000)
            used = 0 if flat else (i + 1) * per_token
            kv.append(used)
            rss.append(rss0 + (0 if flat else total * per_token if not gauge else used))
        tok_rows.append((t + 10, r, tokens, "end", ""))
    s.tokens(tok_rows)
    if gauge:
        s.memory(mt, rss, kv_cache_bytes=kv)
    else:
        s.memory(mt, rss)
    return s.state()


def test_kv_growth_fires_with_fit() -> None:
    st = kv_session(config={"context": 1024, "batch": 1, "weights_bytes": 32 << 20})
    (h,) = rule_kv_growth(st)
    assert h.rule == "kv_growth" and h.severity == "critical"  # full context > weights
    assert h.title.endswith("KV cache dominant")
    assert h.data["slope_bytes_per_token"] == pytest.approx(64 * 1024)
    assert h.data["r2"] > 0.999
    assert "64.0 KiB per generated token" in h.evidence and "R^2 = 1.000" in h.evidence
    assert "at the full context of 1024 positions: ~64.0 MiB" in h.evidence
    assert "sliding-window" in h.suggestion and "quantise the cache" in h.suggestion


def test_kv_growth_sawtooth_over_requests() -> None:
    st = kv_session(n_req=3, tokens=40)
    (h,) = rule_kv_growth(st)
    assert h.data["segments"] == 3 and h.data["r2"] > 0.999
    assert "within 3 requests" in h.evidence
    assert h.data["slope_bytes_per_token"] == pytest.approx(64 * 1024)


def test_kv_growth_rss_fallback() -> None:
    st = kv_session(gauge=False)
    (h,) = rule_kv_growth(st)
    assert h.data["source"] == "RSS" and h.severity == "warning"
    assert h.evidence.startswith("RSS grows 64.0 KiB per generated token")


def test_kv_growth_small_cache_is_info_only() -> None:
    st = kv_session(per_token=1024, rss0=512 << 20)  # KV is a tiny part of memory
    (h,) = rule_kv_growth(st)
    assert h.severity == "info" and "dominant" not in h.title


def test_kv_growth_silent_when_flat() -> None:
    assert is_silent(rule_kv_growth(kv_session(flat=True)))
    assert is_silent(rule_kv_growth(kv_session(flat=True, gauge=False)))


def test_kv_growth_silent_when_not_linear() -> None:
    s = Synth()
    rng = np.random.default_rng(1)
    rows = [(MS, 0, 0, "start", "")] + [((i + 2) * MS, 0, i, "decode", "") for i in range(100)]
    s.tokens(rows)
    t = [(i + 2) * MS + 10 for i in range(100)]
    s.memory(t, [int(v) for v in (100 << 20) + rng.integers(0, 20 << 20, 100)])
    h = rule_kv_growth(s.state())
    assert is_silent(h) or h[0].data["r2"] < KV_MIN_R2


def test_kv_growth_not_enough() -> None:
    st = kv_session(tokens=4)
    assert not_enough(rule_kv_growth(st))
    assert not_enough(rule_kv_growth(SessionState()))


def test_linear_fit_hand_values() -> None:
    slope, icpt, r2 = linear_fit(np.array([0, 1, 2, 3.0]), np.array([1, 3, 5, 7.0]))
    assert (slope, icpt, r2) == pytest.approx((2.0, 1.0, 1.0))
    # two groups, own intercepts, shared slope
    x = np.array([0, 1, 2, 0, 1, 2.0])
    y = np.array([10, 12, 14, 50, 52, 54.0])
    slope, _, r2 = linear_fit(x, y, np.array([0, 0, 0, 1, 1, 1]))
    assert slope == pytest.approx(2.0) and r2 == pytest.approx(1.0)


# ---------------------------------------------------------------- rule 3: prefill


def prefill_session(ttft_ms: float, itl_ms: float, requests: int = 2, tokens: int = 20):
    s = Synth()
    rows = []
    t = 0
    for r in range(requests):
        t += MS
        rows.append((t, r, 0, "start", ""))
        s.block("prefill", t, t + int(ttft_ms * 0.9 * MS))
        t += int(ttft_ms * MS)
        rows.append((t, r, 0, "prefill", "a"))
        for i in range(1, tokens):
            t += int(itl_ms * MS)
            rows.append((t, r, i, "decode", "b"))
        rows.append((t + 1, r, tokens, "end", ""))
    s.tokens(rows)
    return s.state()


def test_prefill_fires() -> None:
    (h,) = rule_prefill(prefill_session(500.0, 10.0))
    assert h.severity == "warning" and h.op == "prefill"
    assert "median TTFT 500.0 ms = 50.0x median TPOT 10.00 ms" in h.evidence
    assert "threshold 10x" in h.evidence and "prefill median 450.0 ms" in h.evidence
    assert "Chunk the prefill" in h.suggestion and "cache prompt tokens" in h.suggestion


def test_prefill_silent_when_healthy() -> None:
    assert is_silent(rule_prefill(prefill_session(40.0, 10.0)))


def test_prefill_not_enough() -> None:
    assert not_enough(rule_prefill(prefill_session(500.0, 10.0, requests=1, tokens=5)))
    assert not_enough(rule_prefill(SessionState()))


# ------------------------------------------------------------ rule 4: batch scaling


def test_batch_linear_is_memory_bound() -> None:
    (h,) = rule_batch_scaling([(1, 10.0), (2, 20.0), (4, 39.0), (8, 77.0)])
    assert h.severity == "warning" and "memory-bound" in h.title
    assert "b=8: 77.0 tok/s (96% of linear)" in h.evidence
    assert h.data["slope"] == pytest.approx(0.99, abs=0.02)
    assert "uantise weights" in h.suggestion


def test_batch_plateau_is_compute_bound() -> None:
    (h,) = rule_batch_scaling([(8, 32.0), (1, 10.0), (4, 30.0), (2, 19.0)])
    assert "compute-bound" in h.title and h.data["knee"] == 4
    assert "BLAS" in h.suggestion and "vectorise" in h.suggestion


def test_batch_sweep_from_sessions_and_config() -> None:
    def run(batch: int, tokens: int) -> SessionState:
        s = Synth({"batch": batch})
        rows = [(MS, 0, 0, "start", "")] + [
            (MS + (i + 1) * (1000 * MS // tokens), 0, i, "decode", "") for i in range(tokens)
        ]
        s.tokens(rows)
        return s.state()

    sessions = [run(1, 50), run(2, 100), run(4, 200)]
    pts = sweep_points(sessions)
    assert [b for b, _ in pts] == [1, 2, 4]
    assert pts[2][1] == pytest.approx(4 * pts[0][1], rel=0.05)
    (h,) = rule_batch_scaling(sessions)
    assert "memory-bound" in h.title
    st = SessionState()
    st.config["batch_sweep"] = [{"batch": 1, "tokens_per_s": 10}, [2, 11], (4, 11.5)]
    hints = rules_of(diagnose(st), "batch_scaling")
    assert len(hints) == 1 and "compute-bound" in hints[0].title


def test_batch_not_enough() -> None:
    assert not_enough(rule_batch_scaling(None))
    assert not_enough(rule_batch_scaling([(1, 10.0), (2, 20.0), (2, 22.0)]))
    assert not_enough(rule_batch_scaling([(1, 10.0), (2, 0.0), ("x", 3), (4, float("nan"))]))


# ---------------------------------------------------------------- rule 5: time share


def loop_session(sample_ms: float = 0.2, steps: int = 40) -> SessionState:
    s = Synth()
    t = 0
    s.block("tokenize", t, t + MS // 10)
    t += MS
    for _ in range(steps):
        s.block("forward_pass", t, t + 10 * MS)
        s.block("forward_pass/layer0/attention.qkv", t, t + 6 * MS)
        s.block("forward_pass/layer0/kv_cache_update", t + 6 * MS, t + 6 * MS + MS // 5)
        t += 10 * MS
        s.block("sampling", t, t + int(sample_ms * MS))
        t += int(sample_ms * MS)
    s.block("decode", t, t + MS // 10)
    s.t = t + MS // 10
    return s.state()


def test_time_shares_partition_wall_time() -> None:
    st = loop_session()
    ms = time_shares(st)
    assert ms["KV cache"] == pytest.approx(40 * 0.2)  # nested under forward_pass
    assert ms["forward pass"] == pytest.approx(40 * 9.8)  # its self time + qkv, no KV
    assert ms["sampling"] == pytest.approx(40 * 0.2)
    assert ms["tokenize/decode"] == pytest.approx(0.2)
    assert sum(ms.values()) == pytest.approx(st.wall_ns / 1e6)


def test_time_share_healthy_is_info() -> None:
    st = loop_session()
    (h,) = rule_time_share(st, st.op_rows())
    assert h.severity == "info" and h.title.startswith("Where time goes: forward pass 9")
    assert "forward pass 9" in h.evidence and "sampling 2.0%" in h.evidence
    assert "KV cache 2.0%" in h.evidence


def test_time_share_flags_sampling() -> None:
    st = loop_session(sample_ms=6.0)
    (h,) = rule_time_share(st, st.op_rows())
    assert h.severity == "warning" and h.title.startswith("sampling takes 37%")
    assert "argpartition" in h.suggestion and "85-95 %" in h.evidence


def test_time_share_not_enough() -> None:
    st = loop_session(steps=1)
    assert not_enough(rule_time_share(st, st.op_rows()))


# ------------------------------------------------------------------- roofline rule


def test_roofline_rule() -> None:
    s = Synth()
    s.run("forward_pass/lm_head", [1.0] * 10)
    c = matmul_cost(1, 8192, 1024)
    s.cost("forward_pass/lm_head", 10, c.flops * 10, c.nbytes * 10)  # 33.6 MB in 1 ms
    st = s.state()
    ok = rule_roofline(st.op_rows(), MachinePeaks(gflops=300, gbps=100))
    assert [h.severity for h in ok] == ["info"]
    assert "memory-bound" in ok[0].title and "34% of the DRAM roof" in ok[0].evidence
    bad = rule_roofline(st.op_rows(), MachinePeaks(gflops=300, gbps=10))
    assert bad[0].severity == "warning" and "above its DRAM roof" in bad[0].title
    assert not_enough(rule_roofline(SessionState().op_rows(), MachinePeaks(1, 1)))


# ------------------------------------------------------------------------ diagnose


def test_diagnose_orders_by_severity_and_handles_empty() -> None:
    empty = diagnose(SessionState(), MachinePeaks(gflops=1, gbps=1))
    assert empty and all(h.severity == "info" for h in empty)
    assert {h.rule for h in empty} == {
        "tail",
        "kv_growth",
        "prefill",
        "batch_scaling",
        "time_share",
        "roofline",
    }
    st = prefill_session(500.0, 10.0, requests=3, tokens=30)
    hints = diagnose(st, sweep=[(1, 10), (2, 20), (4, 40)])
    ranks = [h.rank for h in hints]
    assert ranks == sorted(ranks, reverse=True)
    assert {h.rule for h in hints if h.severity != "info"} == {"prefill", "batch_scaling"}
    assert all(h.as_dict()["evidence"] for h in hints)
    only = diagnose(st, rules=["prefill"])
    assert [h.rule for h in only] == ["prefill"]


def test_healthy_session_has_no_warnings() -> None:
    st = loop_session(steps=150)
    hints = diagnose(st)
    assert [h for h in hints if h.severity != "info"] == []


def test_batch_sweep_from_bench_json_groups_by_other_params() -> None:
    def res(preset: str, batch: int, tps: float) -> dict:
        return {
            "name": f"preset={preset} batch={batch}",
            "params": {"preset": preset, "batch": batch},
            "throughput": {"tokens_per_second": tps},
        }

    doc = {
        "schema": "zlprof.bench/1",
        "results": [res("tiny", 1, 100), res("tiny", 2, 198), res("tiny", 4, 390)]
        + [res("medium", 1, 10), res("medium", 2, 14), res("medium", 4, 15)],
    }
    hints = rule_batch_scaling(doc)
    by_group = {h.data["group"]: h for h in hints}
    assert "memory-bound" in by_group["preset=tiny"].title
    assert "(preset=tiny)" in by_group["preset=tiny"].title
    assert "compute-bound" in by_group["preset=medium"].title
    assert sweep_points(doc["results"])[0] == (1, 10.0) or sweep_points(doc)[0] == (1, 100.0)


def test_kv_growth_ignores_memory_before_the_first_token() -> None:
    s = Synth()
    # weights load before any token: RSS climbs 0 -> 400 MiB, then stays flat while
    # tokens are generated
    s.memory([i * MS for i in range(1, 11)], [i * (40 << 20) for i in range(1, 11)])
    rows = [(11 * MS, 0, 0, "start", "")]
    rows += [((12 + i) * MS, 0, i, "decode", "") for i in range(64)]
    s.tokens(rows)
    s.memory([(12 + i) * MS + 10 for i in range(64)], [400 << 20] * 64)
    assert is_silent(rule_kv_growth(s.state()))
