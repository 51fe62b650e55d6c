"""Recordings that last: the compact encoding, bounded sessions, write failures, pruning."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlprof import cli, protocol, recording
from zlprof.recording import RecordingWriter, WriteFailure, load_session, read_recording
from zlprof.replay import ReplaySource
from zlprof.session import SessionState
from zlprof.sessions import delete_sessions, prune_plan
from zlprof.sources import LiveSource

I64 = st.integers(-(2**63), 2**63 - 1)


# --------------------------------------------------------------------------- encoding


@st.composite
def meas_bodies(draw: st.DrawFn) -> list[dict]:
    mem = draw(st.booleans())
    tid = draw(st.integers(0, 2**62))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 12))
        col = st.lists(I64, min_size=n, max_size=n)
        b = {
            "tid": tid,
            "n": n,
            "path": np.array(draw(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=n,
                                           max_size=n)), dtype="<i4"),
            "t0": np.array(draw(col), dtype="<i8"),
            "t1": np.array(draw(col), dtype="<i8"),
        }
        if mem:
            b["m0"] = np.array(draw(col), dtype="<i8")
            b["m1"] = np.array(draw(col), dtype="<i8")
        out.append(b)
    return out


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, np.ndarray):
            assert b[k].dtype == v.dtype and np.array_equal(b[k], v), k
        else:
            assert b[k] == v, k


@settings(max_examples=300, deadline=None)
@given(meas_bodies(), st.integers(0, 2**32 - 1))
def test_compact_encoding_round_trips_any_frames(bodies: list[dict], stream: int) -> None:
    content = protocol.encode_compact(bodies)
    got = protocol.decode_content(content, stream)
    assert len(got) == len(bodies)
    for b, fr in zip(bodies, got, strict=True):
        assert (fr.kind, fr.stream) == ("meas", stream)
        _same(b, fr.body)


@settings(max_examples=200, deadline=None)
@given(meas_bodies(), st.integers(0, 2**32 - 1))
def test_schema_2_1_compact_encoding_still_reads_any_frames(bodies: list[dict],
                                                           stream: int) -> None:
    got = protocol.decode_content(protocol.encode_compact_21(bodies), stream)
    assert len(got) == len(bodies)
    for b, fr in zip(bodies, got, strict=True):
        assert (fr.kind, fr.stream) == ("meas", stream)
        _same(b, fr.body)


@st.composite
def nested_bodies(draw: st.DrawFn) -> list[dict]:
    """Measurement frames of a call tree as a profiler sends them (each record when it
    ends: children before their parent), so enclosing records occur."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mem = draw(st.booleans())
    recs: list[tuple[int, int, int]] = []
    t = draw(I64) // 2

    def block(depth: int) -> None:
        nonlocal t
        t0 = t
        t += int(rng.integers(0, 1000))
        for _ in range(int(rng.integers(0, 4)) if depth < 4 else 0):
            block(depth + 1)
        t += int(rng.integers(0, 10**6))
        recs.append((depth * 10 + int(rng.integers(1, 10)), t0, t))
        t += int(rng.integers(0, 500))

    for _ in range(draw(st.integers(1, 6))):
        block(0)
    a = np.array(recs, np.int64)
    out = []
    for part in np.array_split(a, draw(st.integers(1, 3))):
        b = {"tid": 3, "n": len(part), "path": part[:, 0].astype("<i4"),
             "t0": part[:, 1].copy(), "t1": part[:, 2].copy()}
        if mem:
            b["m0"] = rng.integers(0, 2**40, len(part)).astype("<i8")
            b["m1"] = b["m0"] + rng.integers(-4096, 4096, len(part))
        out.append(b)
    return out


@settings(max_examples=200, deadline=None)
@given(nested_bodies())
def test_compact_encoding_round_trips_call_trees(bodies: list[dict]) -> None:
    import msgpack

    content = protocol.encode_compact(bodies)
    got = protocol.decode_content(content, 5)
    for b, fr in zip(bodies, got, strict=True):
        _same(b, fr.body)
    # every enclosing record carries the offset of its start from its first leaf's
    # (end flag 2), not its duration
    _kind, body = msgpack.unpackb(content)
    t0 = np.concatenate([b["t0"] for b in bodies])
    t1 = np.concatenate([b["t1"] for b in bodies])
    n = len(t0)
    w = list(body["w"])
    assert w[1] == 1  # end flags 0..2
    ends = np.frombuffer(body["cols"][n * w[0] : n * w[0] + n], np.uint8) >> 1
    assert int((ends == 2).sum()) == int((t0[1:] < t1[:-1]).sum())


