"""The cache-aware roofline: the cache description parser, level choice at every
boundary, placement against the level's roof, the multi-roof chart at 80 and 200 columns,
the table sized to the terminal (and never wrapped when piped), the headline figure, the
far-below hint, and older peaks files."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from zlprof import cli
from zlprof import roofline as rl
from zlprof.diagnose import rule_roofline
from zlprof.roofline import (
    DRAM,
    MachinePeaks,
    MemoryLevel,
    choose_level,
    parse_cache_tree,
    place,
    render_roofline,
    stream_summary,
    table_lines,
)
from zlprof.roofline.caches import parse_cpu_list, parse_size
from zlprof.session import OpRow
from zlprof.stats import PerformanceStats

SNAPSHOTS = Path(__file__).parent / "snapshots_text"
KiB, MiB = 1 << 10, 1 << 20


def level_peaks(**kw) -> MachinePeaks:
    """pi 100 GFLOP/s; roofs L1 200, L2 100, L3 50, DRAM 20 GB/s; capacities 64 KiB,
    2 MiB, 32 MiB."""
    return MachinePeaks(
        gflops=100.0,
        gbps=20.0,
        copy_gbps=17.0,
        triad_gbps=15.0,
        levels=[
            MemoryLevel("L1", 64 * KiB, 32 * KiB, read_gbps=200, copy_gbps=90, roof_gbps=200),
            MemoryLevel("L2", 2 * MiB, 1 * MiB, read_gbps=100, copy_gbps=60, roof_gbps=100),
            MemoryLevel("L3", 32 * MiB, 32 * MiB, read_gbps=50, copy_gbps=40, roof_gbps=50),
            MemoryLevel(DRAM, 0, read_gbps=20, copy_gbps=17, triad_gbps=15, roof_gbps=20),
        ],
        caches_source="sysfs",
        **kw,
    )


def row(full: str, flops: int, nbytes: int, ms: float, calls: int) -> OpRow:
    return OpRow(
        path_id=0,
        full=full,
        name=full.rsplit("/", 1)[-1],
        parent=full.rsplit("/", 1)[0] if "/" in full else "",
        depth=full.count("/"),
        stats=PerformanceStats(name=full, count=calls, total_ms=ms),
        self_ms=ms,
        self_share=0.0,
        flops=flops,
        nbytes=nbytes,
        cost_calls=calls if nbytes or flops else 0,
    )


# ------------------------------------------------------------------ cache description


def write_tree(root: Path, cpus: int, caches: list[tuple[int, str, str, str]]) -> Path:
    """A sysfs-like tree: ``caches`` = (level, type, size, shared_cpu_list with {cpu})."""
    for cpu in range(cpus):
        for i, (level, kind, size, shared) in enumerate(caches):
            d = root / f"cpu{cpu}" / "cache" / f"index{i}"
            d.mkdir(parents=True)
            (d / "level").write_text(f"{level}\n")
            (d / "type").write_text(f"{kind}\n")
            (d / "size").write_text(f"{size}\n")
            (d / "shared_cpu_list").write_text(shared.format(cpu=cpu) + "\n")
    (root / "cpufreq").mkdir()  # not a cpuN directory: ignored
    return root


def test_parser_two_cores_with_l3(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        2,
        [
            (1, "Data", "32K", "{cpu}"),
            (1, "Instruction", "32K", "{cpu}"),
            (2, "Unified", "1024K", "{cpu}"),
            (3, "Unified", "32768K", "0-1"),
        ],
    )
    d = parse_cache_tree(root)
    assert d is not None and d.source == "sysfs"
    assert [(c.name, c.size_bytes, c.instances) for c in d.levels] == [
        ("L1", 32 * KiB, 2),
        ("L2", 1 * MiB, 2),
        ("L3", 32 * MiB, 1),
    ]
    # private levels add up over the threads that split the work, a shared one does not
    assert d.level(2).capacity(2) == 2 * MiB and d.level(2).capacity(1) == 1 * MiB
    assert d.level(3).capacity(2) == 32 * MiB
    assert d.last_level_bytes == 32 * MiB


def test_parser_machine_without_l3(tmp_path: Path) -> None:
    root = write_tree(
        tmp_path,
        4,
        [
            (1, "Data", "48K", "{cpu}"),
            (1, "Instruction", "32K", "{cpu}"),
            (2, "Unified", "2M", "0-3"),
        ],
    )
    d = parse_cache_tree(root)
    assert d is not None and [c.name for c in d.levels] == ["L1", "L2"]
    assert d.level(3) is None
    assert d.level(1).capacity(2) == 96 * KiB and d.level(2).capacity(4) == 2 * MiB


def test_parser_empty_or_broken_tree(tmp_path: Path) -> None:
    assert parse_cache_tree(tmp_path) is None
    assert parse_cache_tree(tmp_path / "missing") is None
    write_tree(tmp_path, 1, [(1, "Data", "lots", "0")])  # an unreadable size: skipped
    assert parse_cache_tree(tmp_path) is None
    assert rl.machine_caches(tmp_path).source == "fallback"


def test_size_and_cpu_list() -> None:
    assert parse_size("32K") == 32 * KiB and parse_size("8M") == 8 * MiB
    assert parse_size("512") == 512 and parse_size("1G") == 1 << 30
    assert parse_cpu_list("0-3,8") == {0, 1, 2, 3, 8}
    with pytest.raises(ValueError):
        parse_size("big")


# ------------------------------------------------------------------ level choice


@pytest.mark.parametrize(
    ("reuse", "level"),
    [
        (1, "L1"),
        (64 * KiB, "L1"),
        (64 * KiB + 1, "L2"),
        (2 * MiB, "L2"),
        (2 * MiB + 1, "L3"),
        (32 * MiB, "L3"),
        (32 * MiB + 1, DRAM),
        (10 << 30, DRAM),
    ],
)
def test_level_at_each_boundary(reuse: int, level: str) -> None:
    got, why = choose_level(reuse, level_peaks())
    assert got == level
    assert ("<=" in why) == (level != DRAM) and "reuse" in why


def test_level_without_cache_levels_is_dram() -> None:
    assert choose_level(1000, MachinePeaks(gflops=1, gbps=1)) == (DRAM, "no cache levels measured")
    assert choose_level(0, level_peaks())[0] == DRAM


def test_roofs_are_monotone_and_dram_follows_override() -> None:
    pk = level_peaks()
    pk.levels[1] = MemoryLevel("L2", 2 * MiB, roof_gbps=10)  # a kernel read low
    roofs = {lv.name: lv.roof_gbps for lv in pk.roofs()}
    assert roofs == {"L1": 200, "L2": 50, "L3": 50, DRAM: 20}  # never below the next level
    assert pk.beta_kernel == "read"  # DRAM's roof is its read bandwidth
    pk.gbps = 30  # --peak-gbps moves the DRAM roof
    assert pk.roof(DRAM) == 30 and pk.attainable(0.5, DRAM) == 15
    pk.gbps, pk.copy_gbps = 25.0, 25.0  # copy measured faster than read
    assert pk.beta_kernel == "copy" and "DRAM beta 25.0 GB/s (copy)" in pk.describe()


def decode_rows(weights_per_layer: int, gbps: float, layers: int = 4, tokens: int = 10):
    """A decode loop: forward_pass (tokens calls) > layerN > mv, each mv streaming its
    weights at ``gbps``."""
    ms_per = weights_per_layer / (gbps * 1e9) * 1e3
    rows = [row("forward_pass", 0, 0, ms_per * layers * tokens * 1.05, tokens)]
    for i in range(layers):
        rows.append(row(f"forward_pass/layer{i}", 0, 0, ms_per * tokens, tokens))
        rows.append(
            row(
                f"forward_pass/layer{i}/mv",
                weights_per_layer // 2 * tokens,  # I = 0.5 FLOP/B
                weights_per_layer * tokens,
                ms_per * tokens,
                tokens,
            )
        )
    return rows


def test_decode_in_l3_is_held_against_l3_not_dram() -> None:
    # 4 layers x 4 MiB = 16 MiB per token: fits the 32 MiB L3; 40 GB/s > DRAM's 20
    rows = decode_rows(4 * MiB, 40.0)
    (p,) = place(rows, level_peaks())
    assert p.level == "L3" and p.loop == "forward_pass"
    assert p.reuse_bytes == pytest.approx(16 * MiB)
    assert not p.above_roof and p.roof_share == pytest.approx(40 / 50)
    assert "reuse 16.0 MiB <= L3 32.0 MiB" in p.level_reason
    # the same op on DRAM-only peaks: flagged above the (wrong) roof, with the cache hint
    (q,) = place(rows, MachinePeaks(gflops=100, gbps=20, llc_bytes=32 * MiB))
    assert q.above_roof and "cache" in q.note


def test_decode_past_l3_is_at_dram_and_flagged_only_above_its_roof() -> None:
    rows = decode_rows(64 * MiB, 18.0)  # 256 MiB per token
    (p,) = place(rows, level_peaks())
    assert p.level == DRAM and p.bound == "memory" and not p.above_roof
    assert p.roof_share == pytest.approx(18 / 20)
    (fast,) = place(decode_rows(64 * MiB, 30.0), level_peaks())
    assert fast.level == DRAM and fast.above_roof and "DRAM ROOF" in fast.note


def test_op_outside_a_loop_uses_its_own_bytes() -> None:
    rows = [row("prefill", 0, 0, 10.0, 1), row("prefill/mv", 10**6, 100 * KiB, 1.0, 1)]
    (p,) = place(rows, level_peaks())
    assert p.loop == "" and p.level == "L2" and p.reuse_bytes == 100 * KiB


def test_op_repeating_in_a_block_run_once_uses_its_parent() -> None:
    rows = [
        row("prefill", 0, 0, 10.0, 1),
        row("prefill/layer0", 0, 0, 9.0, 1),
        row("prefill/layer0/rmsnorm", 10**4, 2 * 20 * KiB, 0.1, 2),  # 20 KiB a call
        row("prefill/layer0/attention", 10**8, 3 * MiB, 5.0, 1),
    ]
    p = next(p for p in place(rows, level_peaks()) if p.key.endswith("rmsnorm"))
    # between its two calls the layer's 3 MiB of attention run: L3, not L1
    assert p.loop == "prefill/layer0" and not p.in_loop
    assert p.reuse_bytes == 3 * MiB + 40 * KiB and p.level == "L3"
    assert "(per layer0 call)" in p.level_reason
    # no decode hint for it: it is not inside a repeating block
    assert not [h for h in rule_roofline(rows, level_peaks()) if "rmsnorm" in h.title]


def test_stream_summary_headline() -> None:
    rows = decode_rows(64 * MiB, 15.0)
    s = stream_summary(rows, level_peaks())
    assert s is not None and s.block == "forward_pass" and s.level == DRAM
    assert s.bytes_per_call == 256 * MiB
    assert s.gbps == pytest.approx(15.0 / 1.05, rel=1e-6)
    assert s.share == pytest.approx(15.0 / 1.05 / 20, rel=1e-6)
    assert s.text().startswith("forward_pass streams 0.268 GB per call at 14.3 GB/s = 71% of DRAM")
    assert stream_summary([row("x", 1, 1, 1.0, 1)], level_peaks()) is None
    f = rl.roof_finding(rows, level_peaks())  # what the app's headline says about decode
    assert (f.bound, f.roof) == ("memory", DRAM)
    assert f.fraction == pytest.approx(s.share)
    assert rl.roof_finding([row("x", 1, 1, 1.0, 1)], level_peaks()) is None


def test_far_below_hint_names_the_causes() -> None:
    slow = rule_roofline(decode_rows(64 * MiB, 5.0), level_peaks())  # 25 % of DRAM
    far = [h for h in slow if "of its DRAM roof" in h.title]
    assert len(far) == 1 and far[0].severity == "warning"
    assert all(w in far[0].suggestion for w in ("layout", "dtype", "threads"))
    fine = rule_roofline(decode_rows(64 * MiB, 16.0), level_peaks())  # 80 %
    assert not [h for h in fine if "of its DRAM roof" in h.title]


# ------------------------------------------------------------------ chart


def chart_points() -> tuple[list[rl.RooflinePoint], MachinePeaks]:
    rows = decode_rows(4 * MiB, 40.0)
    rows += [
        row("prefill", 0, 0, 50.0, 1),
        row("prefill/gemm", 8 * 10**9, 10**8, 40.0, 1),  # 80 FLOP/B at 200 GFLOP/s
        row("forward_pass/lm_head", 8 * MiB, 16 * MiB, 1.0, 10),
    ]
    return place(rows, level_peaks()), level_peaks()


@pytest.mark.parametrize("size", [(80, 24), (200, 40)])
def test_multi_roof_chart_snapshot(size: tuple[int, int]) -> None:
    pts, pk = chart_points()
    w, h = size
    plain = render_roofline(pts, pk, w, h).plain
    lines = plain.split("\n")
    assert len(lines) == h and all(len(line) == w for line in lines)
    for name in ("L1", "L2", "L3", "DRAM"):
        assert name in plain
    assert "pi 100" in plain
    path = SNAPSHOTS / f"roofline_levels_{w}x{h}.txt"
    if os.environ.get("ZLPROF_UPDATE_SNAPSHOTS") or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(plain + "\n", encoding="utf-8")
    assert plain + "\n" == path.read_text(encoding="utf-8")


def test_equal_roofs_share_a_line() -> None:
    pk = level_peaks()
    pk.levels[1] = MemoryLevel("L2", 2 * MiB, roof_gbps=199)
    assert [n for n, _ in rl.roof_groups(pk.roofs())] == [["L1", "L2"], ["L3"], [DRAM]]
    assert "L1/L2" in render_roofline([], pk, 80, 24).plain


# ------------------------------------------------------------------ table


def long_points() -> list[rl.RooflinePoint]:
    rows = decode_rows(64 * MiB, 14.3)
    rows.append(row("forward_pass/a_very_long_operation_name_for_the_table", 10**6, 10**7, 3.0, 10))
    return place(rows, level_peaks())


def test_table_fits_80_columns_and_keeps_numbers() -> None:
    pts = long_points()
    full = table_lines(pts, None)
    assert full[0].split()[:3] == ["#", "op", "calls"] and "why level" in full[0]
    # piped: every column, full names, one row a line (header, rule, rows)
    assert any("forward_pass/a_very_long_operation_name_for_the_table" in line for line in full)
    assert len(full) == len(pts) + 2
    fitted = rl.fitted_table(pts, 80)
    narrow = fitted.lines
    assert max(len(line) for line in narrow) <= 80 and len(narrow) == len(pts) + 2
    assert "why level" not in narrow[0] and "level" in narrow[0] and "% roof" in narrow[0]
    assert fitted.dropped == list(rl.DROP_ORDER[: len(fitted.dropped)])
    assert "left out why level" in (fitted.note(80) or "")
    # numbers are never cut: each kept cell equals the full table's cell
    for p, line in zip(pts, narrow[2:], strict=True):
        assert rl.fmt_num(p.intensity) in line.split()
        assert f"{p.roof_share * 100:.0f}%" in line.split()
    wide = table_lines(pts, max(len(line) for line in full))
    assert wide == full  # room for everything: nothing dropped


def test_table_drop_order_is_stated_and_followed() -> None:
    pts = long_points()
    for w in (300, 160, 120, 100, 80, 60):
        head = re.split(r"\s{2,}", table_lines(pts, w)[0].strip())
        dropped = {c for c in rl.TABLE_COLUMNS if c not in head}
        # whatever is dropped at a width is a prefix of DROP_ORDER
        assert dropped == set(rl.DROP_ORDER[: len(dropped)]), (w, head)
        assert {"#", "op", "FLOP/B", "level", "% roof", "bound"} <= set(head)


# ------------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def tiny_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rec") / "tiny.zlp"
    env = {k: v for k, v in os.environ.items() if k != "ZLPROF_FD"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "zlprof",
            "record",
            "--preset",
            "tiny",
            "--max-tokens",
            "4",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=240,
        env=env,
    )
    return out


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_roofline(
    monkeypatch: pytest.MonkeyPatch, path: Path, tmp_path: Path, tty: bool, *extra: str
) -> str:
    """``zlprof roofline PATH`` with COLUMNS=80 on a terminal (``tty``) or piped."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "80")
    out = TTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    args = ["roofline", str(path), "--peak-gflops", "100", "--peak-gbps", "20", *extra]
    assert cli.main(args) == 0
    return out.getvalue()


