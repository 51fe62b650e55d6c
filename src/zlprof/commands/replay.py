"""``zlprof replay``: replay a recorded session in the app."""

from __future__ import annotations

import argparse
from typing import Any

from .common import UserError, _add_baseline, _check_theme, _load_baseline

NAME = "replay"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay a recorded session in the app")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--speed", default="1", help="playback speed factor, or 'max' (default 1)")
    p.add_argument("--start", type=float, default=0.0, metavar="SECONDS", help="start offset")
    p.add_argument("--theme", metavar="NAME", help="colour theme")
    _add_baseline(p)


def cmd_replay(args: argparse.Namespace) -> int:
    from ..replay import ReplaySource

    speed: float | None
    if args.speed == "max":
        speed = None
    else:
        try:
            speed = float(args.speed)
        except ValueError:
            raise UserError(f"--speed takes a number or 'max', not {args.speed!r}") from None
        if not speed > 0:
            raise UserError("--speed must be positive")
    if args.start < 0:
        raise UserError("--start must not be negative")
    theme = _check_theme(args.theme)
    baseline = _load_baseline(args)
    src = ReplaySource(args.path, speed=speed, start_s=args.start)
    from ..tui.app import run_app

    return run_app(src, theme=theme, baseline=baseline)


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_replay(args)
