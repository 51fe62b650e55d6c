"""The roofline and hints panels in a Textual app: they draw to their size, redraw on
resize, and recompute only when the data changed."""

from __future__ import annotations

from textual.app import App, ComposeResult

import zlprof
from zlprof.diagnose import Hint, diagnose
from zlprof.roofline import MachinePeaks, matmul_cost
from zlprof.tui.widgets.hints_panel import HintsPanel
from zlprof.tui.widgets.roofline_panel import RooflinePanel

PEAKS = MachinePeaks(gflops=320.0, gbps=45.0, copy_gbps=45.0, triad_gbps=21.0)


def costed_state():
    prof = zlprof.Profiler()
    for _ in range(30):
        with prof.measure("forward_pass"):
            for name, n in (("attention.qkv", 96), ("mlp.down", 64)):
                with prof.measure(name):
                    sum(range(2000))
                    prof.cost(*matmul_cost(1, n, 64))
        with prof.measure("sampling"):
            pass
    return prof.state


class PanelApp(App):
    def compose(self) -> ComposeResult:
        yield RooflinePanel(id="roofline")
        yield HintsPanel(id="hints")


def panel_lines(app: App) -> list[str]:
    panel = app.query_one(RooflinePanel)
    return panel.render().plain.split("\n")


async def test_roofline_panel_draws_and_resizes() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 50)) as pilot:
        panel = app.query_one(RooflinePanel)
        assert "waiting for data" in panel.render().plain
        state = costed_state()
        assert panel.update_view(state, None) is True  # no machine peaks cached
        assert "no machine peaks cached" in panel.render().plain
        assert panel.update_view(state, PEAKS) is True
        assert panel.update_view(state, PEAKS) is False  # unchanged: nothing recomputed
        assert panel.placements == 1
        await pilot.pause()
        size1 = panel.content_size
        lines = panel_lines(app)
        assert len(lines) == size1.height and all(len(x) == size1.width for x in lines)
        text = "\n".join(lines)
        assert "attention.qkv" in text and "mlp.down" in text and "▲" in text
        draws = panel.draws
        panel.render()
        assert panel.draws == draws  # same size, same data: cached
        await pilot.resize_terminal(140, 60)
        await pilot.pause()
        size2 = panel.content_size
        assert size2 != size1
        lines2 = panel_lines(app)
        assert len(lines2) == size2.height and len(lines2[0]) == size2.width
        assert panel.placements == 1  # a resize redraws without re-placing
        # highlight (drill-down) re-places and draws the op reversed
        assert panel.update_view(state, PEAKS, highlight="forward_pass/mlp.down")
        assert any("reverse" in str(s.style) for s in panel.render().spans)


async def test_roofline_panel_without_costs() -> None:
    app = PanelApp()
    async with app.run_test(size=(80, 24)):
        panel = app.query_one(RooflinePanel)
        prof = zlprof.Profiler()
        with prof.measure("x"):
            pass
        panel.update_view(prof.state, PEAKS)
        assert "no op costs yet" in panel.render().plain


async def test_hints_panel_shows_and_skips_unchanged() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 40)) as pilot:
        hp = app.query_one(HintsPanel)
        hints = [
            Hint(
                "tail",
                "warning",
                "Tail latency spikes in x",
                "p99 9 ms vs median 2 ms",
                "Check GC pauses",
            ),
            Hint(
                "batch_scaling",
                "info",
                "Batch scaling: not enough data",
                "not enough data: needs 3 sizes",
                "Run a sweep",
            ),
        ]
        assert hp.update_view(hints) is True
        assert hp.update_view(list(hints)) is False
        assert hp.renders == 1
        await pilot.pause()
        text = hp.hints_text().plain
        assert text.startswith("WARN Tail latency spikes in x\n  p99 9 ms")
        assert "-> Check GC pauses" in text and "info Batch scaling" in text
        assert hp.update_view(diagnose(costed_state(), PEAKS)) is True
        assert "Where time goes" in hp.hints_text().plain


async def test_roofline_panel_throttles_new_data() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.query_one(RooflinePanel)
        panel.min_interval_s = 0.2
        state = costed_state()
        assert panel.update_view(state, PEAKS)
        state.version += 1  # new data arrives right away: deferred
        assert panel.update_view(state, PEAKS) is False
        assert panel.placements == 1
        # a highlight change is not data: applied at once
        assert panel.update_view(state, PEAKS, highlight="forward_pass/mlp.down")
        assert panel.placements == 2
        state.version += 1
        assert panel.update_view(state, PEAKS, highlight="forward_pass/mlp.down") is False
        await pilot.pause(0.4)  # the deferred update lands without another call
        assert panel.placements == 3
        assert panel._data_key[1] == state.version


async def test_roofline_panel_shows_the_headline() -> None:
    app = PanelApp()
    async with app.run_test(size=(100, 50)) as pilot:
        panel = app.query_one(RooflinePanel)
        state = costed_state()
        panel.update_view(state, PEAKS)
        await pilot.pause()
        lines = panel_lines(app)
        assert panel.summary is not None and panel.summary.block == "forward_pass"
        assert lines[0].startswith("forward_pass streams ") and "of DRAM bandwidth" in lines[0]
        assert len(lines) == panel.content_size.height
        assert lines[1].startswith("GFLOP/s")  # the chart follows, one row shorter
