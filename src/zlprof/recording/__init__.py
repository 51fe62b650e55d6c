"""Session recordings: ``.zlp`` files hold the stream preamble followed by frames.

Layout (schema 2.x; see protocol.py for the frame header)::

    magic   8 bytes  b"\\x89ZLPROF\\n"
    version 2 x u16  schema major, minor (little-endian; this writer: 2.1)
    frames  zlib-compressed chunks, each holding frames of one process (``stream``);
            per flush window a chunk of the other frames (hello, names, tokens, logs, ...)
            and then a FLAG_BULK chunk of its measurements (as compact ``cmeas`` columns),
            memory samples and costs, so a listing can skip the bulk

Writing. Frames are buffered per stream and written once 1 MiB is pending, the oldest is
two seconds old, or they span two seconds of session time (``FLUSH_*``); ``close`` writes
the rest. Within a window the other frames precede the bulk ones, so a replay may see a
measurement up to two seconds after a token it preceded (a replay sorts them back by
time: :func:`zlprof.replay.in_time_order`); every kind keeps its own order, and
a window's costs frames (increments) are summed into one.
The file is opened unbuffered and every chunk is written whole or not at all: a failed
write (disk full, quota, removed directory, read-only remount) cuts the file back to its
last complete chunk, stops recording and is kept as a typed :class:`WriteFailure`; the
writer never raises after it is open.

Budget. ``max_size`` (default 1 GiB, ``--max-size``; 0 = unlimited) bounds the file: past
it, the writer folds the oldest raw measurement chunks (and any earlier summary) into one
``summary`` chunk per stream (per-op count, total, mean, M2, min, max, memory deltas and
the op's LogHistogram; the memory series, bounded as SessionState bounds it; the summed
costs), keeps every non-bulk frame and the newest raw chunks (half the budget), and
replaces the file atomically (a temporary file, fsync, rename). A session can pass its
budget any number of times: every statistic of the whole session stays (percentiles of
the summarised part come from the histogram, within 0.1 %); raw measurements, and with
them window statistics and exports, start at the summary's ``upto``, which the reader
states as a warning and where a replay starts.

Reading yields every readable frame: after a damaged frame it finds the next good one by
its sync word and checksum, so damage costs the frames it touches, and the result says
which byte ranges were skipped (:class:`~zlprof.protocol.Damage`). Schema 2.0 files (no
compact frames) and 1.x files (no sync word, uncompressed; read up to their first damage)
are read unchanged.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol
from ..protocol import Damage, Frame, ProtocolError, SchemaTooNew

if TYPE_CHECKING:
    from ..session import SessionState

MAGIC = protocol.MAGIC
FILE_HEADER_SIZE = protocol.PREAMBLE_SIZE
SUFFIX = ".zlp"
#: zlib level of recorded chunks (6: 4 % smaller than 1 on the compact columns, at about
#: the same speed; benchmarks/bench_recording_size.py)
COMPRESS_LEVEL = 6


class RecordingError(Exception):
    """A file that cannot be read as a recording (one line, shown to the user)."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def default_sessions_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "zlprof" / "sessions"


def new_session_path(program: str = "workload", directory: Path | None = None) -> Path:
    """A fresh timestamped path in the sessions directory (never an existing file)."""
    d = directory or default_sessions_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in program)[:40] or "session"
    path = d / f"{stamp}-{safe}{SUFFIX}"
    n = 1
    while path.exists():
        n += 1
        path = d / f"{stamp}-{safe}-{n}{SUFFIX}"
    return path


#: Default size budget of a recording (bytes; ``--max-size``; 0 = unlimited).
DEFAULT_MAX_SIZE = 1 << 30
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

_ERRNO_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "file system is read-only",
    errno.ENOENT: "file or its directory removed",
    errno.ESTALE: "file removed",
    errno.EIO: "input/output error",
    errno.EFBIG: "file too large",
}


@dataclass(frozen=True)
class WriteFailure:
    """Why a recording stopped early: the session went on, the file did not."""

    path: Path
    #: short cause: "disk full", "disk quota exceeded", "file system is read-only", ...
    reason: str
    errno: int | None
    #: bytes of the file that hold complete frames (the file ends there)
    bytes_kept: int

    @classmethod
    def from_error(cls, path: Path, exc: OSError, bytes_kept: int) -> WriteFailure:
        reason = _ERRNO_REASONS.get(exc.errno or 0) or (exc.strerror or str(exc)).lower()
        return cls(path, reason, exc.errno, bytes_kept)

    def banner(self) -> str:
        """Short, for the app's status line: ``STOPPED: disk full, 401,234 bytes kept``."""
        return f"STOPPED: {self.reason}, {self.bytes_kept:,} bytes kept"

    def describe(self) -> str:
        """One line: the cause, what was kept, where."""
        code = f" ({errno.errorcode.get(self.errno, self.errno)})" if self.errno else ""
        return (f"recording stopped: {self.reason}{code}; {self.path} keeps the first "
                f"{self.bytes_kept:,} bytes (every frame complete up to then)")


