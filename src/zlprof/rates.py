"""The one definition of each throughput rate, each labelled with what it divides.

=================  ===============================================================
rate               what it divides
=================  ===============================================================
decode             decode tokens / decode time: the tokens after each request's
                   first one, over the time from a request's first token to its
                   last (the union of those spans: overlapping requests of a
                   batch count once, gaps between batches not at all)
generation         output tokens / request time: every token, over the time from
                   a request's start to its last token (the union of those spans,
                   so prefill counts, start-up and idle time do not)
end-to-end         output tokens / session wall time: from the child's start (its
                   hello) to the last event, model loading included
recent             output tokens in the last N seconds / N seconds (the live
                   header; N = 10, or the session if it is shorter)
=================  ===============================================================

Every view (the text, JSON and Markdown reports, ``zlprof diff``, ``zlprof sessions``,
the app's header and compare screen) takes its rates from here. This module imports
nothing but the standard library so the child (``zlprof.workload``) may use it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NS_PER_S = 1e9

#: key -> (short name, what it divides)
DEFINITIONS: dict[str, tuple[str, str]] = {
    "decode_tokens_per_s": ("decode", "decode tokens / decode time"),
    "generation_tokens_per_s": ("generation", "output tokens / request time"),
    "end_to_end_tokens_per_s": ("end-to-end", "output tokens / wall time"),
    "recent_tokens_per_s": ("recent", "output tokens / last {window:g} s"),
}
#: the window of the recent rate (the live header)
RECENT_WINDOW_S = 10.0


def per_second(count: float, ns: float) -> float | None:
    """``count`` per second of ``ns`` nanoseconds; None for an empty span."""
    return count / (ns / NS_PER_S) if ns > 0 else None


@dataclass(frozen=True)
class Rate:
    """One rate with what it divides: ``value = count / seconds``."""

    key: str
    count: int
    seconds: float
    window_s: float | None = None

    @property
    def name(self) -> str:
        return DEFINITIONS[self.key][0]

    @property
    def divides(self) -> str:
        return DEFINITIONS[self.key][1].format(window=self.window_s or RECENT_WINDOW_S)

    @property
    def value(self) -> float | None:
        return per_second(self.count, self.seconds * NS_PER_S)

    def text(self) -> str:
        """``370.4 tok/s decode (decode tokens / decode time)``; ``-`` without a span."""
        v = self.value
        num = "-" if v is None else f"{v:.1f}"
        return f"{num} tok/s {self.name} ({self.divides})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "divides": self.divides,
            "count": self.count,
            "seconds": self.seconds,
        }


class SpanUnion:
    """Total length of the union of ``[start, end]`` spans added roughly in time order.

    Spans are merged into the current run while they overlap it; a span starting after
    the run closes it. A span wholly before the current run is counted on its own (it
    may then overlap an older, already closed run: not the case for request spans, which
    end in time order within a few requests).
    """

    __slots__ = ("closed", "cur")

    def __init__(self) -> None:
        self.closed = 0
        self.cur: tuple[int, int] | None = None

    def add(self, start: int, end: int) -> None:
        if end <= start:
            return
        if self.cur is None:
            self.cur = (start, end)
            return
        cs, ce = self.cur
        if start > ce:
            self.closed += ce - cs
            self.cur = (start, end)
        elif end < cs:
            self.closed += end - start
        else:
            self.cur = (min(cs, start), max(ce, end))

    def length(self, open_spans: Iterable[tuple[int, int]] = ()) -> int:
        """The union's length, with ``open_spans`` (requests still running) added."""
        extra = sorted(s for s in open_spans if s[1] > s[0])
        if not extra:
            return self.closed + (self.cur[1] - self.cur[0] if self.cur else 0)
        u = SpanUnion()
        u.closed, u.cur = self.closed, self.cur
        for s, e in extra:
            u.add(s, e)
        return u.length()


# --------------------------------------------------------------------------- of a session


def decode_rate(state: Any) -> Rate:
    """Decode tokens / decode time (see the module doc)."""
    with state.lock:
        ns = state.decode_spans.length(state.open_spans("decode"))
        return Rate("decode_tokens_per_s", state.tokens_decode, ns / NS_PER_S)


def generation_rate(state: Any) -> Rate:
    """Output tokens / request time (see the module doc)."""
    with state.lock:
        ns = state.request_spans.length(state.open_spans("request"))
        return Rate("generation_tokens_per_s", state.tokens_total, ns / NS_PER_S)


def end_to_end_rate(state: Any) -> Rate:
    """Output tokens / session wall time (since the reset, if the view was reset)."""
    with state.lock:
        return Rate("end_to_end_tokens_per_s", state.tokens_total, state.wall_ns / NS_PER_S)


def recent_rate(state: Any, window_s: float = RECENT_WINDOW_S) -> Rate:
    """Output tokens in the last ``window_s`` seconds / that window (the live header)."""
    with state.lock:
        since = state.last_ns - int(window_s * NS_PER_S)
        n = sum(1 for t in state.token_times if t >= since)
        span = min(window_s * NS_PER_S, state.wall_ns)
        return Rate("recent_tokens_per_s", n, span / NS_PER_S, window_s)


def session_rates(state: Any) -> list[Rate]:
    """The rates a report shows, in order: decode, generation, end-to-end."""
    return [decode_rate(state), generation_rate(state), end_to_end_rate(state)]
