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
        text = " ".join(panel.render().plain.split())  # (wrapped to the panel's width)
        assert text == NO_PEAKS and "zlprof roofline --calibrate" in text
        assert "measuring" not in text
        # while the app measures them (a replay), it says so
        app.peaks_note = "roofline: measuring this machine's peaks (once; cached)…"
        app._roofline_key = None
        await settle(pilot)
        await pilot.pause(0.3)
        assert "measuring" in panel.render().plain


def test_share_labels_fit_and_stay_apart() -> None:
    from zlprof.tui.model import ShareBar
    from zlprof.tui.widgets.charts import bar_labels, fit_label

    assert fit_label("mlp.gate_up", 15) == "mlp.gate_up"
    a, b = fit_label("prefill attention.qkv", 15), fit_label("prefill attention.out", 15)
    assert len(a) == len(b) == 15 and a != b
    assert a.startswith("pre ") and a.endswith("qkv")
    assert fit_label("prefill mlp.down", 12) == "pre mlp.down"
    assert len(fit_label("attention.softmax", 8)) == 8
    bars = [ShareBar("mlp.gate_up", 0.3, "k1", "×8 layers", 8), ShareBar("attention.qkv", 0.2, "k2", "×8 layers", 8),
            ShareBar("lm_head", 0.1, "k3")]
    assert bar_labels(bars, 30) == ["mlp.gate_up ×8 layers", "attention.qkv ×8 layers", "lm_head"]
    assert bar_labels(bars, 16) == ["mlp.gate_up ×8", "attention.qkv ×8", "lm_head"]  # one form for all
    assert bar_labels(bars, 12) == ["mlp.gate_up", "attention.qkv", "lm_head"]
