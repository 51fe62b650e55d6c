"""Compaction: folding old raw measurement chunks into per-stream summaries.

:class:`_Compaction` reads a file's prefix and writes the compacted prefix to a temporary
file (the writer, :mod:`.writer`, swaps it in); :func:`summary_content` encodes a
SessionState as a summary chunk; :func:`chunk_frames` regroups frames into chunks. No
buffering or file replacement here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol
from .files import recorded_chunk

if TYPE_CHECKING:
    from ..session import SessionState


@dataclass
class _Chunk:
    start: int
    end: int
    stream: int
    #: "bulk" (measurements, memory, costs), "other", or "summary" (a compaction's)
    kind: str


class _Compaction:
    """One compaction's work: read the file's prefix, fold the old raw chunks into
    summaries, write the new file's prefix to a temporary file (any thread)."""

    def __init__(self, path: Path, end: int, nchunks: int, old: list[_Chunk],
                 new: list[_Chunk], level: int | None) -> None:
        self.path = path
        self.tmp = path.with_name(path.name + ".compacting")
        self.end = end
        self.nchunks = nchunks
        self.old = old
        self.new = new
        self.level = level
        self.thread: threading.Thread | None = None
        self.chunks: list[_Chunk] = []
        self.size = 0
        self.folded = 0
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self._run()
        except OSError as exc:
            self.error = exc

    def _run(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read(self.end)
        summaries, self.folded = _summarise(data, [c for c in self.old if c.kind != "other"])
        mv = memoryview(data)
        with open(self.tmp, "wb") as out:
            pos = out.write(protocol.preamble())

            def put(blob: bytes | memoryview, stream: int, kind: str) -> None:
                nonlocal pos
                out.write(blob)
                self.chunks.append(_Chunk(pos, pos + len(blob), stream, kind))
                pos += len(blob)

            for c in self.old:
                if c.kind == "other":
                    put(mv[c.start : c.end], c.stream, "other")
            for stream, content in summaries.items():
                put(recorded_chunk(content, stream, False, self.level), stream,
                    "summary")
            for c in self.new:
                put(mv[c.start : c.end], c.stream, c.kind)
        self.size = pos

    def discard(self) -> None:
        try:
            self.tmp.unlink()
        except OSError:
            pass


def _summarise(data: bytes, chunks: list[_Chunk]) -> tuple[dict[int, bytes], int]:
    """The content of one summary chunk per stream for the bulk and summary chunks given
    (the previous summary folded with the raw measurements after it), and how many
    measurements it summarises in all."""
    from ..session import SessionState

    states: dict[int, SessionState] = {}
    mv = memoryview(data)
    for c in chunks:
        raw = protocol.check_frame(mv, c.start)
        assert raw is not None
        st = states.get(c.stream)
        if st is None:
            st = states[c.stream] = SessionState()
        st.ingest_many(raw.decode().frames)
    out: dict[int, bytes] = {}
    total = 0
    for stream, st in states.items():
        out[stream] = summary_content(st)
        total += st.measurements
    return out, total


def summary_content(st: SessionState) -> bytes:
    """A summary frame, the memory series and the costs of ``st``, as chunk content."""
    rows = []
    for pid, acc in sorted(st.ops.items()):
        m = acc.moments
        if m.n == 0:
            continue
        buckets, counts = acc.histogram_buckets()
        rows.append([pid, m.n, m.total, m.mean, m.m2, m.lo, m.hi, acc.mem_allocated,
                     acc.mem_delta, acc.mem_peak, acc.last_t1, buckets, counts])
    parts = [protocol.encode_summary(upto=st.last_ns, first=st.first_ns or 0,
                                     n=st.measurements, ops=rows)]
    mem = st.memory_series()
    if len(mem.get("t", ())):
        gauges = {k: v.tolist() for k, v in mem.items() if k not in ("t", "rss", "traced")}
        parts.append(protocol.encode_memory(
            mem["t"].tolist(), mem["rss"].tolist(), mem["traced"].tolist(), gauges
        )[protocol.HEADER_SIZE:])
    if st.costs:
        parts.append(protocol.encode_costs(
            [(pid, c[0], c[1], c[2]) for pid, c in sorted(st.costs.items())])[protocol.HEADER_SIZE:])
    return b"".join(parts)


def chunk_frames(data: bytes, stream: int, level: int = 1) -> Iterator[bytes]:
    """Regroup complete frames into zlib-compressed chunks, runs of bulk kinds apart
    (schema 2.0's recorder; kept for tools that rechunk a stream without the compact
    encoding)."""
    run: list[bytes] = []
    run_bulk = False
    for _s, flags, content in protocol.split_frames(data):
        if flags & protocol.FLAG_CHUNK:
            bulk = bool(flags & protocol.FLAG_BULK)
        else:
            bulk = protocol.payload_kind(content) in protocol.BULK_KINDS
        if run and bulk != run_bulk:
            yield protocol.encode_chunk(b"".join(run), stream=stream, bulk=run_bulk, level=level)
            run = []
        run.append(content)
        run_bulk = bulk
    if run:
        yield protocol.encode_chunk(b"".join(run), stream=stream, bulk=run_bulk, level=level)

