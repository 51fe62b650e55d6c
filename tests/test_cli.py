"""The command line: end to end, and one clear line for every user mistake."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest


def has_op_row(report: str, op: str) -> bool:
    """Whether the (piped) text report's table has a row for ``op``, by its full path."""
    return re.search(rf"^{re.escape(op)} +[0-9]", report, re.M) is not None


SCRIPT = """
import time, zlprof
for i in range(50):
    with zlprof.measure("forward_pass", memory=True):
        with zlprof.measure("attention"):
            zlprof.cost(2000, 4000)
            time.sleep(0.004)
    with zlprof.measure("sampling"):
        pass
    zlprof.token(0, i, "prefill" if i == 0 else "decode", "t")
"""


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zlprof", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    script = d / "script.py"
    script.write_text(SCRIPT)
    out = d / "run.zlp"
    res = run("record", "--out", str(out), "--", sys.executable, str(script))
    assert res.returncode == 0, res.stderr
    assert has_op_row(res.stdout, "forward_pass/attention")
    return out


def test_record_end_to_end(recording: Path) -> None:
    res = run("report", str(recording), "--format", "json")
    assert res.returncode == 0
    doc = json.loads(res.stdout)
    assert doc["schema"] == "zlprof.report/1"
    ops = doc["ops"]
    assert ops["forward_pass"]["count"] == 50
    assert ops["forward_pass/attention"]["parent"] == "forward_pass"
    assert ops["forward_pass/attention"]["flops"] == 100_000
    for key in ("count", "total_ms", "share", "min_ms", "max_ms", "avg_ms", "median_ms",
                "p95_ms", "p99_ms", "std_ms", "mem_allocated_bytes", "mem_peak_bytes",
                "parent", "estimator"):
        assert key in ops["sampling"]
    assert doc["session"]["tokens"] == 50
    assert doc["session"]["end_status"] == 0


@pytest.mark.parametrize("fmt", ["text", "csv", "markdown"])
def test_report_formats(recording: Path, fmt: str) -> None:
    res = run("report", str(recording), "--format", fmt)
    assert res.returncode == 0
    assert "forward_pass" in res.stdout


def test_export_chrome_trace(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    res = run("export", str(recording), "--format", "chrome-trace", "-o", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    xs = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(xs) == 150
    for e in xs:
        assert {"name", "pid", "tid", "ts", "dur"} <= e.keys()
        assert e["dur"] >= 0
    assert any(e["ph"] == "C" for e in doc["traceEvents"])  # memory counters
    # nested events sit inside their parents on the same thread
    att = [e for e in xs if e["name"] == "attention"][0]
    fwd = [e for e in xs if e["name"] == "forward_pass" and e["ts"] <= att["ts"]][-1]
    assert fwd["ts"] + fwd["dur"] >= att["ts"] + att["dur"]
    # existing output is not overwritten
    again = run("export", str(recording), "--format", "chrome-trace", "-o", str(out))
    assert again.returncode != 0 and "already exists" in again.stderr


def test_export_csv(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    assert run("export", str(recording), "--format", "csv", "-o", str(out)).returncode == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("op,thread,start_ns")
    assert len(lines) == 151


def one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    line = one_line_error(run("report", str(tmp_path / "nope.zlp")))
    assert "no such file" in line


def test_not_a_recording(tmp_path: Path) -> None:
    p = tmp_path / "x.zlp"
    p.write_text("not a recording")
    assert "not a zlprof recording" in one_line_error(run("report", str(p)))


def test_bad_option() -> None:
    assert "unrecognized arguments" in one_line_error(run("report", "x.zlp", "--frobnicate"))
    assert "required: PATH" in one_line_error(run("report"))
    assert "invalid choice" in one_line_error(run("report", "x", "--format", "yaml"))
    assert "invalid choice" in one_line_error(run("nonsense-command"))


def test_command_not_found(tmp_path: Path) -> None:
    line = one_line_error(run("record", "--out", str(tmp_path / "r.zlp"), "--", "no-such-prog-xyz"))
    assert "command not found" in line
    assert not (tmp_path / "r.zlp").exists()


def test_truncated_recording_reported_with_warning(recording: Path, tmp_path: Path) -> None:
    data = recording.read_bytes()
    cut = tmp_path / "cut.zlp"
    # a short session is one flush window: a chunk of hello, tokens and end, then one of
    # its measurements; the cut falls in the second (recording/writer.py: FLUSH_SPAN_NS)
    cut.write_bytes(data[:-5])
    res = run("report", str(cut))
    assert res.returncode == 0
    assert "warning" in res.stderr and "byte" in res.stderr
    assert "script.py ran" in res.stdout and "exited normally" in res.stdout
    assert has_op_row(run("report", str(recording)).stdout, "forward_pass")


def test_crashing_child_exit_code(tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("import zlprof\nwith zlprof.measure('a'):\n    pass\nraise SystemExit(3)\n")
    res = run("record", "--out", str(tmp_path / "b.zlp"), "--", sys.executable, str(script))
    assert res.returncode == 3  # sources.EXIT_PROGRAM_FAILED
    assert "the program exited with status 3" in res.stderr
    assert has_op_row(res.stdout, "a")  # data collected before the crash is reported


def test_record_of_a_python_without_zlprof_says_what_to_do(tmp_path: Path) -> None:
    res = run("record", "--out", str(tmp_path / "n.zlp"), "--", sys.executable, "-S", "-c", "import zlprof")
    assert res.returncode == 3
    lines = res.stderr.strip().splitlines()
    assert lines[-2].startswith("zlprof: error: the program exited with status 1")
    assert lines[-1].startswith(f"zlprof: hint: {sys.executable} cannot import zlprof")


def test_sessions_lists_default_directory(tmp_path: Path) -> None:
    res = run("sessions")
    assert res.returncode == 0
