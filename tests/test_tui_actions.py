"""The action registry (tui/actions.py): every action in it is bound, listed in the help
screen and offered by the command palette, with the key read from the registry."""

from __future__ import annotations

from rich.console import Console

from fixtures.tui_support import FIXTURE, PEAKS, FixtureSource, settle
from zlprof.replay import ReplaySource
from zlprof.tui.actions import ACTIONS, Action, palette_title
from zlprof.tui.app import ZlprofApp
from zlprof.tui.screens.drilldown import DrillDownScreen
from zlprof.tui.screens.help import HelpScreen, key_rows
from zlprof.tui.screens.main import MainScreen


def make_app(source) -> ZlprofApp:  # noqa: ANN001
    source.start()
    return ZlprofApp(source, refresh_hz=10, peaks=PEAKS)


def help_text(screen: HelpScreen) -> str:
    console = Console(record=True, width=200)
    console.print(key_rows(screen.groups))
    return console.export_text()


def bound(a: Action) -> bool:
    """Is the action bound to a key (palette-only variants are not)?"""
    owners = (ZlprofApp, MainScreen, DrillDownScreen)
    return any(b.key == a.key and b.action.endswith(a.action) for o in owners for b in o.BINDINGS)


def test_the_registry_has_one_entry_per_id_and_every_screen_action_comes_from_it() -> None:
    assert len({a.id for a in ACTIONS}) == len(ACTIONS)
    actions = {a.action for a in ACTIONS}
    for owner in (ZlprofApp, MainScreen, DrillDownScreen):
        for b in owner.BINDINGS:
            assert b.action.removeprefix("app.") in actions, (owner.__name__, b.action)
    # and every entry is bound to its key (``play``, the palette's replay wording of
    # space, shares the binding of ``pause``)
    assert [a.id for a in ACTIONS if not bound(a)] == []


async def test_every_action_is_in_the_help_screen() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app.screen)
        for a in ACTIONS:
            assert (a.tooltip or a.label) in text, a.id


async def test_every_action_is_in_the_palette_live_and_replay() -> None:
    offered: set[str] = set()
    for source in (FixtureSource(), ReplaySource(FIXTURE, speed=None)):
        app = make_app(source)
        try:
            async with app.run_test(size=(100, 30)) as pilot:
                await settle(pilot)
                titles = {c.title: c.help for c in app.get_system_commands(app.screen)}
                pages = len(app.main_screen.pages) > 1
                for a in ACTIONS:
                    if not a.palette or a.target == "drill":
                        continue
                    expected = a.when == "always" or (a.when == "pages" and pages) or (
                        a.when == ("replay" if app.seekable else "live")
                    )
                    assert (palette_title(a) in titles) == expected, a.id
                    if expected:
                        assert titles[palette_title(a)] == a.palette_help
                        offered.add(a.action)
                await pilot.press("enter")  # the drill-down adds its own actions
                await pilot.pause()
                assert isinstance(app.screen, DrillDownScreen)
                titles = {c.title: c.help for c in app.get_system_commands(app.screen)}
                for a in ACTIONS:
                    if a.target == "drill":
                        assert palette_title(a) in titles, a.id
                        offered.add(a.action)
        finally:
            source.stop()
    missing = {a.action for a in ACTIONS} - offered - {"next_panels"}  # (pages: a wide screen)
    assert not missing, missing


def test_palette_titles_name_the_key_of_the_binding() -> None:
    by_id = {a.id: a for a in ACTIONS}
    assert palette_title(by_id["sort"]) == "Sort by next column  (s)"
    assert palette_title(by_id["pause"]) == "Pause / resume view  (space)"
    assert palette_title(by_id["seek_back"]) == "Seek back 5 s  (←)"
    assert palette_title(by_id["help"]) == "Help: keys  (?)"
    assert palette_title(by_id["drill"]) == "Open drill-down  (enter)"


async def test_a_palette_command_of_the_drill_down_runs_on_it() -> None:
    app = make_app(FixtureSource())
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DrillDownScreen)
        cmd = next(c for c in app.get_system_commands(app.screen) if c.title.startswith("Back to the main"))
        await cmd.callback()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
