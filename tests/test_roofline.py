"""Roofline: cost formulas, placement, above-roof detection, the text chart, calibration
and the peaks cache."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text

import zlprof
from zlprof import roofline as rl
from zlprof.roofline import (
    MachinePeaks,
    OpCost,
    attention_scores_cost,
    attention_values_cost,
    embedding_cost,
    group_key,
    matmul_cost,
    place,
    render_roofline,
    rmsnorm_cost,
    roofline_rows,
    roofline_table,
    roofline_text_report,
    softmax_cost,
)
from zlprof.roofline import calibration as cal
from zlprof.session import OpRow
from zlprof.stats import PerformanceStats

SNAPSHOTS = Path(__file__).parent / "snapshots_text"


def row(full: str, flops: int, nbytes: int, ms: float, calls: int = 100) -> OpRow:
    st = PerformanceStats(name=full, count=calls, total_ms=ms)
    return OpRow(
        path_id=0,
        full=full,
        name=full.rsplit("/", 1)[-1],
        parent="",
        depth=full.count("/"),
        stats=st,
        self_ms=ms,
        self_share=0.0,
        flops=flops,
        nbytes=nbytes,
        cost_calls=calls,
    )


def peaks(gflops: float = 100.0, gbps: float = 10.0, **kw) -> MachinePeaks:
    return MachinePeaks(
        gflops=gflops,
        gbps=gbps,
        copy_gbps=gbps,
        triad_gbps=gbps * 0.8,
        gemm_gflops=gflops,
        llc_bytes=32 << 20,
        **kw,
    )


def at(intensity: float, gflops: float, name: str, calls: int = 10, nbytes: int = 10**9) -> OpRow:
    """A row with the given intensity achieving ``gflops``."""
    flops = int(intensity * nbytes)
    ms = flops / (gflops * 1e9) * 1e3
    return row(name, flops, nbytes, ms, calls)


# ------------------------------------------------------------------------- formulas


def test_matmul_matvec_hand_count() -> None:
    c = matmul_cost(1, 4096, 1024)
    assert c.flops == 2 * 4096 * 1024 == 8_388_608
    assert c.nbytes == 4 * (1024 + 1024 * 4096 + 4096) == 16_797_696
    # fp32 mat-vec: ~0.5 FLOP/byte, not the seed's 2
    assert 0.49 < c.intensity < 0.5


def test_matmul_square_and_batch() -> None:
    c = matmul_cost(64, 64, 64)
    assert c == OpCost(524_288, 49_152)
    assert c.intensity == pytest.approx(64 / 6)
    assert matmul_cost(64, 64, 64, batch=3) == OpCost(3 * 524_288, 3 * 49_152)
    assert matmul_cost(2, 3, 5, dtype_bytes=2) == OpCost(60, 2 * (10 + 15 + 6))


def test_attention_scores_hand_count() -> None:
    # decode: one query against 100 cached positions, 16 heads of 64
    c = attention_scores_cost(1, 100, 64, n_heads=16)
    assert c.flops == 16 * (2 * 100 * 64 + 100) == 206_400
    assert c.nbytes == 4 * (16 * 64 + 16 * 100 * 64 + 16 * 100) == 420_096
    assert c.intensity == pytest.approx(0.491, abs=1e-3)
    gqa = attention_scores_cost(1, 100, 64, n_heads=16, n_kv_heads=4)
    assert gqa.nbytes == 4 * (16 * 64 + 4 * 100 * 64 + 16 * 100) == 112_896
    assert attention_scores_cost(1, 100, 64, 16, scale=False).flops == 16 * 2 * 100 * 64
    # prefill, n >> d: intensity tends to d / 2
    big = attention_scores_cost(4096, 4096, 64, scale=False)
    assert big.intensity == pytest.approx(64 / 2, rel=0.05)


def test_attention_values_hand_count() -> None:
    c = attention_values_cost(2, 10, 8, n_heads=3)
    assert c.flops == 3 * 2 * 2 * 10 * 8 == 960
    assert c.nbytes == 4 * (3 * 2 * 10 + 3 * 10 * 8 + 3 * 2 * 8) == 1_392


def test_softmax_and_rmsnorm_hand_counts() -> None:
    assert softmax_cost(2, 10) == OpCost(100, 160)  # 5 FLOP/elem, read + write
    assert softmax_cost(1, 1000).intensity == pytest.approx(0.625)
    assert rmsnorm_cost(3, 8) == OpCost(3 * (4 * 8 + 4), 4 * (2 * 3 * 8 + 8))
    assert rmsnorm_cost(3, 8, weight=False) == OpCost(3 * (3 * 8 + 4), 4 * 2 * 3 * 8)
    assert rmsnorm_cost(1, 4096).intensity == pytest.approx(1 / 3, abs=1e-3)
    e = embedding_cost(5, 8)
    assert e == OpCost(0, 320) and e.intensity == 0.0
    assert OpCost(1, 0).intensity == math.inf
    assert matmul_cost(1, 2, 3) + softmax_cost(1, 2) == OpCost(12 + 10, 4 * 11 + 16)


def test_formula_rejects_bad_dims() -> None:
    with pytest.raises(ValueError):
        matmul_cost(-1, 2, 3)
    with pytest.raises(ValueError):
        softmax_cost(1.5, 2)  # type: ignore[arg-type]


# ------------------------------------------------------------------------- placement


def test_classification_both_sides_of_ridge() -> None:
    pk = peaks(100, 10)  # ridge at 10 FLOP/byte
    assert pk.ridge == 10
    pts = {
        p.key: p
        for p in place(
            [
                at(1.0, 5.0, "lo"),
                at(50.0, 60.0, "hi"),
                at(9.9, 1.0, "justbelow"),
                at(10.0, 1.0, "atridge"),
            ],
            pk,
        )
    }
    lo, hi = pts["lo"], pts["hi"]
    assert lo.bound == "memory" and hi.bound == "compute"
    assert pts["justbelow"].bound == "memory" and pts["atridge"].bound == "compute"
    assert lo.intensity == pytest.approx(1.0)
    assert lo.gflops == pytest.approx(5.0) and lo.gbps == pytest.approx(5.0)
    assert lo.attainable == pytest.approx(10.0)  # beta * I
    assert lo.roof_share == pytest.approx(0.5)
    assert hi.attainable == pytest.approx(100.0)  # pi
    assert hi.roof_share == pytest.approx(0.6)
    assert not lo.above_roof and not hi.above_roof


def test_above_roof_flagged_with_reason() -> None:
    pk = peaks(100, 10)
    pts = {
        p.key: p
        for p in place(
            [
                at(1.0, 20.0, "fast_mem"),  # 20 GB/s on a 10 GB/s machine
                at(100.0, 150.0, "fast_cpu"),  # 150 GFLOP/s on a 100 GFLOP/s machine
                at(1.0, 10.4, "within_tol"),  # 4 % over: measurement noise, not flagged
            ],
            pk,
        )
    }
    assert pts["fast_mem"].above_roof and pts["fast_cpu"].above_roof
    assert not pts["within_tol"].above_roof
    assert "counting error" in pts["fast_mem"].note and "bytes" in pts["fast_mem"].note
    assert "FLOPs over-counted" in pts["fast_cpu"].note
    # never drawn silently: red and marked with "!"
    txt = render_roofline(list(pts.values()), pk, 80, 24)
    assert "fast_mem!" in txt.plain or "fast_mem!" in "".join(txt.plain.split())
    red = [s for s in txt.spans if "red" in str(s.style)]
    assert red


def test_above_roof_cache_resident_note() -> None:
    pk = peaks(100, 10)
    small = row("small", 10**6, 2 * 10**6, 0.1, calls=1)  # 2 MB per call < 32 MiB LLC
    (p,) = place([small], pk)
    assert p.above_roof and "cache" in p.note


def test_group_key_and_grouping() -> None:
    assert group_key("forward_pass/layer3/mlp.down") == "forward_pass/layer*/mlp.down"
    assert group_key("prefill/layer12/attention.qkv") == "prefill/layer*/attention.qkv"
    assert group_key("a/b") == "a/b"
    # one definition of a layer (zlprof.naming.layer_key, as the app's grouped shares):
    # a dtype or two distinct projections are not layers; a bare index is
    assert group_key("x/fp32") == "x/fp32"
    assert group_key("mlp/fc1") == "mlp/fc1"
    assert group_key("x/123") == "x/#*"
    assert group_key("m/h.3/attn") == "m/h.*/attn"
    rows = [row(f"forward_pass/layer{i}/mlp.down", 10, 20, 1.0, calls=5) for i in range(4)]
    rows.append(row("prefill/layer0/mlp.down", 1000, 20, 1.0))
    rows.append(row("forward_pass/sampling", 0, 0, 5.0))  # no costs: not placed
    pts = place(rows, peaks())
    assert [p.key for p in pts] == ["forward_pass/layer*/mlp.down", "prefill/layer*/mlp.down"]
    g = pts[0]
    assert (g.flops, g.nbytes, g.time_ms, g.calls, len(g.paths)) == (40, 80, 4.0, 20, 4)
    # leaves repeat under two top-level blocks: labels say which
    assert pts[0].label.endswith(":mlp.down") and pts[0].label != pts[1].label
    assert [p.id for p in pts] == [1, 2]
    ungrouped = place(rows, peaks(), group=False)
    assert len(ungrouped) == 5


def test_no_flops_op_is_listed_not_plotted() -> None:
    pk = peaks()
    pts = place([row("embed", 0, 10**9, 100.0), at(1.0, 5.0, "mv")], pk)
    emb = next(p for p in pts if p.key == "embed")
    assert emb.intensity == 0 and not emb.plottable
    assert emb.roof_share == pytest.approx(1.0)  # 10 GB/s of a 10 GB/s beta
    txt = render_roofline(pts, pk, 80, 24).plain
    assert "embed (no FLOPs, off chart)" in txt


# ------------------------------------------------------------------------- chart


def sample_points() -> tuple[list[rl.RooflinePoint], MachinePeaks]:
    pk = MachinePeaks(
        gflops=320.0,
        gbps=45.0,
        copy_gbps=45.0,
        triad_gbps=21.0,
        gemm_gflops=320.0,
        llc_bytes=480 << 20,
    )
    rows = []
    shapes = {
        "attention.qkv": (3072, 1024),
        "attention.out": (1024, 1024),
        "mlp.gate_up": (5632, 1024),
        "mlp.down": (1024, 2816),
    }
    for layer in range(4):
        for name, (n, k) in shapes.items():
            c = matmul_cost(1, n, k)
            rows.append(
                row(
                    f"forward_pass/layer{layer}/{name}",
                    c.flops * 100,
                    c.nbytes * 100,
                    c.nbytes * 100 / 30e9 * 1e3,
                )
            )
            c = matmul_cost(64, n, k)
            rows.append(
                row(
                    f"prefill/layer{layer}/{name}",
                    c.flops * 4,
                    c.nbytes * 4,
                    c.flops * 4 / 200e9 * 1e3,
                    4,
                )
            )
        c = softmax_cost(16, 200)
        rows.append(
            row(
                f"forward_pass/layer{layer}/attention.softmax",
                c.flops * 100,
                c.nbytes * 100,
                c.nbytes * 100 / 2e9 * 1e3,
            )
        )
        c = rmsnorm_cost(1, 1024)
        rows.append(
            row(
                f"forward_pass/layer{layer}/rmsnorm",
                c.flops * 200,
                c.nbytes * 200,
                c.nbytes * 200 / 3e9 * 1e3,
                200,
            )
        )
    c = matmul_cost(1, 8192, 1024)
    rows.append(
        row("forward_pass/lm_head", c.flops * 100, c.nbytes * 100, c.nbytes * 100 / 60e9 * 1e3)
    )  # 60 GB/s: above the 45 GB/s roof
    rows.append(row("forward_pass/embed", 0, 8192 * 100, 0.5))
    return place(rows, pk), pk


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_chart_snapshot(size: tuple[int, int]) -> None:
    pts, pk = sample_points()
    w, h = size
    text = render_roofline(pts, pk, w, h, highlight="forward_pass/layer2/mlp.down")
    plain = text.plain
    path = SNAPSHOTS / f"roofline_{w}x{h}.txt"
    if os.environ.get("ZLPROF_UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(plain + "\n", encoding="utf-8")
    assert plain + "\n" == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (60, 16), (200, 60)])
def test_chart_structure(size: tuple[int, int]) -> None:
    pts, pk = sample_points()
    w, h = size
    text = render_roofline(pts, pk, w, h, highlight="lm_head")
    lines = text.plain.split("\n")
    assert len(lines) == h
    assert all(len(line) == w for line in lines)
    plain = text.plain
    assert "▲" in plain  # ridge marked on the x axis
    assert "ridge ▲ 7.11" in lines[0]
    assert sum(0x2800 < ord(c) <= 0x28FF for c in plain) > w // 2  # braille roof lines
    axis = next(i for i, line in enumerate(lines) if "└" in line)
    # y ticks are decades and the x labels sit under the axis
    assert "┤" in plain and "1k" in plain and "0.1" in lines[axis + 1]
    # every point taking >= 1 % of the time is labelled inline or has its id in the legend;
    # the smaller ones are counted
    total = sum(p.time_ms for p in pts)
    small = [p for p in pts if p.time_ms < 0.01 * total and p.key != "forward_pass/lm_head"]
    for p in pts:
        if p in small:
            continue
        shown = p.label in plain or f"{p.marker} {p.label}" in plain
        assert shown or "more in the table" in plain, p.label
    note = f"+{len(small)} op(s) under 1% of the time: table only"
    assert small and (note in plain or "more in the table" in plain)
    # the highlighted point is drawn reversed
    assert any("reverse" in str(s.style) for s in text.spans)


def test_chart_larger_is_sharper() -> None:
    pts, pk = sample_points()

    def dots(t: Text) -> int:
        return sum(bin(ord(c) - 0x2800).count("1") for c in t.plain if 0x2800 < ord(c) <= 0x28FF)

    assert dots(render_roofline(pts, pk, 160, 48)) > dots(render_roofline(pts, pk, 80, 24))


def test_chart_label_collisions_use_legend() -> None:
    pk = peaks(100, 10)
    # eight ops at the same spot: one label with "+7", the rest listed in the legend
    rows = [at(1.0, 5.0, f"op_{c}", calls=10, nbytes=10**9 - i) for i, c in enumerate("abcdefgh")]
    pts = place(rows, pk)
    plain = render_roofline(pts, pk, 80, 24).plain
    assert "+7" in plain
    assert "+7 at op_a" in plain


def test_chart_tiny_and_empty() -> None:
    pk = peaks()
    assert render_roofline([], pk, 10, 5).plain == "roofline: "
    t = render_roofline([], pk, 80, 24)  # no points: the roof alone
    assert len(t.plain.split("\n")) == 24 and "▲" in t.plain


def test_table_matches_chart_ids() -> None:
    pts, pk = sample_points()
    rows = roofline_rows(pts)
    assert [r[0] for r in rows] == [p.marker for p in pts]
    lm = next(r for r, p in zip(rows, pts, strict=True) if p.key == "forward_pass/lm_head")
    cols = list(rl.TABLE_COLUMNS)
    assert lm[cols.index("bound")] == "memory !"
    assert lm[cols.index("level")] == "DRAM"
    lm_point = next(p for p in pts if p.key == "forward_pass/lm_head")
    assert lm_point.note.startswith("ABOVE ITS DRAM ROOF")
    t = roofline_table(pts)
    assert t.row_count == len(pts) and len(t.columns) == len(rl.TABLE_COLUMNS)


def test_text_report_from_profiler_session() -> None:
    prof = zlprof.Profiler()
    W = np.ones((256, 256), np.float32)
    x = np.ones(256, np.float32)
    for _ in range(20):
        with prof.measure("forward_pass"):
            with prof.measure("matvec"):
                W @ x
                prof.cost(*matmul_cost(1, 256, 256))
        with prof.measure("sampling"):
            pass
    pk = peaks(1000, 1000)
    out = roofline_text_report(prof.state, pk, width=100)
    assert out.startswith("Roofline: pi 1000 GFLOP/s")
    assert "forward_pass/matvec" in out and "memory" in out
    flat = " ".join(out.split())
    assert "1 op(s) placed (1 at DRAM; 1 memory-bound, 0 compute-bound)" in flat
    assert "2 measured op(s) without costs" in flat
    assert max(len(line) for line in out.splitlines()) <= 100
    empty = roofline_text_report(zlprof.Profiler().state, pk)
    assert "no op costs recorded" in empty


# ------------------------------------------------------------------------- calibration


#: small caches, so calibrating in tests allocates little
SMALL_CACHES = rl.CacheDescription(
    (
        rl.CacheLevel(1, 32 << 10, 2, 1),
        rl.CacheLevel(2, 256 << 10, 2, 1),
        rl.CacheLevel(3, 2 << 20, 1, 2),
    ),
    "sysfs",
)


class FakeClock:
    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.step = step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def test_calibrate_tiny_arithmetic() -> None:
    seen: list[tuple[float, str]] = []
    pk = rl.calibrate(
        array_mb=1,
        gemm_n=32,
        reps=3,
        threads=2,
        clock=FakeClock(0.001),
        progress=lambda f, m: seen.append((f, m)),
        caches=SMALL_CACHES,
    )
    n_bytes = (1 << 20) // 8 * 8
    # every timed repetition lasts exactly 1 ms on the fake clock
    assert pk.counted == {
        "copy": 2 * n_bytes,
        "triad": 3 * n_bytes,
        "read": n_bytes,
        "gemm": 2 * 32**3,
    }
    assert pk.copy_gbps == pytest.approx(2 * n_bytes / 1e-3 / 1e9)
    assert pk.triad_gbps == pytest.approx(3 * n_bytes / 1e-3 / 1e9)
    assert pk.gemm_gflops == pytest.approx(2 * 32**3 / 1e-3 / 1e9)
    assert pk.triad_moved_gbps == pytest.approx(pk.triad_gbps * 5 / 3)
    dram = pk.level("DRAM")
    assert dram is not None and dram.read_gbps == pytest.approx(n_bytes / 1e-3 / 1e9)
    assert pk.gbps == max(pk.copy_gbps, pk.triad_gbps, dram.read_gbps)
    assert pk.gflops == pk.gemm_gflops
    assert all(v == pytest.approx(0.0, abs=1e-9) for v in pk.spread.values())
    assert all(len(v) == 3 for v in pk.samples.values())
    assert [lv.name for lv in pk.levels] == ["L1", "L2", "L3", "DRAM"]
    assert pk.stream_threads == 2 and pk.source == "measured" and pk.date
    fracs = [f for f, _ in seen]
    assert fracs == sorted(fracs) and fracs[-1] == 1.0 and len(seen) >= 10


def test_calibrate_tiny_real_clock() -> None:
    pk = rl.calibrate(array_mb=0.5, gemm_n=16, reps=2, threads=1, caches=SMALL_CACHES)
    for v in (pk.copy_gbps, pk.triad_gbps, pk.gemm_gflops):
        assert v > 0 and math.isfinite(v)
    assert pk.blas_threads >= 1 and pk.numpy_version == np.__version__
    with pytest.raises(ValueError):
        rl.calibrate(array_mb=0, gemm_n=16, reps=1)
    with pytest.raises(ValueError):
        rl.calibrate(array_mb=1, gemm_n=16, reps=0)


def test_triad_kernel_result() -> None:
    a, b, c = np.zeros(10), np.full(10, 2.0), np.full(10, 0.5)
    cal._triad_kernel(a, b, c)
    assert np.all(a == 3.5)


# ------------------------------------------------------------------------- cache


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_cache_path_follows_xdg(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rl.peaks_cache_path() == xdg / "zlprof" / "peaks.json"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # not absolute: ignored
    assert rl.peaks_cache_path() == Path.home() / ".cache" / "zlprof" / "peaks.json"


def test_cache_round_trip(xdg: Path) -> None:
    pk = rl.calibrate(
        array_mb=0.25, gemm_n=8, reps=1, threads=1, clock=FakeClock(0.5), caches=SMALL_CACHES
    )
    path = rl.save_peaks(pk)
    assert path == xdg / "zlprof" / "peaks.json"
    data = json.loads(path.read_text())
    assert data["schema"] == rl.CACHE_SCHEMA and rl.machine_key() in data["machines"]
    got = rl.load_cached_peaks()
    assert got is not None and got.source == "cached"
    assert (got.gflops, got.gbps, got.copy_gbps, got.date) == (
        pk.gflops,
        pk.gbps,
        pk.copy_gbps,
        pk.date,
    )
    assert rl.load_cached_peaks(key="another machine") is None
    # a second machine's entry does not clobber the first
    rl.save_peaks(pk, key="another machine")
    assert rl.load_cached_peaks() is not None
    path.write_text("{not json")
    assert rl.load_cached_peaks() is None


def test_get_peaks_cached_measured_override(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict] = []
    real = cal._calibrate

    def fake_calibrate(**kw):
        calls.append(kw)
        return real(
            array_mb=0.25, gemm_n=8, reps=1, threads=1, clock=FakeClock(0.01), caches=SMALL_CACHES
        )

    monkeypatch.setattr(cal, "_calibrate", fake_calibrate)
    monkeypatch.setattr(cal, "_cpu_busy", lambda: 0.0)  # an idle machine, whatever runs now
    with pytest.raises(rl.PeaksUnavailable):
        rl.get_peaks(measure_if_missing=False)
    both = rl.get_peaks(peak_gflops=500, peak_gbps=50)  # nothing to measure
    assert (both.gflops, both.gbps, both.source, both.ridge) == (500, 50, "override", 10)
    assert calls == []
    measured = rl.get_peaks()  # no cache: measured once and cached
    assert measured.source == "measured" and len(calls) == 1
    cached = rl.get_peaks()
    assert cached.source == "cached" and len(calls) == 1 and cached.gbps == measured.gbps
    over = rl.get_peaks(peak_gbps=12.5)
    assert over.gbps == 12.5 and over.gflops == cached.gflops and over.source == "override"
    assert "override" in over.describe()
    again = rl.get_peaks(calibrate=True)
    assert again.source == "measured" and len(calls) == 2
    with pytest.raises(ValueError):
        rl.get_peaks(peak_gflops=-1)
    with pytest.raises(ValueError):
        rl.get_peaks(peak_gbps=float("nan"))


def test_describe_and_dict_round_trip() -> None:
    pk = peaks(320, 45, blas_threads=2, date="2026-01-02T03:04:05+00:00")
    s = pk.describe()
    assert "pi 320 GFLOP/s" in s and "DRAM beta 45.0 GB/s (copy)" in s and "ridge 7.11" in s
    back = MachinePeaks.from_dict(json.loads(json.dumps(pk.to_dict())))
    assert back == pk
    with pytest.raises(ValueError):
        MachinePeaks.from_dict({"gflops": 0, "gbps": 1})


def test_busy_machine_peaks_are_not_cached(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_cpu_busy = cal._cpu_busy
    monkeypatch.setattr(cal, "_cpu_busy", lambda: 0.9)  # others use 90 % of the CPUs
    monkeypatch.setattr(
        cal,
        "_calibrate",
        lambda **kw: rl.calibrate(
            array_mb=0.25, gemm_n=8, reps=1, threads=1, caches=SMALL_CACHES
        ),
    )
    pk = rl.get_peaks()
    assert pk.busy and "busy" in pk.describe()
    assert rl.load_cached_peaks() is None  # implicit measurement on a busy machine: not kept
    rl.get_peaks(calibrate=True)  # asked for explicitly: kept
    assert rl.load_cached_peaks() is not None
    monkeypatch.setattr(cal, "_cpu_busy", lambda: 0.05)
    assert not rl.calibrate(
        array_mb=0.25, gemm_n=8, reps=1, threads=1, caches=SMALL_CACHES
    ).busy
    # without /proc/stat the load average decides
    assert MachinePeaks(1, 1, cpu_busy=-1, loadavg=3.0, cpus=2).busy
    assert not MachinePeaks(1, 1, cpu_busy=-1, loadavg=0.5, cpus=2).busy
    assert 0.0 <= real_cpu_busy(0.05) <= 1.0


def test_parent_with_costed_children_uses_self_time() -> None:
    parent = row("attention", 10**9, 10**9, 10.0)  # its own costs, 10 ms inclusive
    parent.self_ms = 2.0  # 8 ms of it are in the costed child
    child = row("attention/scores", 10**9, 10**9, 8.0)
    pts = {p.key: p for p in place([parent, child], peaks(1000, 1000))}
    assert pts["attention"].time_ms == 2.0 and pts["attention/scores"].time_ms == 8.0


def test_peaks_report_text() -> None:
    pk = rl.calibrate(
        array_mb=0.25, gemm_n=8, reps=2, threads=1, clock=FakeClock(0.001), caches=SMALL_CACHES
    )
    out = rl.peaks_report(pk, width=80)
    assert out.startswith("Machine peaks: pi ")
    assert "copy " in out and "triad " in out and "GEMM fp32 n=8" in out and "cache: " in out
    assert max(len(x) for x in out.splitlines()) <= 80
    over = rl.peaks_report(MachinePeaks(gflops=1, gbps=2, overridden=["gflops", "gbps"]))
    assert "override" in over and "copy" not in over.split("\n", 1)[1]
