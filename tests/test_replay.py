"""ReplaySource: same statistics as the live session, seeking, speed, pause, damaged files."""

from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from test_replay_synthetic import write_synthetic
from zlprof import protocol, replay
from zlprof.recording import RecordingError, load_session, read_recording
from zlprof.replay import ReplaySource, clone_state, frame_time, in_time_order
from zlprof.session import SessionState
from zlprof.sources import LiveSource

# --------------------------------------------------------------------------- helpers


class FakeClock:
    """A wall clock the test moves by hand, so pacing is exact and nothing sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _clean(x: object) -> object:
    """Comparable form: arrays to lists, NaN to a marker, containers recursively."""
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    return x


def fingerprint(st: SessionState) -> dict[str, object]:
    """Everything a view can read from a SessionState (the version counter aside)."""
    with st.lock:
        ops = {}
        for pid, acc in st.ops.items():
            name = st.name_of(pid)
            t1, d = acc.recent()
            ops[name] = {
                "stats": acc.stats(name, st.wall_ns).as_dict(),
                "recent_t1": t1,
                "recent_d": d,
                "sorted": acc.sorted_durations(),
                "hist": acc.hist.counts if acc.hist is not None else None,
                "last_t1": acc.last_t1,
            }
        return _clean(
            {
                "ops": ops,
                "rows": [
                    (r.full, r.stats.as_dict(), r.self_ms, r.flops, r.nbytes, r.cost_calls)
                    for r in st.op_rows()
                ],
                "window": [r.stats.as_dict() for r in st.op_rows(window_s=1.0)],
                "summary": st.summary(),
                "memory": st.memory_series(),
                "tokens": (st.tokens_total, st.tokens_decode, list(st.token_times),
                           list(st.text_tail)),
                "latency": [a.stats().as_dict() for a in (st.ttft, st.tpot, st.itl)],
                "requests": {k: vars(v) for k, v in st.requests.items()},
                "token_series": {k: st.token_series.get(k) for k in st.token_series.names},
                "logs": list(st.logs),
                "costs": dict(st.costs),
                "paths": {pid: (p.parent, p.full, p.depth) for pid, p in st.paths.items()},
                "counters": (st.measurements, st.frames, st.first_ns, st.last_ns, st.start_ns,
                             st.end_status, st.end_reason, list(st.warnings)),
                "config": st.config,
                "info": st.info,
            }
        )


def read_played(path: Path):  # noqa: ANN201
    """The recording's frames in the order a replay plays them (in_time_order)."""
    res = read_recording(path)
    res.frames, res.ends = in_time_order(res.frames, res.ends)
    return res


def frame_times(path: Path) -> list[float]:
    """Due time (s) of each frame: its latest timestamp since the hello, never decreasing."""
    res = read_played(path)
    start = next(fr.body["start_ns"] for fr in res.frames if fr.kind == "hello")
    out, t = [], 0
    for fr in res.frames:
        ft = frame_time(fr)
        if ft is not None:
            t = max(t, ft - start)
        out.append(t / 1e9)
    return out


def played_to(path: Path, seconds: float, exact_limit: int | None = None) -> SessionState:
    """The reference: every frame due by ``seconds`` folded, one frame at a time."""
    res = read_played(path)
    times = frame_times(path)
    st = SessionState() if exact_limit is None else SessionState(exact_limit=exact_limit)
    if res.warning:
        st.warnings.append(res.warning)
    for fr, t in zip(res.frames, times, strict=True):
        if t * 1e9 <= seconds * 1e9:
            st.ingest_many([fr])
    return st


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    return write_synthetic(tmp_path / "synthetic.zlp", seconds=6.0)


@pytest.fixture
def many_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    # a checkpoint every few frames, so seeks restore one and fold on from it
    monkeypatch.setattr(replay.index, "CHECKPOINT_FOLD_S", 0.0005)