def test_command_at_80_columns_and_piped(
    tiny_recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow = run_roofline(monkeypatch, tiny_recording, tmp_path, True)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    table = narrow[narrow.index("\n#  ") + 1 :].splitlines()
    assert table[0].startswith("#  op")
    assert "pipe the output for all" in narrow
    piped = run_roofline(monkeypatch, tiny_recording, tmp_path, False)
    # the table's row of the op (a warning line may name it too: on a fast machine it
    # runs above the test's made-up DRAM roof)
    rows = [line for line in piped.splitlines()
            if re.match(r"^\S+\s+forward_pass/layer\*/mlp\.down\s+\d", line)]
    assert len(rows) == 1, piped  # grep finds the op: full name, one row a line
    assert "why level" in piped and "pipe the output" not in piped
    data = json.loads(
        run_roofline(monkeypatch, tiny_recording, tmp_path, False, "--format", "json")
    )
    keys = {p["key"] for p in data["points"]}
    assert "forward_pass/layer*/mlp.down" in keys
    mv = next(p for p in data["points"] if p["key"] == "forward_pass/layer*/mlp.down")
    assert mv["level"] == DRAM and mv["why_level"] == "no cache levels measured"
    assert data["stream"]["block"] == "forward_pass" and data["peaks"]["levels"][-1]["name"] == DRAM


# ------------------------------------------------------------------ older peaks files


def test_schema_1_cache_is_upgraded_with_a_note(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = rl.peaks_cache_path()
    path.parent.mkdir(parents=True)
    old = {"gflops": 150.0, "gbps": 17.0, "copy_gbps": 17.0, "date": "2026-01-01"}
    path.write_text(json.dumps({"schema": 1, "machines": {rl.machine_key(): old}}))
    pk = rl.load_cached_peaks()
    assert pk is not None and pk.gbps == 17.0 and pk.stale_note == rl.peaks.STALE_NOTE
    assert [lv.name for lv in pk.roofs()] == [DRAM]
    assert "--calibrate" in rl.peaks_report(pk)
    # saving rewrites the file in the current schema, keeping the other entries
    rl.save_peaks(level_peaks(), key="other machine")
    data = json.loads(path.read_text())
    assert data["schema"] == rl.CACHE_SCHEMA and set(data["machines"]) == {
        rl.machine_key(),
        "other machine",
    }
    back = rl.load_cached_peaks(key="other machine")
    assert back is not None and not back.stale_note
    assert [lv.name for lv in back.roofs()] == ["L1", "L2", "L3", DRAM]


def test_stream_summary_headline_fits_narrow_panels() -> None:
    """A narrow panel gets a shorter sentence with the same facts, not a cut one."""
    rows = decode_rows(64 * MiB, 15.0)
    s = stream_summary(rows, level_peaks())
    assert s is not None
    full = s.text()
    assert s.fit(len(full)) == full
    for width in (70, 60, 48):
        line = s.fit(width)
        if len(line) <= width:
            assert s.level in line and f"{s.share:.0%}" in line
    assert len(s.fit(10)) > 10  # nothing fits: the shortest, for the caller to cut
    assert [len(v) for v in s.variants()] == sorted((len(v) for v in s.variants()), reverse=True)
