"""``zlprof roofline [PATH] [--calibrate] [--peak-gflops X] [--peak-gbps Y]``."""

from __future__ import annotations

import argparse
import json
import sys


def _progress_printer(enabled: bool):  # noqa: ANN202
    """A calibration progress callback (fraction, what) that rewrites one stderr line."""
    if not enabled:
        return None

    def progress(fraction: float, what: str) -> None:
        line = f"zlprof: calibrating: {what} {fraction * 100:3.0f}%"
        sys.stderr.write("\r" + line[:79].ljust(79))
        sys.stderr.flush()

    return progress


def roofline_main(args: argparse.Namespace) -> int:
    from .recording import load_session
    from .roofline import get_peaks, peaks_report, roofline_json, roofline_text_report
    from .textwidth import terminal_width

    # a terminal: fit its width (COLUMNS wins); piped or redirected: never wrap or cut
    width: int | None = args.width or terminal_width()
    state = None
    if args.path:
        state = load_session(args.path)  # RecordingError -> one line, before any measuring
        for w in state.warnings:
            print(f"zlprof: warning: {w}", file=sys.stderr)
    try:
        peaks = get_peaks(
            calibrate=args.calibrate,
            peak_gflops=args.peak_gflops,
            peak_gbps=args.peak_gbps,
            progress=_progress_printer(sys.stderr.isatty()),
        )
    except ValueError as exc:
        print(f"zlprof: error: {exc}", file=sys.stderr)
        return 2
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 79 + "\r")
    if peaks.stale_note:
        print(f"zlprof: note: {peaks.stale_note}", file=sys.stderr)
    if getattr(args, "format", "text") == "json":
        if state is None:
            out = {"peaks": peaks.to_dict()}
        else:
            out = roofline_json(state, peaks)
        sys.stdout.write(json.dumps(out, indent=2, default=str) + "\n")
    elif state is None:
        sys.stdout.write(peaks_report(peaks, width))
    else:
        sys.stdout.write(roofline_text_report(state, peaks, width))
    return 0
