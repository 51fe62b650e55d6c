"""What keeps key presses quick under a flood (issue 11): input first, and the app's
cycle collector (tui/collector.py). The latency itself is measured by
benchmarks/bench_many_ops.py --flood-only; these tests check the mechanisms."""

from __future__ import annotations

import gc
import time

import pytest

from fixtures.tui_support import PEAKS, FeedSource, settle
from zlprof.tui import app as app_module
from zlprof.tui import collector
from zlprof.tui.app import ZlprofApp

NAMES = [(i, 0, f"op{i:03d}") for i in range(1, 41)]


def make_app(source, **kw) -> ZlprofApp:  # noqa: ANN001
    return ZlprofApp(source, refresh_hz=10, peaks=PEAKS, **kw)


def started(names: list[tuple[int, int, str]], rounds: int = 2) -> FeedSource:
    src = FeedSource(names)
    src.start()
    src.feed(rounds)
    return src


async def test_new_data_of_the_same_view_waits_while_keys_come() -> None:
    """A key press is served first: for KEY_QUIET_S after it, the timer takes no snapshot
    that would only bring new data of the view already shown; after that it does. A key
    that changes the view (window) is shown at once."""
    src = started(NAMES)
    app = make_app(src)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")  # a new order: the same snapshot request
        taken = app.refresher.taken
        src.feed(2)  # new data of the same view
        app._key_at = time.monotonic()  # as if the key had just come
        app.tick()
        assert not app.refresher.busy and app.refresher.taken == taken, "new data was taken during typing"
        app._key_at = time.monotonic() - app_module.KEY_QUIET_S - 0.01  # the keys stopped
        app.tick()
        assert app.refresher.busy or app.refresher.taken > taken
        await settle(pilot)
        assert app.last_snapshot is not None and app.last_snapshot.version == src.state.version
        # a key that changes the view asks for a snapshot of it at the next tick even
        # while keys come (the request differs from the last one)
        app._key_at = time.monotonic()
        await pilot.press("w")
        app._key_at = time.monotonic()
        app.tick()
        await settle(pilot)
        assert app.last_snapshot.request.window


def test_tune_freezes_and_takes_the_collector_over_and_restore_undoes_it() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    assert gc.isenabled()
    try:
        collector.tune()
        assert collector.tuned()
        assert not gc.isenabled()
        assert gc.get_freeze_count() > frozen
        collector.tune()  # idempotent: what it saved stays the original
    finally:
        collector.restore()
    assert not collector.tuned() and gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    collector.restore()  # a second restore does nothing
    assert gc.isenabled() and gc.get_threshold() == before


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_step_collects_what_is_due_and_waits_while_keys_come(monkeypatch: pytest.MonkeyPatch) -> None:
    """step() follows CPython's counting (young every YOUNG allocations, middle every
    MIDDLE young, full every OLD middle), holds back while keys come until YOUNG_CAP."""
    monkeypatch.setattr(collector, "YOUNG", 1_000)
    monkeypatch.setattr(collector, "YOUNG_CAP", 4_000)
    assert collector.step(False) is None  # not tuned: nothing
    try:
        collector.tune()
        keep = [Cycle() for _ in range(200)]
        assert collector.due() is None and collector.step(False) is None
        garbage = [Cycle() for _ in range(1_500)]
        del garbage
        assert gc.get_count()[0] >= 1_000
        assert collector.step(True) is None, "collected while keys came"
        assert collector.step(False) == 0
        assert gc.get_count()[0] < 1_000 and gc.get_count()[1] == 1
        garbage = [Cycle() for _ in range(4_500)]
        del garbage
        assert collector.step(True) == 0, "past the cap it collects even while keys come"
        gens = []
        for _ in range(3 * collector.MIDDLE * collector.OLD):
            garbage = [Cycle() for _ in range(1_100)]
            del garbage
            gens.append(collector.step(False))
        assert gens.count(1) >= 2 and gens.count(2) >= 1 and gens.count(0) > gens.count(1)
        assert len(keep) == 200
    finally:
        collector.restore()


@pytest.mark.parametrize("tune", [True, False])
async def test_the_app_tunes_the_collector_once_shown_and_restores_it_on_exit(
    tune: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With TUNE_COLLECTOR (the default) the app takes the collector over once its first
    screen is up and gives it back on exit; without it, leaves it alone."""
    monkeypatch.setattr(ZlprofApp, "TUNE_COLLECTOR", tune)
    before = gc.get_threshold()
    app = make_app(started(NAMES, 1))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.pause(0.1)
        assert collector.tuned() is tune and gc.isenabled() is not tune
    assert not collector.tuned() and gc.isenabled()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_a_replaced_session_is_freed_and_the_new_one_frozen_again() -> None:
    """The session browser's open_source: the old source is stopped and then freed (the
    app keeps only the thread that stops it), what was frozen with it is unfrozen, and the
    new session's first screen freezes again."""
    import weakref

    app = make_app(started(NAMES))
    old = weakref.ref(app.source)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        await pilot.pause(0.1)
        assert collector.tuned()
        app.open_source(started(NAMES[:10]))
        assert not collector.tuned()
        for t in app.stoppers:
            t.join(10)
        await settle(pilot)
        await pilot.pause(0.1)
        assert collector.tuned(), "the new session's first screen did not tune again"
        gc.collect()
        assert old() is None, "the replaced source is still referenced"
        assert len(app.main_screen.last.rows) == 10


async def test_the_footer_is_rebuilt_only_when_its_keys_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's Footer recomposes on every change of the active bindings (every focus
    change); SteadyFooter only when what it shows changed."""
    from zlprof.tui.widgets.footer import SteadyFooter, shown_bindings

    rebuilt: list[int] = []
    original = SteadyFooter.recompose

    async def counted(self: SteadyFooter) -> None:
        rebuilt.append(1)
        await original(self)

    monkeypatch.setattr(SteadyFooter, "recompose", counted)
    app = make_app(started(NAMES))
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        screen = app.main_screen
        footer = screen.query_one(SteadyFooter)
        n = len(rebuilt)
        footer.bindings_changed(screen)  # the same keys: nothing to rebuild
        await pilot.pause()
        assert len(rebuilt) == n
        keys = shown_bindings(screen)
        await pilot.press("f")  # the filter box has focus: other keys in the footer
        await pilot.pause()
        assert shown_bindings(screen) != keys and len(rebuilt) > n