def _started(path: Path, **kw: object) -> tuple[ReplaySource, FakeClock]:
    clock = FakeClock()
    src = ReplaySource(path, clock=clock, **kw)  # type: ignore[arg-type]
    src.start()
    assert src.wait_indexed(30)
    assert src.settle()
    return src, clock


# --------------------------------------------------------------------------- live vs replay

CHILD = textwrap.dedent(
    """
    import zlprof
    zlprof.token(0, 0, "start")
    for i in range(400):
        with zlprof.measure("forward_pass"):
            with zlprof.measure("attention"):
                sum(range(300 + (i % 7) * 50))
            with zlprof.measure("mlp"):
                sum(range(500))
        with zlprof.measure("sampling"):
            sum(range(100))
        zlprof.token(0, i + 1, "decode", "x")
        if i % 100 == 0:
            print("step", i, flush=True)
    zlprof.token(0, 401, "end")
    """
)


def test_replay_yields_the_live_sessions_statistics(tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    out = tmp_path / "live.zlp"
    live = LiveSource([sys.executable, str(script)], out)
    live.start()
    assert live.wait(300), "child did not finish"
    live.stop()
    assert live.status == "ended"

    src = ReplaySource(out, speed=None)
    src.start()
    assert src.wait(300)
    assert src.status == "ended" and src.finished
    a, b = live.state, src.state
    rows_a, rows_b = a.op_rows(), b.op_rows()
    assert [r.full for r in rows_a] == [r.full for r in rows_b]
    assert {r.full for r in rows_a} >= {"forward_pass", "forward_pass/attention", "sampling"}
    for ra, rb in zip(rows_a, rows_b, strict=True):
        sa, sb = ra.stats.as_dict(), rb.stats.as_dict()
        # the live side folded several frames per call, the replay one at a time: the
        # running mean and variance may differ in the last bits, nothing else may
        for key in ("avg_ms", "std_ms"):
            assert sb.pop(key) == pytest.approx(sa.pop(key), rel=1e-9)
        assert sa == sb
        assert ra.self_ms == pytest.approx(rb.self_ms, rel=1e-9)
    assert b.measurements == a.measurements == 400 * 4
    assert b.tokens_total == a.tokens_total == 400
    assert _clean(b.memory_series()) == _clean(a.memory_series())
    assert b.ttft.stats().as_dict() == a.ttft.stats().as_dict()
    assert b.itl.stats().median_ms == a.itl.stats().median_ms
    assert (b.end_status, b.end_reason) == (a.end_status, a.end_reason)
    assert list(b.logs) == list(a.logs)
    assert list(src.stdout_tail) == list(live.stdout_tail) == ["step 0", "step 100", "step 200", "step 300"]
    assert src.position_s == pytest.approx(src.duration_s)
    assert src.duration_s == pytest.approx(b.elapsed_ns / 1e9)


# --------------------------------------------------------------------------- seeking


@pytest.mark.parametrize("exact_limit", [None, 300], ids=["exact", "histogram"])
def test_seek_forwards_and_backwards_equals_playing_there(
    rec: Path, many_checkpoints: None, exact_limit: int | None
) -> None:
    state = None if exact_limit is None else SessionState(exact_limit=exact_limit)
    src, _ = _started(rec, speed=1.0, paused=True, state=state)
    assert src.checkpoints > 5
    st = src.state
    estimators = set()
    for target in [3.3, 1.0, 5.95, 0.0, 2.5, src.duration_s, 4.4, 4.45, 0.7]:
        src.seek(target, wait=True)
        assert src.position_s == pytest.approx(target)
        assert fingerprint(src.state) == fingerprint(played_to(rec, target, exact_limit))
        assert src.state is st  # the app's reference stays valid
        estimators |= {acc.estimator for acc in st.ops.values()}
    assert estimators == ({"exact"} if exact_limit is None else {"exact", "histogram"})
    src.stop()


def test_seek_then_play_on_equals_playing_there(rec: Path, many_checkpoints: None) -> None:
    src, clock = _started(rec, speed=1.0)
    clock.advance(2.0)
    src.settle()
    assert src.position_s == pytest.approx(2.0)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 2.0))
    v = src.state.version
    src.seek(0.8, wait=True)
    assert src.state.version > v
    clock.advance(1.5)  # plays on from the restored checkpoint
    src.settle()
    assert src.position_s == pytest.approx(2.3)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 2.3))
    src.seek_relative(+2.0, wait=True)
    assert src.position_s == pytest.approx(4.3)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 4.3))
    src.seek_relative(-10, wait=True)
    assert src.position_s == 0.0
    assert src.state.measurements == 0
    src.seek_end(wait=True)
    src.settle()
    assert src.status == "ended"
    assert fingerprint(src.state) == fingerprint(played_to(rec, 1e9))
    src.seek_start(wait=True)
    assert src.status == "running"
    src.stop()
    assert src.status == "stopped"


