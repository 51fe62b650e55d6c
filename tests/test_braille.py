"""The one braille canvas (zlprof.braille): what the roofline chart needs of it, and the
wall that keeps the text roofline (printed by CLI reports) free of the app."""

from __future__ import annotations

import subprocess
import sys

from zlprof import fmt
from zlprof.braille import BrailleCanvas


def test_vline_with_step_draws_every_other_dot_and_clips() -> None:
    c = BrailleCanvas(1, 2)
    c.vline(0, 6, 1, step=2)  # ends in either order
    assert [y for y in range(8) if c.get(0, y)] == [1, 3, 5]
    c.clear()
    c.vline(1, -3, 100)  # clipped to the canvas
    assert all(c.get(1, y) for y in range(8)) and not any(c.get(0, y) for y in range(8))


def test_tui_braille_is_the_same_canvas() -> None:
    from zlprof.tui import braille as tui_braille

    assert tui_braille.BrailleCanvas is BrailleCanvas


def test_roofline_and_diagnose_import_no_app_code() -> None:
    code = (
        "import sys, zlprof.roofline, zlprof.diagnose; "
        "print(sorted(m for m in sys.modules if m.startswith(('zlprof.tui', 'textual'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_nbytes_is_the_one_byte_format() -> None:
    # what the roofline and the hints printed with their own formatter before
    assert fmt.nbytes(512) == "512 B"
    assert fmt.nbytes(1536) == "1.5 KiB"
    assert fmt.nbytes(32 * 2**20) == "32.0 MiB"
    assert fmt.nbytes(-5 * 2**10) == "-5.0 KiB"
    assert fmt.nbytes(3 * 2**30) == "3.0 GiB"
    # where they differed: past 1 TiB and NaN
    assert fmt.nbytes(2**40) == "1.0 TiB"
    assert fmt.nbytes(float("nan")) == "-"
