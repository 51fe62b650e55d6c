"""What a block name may contain, and how any other string becomes one.

The rule (README, "Block names"): a block name is a non-empty string of printable
characters without ``/``. ``/`` is reserved: it joins a block to its parents in a call
path (``forward_pass/layer3/attention``). ``measure(name)`` passes every name through
:func:`sanitize_block_name`, so no string raises:

* ``/`` becomes ``∕`` (U+2215 DIVISION SLASH): it reads the same, never splits a path;
* a control character (C0, DEL, C1: newline, tab, escape ...) becomes its Python escape,
  ``\\n``, ``\\t``, ``\\x1b``, so a name stays on one line and cannot drive the terminal;
* an empty name (or one that is not a string) becomes :data:`EMPTY_NAME` / its ``str()``;
* a name longer than :data:`MAX_NAME_CHARS` is cut there and ends with ``…``.

Pure functions, no imports from the rest of zlprof: the profiler (in the measured child)
and the views both use them.
"""

from __future__ import annotations

#: What ``/`` in a block name becomes (U+2215 DIVISION SLASH).
SLASH_REPLACEMENT = "\u2215"
#: The name given to an empty block name.
EMPTY_NAME = "(unnamed)"
#: Longest block name kept (characters, after escaping).
MAX_NAME_CHARS = 200

_SEPARATOR = "/"


def _is_control(ch: str) -> bool:
    o = ord(ch)
    return o < 0x20 or 0x7F <= o < 0xA0


def _escape(ch: str) -> str:
    special = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return special.get(ch) or f"\\x{ord(ch):02x}"


def is_valid_block_name(name: object) -> bool:
    """Does ``name`` follow the rule as it is (non-empty, printable, no ``/``, not too long)?"""
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME_CHARS
        and _SEPARATOR not in name
        and not any(_is_control(c) for c in name)
    )


def sanitize_block_name(name: object) -> str:
    """``name`` made a valid block name (the module's rule); valid names come back as is."""
    if not isinstance(name, str):
        name = str(name)
    if is_valid_block_name(name):
        return name
    if not name:
        return EMPTY_NAME
    out = "".join(
        SLASH_REPLACEMENT if c == _SEPARATOR else _escape(c) if _is_control(c) else c for c in name
    )
    if len(out) > MAX_NAME_CHARS:
        out = out[: MAX_NAME_CHARS - 1] + "…"
    return out


def display_text(text: str) -> str:
    """Any string (a path from a recording written by another program, a log line) safe
    to show on one line: control characters escaped as in :func:`sanitize_block_name`;
    ``/`` kept (paths are shown with it)."""
    if not any(_is_control(c) for c in text):
        return text
    return "".join(_escape(c) if _is_control(c) else c for c in text)
