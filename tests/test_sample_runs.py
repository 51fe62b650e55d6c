"""The recordings shipped in sample_runs/ open out of the box."""

from __future__ import annotations

from pathlib import Path

import pytest

from zlprof.recording import load_session
from zlprof.replay import ReplaySource

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "sample_runs").glob("*.zlp"))
SEED_NAMES = {"tokenize", "prefill", "forward_pass", "kv_cache_update", "sampling", "decode"}


def test_there_are_sample_runs() -> None:
    assert len(SAMPLES) >= 2
    for p in SAMPLES:
        assert p.stat().st_size < 2 * 1024 * 1024


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_run_is_complete(path: Path) -> None:
    st = load_session(path)
    assert st.warnings == []
    assert st.end_status == 0
    names = {p.name for p in st.paths.values()}
    assert SEED_NAMES <= names
    assert st.tokens_total > 0 and st.costs


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_sample_run_replays_to_the_same_statistics(path: Path) -> None:
    src = ReplaySource(path, speed=None)
    src.start()
    try:
        assert src.wait(300)
        replayed = {r.full: r.stats.count for r in src.state.op_rows()}
    finally:
        src.stop()
    folded = {r.full: r.stats.count for r in load_session(path).op_rows()}
    assert replayed == folded