@st.composite
def mem_bodies(draw: st.DrawFn) -> list[dict]:
    names = tuple(draw(st.lists(st.text(max_size=6), max_size=3, unique=True)))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 6))
        col = st.lists(I64, min_size=n, max_size=n)
        out.append({
            "t": np.array(draw(col), "<i8"), "rss": np.array(draw(col), "<i8"),
            "traced": np.array(draw(col), "<i8"),
            "gauges": {g: np.array(draw(col), "<i8") for g in names},
        })
    return out


@settings(max_examples=200, deadline=None)
@given(mem_bodies(), st.integers(0, 2**32 - 1))
def test_compact_memory_round_trips_any_frames(bodies: list[dict], stream: int) -> None:
    got = protocol.decode_content(protocol.encode_memory_compact(bodies), stream)
    assert len(got) == len(bodies)
    for b, fr in zip(bodies, got, strict=True):
        assert (fr.kind, fr.stream) == ("mem", stream)
        _same({k: v for k, v in b.items() if k != "gauges"},
              {k: v for k, v in fr.body.items() if k != "gauges"})
        _same(b["gauges"], fr.body["gauges"])
        assert list(fr.body["gauges"]) == list(b["gauges"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(I64, I64, I64, I64), max_size=30), st.integers(0, 7))
def test_compact_costs_round_trip_any_rows(rows: list[tuple[int, int, int, int]],
                                           stream: int) -> None:
    got = protocol.decode_content(protocol.encode_costs_compact(rows), stream)
    assert [(f.kind, f.stream) for f in got] == [("costs", stream)]
    assert got[0].body["rows"] == [list(r) for r in rows]
    assert protocol.encode_costs_compact([(1, 2**63, 0, 0)]) is None  # past int64: as is


def _compact_contents(bodies: list[dict]) -> list[bytes]:
    return [protocol.encode_compact(bodies), protocol.encode_compact_21(bodies),
            protocol.encode_memory_compact([{"t": b["t0"], "rss": b["t1"], "traced": b["t0"],
                                             "gauges": {"kv": b["t1"]}} for b in bodies]),
            protocol.encode_costs_compact([(1, 2, 3, 4)] * len(bodies))]


@settings(max_examples=60, deadline=None)
@given(meas_bodies())
def test_damaged_compact_frame_is_a_protocol_error(bodies: list[dict]) -> None:
    import msgpack

    for content in _compact_contents(bodies):
        kind, body = msgpack.unpackb(content)
        body["cols"] = body["cols"] + b"\0"
        with pytest.raises(protocol.ProtocolError):
            protocol.decode_content(msgpack.packb([kind, body]))


def test_compact_start_reference_must_name_a_record_with_a_start() -> None:
    import msgpack

    t0 = np.array([0, 10, 20, 5, 1], np.int64)
    t1 = np.array([5, 15, 25, 30, 40], np.int64)
    body = {"tid": 1, "n": 5, "path": np.arange(5, dtype="<i4"), "t0": t0, "t1": t1}
    kind, packed = msgpack.unpackb(protocol.encode_compact([body]))
    assert kind == protocol.COMPACT2_KIND
    _same(body, protocol.decode_content(protocol.encode_compact([body]))[0].body)
    n = 5
    w = list(packed["w"])
    pos = n * w[0]
    ends = np.frombuffer(packed["cols"][pos : pos + n], np.uint8) >> 1  # width 1 (end <= 2)
    assert w[1] == 1 and list(ends) == [0, 0, 0, 2, 2]
    ref_at = pos + n * w[1]
    assert w[2] == 1
    for bad in (2 * 5, 2 * 1):  # 5 back: before the first record; 1 back: a reference
        cols = bytearray(packed["cols"])
        cols[ref_at + 4] = bad
        damaged = msgpack.packb([kind, {**packed, "cols": bytes(cols)}])
        with pytest.raises(protocol.ProtocolError, match="start reference"):
            protocol.decode_content(damaged)