@dataclass
class _Chunk:
    start: int
    end: int
    stream: int
    #: "bulk" (measurements, memory, costs), "other", or "summary" (a compaction's)
    kind: str


class _Pending:
    """Frames of one stream waiting to be written."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.other: list[bytes] = []
        self.bulk: list[bytes] = []
        #: decoded measurement bodies by (tid, has memory columns), in arrival order
        self.meas: dict[tuple[int, bool], list[dict]] = {}
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
    2.1 encoding). ``max_size`` bounds the file (0: unlimited): past it, the oldest raw
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
        level: int = COMPRESS_LEVEL,
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
            bulk += pend.bulk
            if pend.costs:
                bulk.append(protocol.encode_costs(
                    [(pid, c[0], c[1], c[2]) for pid, c in pend.costs.items()])[protocol.HEADER_SIZE:])
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
        return protocol.encode_chunk(content, stream=stream, bulk=bulk, level=self.level)

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


class _Compaction:
    """One compaction's work: read the file's prefix, fold the old raw chunks into
    summaries, write the new file's prefix to a temporary file (any thread)."""

    def __init__(self, path: Path, end: int, nchunks: int, old: list[_Chunk],
                 new: list[_Chunk], level: int) -> None:
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
                put(protocol.encode_chunk(content, stream=stream, level=self.level), stream,
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


def chunk_frames(data: bytes, stream: int, level: int = COMPRESS_LEVEL) -> Iterator[bytes]:
    """Regroup complete frames into compressed chunks, runs of bulk kinds apart (schema
    2.0's recorder; kept for tools that rechunk a stream without the compact encoding)."""
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


@dataclass
class ReadResult:
    frames: list[Frame]
    #: byte offset (in the file) of the frame (chunk) each frame was read from, parallel
    #: to ``frames``
    offsets: list[int]
    #: byte ranges that held no readable frame, in file order
    damage: list[Damage]
    size: int
    #: byte offset just past the last readable frame
    end: int = 0
    schema: tuple[int, int] = protocol.SCHEMA
    ends: list[int] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        """One line on the damage, or None for an intact file."""
        if not self.damage:
            return None
        lost = sum(d.nbytes for d in self.damage)
        first = self.damage[0].describe()
        if len(self.damage) == 1:
            return first
        return f"{len(self.damage)} damaged places, {lost} bytes unread; first: {first}"

    @property
    def truncated(self) -> bool:
        return bool(self.damage) and self.damage[-1].truncated


def check_header(head: bytes, path: Path) -> tuple[int, int]:
    """The schema version of a recording's header; RecordingError when it is none."""
    try:
        return protocol.check_preamble(head)
    except SchemaTooNew as exc:
        raise RecordingError(
            f"{path} uses recording schema {exc.major}.{exc.minor}; this zlprof reads "
            f"{protocol.SCHEMA_MAJOR}.x (upgrade zlprof)", path
        ) from None
    except protocol.NotAStream:
        raise RecordingError(f"{path} is not a zlprof recording", path) from None
    except ProtocolError:
        raise RecordingError(f"{path} is truncated inside its header", path) from None


def open_recording(path: str | os.PathLike[str]) -> bytes:
    """Read a recording's bytes after checking it is one; errors are one-line messages."""
    p = Path(path)
    try:
        if p.is_dir():
            raise RecordingError(f"{p} is a directory, not a recording", p)
        data = p.read_bytes()
    except FileNotFoundError:
        raise RecordingError(f"{p}: no such file", p) from None
    except PermissionError:
        raise RecordingError(f"{p}: permission denied", p) from None
    except OSError as exc:
        raise RecordingError(f"{p}: {exc.strerror or exc}", p) from None
    check_header(data[:FILE_HEADER_SIZE], p)
    return data


def read_data(data: bytes, path: Path | str = "<recording>") -> ReadResult:
    """Every readable frame of a recording's bytes (header checked), damage noted."""
    p = Path(path)
    schema = check_header(data[:FILE_HEADER_SIZE], p)
    try:
        res = protocol.scan(data, FILE_HEADER_SIZE, schema[0])
    except SchemaTooNew as exc:
        raise RecordingError(f"{p}: {exc}", p) from None
    frames: list[Frame] = []
    offsets: list[int] = []
    ends: list[int] = []
    for got in res.parsed:
        frames.extend(got.frames)
        offsets.extend([got.start] * len(got.frames))
        ends.extend([got.end] * len(got.frames))
    return ReadResult(frames, offsets, res.damage, len(data), res.end, schema, ends)


def read_recording(path: str | os.PathLike[str]) -> ReadResult:
    """Every readable frame of a recording, tolerant of damage and a truncated tail."""
    return read_data(open_recording(path), path)


def load_session(path: str | os.PathLike[str], exact_limit: int | None = None):  # noqa: ANN201
    """Read a recording and fold it into a SessionState (warnings kept on the state)."""
    from ..session import SessionState

    res = read_recording(path)
    state = SessionState() if exact_limit is None else SessionState(exact_limit=exact_limit)
    state.ingest_many(res.frames)
    state.warnings.extend(d.describe() for d in res.damage)
    state.source_path = str(path)  # type: ignore[attr-defined]
    return state
