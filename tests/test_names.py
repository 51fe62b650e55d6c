"""The block-name rule (zlprof.names): what a name may contain, how others are mended."""

from __future__ import annotations

import pytest

from zlprof.names import (
    EMPTY_NAME,
    MAX_NAME_CHARS,
    display_text,
    is_valid_block_name,
    sanitize_block_name,
)


@pytest.mark.parametrize("name", ["forward_pass", "layer 3", "attention (q·k)", "Ωμέγα", "a.b-c_d"])
def test_valid_names_are_kept(name: str) -> None:
    assert is_valid_block_name(name)
    assert sanitize_block_name(name) is name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b", "a\u2215b"),
        ("/", "\u2215"),
        ("line1\nline2", "line1\\nline2"),
        ("tab\there", "tab\\there"),
        ("cr\r", "cr\\r"),
        ("esc\x1b[31mred", "esc\\x1b[31mred"),
        ("del\x7f", "del\\x7f"),
        ("c1\x85", "c1\\x85"),
        ("", EMPTY_NAME),
        ("a/b\nc", "a\u2215b\\nc"),
    ],
)
def test_names_are_mended_not_refused(name: str, expected: str) -> None:
    out = sanitize_block_name(name)
    assert out == expected
    assert is_valid_block_name(out)


def test_a_mended_name_is_one_path_segment_on_one_line() -> None:
    out = sanitize_block_name("x/y/z\n\x00")
    assert "/" not in out and "\n" not in out and "\x00" not in out


def test_non_strings_and_long_names() -> None:
    assert sanitize_block_name(42) == "42"
    long = sanitize_block_name("x" * 1000)
    assert len(long) == MAX_NAME_CHARS and long.endswith("…")
    assert is_valid_block_name(long)


def test_display_text_escapes_controls_and_keeps_slashes() -> None:
    assert display_text("a/b\nc") == "a/b\\nc"
    assert display_text("plain") == "plain"
