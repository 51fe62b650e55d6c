"""``run_app``: the app's entry point from the command line (``zlprof live``, ``zlprof
replay``): start the source, run the app, stop every source it showed, say where the
recording went and how the program ended.

Only the process-level wrapping lives here (signals, exit status, the lines on stderr);
the app itself is app.py.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

from ..source_caps import HasCommand
from ..sources import EXIT_PROGRAM_FAILED, Source, SourceError, failure_hint, program_failed


def run_app(source: Source, theme: str | None = None, baseline: Any = None) -> int:
    """Start ``source``, run the app until the user quits, stop the source.

    Returns 1 if the source cannot start (one line on stderr); EXIT_PROGRAM_FAILED (3)
    if the live program failed by itself (a non-zero exit status or a signal; one line
    on stderr says which), else 0 (it succeeded, or the user quit while it ran). On the
    way out the child gets SIGTERM then SIGKILL after a grace period
    (Source.stop), the recording is closed, and its path is printed on stderr.
    """
    try:
        source.start()
    except SourceError as exc:
        print(f"zlprof: error: {exc}", file=sys.stderr)
        return 1
    from .app import ZlprofApp

    app = ZlprofApp(source, theme=theme, baseline=baseline)

    def _exit_on_signal(signum: int, _frame: Any) -> None:
        # SIGTERM / SIGHUP to zlprof: leave the app normally so the child is stopped
        try:
            app.call_from_thread(app.exit)
        except RuntimeError:
            app.exit()

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[sig] = signal.signal(sig, _exit_on_signal)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        app.run()
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):
                pass
        # the source on screen, and any the session browser replaced (already stopping)
        app.source.stop()
        for stopper in app.stoppers:
            stopper.join(timeout=10)
        if app.source is not source:
            source.stop()
    if source.recording_failure is not None:
        print(f"zlprof: error: {source.recording_failure.describe()}", file=sys.stderr)
    elif source.recording_path is not None:
        print(f"zlprof: recorded {source.recording_path}", file=sys.stderr)
    if program_failed(source):
        print(f"zlprof: error: the program {source.state.end_reason or 'crashed'}", file=sys.stderr)
        if hint := failure_hint(source.stderr_tail, source.argv if isinstance(source, HasCommand) else []):
            print(f"zlprof: hint: {hint}", file=sys.stderr)
        return EXIT_PROGRAM_FAILED
    return 0