def test_recent_ring_restored_past_its_capacity(tmp_path: Path, many_checkpoints: None) -> None:
    # 300 iterations a tick: 36k samples an op, more than the 32k recent ring holds
    rec = write_synthetic(tmp_path / "big.zlp", seconds=60.0, tick_s=0.5, iters_per_tick=300)
    src, _ = _started(rec, speed=1.0, paused=True)
    for target in [59.0, 10.0, 58.0]:
        src.seek(target, wait=True)
        acc = src.state.ops[1]
        ref = played_to(rec, target).ops[1]
        assert acc.count == ref.count
        for mine, theirs in zip(acc.recent(), ref.recent(), strict=True):
            assert np.array_equal(mine, theirs)
        assert np.array_equal(acc.sorted_durations(), ref.sorted_durations())
    src.seek(59.0, wait=True)
    assert src.state.ops[1].count > src.state.ops[1].recent_capacity
    src.stop()


def test_index_checkpoints_restore_while_it_is_built(
    rec: Path, many_checkpoints: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every checkpoint published so far restores exactly, also after thinning
    monkeypatch.setattr(replay.index, "MAX_CHECKPOINTS", 6)
    # a checkpoint after nearly every frame, however fast the machine folds (the spacing
    # doubles at each thinning): the 12 publications come long before the last frame
    monkeypatch.setattr(replay.index, "CHECKPOINT_FOLD_S", 1e-7)
    frames = read_recording(rec).frames
    index = replay._Index(frames, 200)
    published = []
    index.build(stop=lambda: published.append(len(index.checkpoints)) or len(published) >= 12)
    assert not index.done or index.upto < len(frames)
    assert 3 <= len(index.checkpoints) <= 7  # thinned on the way
    for cp in index.checkpoints:
        ref = SessionState(exact_limit=200)
        for fr in frames[: cp.frame]:
            ref.ingest_many([fr])
        assert fingerprint(index.restore(cp)) == fingerprint(ref)


def test_seek_before_start_and_start_offset(rec: Path) -> None:
    src = ReplaySource(rec, speed=1.0, paused=True)
    src.seek(1.5)  # no thread yet: applied here and now
    assert fingerprint(src.state) == fingerprint(played_to(rec, 1.5))
    src2, clock = _started(rec, speed=1.0, start_s=2.5)
    assert src2.position_s == pytest.approx(2.5)
    assert fingerprint(src2.state) == fingerprint(played_to(rec, 2.5))
    clock.advance(0.5)
    src2.settle()
    assert fingerprint(src2.state) == fingerprint(played_to(rec, 3.0))
    src2.stop()
    src3, _ = _started(rec, speed=1.0, start_s=1e6)  # past the end: clamped, ended
    assert src3.position_s == pytest.approx(src3.duration_s)
    assert src3.status == "ended"
    src3.stop()


def test_output_tails_follow_seeks(rec: Path, many_checkpoints: None) -> None:
    src, _ = _started(rec, speed=1.0, paused=True)
    src.seek(src.duration_s, wait=True)
    assert list(src.stdout_tail) == [f"tick {i}" for i in range(0, 120, 25)]
    src.seek(1.5, wait=True)
    assert list(src.stdout_tail) == ["tick 0", "tick 25"]
    src.stop()


# --------------------------------------------------------------------------- pace, pause


def test_speed_changes_the_pace(rec: Path) -> None:
    src, clock = _started(rec, speed=2.0)
    clock.advance(1.0)
    src.settle()
    assert src.position_s == pytest.approx(2.0)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 2.0))
    src.set_speed(0.5)
    clock.advance(2.0)
    src.settle()
    assert src.position_s == pytest.approx(3.0)
    assert src.speed == 0.5 and src.speed_text == "0.5x"
    assert src.faster() == 1.0
    assert src.faster() == 2.0
    assert src.slower() == 1.0
    clock.advance(0.25)
    assert src.position_s == pytest.approx(3.25)
    src.set_speed(None)  # as fast as possible: straight to the end
    assert src.speed_text == "max"
    assert src.wait(300)
    assert src.status == "ended"
    assert src.position_s == pytest.approx(src.duration_s)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 1e9))
    assert src.slower() == replay.SPEEDS[-1]
    src.set_speed(replay.SPEEDS[-1])
    assert src.faster() is None
    assert src.faster() is None
    src.set_speed(0.1)
    assert src.slower() == 0.1
    with pytest.raises(ValueError):
        src.set_speed(0)
    with pytest.raises(ValueError):
        src.set_speed(float("nan"))
    src.stop()


