"""The recording writer: buffering frames per stream, writing chunks, the size budget.

:class:`RecordingWriter` buffers frames (``FLUSH_*``), writes compressed chunks whole or
not at all, and starts a compaction (:mod:`.compaction`) when the file passes its budget.
It does not read recordings (:mod:`.reader`).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .. import protocol
from .compaction import _Chunk, _Compaction
from .files import (
    DEFAULT_MAX_SIZE,
    FILE_HEADER_SIZE,
    RecordingError,
    WriteFailure,
    recorded_chunk,
)

#: Frames are buffered per stream and written as one chunk once this much content is
#: pending or the oldest pending frame is ``FLUSH_S`` old (a crash of zlprof itself loses
#: at most that; a crashing child loses nothing: the writer is closed, which flushes).
FLUSH_BYTES = 1 << 20
FLUSH_S = 2.0
#: ... or once the pending frames span this much session time (a chunk pair holds the
#: measurements and the other frames of a window apart, so a replay sees them at most
#: this far out of order)
FLUSH_SPAN_NS = 2_000_000_000
#: A compaction keeps the newest raw measurement chunks up to this share of the budget.
KEEP_SHARE = 0.5


class _Pending:
    """Frames of one stream waiting to be written."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.other: list[bytes] = []
        self.bulk: list[bytes] = []
        #: decoded measurement bodies by (tid, has memory columns), in arrival order
        self.meas: dict[tuple[int, bool], list[dict]] = {}
        #: decoded memory bodies, in runs of the same gauges
        self.mem: list[tuple[tuple[str, ...], list[dict]]] = []
        self.mem_raw = False
        #: costs increments summed per path id (first appearance order)
        self.costs: dict[int, list[int]] = {}
        self.nbytes = 0
        self.t_lo: int | None = None
        self.t_hi: int | None = None

    def see(self, t: int) -> None:
        if self.t_lo is None or t < self.t_lo:
            self.t_lo = t
        if self.t_hi is None or t > self.t_hi:
            self.t_hi = t

    @property
    def span(self) -> int:
        return 0 if self.t_lo is None or self.t_hi is None else self.t_hi - self.t_lo


