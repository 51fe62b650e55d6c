"""The session library: listing facts from a header scan equal the folded session's."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_replay_synthetic import write_synthetic
from zlprof import protocol
from zlprof.recording import load_session, read_recording
from zlprof.sessions import list_session_infos, program_name, session_info, session_table


def test_infos_match_the_folded_session_newest_first(tmp_path: Path) -> None:
    old = write_synthetic(tmp_path / "old.zlp", seconds=2.0, wall_time=1_700_000_000.0)
    new = write_synthetic(
        tmp_path / "new.zlp", seconds=3.0, wall_time=1_700_000_500.0, seed=2,
        argv=["/usr/lib/python3/site-packages/zlprof/workload/__main__.py", "--preset", "tiny"],
    )
    (tmp_path / "notes.txt").write_text("not listed")
    infos = list_session_infos(tmp_path)
    assert [i.path for i in infos] == [new, old]
    for info in infos:
        st = load_session(info.path)
        assert info.status == "ok" and info.warning is None
        assert info.duration_s == pytest.approx(st.elapsed_ns / 1e9, abs=1e-9)
        assert info.tokens == st.tokens_total > 0
        assert info.tokens_per_s == pytest.approx(st.tokens_per_s(None))
        assert info.size == info.path.stat().st_size
        assert info.started == st.info["wall_time"]
        assert info.config["preset"] == "synthetic"
    assert infos[0].program == "zlprof.workload --preset tiny"
    assert infos[1].program == "synthetic.py --seed 0"


def test_workload_fixture_facts_match_the_folded_session() -> None:
    fixture = Path(__file__).resolve().parent / "fixtures" / "session.zlp"
    if not fixture.exists():
        pytest.skip("no workload fixture")
    info = session_info(fixture)
    st = load_session(fixture)
    assert info.duration_s == pytest.approx(st.elapsed_ns / 1e9, abs=1e-9)
    assert info.tokens_per_s == pytest.approx(st.tokens_per_s(None))
    assert info.program == "zlprof.workload --preset tiny"
    assert info.status == "ok"


def test_damaged_unfinished_failed_and_foreign_files(tmp_path: Path) -> None:
    good = write_synthetic(tmp_path / "good.zlp", seconds=2.0)
    res = read_recording(good)
    cut_at = res.offsets[len(res.offsets) // 2]
    (tmp_path / "cut.zlp").write_bytes(good.read_bytes()[: cut_at + 5])
    unfinished = write_synthetic(tmp_path / "unfinished.zlp", seconds=1.0, end=False)
    failed = write_synthetic(tmp_path / "failed.zlp", seconds=1.0, end=False)
    with open(failed, "ab") as f:
        f.write(protocol.encode_end(3, "exited with status 3"))
    killed = write_synthetic(tmp_path / "killed.zlp", seconds=1.0, end=False)
    with open(killed, "ab") as f:
        f.write(protocol.encode_end(-9, "killed by SIGKILL"))
    (tmp_path / "garbage.zlp").write_bytes(b"PK\x03\x04 this is a zip")
    by_name = {i.name: i for i in list_session_infos(tmp_path)}
    assert by_name["good.zlp"].status == "ok"
    cut = by_name["cut.zlp"]
    assert cut.status == "truncated"
    assert cut.warning is not None and f"at byte {cut_at}" in cut.warning
    assert 0 < cut.duration_s < by_name["good.zlp"].duration_s
    assert by_name[unfinished.name].status == "incomplete"
    assert by_name[failed.name].status == "exit 3"
    assert by_name[failed.name].end_reason == "exited with status 3"
    assert by_name[killed.name].status == "killed"
    garbage = by_name["garbage.zlp"]
    assert garbage.status == "unreadable" and "not a zlprof recording" in (garbage.warning or "")
    table = session_table(tmp_path)
    assert "unreadable" in table and "truncated" in table and "exit 3" in table


def test_scans_are_cached_until_the_file_changes(tmp_path: Path) -> None:
    p = write_synthetic(tmp_path / "a.zlp", seconds=1.0, end=False)
    first = session_info(p)
    assert session_info(p) is first
    with open(p, "ab") as f:
        f.write(protocol.encode_end(0, "exited normally"))
    again = session_info(p)
    assert again is not first and again.status == "ok"


def test_table_of_the_default_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    d = tmp_path / "zlprof" / "sessions"
    assert session_table() == f"No recorded sessions in {d}\n"
    d.mkdir(parents=True)
    write_synthetic(d / "20240101-000000-a.zlp", seconds=1.0, wall_time=1_700_000_000.0)
    write_synthetic(d / "20240102-000000-b.zlp", seconds=2.0, wall_time=1_700_090_000.0)
    out = session_table().splitlines()  # what `zlprof sessions` prints
    assert out[0] == f"Recorded sessions in {d}, newest first:"
    assert out[1].split() == ["started", "program", "duration", "tok/s", "size", "status", "path"]
    assert out[2].endswith(str(d / "20240102-000000-b.zlp"))  # piped: full paths
    assert out[3].endswith(str(d / "20240101-000000-a.zlp"))
    assert out[4] == "tok/s: end-to-end, output tokens / wall time"
    assert " 2.0s " in out[2] and " ok " in out[2]


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([], "?"),
        (["/x/zlprof/workload/__main__.py", "--preset", "small"], "workload --preset small"),
        (["/usr/bin/python3", "-m", "mypkg.run", "--n", "3"], "mypkg.run --n 3"),
        (["bench.py"], "bench.py"),
    ],
)
def test_program_name(argv: list[str], name: str) -> None:
    assert program_name(argv) == name


def test_a_flipped_byte_marks_the_file_corrupt(tmp_path: Path) -> None:
    """Every checksum is verified: one flipped byte in a measurement chunk in the middle
    makes the listing say corrupt, with the damaged byte range; nothing after it is lost
    (the end frame still gives the exit status)."""
    p = write_synthetic(tmp_path / "a.zlp", seconds=4.0)
    good = session_info(p)
    assert good.status == "ok" and good.warning is None
    res = read_recording(p)
    at = res.offsets[len(res.offsets) // 2]
    data = bytearray(p.read_bytes())
    data[at + 30] ^= 0x10
    bad = tmp_path / "b.zlp"
    bad.write_bytes(bytes(data))
    info = session_info(bad)
    assert info.status == "corrupt"
    assert info.warning is not None and f"at byte {at}" in info.warning
    assert info.end_reason == good.end_reason
    assert info.duration_s == pytest.approx(good.duration_s)
