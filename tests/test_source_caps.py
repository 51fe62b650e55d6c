"""The source capabilities (zlprof.source_caps): which source has which, and the app
reading them through isinstance instead of probing attributes."""

from __future__ import annotations

import sys

from fixtures.tui_support import FIXTURE, PEAKS, FeedSource, FixtureSource
from zlprof.replay import ReplaySource
from zlprof.source_caps import HasCommand, HasProcess, Seekable
from zlprof.sources import LiveSource
from zlprof.tui.app import ZlprofApp


def test_a_replay_is_seekable_and_runs_no_process() -> None:
    src = ReplaySource(FIXTURE, speed=None)
    assert isinstance(src, Seekable)
    assert not isinstance(src, HasProcess) and not isinstance(src, HasCommand)


def test_a_live_source_has_a_process_and_is_not_seekable() -> None:
    src = LiveSource([sys.executable, "-c", "pass"], None)
    assert isinstance(src, HasProcess) and isinstance(src, HasCommand)
    assert not isinstance(src, Seekable)
    assert src.proc is None  # not started: the capability is there, the process not yet


def test_a_source_with_a_command_only() -> None:
    src = FixtureSource()
    assert isinstance(src, HasCommand)
    assert not isinstance(src, HasProcess) and not isinstance(src, Seekable)


def test_the_app_reads_the_capabilities() -> None:
    replay = ReplaySource(FIXTURE, speed=None)
    app = ZlprofApp(replay, peaks=PEAKS)
    assert app.seekable and app.replay is replay
    assert app.replay_name == FIXTURE.name and app.current_path == FIXTURE
    feed = ZlprofApp(FeedSource(), peaks=PEAKS)
    assert not feed.seekable and feed.replay is None and feed.replay_name is None
    # the screens get the replay's controls (a timeline bar) only for a seekable source
    assert feed.main_screen.replay is None and app.main_screen.replay is replay
