"""End-to-end measurements per second: a child's blocks, through the pipe, into statistics.

The child runs empty nested blocks flat out for a few seconds; the parent (LiveSource:
reader thread, validation, recording, fold) ingests. Printed: what the child produced
per second, what the parent folded per second, and the ratio (1.0 = the parent keeps up).

Run: python benchmarks/bench_pipe.py [SECONDS]
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from pathlib import Path

from zlprof.sources import LiveSource

CHILD = textwrap.dedent(
    """
    import sys, time, zlprof
    prof = zlprof.get_profiler()
    outer, inner = prof.measure("outer"), prof.measure("inner")
    end = time.perf_counter() + float(sys.argv[1])
    n = 0
    while time.perf_counter() < end:
        for _ in range(1000):
            with outer:
                with inner:
                    pass
        n += 2000
    print(n, file=sys.stderr)
    """
)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    with tempfile.TemporaryDirectory() as d:
        script = Path(d) / "child.py"
        script.write_text(CHILD)
        for record in (False, True):
            src = LiveSource(
                [sys.executable, str(script), str(seconds)],
                Path(d) / f"r{int(record)}.zlp" if record else None,
            )
            t = time.perf_counter()
            src.start()
            src.wait(seconds + 60)
            wall = time.perf_counter() - t
            produced = int(src.stderr_tail[-1])
            folded = src.state.measurements
            size = src.writer.bytes_written if src.writer else 0
            print(
                f"recording={'on ' if record else 'off'}  child produced {produced / seconds / 1e6:5.2f} M/s, "
                f"parent folded {folded:,} ({folded / wall / 1e6:5.2f} M/s over {wall:.1f} s wall), "
                f"lost {produced - folded}, recording {size / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
