"""Session recordings: ``.zlp`` files hold the stream preamble followed by frames.

Layout (schema 2.x; see protocol.py for the frame header)::

    magic   8 bytes  b"\\x89ZLPROF\\n"
    version 2 x u16  schema major, minor (little-endian; this writer: 2.2)
    frames  zstd-compressed chunks (2.0, 2.1: zlib), each holding frames of one process (``stream``);
            per flush window a chunk of the other frames (hello, names, tokens, logs, ...)
            and then a FLAG_BULK chunk of its measurements, memory samples and costs (as
            the compact ``cmeas2``, ``cmem`` and ``ccosts`` columns), so a listing can skip
            the bulk

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
which byte ranges were skipped (:class:`~zlprof.protocol.Damage`). Schema 2.1 files
(``cmeas``), 2.0 files (no compact frames) and 1.x files (no sync word, uncompressed; read
up to their first damage) are read unchanged.

The package: :mod:`.files` (constants, errors, session paths), :mod:`.writer` (buffering,
budget), :mod:`.compaction` (summaries), :mod:`.reader` (reading, ``load_session``).
"""

from __future__ import annotations

from .compaction import chunk_frames, summary_content
from .files import (
    COMPRESS_LEVEL,
    DEFAULT_MAX_SIZE,
    FILE_HEADER_SIZE,
    MAGIC,
    SUFFIX,
    RecordingError,
    WriteFailure,
    default_sessions_dir,
    new_session_path,
)
from .reader import (
    ReadResult,
    check_header,
    load_session,
    open_recording,
    read_data,
    read_recording,
)
from .writer import FLUSH_BYTES, FLUSH_S, FLUSH_SPAN_NS, KEEP_SHARE, RecordingWriter

__all__ = [
    "COMPRESS_LEVEL", "DEFAULT_MAX_SIZE", "FILE_HEADER_SIZE", "FLUSH_BYTES", "FLUSH_S",
    "FLUSH_SPAN_NS", "KEEP_SHARE", "MAGIC", "SUFFIX", "ReadResult", "RecordingError",
    "RecordingWriter", "WriteFailure", "check_header", "chunk_frames", "default_sessions_dir",
    "load_session", "new_session_path", "open_recording", "read_data", "read_recording",
    "summary_content",
]