def test_timeline_for_the_bar(rec: Path) -> None:
    src, clock = _started(rec, speed=2.0)
    clock.advance(1.5)
    tl = src.timeline()
    assert tl.position_s == pytest.approx(3.0)
    assert tl.duration_s == pytest.approx(src.duration_s) and 5.9 < tl.duration_s < 6.1
    assert tl.fraction == pytest.approx(3.0 / tl.duration_s)
    assert (tl.speed, tl.speed_text, tl.paused, tl.indexed) == (2.0, "2x", False, True)
    src.pause()
    src.set_speed(None)
    tl = src.timeline()
    assert (tl.speed_text, tl.paused, tl.status) == ("max", True, "paused")
    assert src.recording_path is None and src.path == rec  # a replay records nothing
    assert src.seekable and src.kind == "replay"
    src.stop()


def test_pause_freezes_position_and_state(rec: Path) -> None:
    src, clock = _started(rec, speed=1.0)
    assert src.status == "running" and not src.paused
    clock.advance(1.2)
    src.pause()
    src.settle()
    assert src.status == "paused" and src.paused
    before = fingerprint(src.state)
    version = src.state.version
    clock.advance(3.0)
    src.settle()
    assert src.position_s == pytest.approx(1.2)
    assert src.state.version == version
    assert fingerprint(src.state) == before == fingerprint(played_to(rec, 1.2))
    assert src.toggle_pause() is False  # resume
    assert src.status == "running"
    clock.advance(0.8)
    src.settle()
    assert src.position_s == pytest.approx(2.0)
    assert fingerprint(src.state) == fingerprint(played_to(rec, 2.0))
    assert src.toggle_pause() is True
    src.seek(4.0, wait=True)  # seeking while paused stays paused
    assert src.status == "paused"
    clock.advance(1.0)
    assert src.position_s == pytest.approx(4.0)
    src.stop()


def test_resume_at_the_end_plays_again(rec: Path) -> None:
    src, _ = _started(rec, speed=None)
    assert src.wait(300) and src.status == "ended"
    full = fingerprint(src.state)
    src.toggle_pause()  # at the end, space plays again from the start
    assert src.wait(300)
    src.settle()
    assert src.status == "ended"
    assert fingerprint(src.state) == full
    src.stop()
    assert src.status == "ended"