class RecordingWriter:
    """Appends frames to a new ``.zlp`` file; never overwrites unless ``force``.

    ``write_raw`` takes complete frames as a live channel delivered them; they are
    buffered per stream and written as compressed chunks (measurements in the compact
    2.2 encodings). ``max_size`` bounds the file (0: unlimited): past it, the oldest raw
    measurement chunks are folded into a ``summary`` (per-op statistics, memory series,
    costs) and the file is rewritten (:meth:`compact`). A write that fails (disk full,
    quota, removed directory, read-only remount) never raises: the file is cut back to its
    last complete chunk, recording stops and ``failure`` says why.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        force: bool = False,
        max_size: int = DEFAULT_MAX_SIZE,
        *,
        level: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self.path = Path(path)
        if max_size < 0:
            raise ValueError("max_size must be >= 0")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            mode = "wb" if force else "xb"
            self._f = open(self.path, mode, buffering=0)  # noqa: SIM115
            self._write(protocol.preamble())
        except FileExistsError:
            raise RecordingError(
                f"{self.path} already exists (use --force to overwrite)", self.path
            ) from None
        except OSError as exc:
            raise RecordingError(
                f"cannot write {self.path}: {exc.strerror or exc}", self.path
            ) from None
        self.max_size = max_size
        self.level = level
        self._clock = clock
        self.bytes_written = FILE_HEADER_SIZE
        self.closed = False
        self.failure: WriteFailure | None = None
        #: compactions so far, and the raw measurements they folded into summaries
        self.compactions = 0
        self.measurements_summarised = 0
        self._chunks: list[_Chunk] = []
        self._pending: dict[int, _Pending] = {}
        self._pending_bytes = 0
        self._next_compact = self._threshold(max_size, background)
        #: compactions run in a background thread (a live channel never waits for one)
        self.background = background
        self._job: _Compaction | None = None

    # ------------------------------------------------------------------ writing

    def write_raw(self, data: bytes, stream: int = 0) -> None:
        """Buffer complete, validated frames (as a live channel delivered them) of
        ``stream``; write them out as chunks once enough is pending (or old enough)."""
        if self.closed or not data:
            return
        now = self._clock()
        pend = self._pending.get(stream)
        if pend is None:
            pend = self._pending[stream] = _Pending(now)
        for _s, flags, content in protocol.split_frames(data):
            size = len(content)
            if flags & protocol.FLAG_CHUNK:
                (pend.bulk if flags & protocol.FLAG_BULK else pend.other).append(content)
            else:
                kind = protocol.payload_kind(content)
                if kind == "meas":
                    fr = protocol.decode_payload(content)
                    assert fr is not None
                    key = (int(fr.body["tid"]), "m0" in fr.body)
                    pend.meas.setdefault(key, []).append(fr.body)
                    if fr.body["n"]:
                        pend.see(int(fr.body["t1"][-1]))
                elif kind == "costs":
                    # increments: a window's sum is what any reader keeps of them
                    fr = protocol.decode_payload(content)
                    for pid, calls, flops, nbytes in fr.body["rows"] if fr is not None else ():
                        c = pend.costs.setdefault(pid, [0, 0, 0])
                        c[0] += calls
                        c[1] += flops
                        c[2] += nbytes
                elif kind == "mem":
                    fr = protocol.decode_payload(content)
                    names = protocol.mem_key(fr.body) if fr is not None else None
                    if fr is None or names is None or pend.mem_raw:
                        pend.bulk.append(content)  # (and the rest after it: in order)
                        pend.mem_raw = True
                    else:  # consecutive samples with the same gauges: one cmem record
                        if not pend.mem or pend.mem[-1][0] != names:
                            pend.mem.append((names, []))
                        pend.mem[-1][1].append(fr.body)
                elif kind in protocol.BULK_KINDS:
                    pend.bulk.append(content)
                else:
                    pend.other.append(content)
                    if kind == "tokens":
                        fr = protocol.decode_payload(content)
                        for row in fr.body["rows"] if fr is not None else ():
                            pend.see(int(row[0]))
            pend.nbytes += size
            self._pending_bytes += size
        oldest = min(p.since for p in self._pending.values())
        if (self._pending_bytes >= FLUSH_BYTES or now - oldest >= FLUSH_S
                or pend.span >= FLUSH_SPAN_NS):
            self.flush()

    def flush(self) -> None:
        """Write every pending frame out now (one or two chunks per stream)."""
        if self.closed or not self._pending:
            return
        pending, self._pending = self._pending, {}
        self._pending_bytes = 0
        if not self._still_there():
            return
        for stream, pend in pending.items():
            if self.failure is not None:
                return
            if pend.other:
                self._append(self._chunk(b"".join(pend.other), stream, False), stream, "other")
            bulk = [protocol.encode_compact(bodies) for bodies in pend.meas.values()]
            bulk += [protocol.encode_memory_compact(bodies) for _, bodies in pend.mem]
            bulk += pend.bulk
            if pend.costs:
                rows = [(pid, c[0], c[1], c[2]) for pid, c in pend.costs.items()]
                bulk.append(protocol.encode_costs_compact(rows)
                            or protocol.encode_costs(rows)[protocol.HEADER_SIZE:])
            if bulk and self.failure is None:
                self._append(self._chunk(b"".join(bulk), stream, True), stream, "bulk")
        if self._job is not None:
            self._install(block=False)
        if self.failure is None and self.max_size and self.bytes_written > self._next_compact:
            self.compact()

    @staticmethod
    def _threshold(budget: int, background: bool) -> int:
        """Size that starts a compaction: the budget itself inline; in the background,
        three quarters of it, so the file stays within it while the compaction runs."""
        return budget * 3 // 4 if background else budget

    def _still_there(self) -> bool:
        """Is the file still at its path? (Writes to a removed file or directory succeed
        on POSIX, into a file nobody can open: that is a failure too.)"""
        try:
            st = os.stat(self.path)
            mine = os.fstat(self._f.fileno())
            if (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                return True
        except OSError:
            pass
        self.bytes_written = 0  # nothing is kept at the path
        self._fail(OSError(errno.ENOENT, os.strerror(errno.ENOENT)))
        return False

    def _chunk(self, content: bytes, stream: int, bulk: bool) -> bytes:
        return recorded_chunk(content, stream, bulk, self.level)

    def _write(self, blob: bytes) -> None:
        view = memoryview(blob)
        while view:
            n = self._f.write(view)
            if n is None:  # non-blocking file: not ours, but never spin
                raise OSError(errno.EAGAIN, "write would block")
            view = view[n:]

    def _append(self, blob: bytes, stream: int, kind: str) -> None:
        try:
            self._write(blob)
        except OSError as exc:
            self._fail(exc)
            return
        start = self.bytes_written
        self.bytes_written += len(blob)
        self._chunks.append(_Chunk(start, self.bytes_written, stream, kind))

    def _fail(self, exc: OSError) -> None:
        """Stop recording: cut the file back to its last complete chunk, say why."""
        self.failure = WriteFailure.from_error(self.path, exc, self.bytes_written)
        self._pending.clear()
        self._pending_bytes = 0
        try:
            os.ftruncate(self._f.fileno(), self.bytes_written)
        except (OSError, ValueError):
            pass  # a read-only remount: the reader reports the partial tail as truncated
        self.closed = True
        try:
            self._f.close()
        except OSError:
            pass

    def close(self) -> None:
        if self.closed:
            job, self._job = self._job, None
            if job is not None:
                if job.thread is not None:
                    job.thread.join()
                job.discard()
            return
        self.flush()
        if self._job is not None:
            self._install()
        if self.failure is None and self.max_size and self.bytes_written > self.max_size:
            self.compact(wait=True)  # a closed recording is within its budget
        if self.closed:  # the flush failed
            return
        self.closed = True
        try:
            os.fsync(self._f.fileno())
        except OSError:
            pass
        try:
            self._f.close()
        except OSError as exc:
            self.closed = False
            self._fail(exc)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ compaction

    def compact(self, wait: bool | None = None) -> bool:
        """Fold the oldest raw measurement chunks into summaries so the newest ones fill
        at most ``KEEP_SHARE`` of the budget, and rewrite the file (atomically).

        The folding and copying run in a background thread (``wait=False``, the default
        of a writer made with ``background=True``) while writes go on appending; the next
        write (or ``close``) installs the result: it copies what was appended meanwhile
        and renames the new file over the old. False when there was nothing to fold (no
        retry then before the file grows by a quarter of the budget) or a compaction is
        already running.
        """
        if self._job is not None or self.closed:
            return False
        budget = self.max_size
        keep = int(budget * KEEP_SHARE)
        chunks = self._chunks
        kept_bulk = 0
        cut = len(chunks)
        for i in range(len(chunks) - 1, -1, -1):
            c = chunks[i]
            if c.kind == "bulk":
                if kept_bulk + (c.end - c.start) > keep:
                    break
                kept_bulk += c.end - c.start
            elif c.kind == "summary":
                break
            cut = i
        old, new = chunks[:cut], chunks[cut:]
        if not any(c.kind == "bulk" for c in old):
            self._next_compact = self.bytes_written + max(1, budget // 4)
            return False
        job = _Compaction(self.path, self.bytes_written, len(chunks), old, new, self.level)
        self._job = job
        if not (self.background if wait is None else not wait):
            job.run()
            self._install()
            return True
        job.thread = threading.Thread(target=job.run, name="zlprof-compact", daemon=True)
        job.thread.start()
        return True

    def _install(self, block: bool = True) -> None:
        """Put a finished compaction's file in place (appending what came meanwhile)."""
        job = self._job
        if job is None:
            return
        if job.thread is not None:
            if not block and job.thread.is_alive():
                return
            job.thread.join()
        self._job = None
        if self.failure is not None:
            job.discard()
            return
        if job.error is not None:
            job.discard()
            self._fail(job.error)
            return
        tail = self._chunks[job.nchunks :]
        try:
            with open(self.path, "rb") as f:
                f.seek(job.end)
                rest = f.read(self.bytes_written - job.end)
            with open(job.tmp, "ab") as out:
                out.write(rest)
                out.flush()
                os.fsync(out.fileno())
            os.replace(job.tmp, self.path)
        except OSError as exc:
            job.discard()
            self._fail(exc)
            return
        shift = job.size - job.end
        chunks = job.chunks + [_Chunk(c.start + shift, c.end + shift, c.stream, c.kind)
                               for c in tail]
        size = job.size + len(rest)
        try:
            self._f.close()
        except OSError:
            pass
        try:
            self._f = open(self.path, "ab", buffering=0)  # noqa: SIM115
        except OSError as exc:
            self.bytes_written = size
            self._fail(exc)
            return
        self._chunks = chunks
        self.bytes_written = size
        self.compactions += 1
        self.measurements_summarised = job.folded
        self._next_compact = max(self._threshold(self.max_size, self.background),
                                 size + max(1, self.max_size // 4))

