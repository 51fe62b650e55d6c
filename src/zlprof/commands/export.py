"""``zlprof export``: write a recording's measurements for other tools (Chrome trace, CSV)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import UserError

NAME = "export"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("export", help="export a recording for other tools")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--format", choices=["chrome-trace", "csv"], required=True)
    p.add_argument("-o", "--out", metavar="OUT", required=True)
    p.add_argument("--force", action="store_true", help="overwrite an existing OUT")


def cmd_export(args: argparse.Namespace) -> int:
    from ..recording import read_recording
    from ..reports import chrome_trace, measurements_csv

    res = read_recording(args.path)
    if res.warning:
        print(f"zlprof: warning: {res.warning}", file=sys.stderr)
    summarised = sum(fr.body["n"] for fr in res.frames if fr.kind == "summary")
    if summarised:
        print(f"zlprof: warning: bounded recording: {summarised:,} older measurements are kept "
              "as per-op statistics only; the export holds the raw ones after them",
              file=sys.stderr)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise UserError(f"{out} already exists (use --force to overwrite)")
    try:
        with open(out, "w", encoding="utf-8", newline="") as f:
            if args.format == "chrome-trace":
                doc = chrome_trace(res.frames)
                json.dump(doc, f)
                n = sum(1 for e in doc["traceEvents"] if e.get("ph") == "X")
            else:
                n = measurements_csv(res.frames, f)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    print(f"zlprof: wrote {n:,} measurements to {out}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace, command: list[str]) -> int:
    return cmd_export(args)
