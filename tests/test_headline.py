"""The headline: which op dominates, the hottest path, and the roofline verdict."""

from __future__ import annotations

from pathlib import Path

from zlprof.headline import Headline, RoofFinding, headline
from zlprof.recording import load_session
from zlprof.session import SessionState
from zlprof.stats import PerformanceStats

FIXTURE = Path(__file__).parent / "fixtures" / "session.zlp"


def test_names_the_dominant_top_level_op_of_a_workload_recording() -> None:
    st = load_session(FIXTURE)
    rows = st.op_rows()
    h = headline(rows, st.wall_ns)
    tops = [r for r in rows if r.depth == 0]
    top = max(tops, key=lambda r: r.stats.total_ms)
    assert h.top_path_id == top.path_id
    assert h.text.startswith(f"{top.full} takes ")
    share = round(100 * top.stats.total_ms / (st.wall_ns / 1e6))
    assert f"{share} %" in h.text or f"{share:.1f} %" in h.text
    hot = max(rows, key=lambda r: r.self_ms)
    assert h.hottest_path_id == hot.path_id


def test_roof_finding_is_stated_with_its_number() -> None:
    st = load_session(FIXTURE)
    h = headline(st.op_rows(), st.wall_ns, RoofFinding("memory", 0.78, "DRAM"))
    assert h.text.endswith("decode is memory-bound at 78 % of the DRAM roof")


def test_empty_session() -> None:
    assert headline([], 0) == Headline("no measurements yet", None, None)
    assert headline(SessionState().op_rows(), 0).top_path_id is None


def test_small_shares_are_not_called_dominant() -> None:
    from zlprof.session import OpRow

    row = OpRow(1, "tiny", "tiny", "", 0, PerformanceStats(count=1, total_ms=1.0), 1.0, 0.01)
    h = headline([row], 100_000_000)  # 1 ms of 100 ms
    assert h.text.startswith("no op takes much of the time (largest: tiny 1.0 %)")