def test_zstd_chunks_read_back_and_lying_sizes_are_protocol_errors() -> None:
    import zstandard

    content = protocol.encode_compact([{"tid": 1, "n": 2, "path": np.array([1, 2], "<i4"),
                                        "t0": np.array([5, 9]), "t1": np.array([7, 12])}])
    chunk = protocol.encode_chunk(content, bulk=True, level=15, codec=protocol.CODEC_ZSTD)
    raw = protocol.check_frame(chunk, 0)
    assert raw is not None and raw.codec == protocol.CODEC_ZSTD
    assert [f.kind for f in raw.decode().frames] == ["meas"]
    big = b"\0" * (protocol.MAX_FRAME + 1)
    for packed in (zstandard.ZstdCompressor().compress(big),  # size in the header
                   zstandard.ZstdCompressor(write_content_size=False).compress(big),
                   b"not zstd at all"):
        raw = protocol.check_frame(protocol.pack_frame(packed, codec=protocol.CODEC_ZSTD), 0)
        assert raw is not None
        with pytest.raises(protocol.ProtocolError):
            raw.decode()


def test_measuring_processes_never_load_zstandard() -> None:
    code = ("import sys, zlprof, zlprof.workload, zlprof.profiler, zlprof.protocol; "
            "print('zstandard' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "False"


def _frames(n_batches: int, k: int = 200, seed: int = 0, t_start: int = 10**12,
            tick_ns: int = 50_000_000) -> list[bytes]:
    """A session as a child streams it: hello, names, then per tick a measurement batch,
    tokens, costs and a memory sample; an end frame last."""
    rng = np.random.default_rng(seed)
    out = [
        protocol.encode_hello(pid=1, argv=["t"], start_ns=t_start, wall_time=1.7e9, python="3",
                              numpy_version="2", platform="linux"),
        protocol.encode_names([(1, 0, "forward_pass"), (2, 1, "matmul"), (3, 0, "sampling")]),
    ]
    for i in range(n_batches):
        t = t_start + i * tick_ns
        d = rng.lognormal(11, 0.3, k).astype(np.int64)
        t0 = t + np.arange(k, dtype=np.int64) * 200_000
        path = rng.integers(1, 4, k).astype(np.int32)
        m0 = (1 << 28) + rng.integers(0, 1 << 16, k)
        out.append(protocol.encode_measurements(7, path, t0, t0 + d, m0, m0 + 64))
        out.append(protocol.encode_tokens([(t + tick_ns - 1, 0, i + 1, "decode", "x")]))
        out.append(protocol.encode_costs([(2, k // 3, 10**6, 10**5)]))
        out.append(protocol.encode_memory([t + 1], [(1 << 29) + i], [-1], {"kv": [i * 16]}))
    out.append(protocol.encode_end(0, "exited normally"))
    return out


def test_recording_holds_every_frame_in_each_kinds_order(tmp_path: Path) -> None:
    frames = _frames(60)
    p = tmp_path / "a.zlp"
    with RecordingWriter(p) as w:
        for f in frames:
            w.write_raw(f)
    res = read_recording(p)
    assert res.schema == protocol.SCHEMA == (2, 2) and res.warning is None
    want = protocol.decode_stream(b"".join(frames))
    for kind in protocol.KINDS:
        if kind == "costs":  # increments: a flush window's are summed into one frame
            continue
        a = [f.body for f in want if f.kind == kind]
        b = [f.body for f in res.frames if f.kind == kind]
        assert len(a) == len(b), kind
        for x, y in zip(a, b, strict=True):
            if kind in ("meas", "mem"):
                assert x.keys() == y.keys()
                for key in x:
                    if isinstance(x[key], np.ndarray):
                        assert np.array_equal(x[key], y[key])
                    elif isinstance(x[key], dict):  # a memory frame's gauges
                        assert list(x[key]) == list(y[key])
                        assert all(np.array_equal(v, y[key][g]) for g, v in x[key].items())
            else:
                assert x == y
    # what a view shows is the same as folding the stream itself
    live = SessionState()
    live.ingest_many(want)
    rec = load_session(p)
    assert rec.costs == live.costs and len(live.costs) == 1
    assert rec.measurements == live.measurements == 60 * 200
    for pid, acc in live.ops.items():
        a, b = acc.stats().as_dict(), rec.ops[pid].stats().as_dict()
        for key in ("avg_ms", "std_ms"):  # folded in other batches: rounding differs
            assert b.pop(key) == pytest.approx(a.pop(key), rel=1e-12)
        assert a == b


def test_schema_2_0_recordings_still_read(tmp_path: Path) -> None:
    """The 2.0 recorder's chunks (no compact encoding) read as before."""
    frames = _frames(5)
    p = tmp_path / "old.zlp"
    p.write_bytes(protocol.preamble(2, 0) + b"".join(
        recording.chunk_frames(b"".join(frames), 0)))
    res = read_recording(p)
    assert res.schema == (2, 0) and res.warning is None
    assert load_session(p).measurements == 5 * 200


def test_schema_2_1_recording_reads_as_the_2_1_reader_read_it() -> None:
    """tests/fixtures/schema-2.1.zlp: the built-in workload (tiny preset, ops depth,
    memory readings) recorded by the 2.1 recorder. The digest is of the frames the 2.1
    reader read from it (their kinds and every field, columns as int64)."""
    import hashlib

    f = Path(__file__).resolve().parent / "fixtures" / "schema-2.1.zlp"
    res = read_recording(f)
    assert res.schema == (2, 1) and res.warning is None
    h = hashlib.sha256()
    for fr in res.frames:
        h.update(fr.kind.encode())
        for k in sorted(fr.body):
            v = fr.body[k]
            if isinstance(v, np.ndarray):
                h.update(k.encode() + v.astype("<i8").tobytes())
            elif isinstance(v, dict):
                for g in sorted(v):
                    x = v[g]
                    h.update(g.encode() + (x.astype("<i8").tobytes() if isinstance(x, np.ndarray)
                                           else repr(x).encode()))
            else:
                h.update(k.encode() + repr(v).encode())
    assert h.hexdigest() == "bc7c829f9a8b9fe252ef1a6514259b15caed7b8db55a4d314b4f25145dd61490"
    assert sum(fr.body["n"] for fr in res.frames if fr.kind == "meas") == 9414


def test_schema_2_1_recording_rewritten_as_2_2_keeps_every_frame(tmp_path: Path) -> None:
    """The 2.1 fixture's frames through today's recorder read back the same (a real
    workload's call tree, memory samples and costs in the 2.2 compact kinds)."""
    old = read_recording(Path(__file__).resolve().parent / "fixtures" / "schema-2.1.zlp")
    p = tmp_path / "new.zlp"
    with RecordingWriter(p, max_size=0) as w:
        for fr in old.frames:
            w.write_raw(protocol.encode_frame(fr.kind, _packed(fr.body)))
    new = read_recording(p)
    assert new.schema == (2, 2) and new.warning is None
    assert p.stat().st_size < f_size(old)
    for kind in ("meas", "mem", "costs", "tokens", "names"):
        a = [f.body for f in old.frames if f.kind == kind]
        b = [f.body for f in new.frames if f.kind == kind]
        assert len(a) == len(b), kind
        for x, y in zip(a, b, strict=True):
            if kind == "mem":
                _same(x.pop("gauges"), y.pop("gauges"))
            _same(x, y)


def f_size(res: recording.ReadResult) -> int:
    return res.size


def _packed(body: dict) -> dict:
    """A decoded body as an encoder sends it (columns as bytes)."""
    out: dict = {}
    for k, v in body.items():
        if isinstance(v, np.ndarray):
            out[k] = v.tobytes()
        elif isinstance(v, dict):
            out[k] = _packed(v)
        else:
            out[k] = v
    return out


def test_old_fixtures_read_by_the_new_reader() -> None:
    root = Path(__file__).resolve().parents[1]
    files = [*sorted((root / "sample_runs").glob("*.zlp")), root / "tests/fixtures/session.zlp"]
    assert files
    for f in files:
        res = read_recording(f)
        assert res.warning is None and res.frames[0].kind == "hello"
        assert load_session(f).measurements > 0


# --------------------------------------------------------------------------- bounded


@pytest.mark.parametrize("background", [False, True], ids=["inline", "background"])
def test_session_passing_its_budget_many_times_keeps_the_whole_sessions_counts(
    tmp_path: Path, background: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _frames(600, k=300)  # 180,000 measurements, 30 s of session
    full = tmp_path / "full.zlp"
    with RecordingWriter(full, max_size=0) as w:
        for f in frames:
            w.write_raw(f)
    budget = full.stat().st_size // 5
    p = tmp_path / "bounded.zlp"
    with RecordingWriter(p, max_size=budget, background=background) as w:
        sizes = []
        for f in frames:
            w.write_raw(f)
            sizes.append(w.bytes_written)
    # inline: one compaction each time the budget is passed; in the background a job
    # still running when the budget is passed again takes both (how many: timing)
    assert w.compactions >= (1 if background else 3)
    assert w.failure is None
    assert p.stat().st_size <= budget * 1.1
    if not background:  # inline, the file never grows past the budget by more than a chunk
        assert max(sizes) <= budget * 1.5
    assert not list(tmp_path.glob("*.compacting"))
    a, b = load_session(full), load_session(p)
    assert b.measurements == a.measurements == 600 * 300
    for pid, acc in a.ops.items():
        sa, sb = acc.stats().as_dict(), b.ops[pid].stats().as_dict()
        assert sb["count"] == sa["count"]
        assert sb["total_ms"] == pytest.approx(sa["total_ms"])
        assert sb["min_ms"] == sa["min_ms"] and sb["max_ms"] == sa["max_ms"]
        assert sb["avg_ms"] == pytest.approx(sa["avg_ms"])
        assert sb["std_ms"] == pytest.approx(sa["std_ms"], rel=1e-6)
        assert sb["median_ms"] == pytest.approx(sa["median_ms"], rel=2e-3)  # histogram
        assert (sb["mem_allocated_bytes"], sb["mem_peak_bytes"]) == (
            sa["mem_allocated_bytes"], sa["mem_peak_bytes"])
    assert b.costs == a.costs
    assert b.tokens_total == a.tokens_total == 600
    assert (b.first_ns, b.last_ns) == (a.first_ns, a.last_ns)
    mem = b.memory_series()
    assert mem["t"][0] == a.memory_series()["t"][0]  # the memory series spans the session
    assert mem["t"][-1] == a.memory_series()["t"][-1]
    assert b.full_from_ns is not None and a.first_ns < b.full_from_ns < a.last_ns
    (note,) = [w for w in b.warnings if w.startswith("bounded recording:")]
    assert "raw measurements from" in note
    if background:  # the command line says what a bounded recording holds
        rc = cli.main(["export", str(p), "--format", "csv", "-o", str(tmp_path / "m.csv")])
        assert rc == 0
        rows = (tmp_path / "m.csv").read_text().count("\n") - 1
        assert 0 < rows < a.measurements
        assert "bounded recording:" in capsys.readouterr().err
    # a replay starts where full resolution starts, and ends with the whole session
    src = ReplaySource(p, speed=None)
    assert src.position_s == pytest.approx(src.full_from_s)
    assert src.full_from_s == pytest.approx((b.full_from_ns - 10**12) / 1e9)
    src.start()
    assert src.wait(300)
    assert src.state.measurements == a.measurements
    src.seek(src.duration_s / 2, wait=True)
    src.seek(src.duration_s, wait=True)
    assert src.state.ops[2].count == a.ops[2].count
    src.stop()


def test_unlimited_budget_never_compacts(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    with RecordingWriter(p, max_size=0) as w:
        for f in _frames(50):
            w.write_raw(f)
    assert w.compactions == 0
    assert not [fr for fr in read_recording(p).frames if fr.kind == "summary"]


# --------------------------------------------------------------------------- failures


class FullDisk:
    """A file object that takes ``room`` bytes, then raises ENOSPC (partial writes too)."""

    def __init__(self, f, room: int) -> None:  # noqa: ANN001
        self.f = f
        self.room = room

    def write(self, b) -> int:  # noqa: ANN001
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        take = min(len(b), self.room)
        self.room -= take
        return self.f.write(bytes(b[:take]))

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.f, name)


def test_disk_full_stops_at_the_last_complete_chunk(tmp_path: Path) -> None:
    p = tmp_path / "a.zlp"
    w = RecordingWriter(p, max_size=0)
    w._f = FullDisk(w._f, 3000)
    frames = _frames(200)
    for f in frames:
        w.write_raw(f)
        w.flush()
    w.close()
    f = w.failure
    assert isinstance(f, WriteFailure)
    assert (f.reason, f.errno) == ("disk full", errno.ENOSPC)
    assert f.bytes_kept == p.stat().st_size < 3000 + protocol.PREAMBLE_SIZE
    assert "disk full (ENOSPC)" in f.describe() and f"{f.bytes_kept:,} bytes" in f.describe()
    res = read_recording(p)
    assert res.warning is None and res.frames  # ends on a complete chunk
    assert res.frames[0].kind == "hello"


def test_removed_directory_is_a_failure_not_silence(tmp_path: Path) -> None:
    import shutil

    d = tmp_path / "sessions"
    w = RecordingWriter(d / "a.zlp", max_size=0)
    frames = _frames(3)
    w.write_raw(frames[0])
    w.flush()
    shutil.rmtree(d)
    for f in frames[1:]:
        w.write_raw(f)  # never raises
    w.close()
    assert w.failure is not None
    assert (w.failure.reason, w.failure.errno, w.failure.bytes_kept) == (
        "file or its directory removed", errno.ENOENT, 0)


def test_live_session_goes_on_when_the_recording_fails(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = RecordingWriter.__init__

    def small_disk(self, *a, **kw) -> None:  # noqa: ANN001
        real(self, *a, **kw)
        self._f = FullDisk(self._f, 2000)

    monkeypatch.setattr(RecordingWriter, "__init__", small_disk)
    monkeypatch.setattr(recording.writer, "FLUSH_S", 0.0)
    code = ("import zlprof\nfor i in range(3000):\n    with zlprof.measure('step'):\n"
            "        sum(range(50))\n")
    src = LiveSource([sys.executable, "-c", code], tmp_path / "a.zlp")
    src.start()
    assert src.wait(300)
    src.stop()
    assert src.status == "ended"
    assert src.state.stats_for_name("step").count == 3000  # the session went on
    f = src.recording_failure
    assert f is not None and f.reason == "disk full"
    assert f.describe() in src.state.warnings
    assert f.banner() == f"STOPPED: disk full, {f.bytes_kept:,} bytes kept"
    res = read_recording(tmp_path / "a.zlp")
    assert res.warning is None
    kinds = [fr.kind for fr in res.frames]  # what was written is whole: the process
    assert kinds[:2] == ["proc", "hello"]  # zlprof's note of it, then its own first frame
    assert sum(fr.body["n"] for fr in res.frames if fr.kind == "meas") < 3000


async def test_app_shows_a_persistent_banner_when_the_recording_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from fixtures.tui_support import PEAKS
    from zlprof.tui.app import ZlprofApp
    from zlprof.tui.widgets.status import StatusBar

    real = RecordingWriter.__init__

    def small_disk(self, *a, **kw) -> None:  # noqa: ANN001
        real(self, *a, **kw)
        self._f = FullDisk(self._f, 1000)

    monkeypatch.setattr(RecordingWriter, "__init__", small_disk)
    monkeypatch.setattr(recording.writer, "FLUSH_S", 0.0)
    code = ("import zlprof, time\nfor i in range(200):\n    with zlprof.measure('step'):\n"
            "        time.sleep(0.01)\n")
    src = LiveSource([sys.executable, "-c", code], tmp_path / "a.zlp")
    src.start()
    app = ZlprofApp(src, refresh_hz=10, peaks=PEAKS)
    try:
        async with app.run_test(size=(140, 30)) as pilot:
            deadline = time.monotonic() + 30
            bar = app.screen.query_one(StatusBar)
            while time.monotonic() < deadline:
                if bar.view is not None and "STOPPED" in bar.view.recording:
                    break
                await pilot.pause(0.05)
            f = src.recording_failure
            assert f is not None
            assert bar.view.recording == f.banner()
            assert "STOPPED: disk full" in bar.render().plain
            assert src.status == "running"  # the session goes on
            await pilot.pause(0.5)
            assert "STOPPED: disk full" in bar.render().plain  # and the banner stays
    finally:
        src.stop()


def test_record_exits_non_zero_with_one_line_when_the_disk_fills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = RecordingWriter.__init__

    def small_disk(self, *a, **kw) -> None:  # noqa: ANN001
        real(self, *a, **kw)
        self._f = FullDisk(self._f, 1500)

    monkeypatch.setattr(RecordingWriter, "__init__", small_disk)
    monkeypatch.setattr(recording.writer, "FLUSH_S", 0.0)
    code = "import zlprof\nfor i in range(2000):\n    with zlprof.measure('step'):\n        pass\n"
    out = tmp_path / "r.zlp"
    rc = cli.main(["record", "--out", str(out), "--format", "json", "--",
                   sys.executable, "-c", code])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_FAILED
    lines = [ln for ln in err.splitlines() if ln.startswith("zlprof:")]
    assert lines == [f"zlprof: error: recording stopped: disk full (ENOSPC); {out} keeps the "
                     f"first {out.stat().st_size:,} bytes (every frame complete up to then)"]
    assert "recorded" not in err and "Traceback" not in err


def _can_mount() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.mark.skipif(not _can_mount(), reason="mounting a tmpfs needs root")
def test_record_on_a_real_full_filesystem(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("mount not permitted here")
    try:
        code = ("import zlprof\nfor i in range(400000):\n    with zlprof.measure('step'):\n"
                "        pass\n")
        out = mnt / "r.zlp"
        p = subprocess.run(
            [sys.executable, "-m", "zlprof", "record", "--out", str(out), "--format", "json",
             "--", sys.executable, "-c", code],
            capture_output=True, text=True, timeout=300,
        )
        assert p.returncode == cli.EXIT_FAILED
        assert "recording stopped: disk full (ENOSPC)" in p.stderr
        assert "Traceback" not in p.stderr and "recorded" not in p.stderr
        assert '"count": 400000' in p.stdout.replace(" ", "").replace('"count":', '"count": ')
        res = read_recording(out)
        assert res.warning is None and res.frames
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


# --------------------------------------------------------------------------- pruning


def _rec(path: Path, wall: float) -> Path:
    with RecordingWriter(path) as w:
        w.write_raw(protocol.encode_hello(pid=1, argv=["t"], start_ns=0, wall_time=wall,
                                          python="3", numpy_version="2", platform="linux"))
        w.write_raw(protocol.encode_end(0))
    return path


def test_prune_by_age_and_total_size(tmp_path: Path) -> None:
    now = 1.8e9
    day = 86400
    paths = [_rec(tmp_path / f"{i}.zlp", now - i * day - 10) for i in range(5)]
    two = paths[0].stat().st_size + paths[1].stat().st_size
    assert [i.path for i in prune_plan(tmp_path, older_than_days=2.5, now=now)] == \
        [paths[4], paths[3]]
    assert [i.path for i in prune_plan(tmp_path, keep_bytes=two, now=now)] == \
        [paths[4], paths[3], paths[2]]
    assert prune_plan(tmp_path, keep_bytes=10 * two, now=now) == []
    n, errors = delete_sessions(prune_plan(tmp_path, older_than_days=2.5, now=now))
    assert (n, errors) == (2, [])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.zlp", "1.zlp", "2.zlp"]


def test_prune_command_asks_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    d = tmp_path / "zlprof" / "sessions"
    d.mkdir(parents=True)
    old = _rec(d / "old.zlp", 1.0e9)
    new = _rec(d / "new.zlp", 4.0e9)
    # no terminal to ask on: nothing deleted, one line, non-zero
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    assert cli.main(["sessions", "--prune", "--older-than", "30"]) == cli.EXIT_USAGE
    assert old.exists()
    assert "add --yes" in capsys.readouterr().err
    assert cli.main(["sessions", "--prune", "--older-than", "30", "--yes"]) == 0
    assert not old.exists() and new.exists()
    assert cli.main(["sessions", "--prune"]) == cli.EXIT_USAGE
    assert cli.main(["sessions", "--prune", "--keep-size", "lots"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--keep-size: cannot read 'lots' as a size" in err and "Traceback" not in err
