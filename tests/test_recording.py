"""Recordings: writer, tolerant reader, never overwriting, crash safety."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zlprof import protocol
from zlprof.recording import (
    FILE_HEADER_SIZE,
    RecordingError,
    RecordingWriter,
    load_session,
    read_recording,
)
from zlprof.sources import LiveSource


def write_small(path: Path) -> list[int]:
    """A small recording; returns the file offsets where each frame ends."""
    ends = []
    with RecordingWriter(path) as w:
        frames = [
            protocol.encode_hello(pid=1, argv=["t"], start_ns=0, wall_time=0.0, python="3",
                                  numpy_version="2", platform="linux"),
            protocol.encode_names([(1, 0, "step")]),
        ]
        for i in range(5):
            t0 = np.arange(i * 10, i * 10 + 10, dtype=np.int64) * 1000
            frames.append(protocol.encode_measurements(1, np.ones(10, np.int32), t0, t0 + 500))
        frames.append(protocol.encode_end(0))
        for f in frames:
            w.write_raw(f)
            w.flush()  # one chunk per frame (the writer otherwise batches them)
            ends.append(w.bytes_written)
    return ends


def test_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    write_small(p)
    res = read_recording(p)
    assert res.warning is None
    assert [f.kind for f in res.frames][:2] == ["hello", "names"]
    st = load_session(p)
    assert st.stats_for(1).count == 50
    assert st.end_status == 0


def test_never_overwrites_without_force(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    write_small(p)
    before = p.read_bytes()
    with pytest.raises(RecordingError, match="already exists"):
        RecordingWriter(p)
    assert p.read_bytes() == before
    RecordingWriter(p, force=True).close()
    assert len(p.read_bytes()) == FILE_HEADER_SIZE


def test_cut_at_every_byte_yields_complete_prefix(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    ends = write_small(p)
    data = p.read_bytes()
    cut_path = tmp_path / "cut.zlp"
    for cut in range(FILE_HEADER_SIZE, len(data) + 1):
        cut_path.write_bytes(data[:cut])
        res = read_recording(cut_path)
        complete = sum(1 for e in ends if e <= cut)
        assert len(res.frames) == complete
        if cut in ends or cut == FILE_HEADER_SIZE:
            assert res.warning is None
        else:
            assert res.warning is not None
            last_end = max([FILE_HEADER_SIZE] + [e for e in ends if e <= cut])
            assert f"at byte {last_end}" in res.warning


def test_corrupt_middle_costs_one_frame(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    ends = write_small(p)
    data = bytearray(p.read_bytes())
    data[ends[3] + 24] ^= 0xFF  # inside the 5th frame's payload
    p.write_bytes(bytes(data))
    res = read_recording(p)
    assert len(res.frames) == len(ends) - 1  # all but the damaged one, the end included
    assert [f.kind for f in res.frames][-1] == "end"
    (d,) = res.damage
    assert (d.start, d.end, d.truncated) == (ends[3], ends[4], False)
    assert f"byte {ends[3]}" in res.warning
    assert load_session(p).stats_for(1).count == 40


def _frame_spans(data: bytes) -> list[tuple[int, int]]:
    res = protocol.scan(data, FILE_HEADER_SIZE)
    assert not res.damage
    return [(g.start, g.end) for g in res.parsed]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_one_damaged_byte_costs_only_the_frames_touching_it(tmp_path_factory, data) -> None:
    """Flip or delete one random byte: every frame not touching it is recovered."""
    p = tmp_path_factory.mktemp("rec") / "a.zlp"
    write_small(p)
    raw = p.read_bytes()
    spans = _frame_spans(raw)
    i = data.draw(st.integers(FILE_HEADER_SIZE, len(raw) - 1))
    delete = data.draw(st.booleans())
    if delete:
        bad = raw[:i] + raw[i + 1 :]
    else:
        bad = bytearray(raw)
        bad[i] ^= data.draw(st.integers(1, 255))
        bad = bytes(bad)
    res = protocol.scan(bad, FILE_HEADER_SIZE)
    got = {bytes(g.content) for g in res.parsed}
    want = set()
    for a, b in spans:
        if b <= i or a > i:
            seg = raw[a:b]
            whole = protocol.parse_frame(seg, 0)
            want.add(bytes(whole.content))
    assert want <= got
    assert res.damage  # the damage is always reported
    # positive control: the intact file reads whole, with no damage
    assert len(protocol.scan(raw, FILE_HEADER_SIZE).parsed) == len(spans)


def test_old_schema_1_recordings_still_read() -> None:
    """The sample runs and fixtures made before schema 2 replay and report as before."""
    root = Path(__file__).resolve().parents[1]
    for f in [*sorted((root / "sample_runs").glob("*.zlp")), root / "tests/fixtures/session.zlp"]:
        res = read_recording(f)
        if res.schema[0] == 1:
            assert res.frames and res.frames[0].kind == "hello"
            assert res.warning is None


def test_not_a_recording(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello world, definitely not a profile")
    with pytest.raises(RecordingError, match="not a zlprof recording"):
        read_recording(p)
    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "missing.zlp")
    with pytest.raises(RecordingError, match="directory"):
        read_recording(tmp_path)


def test_newer_schema_refused(tmp_path: Path) -> None:
    p = tmp_path / "new.zlp"
    p.write_bytes(protocol.preamble(protocol.SCHEMA_MAJOR + 1, 0))
    with pytest.raises(RecordingError, match="upgrade zlprof"):
        read_recording(p)


CRASHER = textwrap.dedent(
    """
    import os, sys, time
    import zlprof
    for i in range(3000):
        with zlprof.measure("work"):
            pass
    zlprof.get_profiler().flush()
    time.sleep(0.3)
    print("about to crash", file=sys.stderr, flush=True)
    os.kill(os.getpid(), 9)
    """
)


def test_crashing_child_leaves_readable_recording(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASHER)
    out = tmp_path / "crash.zlp"
    src = LiveSource([sys.executable, str(script)], out)
    src.start()
    assert src.wait(300)
    assert src.status == "crashed"
    assert src.exit_code == -9
    st = load_session(out)
    assert st.stats_for_name("work").count == 3000
    assert st.end_status == -9
    assert "SIGKILL" in st.end_reason
    assert any("about to crash" in m for _, _, m in st.logs)


def test_child_output_passes_untouched(tmp_path: Path) -> None:
    script = tmp_path / "p.py"
    script.write_text("import zlprof\nwith zlprof.measure('a'):\n    print('plain stdout line')\n")
    out = subprocess.run(
        [sys.executable, "-m", "zlprof", "record", "--out", str(tmp_path / "p.zlp"), "--",
         sys.executable, str(script)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("plain stdout line\n")
    assert re.search(r"^a +1 ", out.stdout, re.M)  # the report's row of op a


ORPHAN = textwrap.dedent(
    """
    import os, subprocess, sys, time
    # a stand-in for zlprof: starts the child the way LiveSource does, then dies hard
    from zlprof.sources import LiveSource
    src = LiveSource([sys.executable, "-c",
        "import time, zlprof\\nwhile True:\\n    with zlprof.measure('spin'):\\n        time.sleep(0.01)"],
        None)
    src.start()
    print(src.proc.pid, flush=True)
    time.sleep(1.0)
    os.kill(os.getpid(), 9)
    """
)


def test_child_stops_when_zlprof_is_killed(tmp_path: Path) -> None:
    import os
    import time

    import psutil

    script = tmp_path / "orphan.py"
    script.write_text(ORPHAN)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    child = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            p = psutil.Process(child)
            if p.status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.1)
    else:
        os.kill(child, 9)
        raise AssertionError("the child outlived a SIGKILLed zlprof")
