"""zlprof's colour themes: Textual Theme definitions plus one .tcss file per theme.

Each theme is a :class:`textual.theme.Theme` (the palette and zlprof's own variables,
``$zl-*``, which the app's panels use for graphs and states) and a ``<name>.tcss`` file
next to this module with the rules that colours alone cannot express (borders, cursor
emphasis, ...). The app applies a theme by name; the .tcss rules are scoped with the
``-theme-<name>`` class Textual puts on the app, so all three files load together.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

THEME_NAMES: tuple[str, ...] = ("dark", "light", "high-contrast")
DEFAULT_THEME = "dark"

#: zlprof's own theme variables and their defaults (used by any other Textual theme).
VARIABLE_DEFAULTS: dict[str, str] = {
    "zl-rss": "#4ea1ff",
    "zl-traced": "#e5c07b",
    "zl-kv": "#c678dd",
    "zl-bar": "#56b6c2",
    "zl-hist": "#61afef",
    "zl-recent": "#98c379",
    "zl-mark": "#e06c75",
    "zl-axis": "#7f848e",
    "zl-running": "#98c379",
    "zl-paused": "#e5c07b",
    "zl-ended": "#61afef",
    "zl-crashed": "#e06c75",
    "zl-silent": "#d19a66",
}

THEMES: dict[str, Theme] = {
    "dark": Theme(
        name="dark",
        primary="#4ea1ff",
        secondary="#56b6c2",
        accent="#c678dd",
        warning="#e5c07b",
        error="#e06c75",
        success="#98c379",
        foreground="#d7dae0",
        background="#16181d",
        surface="#1d2027",
        panel="#262a33",
        dark=True,
        variables=dict(VARIABLE_DEFAULTS),
    ),
    "light": Theme(
        name="light",
        primary="#1f5fbf",
        secondary="#0f7c86",
        accent="#8839a8",
        warning="#9a6700",
        error="#c4252f",
        success="#2f7d32",
        foreground="#1f2328",
        background="#fbfbfc",
        surface="#f1f3f5",
        panel="#e3e6ea",
        dark=False,
        variables={
            "zl-rss": "#1f5fbf",
            "zl-traced": "#9a6700",
            "zl-kv": "#8839a8",
            "zl-bar": "#0f7c86",
            "zl-hist": "#1f5fbf",
            "zl-recent": "#2f7d32",
            "zl-mark": "#c4252f",
            "zl-axis": "#6e7781",
            "zl-running": "#2f7d32",
            "zl-paused": "#9a6700",
            "zl-ended": "#1f5fbf",
            "zl-crashed": "#c4252f",
            "zl-silent": "#b35900",
        },
    ),
    "high-contrast": Theme(
        name="high-contrast",
        primary="#ffff00",
        secondary="#00ffff",
        accent="#ff00ff",
        warning="#ffff00",
        error="#ff3030",
        success="#00ff00",
        foreground="#ffffff",
        background="#000000",
        surface="#000000",
        panel="#000000",
        boost="#ffffff",
        dark=True,
        luminosity_spread=0.0,
        text_alpha=1.0,
        variables={
            "zl-rss": "#00ffff",
            "zl-traced": "#ffff00",
            "zl-kv": "#ff00ff",
            "zl-bar": "#ffffff",
            "zl-hist": "#00ffff",
            "zl-recent": "#00ff00",
            "zl-mark": "#ff3030",
            "zl-axis": "#ffffff",
            "zl-running": "#00ff00",
            "zl-paused": "#ffff00",
            "zl-ended": "#00ffff",
            "zl-crashed": "#ff3030",
            "zl-silent": "#ffff00",
            "block-cursor-background": "#ffff00",
            "block-cursor-foreground": "#000000",
            "block-cursor-text-style": "bold",
            "footer-key-foreground": "#ffff00",
        },
    ),
}

_HERE = Path(__file__).resolve().parent


def css_paths() -> list[Path]:
    """The .tcss file of every theme (all load; each is scoped to its theme's class)."""
    return [_HERE / f"{name}.tcss" for name in THEME_NAMES]


def next_theme(current: str) -> str:
    """The theme after ``current`` in THEME_NAMES (the first one for any other theme)."""
    if current in THEME_NAMES:
        return THEME_NAMES[(THEME_NAMES.index(current) + 1) % len(THEME_NAMES)]
    return THEME_NAMES[0]