def test_a_crashed_session_ends_crashed(tmp_path: Path) -> None:
    rec = write_synthetic(tmp_path / "crash.zlp", seconds=1.0, end=False)
    with open(rec, "ab") as f:
        f.write(protocol.encode_end(-9, "killed by SIGKILL"))
    src, _ = _started(rec, speed=None)
    assert src.wait(300)
    assert src.status == "crashed" and src.finished and src.exit_code == -9
    assert src.state.end_reason == "killed by SIGKILL"
    src.pause()
    src.seek(0.5, wait=True)  # before the end: not crashed (yet)
    assert src.status == "paused" and src.exit_code is None and not src.finished
    src.stop()
    assert src.status == "stopped"


# --------------------------------------------------------------------------- damaged files


def test_truncated_recording_replays_what_is_readable(rec: Path, tmp_path: Path) -> None:
    res = read_recording(rec)
    cut_at = res.offsets[len(res.offsets) // 2]
    bad = tmp_path / "cut.zlp"
    bad.write_bytes(rec.read_bytes()[: cut_at + 11])  # inside a frame
    src = ReplaySource(bad, speed=None)
    # visible at once, naming the byte offset
    assert any(f"at byte {cut_at}" in w for w in src.state.warnings)
    assert src.warning is not None and f"at byte {cut_at}" in src.warning
    src.start()
    assert src.wait(300)
    assert src.status == "ended"
    ref = load_session(bad)
    assert fingerprint(src.state) == fingerprint(played_to(bad, 1e9))
    assert src.state.measurements == ref.measurements > 0
    src.pause()
    src.seek(0.5, wait=True)  # the warning survives seeks
    assert src.state.warnings == [src.warning]
    src.stop()


def test_corrupt_frame_warns_with_its_offset(rec: Path, tmp_path: Path) -> None:
    res = read_recording(rec)
    at = res.offsets[40]
    data = bytearray(rec.read_bytes())
    data[at + 20] ^= 0xFF
    bad = tmp_path / "corrupt.zlp"
    bad.write_bytes(bytes(data))
    src = ReplaySource(bad, speed=None)
    assert src.warning is not None and f"at byte {at}" in src.warning
    # one damaged chunk costs its own frames only: the rest, after it too, is replayed
    lost = res.offsets.count(at)
    assert src.frame_count == len(res.frames) - lost
    src.start()
    assert src.wait(300)
    assert src.state.frames == len(res.frames) - lost
    assert src.state.end_status is not None  # the end frame, after the damage, arrived
    src.stop()


def test_not_a_recording_is_one_line(tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("hello\n")
    with pytest.raises(RecordingError) as e:
        ReplaySource(txt)
    assert "not a zlprof recording" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(RecordingError, match="no such file"):
        ReplaySource(tmp_path / "missing.zlp")
    with pytest.raises(RecordingError, match="directory"):
        ReplaySource(tmp_path)


def test_empty_recording_ends_at_once(rec: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.zlp"
    empty.write_bytes(rec.read_bytes()[:12])  # the file header, no frame
    src = ReplaySource(empty, speed=1.0)
    assert src.duration_s == 0.0
    src.start()
    assert src.wait(300)
    assert src.status == "ended" and src.state.measurements == 0
    src.seek(3.0, wait=True)
    src.stop()


# --------------------------------------------------------------------------- cloning


def test_clone_state_is_equal_and_independent(rec: Path) -> None:
    st = load_session(rec)
    twin = clone_state(st)
    assert fingerprint(twin) == fingerprint(st)
    assert twin.lock is not st.lock
    before = fingerprint(st)
    res = read_recording(rec)
    twin.ingest_many(res.frames[5:60])
    assert fingerprint(st) == before
    assert fingerprint(twin) != before
