"""The hints and roofline panels inside the app: theme changes recolour the hints, and the
roofline says how to get machine peaks when none are cached."""

from __future__ import annotations

from fixtures.tui_support import FixtureSource, settle
from zlprof.diagnose import Hint
from zlprof.tui.app import ZlprofApp
from zlprof.tui.widgets.hints_panel import HintsPanel
from zlprof.tui.widgets.roofline_panel import NO_PEAKS, RooflinePanel

HINTS = [Hint("tail", "warning", "Tail latency spikes in x", "p99 9 ms vs median 2 ms", "Check GC")]


def colours(panel: HintsPanel) -> set[str]:
    return {str(span.style.color) for span in panel.shown.spans if span.style.color is not None}  # type: ignore[union-attr]


async def test_hints_take_the_new_theme_colours() -> None:
    src = FixtureSource()
    src.start()
    app = ZlprofApp(src, theme="dark", refresh_hz=10, peaks=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.main_screen.query_one(HintsPanel)
        panel.update_view(HINTS)
        await pilot.pause()
        dark = colours(panel)
        warning_dark = app.current_theme.warning
        await pilot.press("t")  # light
        await pilot.pause()
        await pilot.pause()
        light = colours(panel)
        assert dark and light and dark != light
        assert app.current_theme.warning != warning_dark
        # nothing else changed: a repeated style update does not rebuild the text
        renders = panel.renders
        panel.notify_style_update()
        await pilot.pause()
        assert panel.renders == renders


async def test_roofline_without_peaks_says_how_to_get_them() -> None:
    src = FixtureSource()
    src.start()
    app = ZlprofApp(src, refresh_hz=10, peaks=None)  # no machine peaks
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        panel = app.main_screen.query_one(RooflinePanel)
        text = panel.render().plain
        assert text == NO_PEAKS and "zlprof roofline --calibrate" in text
        assert "measuring" not in text
        # while the app measures them (a replay), it says so
        app.peaks_note = "roofline: measuring this machine's peaks (once; cached)…"
        app._roofline_key = None
        await settle(pilot)
        await pilot.pause(0.3)
        assert "measuring" in panel.render().plain
