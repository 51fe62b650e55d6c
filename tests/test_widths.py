"""Command output fits the terminal; piped output is never cut; widths are cells.

Each command's main function runs with COLUMNS=80 on a "terminal" (a stdout whose
isatty() is True) and piped (a plain StringIO): on the terminal no line passes 80 cells;
piped, every op has one row that starts with its full path.
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from zlprof import cli, protocol, rates
from zlprof.recording import RecordingWriter, load_session
from zlprof.reports import md_escape, render_report
from zlprof.textwidth import Column, cell_len, cut, pad, render_table, terminal_width, wrap

START = 10**12
MS = 1_000_000
LONG = "a_rather_long_operation_name_that_does_not_fit_eighty_columns_at_all"
#: (id, parent, name): CJK, emoji, a `|`, a long name, nesting
PATHS = [
    (1, 0, "forward_pass"),
    (2, 1, "注意力"),
    (3, 1, "mlp🚀"),
    (4, 2, "a|b"),
    (5, 0, LONG),
    (6, 0, "sampling"),
]


def full_paths() -> dict[int, str]:
    names = {pid: (parent, name) for pid, parent, name in PATHS}

    def full(pid: int) -> str:
        parent, name = names[pid]
        return name if parent == 0 else f"{full(parent)}/{name}"

    return {pid: full(pid) for pid in names}


def write_run(path: Path, *, scale: float = 1.0, seed: int = 0) -> Path:
    """Two requests decoded together (a batch of 2), then a third one alone, 0.5 s idle
    before the first request: a recording whose rates differ from each other."""
    rng = np.random.default_rng(seed)
    with RecordingWriter(path, force=True) as w:
        w.write_raw(protocol.encode_hello(
            pid=7, argv=["serve.py", "--model", "草稿"], start_ns=START, wall_time=1.7e9,
            python="3.11", numpy_version=np.__version__, platform="linux"))
        w.write_raw(protocol.encode_names(PATHS))
        pids, t0s, t1s = [], [], []
        t = START + 500 * MS
        for _ in range(40):
            for pid in (1, 2, 4, 3, 5, 6):
                d = int(rng.integers(1, 3) * MS * scale)
                pids.append(pid)
                t0s.append(t)
                t1s.append(t + d)
            t += 3 * MS
        w.write_raw(protocol.encode_measurements(
            1, np.asarray(pids), np.asarray(t0s), np.asarray(t1s)))
        t0 = START + 500 * MS
        rows = [(t0, 0, -1, "start", ""), (t0, 1, -1, "start", "")]
        for i in range(10):  # requests 0 and 1 together: first tokens at +10 ms, then 10 ms apart
            for req in (0, 1):
                rows.append((t0 + (i + 1) * 10 * MS, req, i, "prefill" if i == 0 else "decode", "x"))
        rows += [(t0 + 100 * MS, 0, 10, "end", ""), (t0 + 100 * MS, 1, 10, "end", "")]
        t2 = t0 + 200 * MS  # request 2 alone, after a 100 ms gap
        rows.append((t2, 2, -1, "start", ""))
        for i in range(5):
            rows.append((t2 + (i + 1) * 20 * MS, 2, i, "prefill" if i == 0 else "decode", "y"))
        rows.append((t2 + 100 * MS, 2, 5, "end", ""))
        w.write_raw(protocol.encode_tokens(rows))
        w.write_raw(protocol.encode_memory([START + 1000 * MS], [50 << 20], [-1]))
        w.write_raw(protocol.encode_end(0, "exited normally"))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("widths")
    return write_run(d / "a.zlp"), write_run(d / "b.zlp", scale=1.5, seed=1)


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run_main(monkeypatch: pytest.MonkeyPatch, args: list[str], tty: bool) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    out = TTY() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(args) == 0
    return out.getvalue()


def widest(text: str) -> int:
    return max(cell_len(line) for line in text.splitlines())


# --------------------------------------------------------------------------- cells


def test_cells_of_wide_characters_and_emoji() -> None:
    assert cell_len("注意力") == 6 and cell_len("mlp🚀") == 5 and cell_len("abc") == 3
    assert pad("注意", 6) == "注意  " and pad("7", 3, "right") == "  7"
    for width in range(1, 9):
        for text in ("注意力注意力", "mlp🚀🚀🚀", "forward_pass/注意力/a|b"):
            for where in ("end", "start", "middle"):
                c = cut(text, width, where)  # type: ignore[arg-type]
                assert cell_len(c) <= width
                assert c == text or c.count("…") == 1
    assert cut("forward_pass/attention", 11, "start") == "…/attention"
    assert cut("short", 10) == "short"


def test_wrap_measures_cells_and_keeps_words_whole() -> None:
    lines = wrap("注意力 注意力 注意力 注意力", 14)
    assert lines == ["注意力 注意力", "注意力 注意力"]
    assert wrap("a " * 10, None) == ["a a a a a a a a a a"]
    assert wrap("x " + "y" * 30, 10) == ["x", "y" * 30]  # a long word is not split


def test_terminal_width_only_for_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "93")
    assert terminal_width(TTY()) == 93
    assert terminal_width(io.StringIO()) is None  # piped or redirected: never fitted


def test_table_drops_columns_in_stated_order_and_never_cuts_numbers() -> None:
    cols = [
        Column("name", align="left", cut="end", min_width=6, floor=4),
        Column("a", drop=2),
        Column("b", drop=1),
        Column("c"),
    ]
    rows = [["x" * 20, "1234567", "7654321", "999999.5"]]
    full = render_table(cols, rows, None)
    assert full.lines[2] == "xxxxxxxxxxxxxxxxxxxx  1234567  7654321  999999.5"
    assert not full.dropped and full.note(None) is None
    t = render_table(cols, rows, 30)
    assert t.dropped == ["b"]  # b goes first, the name is abbreviated
    assert all(cell_len(line) <= 30 for line in t.lines)
    assert "1234567" in t.lines[2] and "999999.5" in t.lines[2]
    t = render_table(cols, rows, 16)
    assert t.dropped == ["b", "a"]
    assert t.lines[2].endswith("999999.5") and "…" in t.lines[2]
    assert "left out b, a" in (t.note(16) or "")


# --------------------------------------------------------------------------- report


def test_report_at_80_columns_fits(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_main(monkeypatch, ["report", str(runs[0])], tty=True)
    assert widest(out) <= 80, out
    assert "注意力" in out and "mlp🚀" in out  # short names stay whole
    assert re.search(r"^  注意力 +40 ", out, re.M)  # indented by depth, columns aligned after
    assert "Hints:" in out


def test_report_piped_has_full_names_one_row_per_op(
    runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = run_main(monkeypatch, ["report", str(runs[0])], tty=False)
    lines = out.splitlines()
    for full in full_paths().values():
        rows = [ln for ln in lines if ln.startswith(full + " ")]
        assert len(rows) == 1, full
        assert re.match(rf"{re.escape(full)} +40 ", rows[0])  # the count column follows
    assert widest(out) > 80  # nothing was cut to fit
    assert "left out" not in out


def test_report_starts_with_the_run_and_labels_every_rate(runs: tuple[Path, Path]) -> None:
    st = load_session(runs[0])
    out = render_report(st, "text", width=None)
    first = out.split("\n\n")[0]
    assert first.startswith("serve.py --model 草稿 ran ")
    assert "25 output tokens in 3 requests" in first
    # decode: 22 decode tokens (all but each request's first) over the union of the
    # first-to-last spans: 90 ms (two requests at once) + 80 ms
    assert "129.4 tok/s decode (decode tokens / decode time)" in first
    # generation: 25 tokens over the union of start-to-last spans: 100 ms + 100 ms
    assert "125.0 tok/s generation (output tokens / request time)" in first
    # end-to-end: 25 tokens over the session, hello to the last event (1.0 s)
    assert "25.0 tok/s end-to-end (output tokens / wall time)" in first
    assert st.tokens_per_s(None) == pytest.approx(25.0)


def test_rates_have_one_definition(runs: tuple[Path, Path]) -> None:
    st = load_session(runs[0])
    dec, gen, e2e = rates.session_rates(st)
    assert (dec.count, dec.seconds) == (22, pytest.approx(0.17))
    assert (gen.count, gen.seconds) == (25, pytest.approx(0.2))
    assert (e2e.count, e2e.seconds) == (25, pytest.approx(1.0))
    s = st.summary()
    assert s["decode_tokens_per_s"] == pytest.approx(22 / 0.17)
    assert s["generation_tokens_per_s"] == pytest.approx(25 / 0.2)
    assert s["tokens_per_s"] == s["end_to_end_tokens_per_s"] == pytest.approx(25.0)
    doc = json.loads(render_report(st, "json"))
    assert doc["session"]["rates"]["decode_tokens_per_s"]["divides"] == (
        "decode tokens / decode time"
    )
    assert rates.recent_rate(st, 0.5).divides == "output tokens / last 0.5 s"


def test_rates_of_open_requests_and_spans() -> None:
    u = rates.SpanUnion()
    for s, e in [(0, 10), (5, 20), (30, 40), (35, 38)]:
        u.add(s, e)
    assert u.length() == 30
    assert u.length([(50, 60), (55, 70)]) == 50
    assert u.length() == 30  # open spans are not kept


def test_long_layout_is_the_seeds(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_main(monkeypatch, ["report", str(runs[0]), "--long"], tty=False)
    assert out.startswith("=== Performance Profile Report ===")
    assert "Operation: forward_pass/注意力" in out and "    P99: " in out
    assert "Throughput: " in out and "(decode tokens / decode time)" in out


def test_markdown_escapes_pipes(runs: tuple[Path, Path]) -> None:
    md = render_report(load_session(runs[0]), "markdown")
    assert "a\\|b" in md and "| a|b" not in md
    assert md_escape("x|y\\z") == "x\\|y\\\\z"
    rows = [ln for ln in md.splitlines() if ln.startswith("| ") and "&nbsp;" in ln]
    cells = {len(re.split(r"(?<!\\)\|", ln)) for ln in rows}
    assert len(cells) == 1  # every row has the header's column count


# --------------------------------------------------------------------------- diff, sessions


def test_diff_at_80_columns_fits(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_main(monkeypatch, ["diff", str(runs[0]), str(runs[1])], tty=True)
    assert widest(out) <= 80, out
    assert "verdict" in out and "median" in out
    assert "decode tok/s (decode tokens / decode time)" in out


def test_diff_piped_has_full_names(runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = run_main(monkeypatch, ["diff", str(runs[0]), str(runs[1])], tty=False)
    lines = out.splitlines()
    for full in full_paths().values():
        assert len([ln for ln in lines if ln.startswith(full + " ")]) == 1, full
    head = next(ln for ln in lines if ln.startswith("operation"))
    assert head.split() == ["operation", "n", "A", "n", "B", "median", "A", "median", "B",
                            "median", "p95", "p99", "mean", "q-value", "adjusted", "floor", "verdict"]


def test_sessions_at_80_columns_and_piped(
    runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    d = tmp_path / "zlprof" / "sessions"
    d.mkdir(parents=True)
    long_name = "workload-" + "x" * 40 + "-20261130-201732.zlp"
    for name in ("a.zlp", long_name):
        (d / name).write_bytes(runs[0].read_bytes())
    out = run_main(monkeypatch, ["sessions"], tty=True)
    assert widest(out) <= 80, out
    assert long_name in out  # the file name is never cut
    piped = run_main(monkeypatch, ["sessions"], tty=False)
    assert sum(1 for ln in piped.splitlines() if ln.endswith(str(d / long_name))) == 1
    assert "serve.py --model 草稿" in piped
