"""The braille canvas: dot bits, vectorised drawing, series plotting, bars."""

from __future__ import annotations

import numpy as np
import pytest

from zlprof.tui.braille import (
    BLANK,
    BrailleCanvas,
    column_extents,
    hbar,
    plot_series,
    scale,
    vbars,
)

# dot (x, y) inside a cell -> Unicode braille bit (dots 1..8)
DOT_BITS = {(0, 0): 0x01, (0, 1): 0x02, (0, 2): 0x04, (1, 0): 0x08,
            (1, 1): 0x10, (1, 2): 0x20, (0, 3): 0x40, (1, 3): 0x80}


@pytest.mark.parametrize(("xy", "bit"), sorted(DOT_BITS.items()))
def test_each_dot_maps_to_its_unicode_bit(xy: tuple[int, int], bit: int) -> None:
    c = BrailleCanvas(1, 1)
    c.set(*xy)
    assert c.lines() == [chr(0x2800 + bit)]
    assert c.get(*xy)


def test_all_dots_make_a_full_cell_and_none_a_blank() -> None:
    c = BrailleCanvas(2, 1)
    for x, y in DOT_BITS:
        c.set(x, y)
    assert c.lines() == ["⣿" + BLANK]


def test_geometry_and_out_of_range_points_are_ignored() -> None:
    c = BrailleCanvas(3, 2)
    assert (c.width, c.height) == (6, 8)
    c.set(-1, 0)
    c.set(6, 0)
    c.set(0, 8)
    c.points(np.array([-5, 100, 2]), np.array([0, 0, 9]))
    assert not c.cells.any()
    c.set(5, 7)  # bottom-right dot of the bottom-right cell
    assert c.lines()[1][2] == chr(0x2800 + 0x80)


def test_points_equal_individual_sets() -> None:
    rng = np.random.RandomState(0)
    xs, ys = rng.randint(0, 20, 200), rng.randint(0, 12, 200)
    a, b = BrailleCanvas(10, 3), BrailleCanvas(10, 3)
    a.points(xs, ys)
    for x, y in zip(xs, ys, strict=True):
        b.set(int(x), int(y))
    assert np.array_equal(a.cells, b.cells)


def test_vspans_fill_inclusive_ranges() -> None:
    c = BrailleCanvas(2, 2)
    c.vspans(np.array([0, 3]), np.array([1, 7]), np.array([3, 4]))
    assert [c.get(0, y) for y in range(8)] == [False, True, True, True, False, False, False, False]
    assert [c.get(3, y) for y in range(8)] == [False] * 4 + [True] * 4


def test_line_is_continuous() -> None:
    c = BrailleCanvas(10, 3)
    c.line(0, 11, 19, 0)
    for x in range(20):
        assert any(c.get(x, y) for y in range(12)), x
    assert c.get(0, 11) and c.get(19, 0)


def test_scale_maps_the_range_onto_pixels() -> None:
    assert scale(np.array([0.0, 5.0, 10.0]), 0, 10, 4).tolist() == [0, 2, 3]
    assert scale(np.array([0.0, 10.0]), 0, 10, 4, invert=True).tolist() == [3, 0]
    assert scale(np.array([3.0]), 3, 3, 4).tolist() == [0]  # empty range


def test_column_extents() -> None:
    cols, lo, hi = column_extents(np.array([0, 0, 2]), np.array([5.0, 1.0, 3.0]), 4)
    assert cols.tolist() == [0, 2] and lo.tolist() == [1.0, 3.0] and hi.tolist() == [5.0, 3.0]


def test_plot_series_keeps_a_spike_when_downsampling() -> None:
    t = np.arange(10_000)
    v = np.zeros(10_000)
    v[5_001] = 100.0  # one sample among 10k, on a 20-pixel-wide canvas
    c = BrailleCanvas(10, 4)
    plot_series(c, t, v, v_range=(0, 100))
    assert any(c.get(x, 0) for x in range(20))  # the spike reaches the top row
    assert all(any(c.get(x, y) for y in range(16)) for x in range(20))  # every column drawn


def test_plot_series_fill_has_no_gaps_for_sparse_data() -> None:
    c = BrailleCanvas(20, 2)
    plot_series(c, np.array([0.0, 10.0, 20.0]), np.array([1.0, 2.0, 1.0]), fill=True)
    for x in range(40):
        assert c.get(x, c.height - 1), x  # every column filled to the floor


def test_plot_series_connects_sparse_points() -> None:
    c = BrailleCanvas(20, 4)
    plot_series(c, np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    assert all(any(c.get(x, y) for y in range(16)) for x in range(40))


def test_plot_series_ignores_nan_and_empty() -> None:
    c = BrailleCanvas(5, 2)
    plot_series(c, np.array([]), np.array([]))
    plot_series(c, np.array([np.nan]), np.array([1.0]))
    assert not c.cells.any()


def test_hbar_eighths() -> None:
    assert hbar(0.0, 4) == "    "
    assert hbar(1.0, 4) == "████"
    assert hbar(0.5, 4) == "██  "
    assert hbar(1 / 32, 4) == "▏   "
    assert len(hbar(0.37, 9)) == 9


def test_vbars_rows_top_first() -> None:
    rows = vbars(np.array([0.0, 0.5, 1.0]), 2)
    assert rows == ["  █", " ██"]
