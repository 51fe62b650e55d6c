"""The zlprof wire format: versioned, synchronised, checksummed msgpack frames.

One schema serves every channel a measuring process streams on and the recording file:
a stream is a 12-byte preamble (the recording file header: magic and schema version)
followed by frames, and a recording is one such stream into which the recorder has
merged the streams of every process of the session.

Framing (schema 2.x, all little-endian)::

    frame   = sync:4  flags:u8  codec:u8  reserved:u16  stream:u32  length:u32  crc32:u32
              payload[length]
    sync    = b"\\xa7ZLF"
    crc32   = zlib CRC-32 of the header's first 16 bytes followed by the stored payload
    payload = codec-compressed (codec 0: none, 1: zlib, 2: zstd (2.2)) content
    content = one msgpack array [kind:str, body:map], or with FLAG_CHUNK several of them
              concatenated

``stream`` names the measuring process the frames came from: a process writes 0 on its
own channel; the recorder writes the id it gave the channel (0 is the session itself:
zlprof's own frames such as the child's output lines and the end frame). ``FLAG_BULK``
marks a chunk that holds only measurement, memory and cost frames, so a listing may skip
decoding it. A frame is complete only when its whole payload has arrived and its
checksum matches; the sync word and the checksum let a reader find the next good frame
after damage (:func:`scan`), so one flipped byte costs one frame, not the rest of a file.

Schema 2.1 adds two kinds that only a recording holds: ``cmeas`` (inside a chunk:
consecutive ``meas`` frames of one thread as narrowed, byte-shuffled columns of path ids,
gaps and durations; the reader expands it back into the same ``meas`` frames, bit for
bit) and ``summary`` (a bounded recording's per-op statistics of the raw measurements it
dropped, described in kinds.py). Schema 2.2 (what the recorder writes; a live channel is
the same as 2.0) writes ``cmeas2`` instead of ``cmeas`` (an enclosing record's start as a
small offset from its first leaf's instead of its whole duration) and adds ``cmem`` and
``ccosts`` (memory samples and costs rows as columns); all are described in compact.py and
expand into the frames they replace. A 2.0 reader refuses nothing but skips the compact
kinds and ``summary``; a 2.1 reader skips the 2.2 kinds; a 2.2 reader reads 2.1, 2.0 and
1.x files unchanged.

Schema 1.x (recordings made before the sync word) used ``length:u32 crc32:u32`` headers
over uncompressed single frames; :func:`scan` still reads them (stopping at damage, as
they have no sync word).

Frame kinds:

``hello``   schema [major, minor], pid, ppid (2.0), argv, python, numpy, platform,
            start_ns (the process's ``perf_counter_ns`` clock at start; CLOCK_MONOTONIC,
            shared by every process of the machine), wall_time (Unix seconds at
            start_ns), config, start (2.0: how the process began: "exec", "fork",
            "spawn", "forkserver")
``meta``    config: map merged into the session's workload config (sent once it is known)
``names``   paths: list of [path_id, parent_path_id, name]; path 0 is the root; path ids
            are the sending process's own
``threads`` (2.0) rows of [tid, name]: a thread's name, sent before its first records
``meas``    tid, n, path (int32 x n), t0, t1 (int64 x n, ns) and, when memory readings are
            on, m0, m1 (int64 x n, bytes at block start / end), all packed little-endian
``mem``     t, rss, traced (int64 columns; traced is -1 when not tracing) and gauges:
            {name: int64 column} (e.g. kv_cache_bytes); names beginning ``zlprof.`` are
            the sampler's CPU readings (profiler/cpu.py: run, wait, steal, idle, total
            ns and the reference loop), -1 where not read
``tokens``  rows of [t_ns, request, index, phase, piece] (phase "prefill" or "decode")
``costs``   rows of [path_id, calls, flops, bytes]: increments since the previous frame
``log``     t, level, msg
``proc``    (2.0, stream 0 only) a process of the tree: stream, pid, ppid, argv, event
            ("start" | "exit"), status (exit code, negative signal number, or None when
            unknown), reason
``bye``     (2.1) t, reason: the process's last frame on its own channel, sent when its
            profiler closes (atexit, multiprocessing's exit path, SIGTERM): everything it
            measured has been sent. A channel that ends without it ended abruptly.
``end``     status (exit code, or negative signal number), reason, argv (optional: the
            command zlprof ran; names a program that never measured)
``summary`` (2.1, recordings only) upto, first, n, ops: see kinds.py
``cmeas``   (2.1, inside chunks only) expands into ``meas`` frames: see compact.py
``cmeas2``  (2.2, inside chunks only) expands into ``meas`` frames: see compact.py
``cmem``    (2.2, inside chunks only) expands into ``mem`` frames: see compact.py
``ccosts``  (2.2, inside chunks only) expands into a ``costs`` frame: see compact.py

Frames of an unknown kind are skipped (a newer minor version may add kinds); a newer major
version is refused (:class:`SchemaTooNew`). Decoding untrusted bytes raises only
:class:`ProtocolError`.
"""

# The package's modules, in dependency order: framing (bytes: preamble, header, checksum,
# codec, errors, Frame), kinds (encode_* and body validation, the summary kind), compact
# (the recordings' compact kinds), decoding (payloads, chunks, FrameDecoder), scanning
# (damaged recordings). Every public name of zlprof.protocol from before it became a
# package is importable from here, and so is ``_validate`` (tests patch it: in
# zlprof.protocol.decoding, where it is looked up).

from .compact import (
    COMPACT2_KIND,
    COMPACT_KIND,
    COSTS_KIND,
    MEM_KIND,
    decode_compact,
    encode_compact,
    encode_compact_21,
    encode_costs_compact,
    encode_memory_compact,
    mem_key,
)
from .decoding import (
    FrameDecoder,
    Parsed,
    RawFrame,
    check_frame,
    decode_content,
    decode_payload,
    decode_stream,
    parse_frame,
)
from .framing import (
    CODEC_NONE,
    CODEC_ZLIB,
    CODEC_ZSTD,
    CODECS,
    FLAG_BULK,
    FLAG_CHUNK,
    HEADER,
    HEADER_SIZE,
    HEADER_V1,
    MAGIC,
    MAX_FRAME,
    MAX_RECORDS,
    PREAMBLE,
    PREAMBLE_SIZE,
    SCHEMA,
    SCHEMA_MAJOR,
    SCHEMA_MINOR,
    SYNC,
    Frame,
    NotAStream,
    ProtocolError,
    SchemaTooNew,
    check_preamble,
    encode_chunk,
    encode_frame,
    pack_frame,
    payload_kind,
    preamble,
    split_frames,
)
from .kinds import (
    BULK_KINDS,
    KINDS,
    SUMMARY_KIND,
    _validate,
    encode_bye,
    encode_costs,
    encode_end,
    encode_hello,
    encode_log,
    encode_measurements,
    encode_memory,
    encode_meta,
    encode_names,
    encode_proc,
    encode_summary,
    encode_threads,
    encode_tokens,
)
from .scanning import Damage, ScanResult, scan, walk

__all__ = [
    "BULK_KINDS",
    "check_frame",
    "check_preamble",
    "CODEC_NONE",
    "CODEC_ZLIB",
    "CODEC_ZSTD",
    "CODECS",
    "COMPACT2_KIND",
    "COMPACT_KIND",
    "COSTS_KIND",
    "Damage",
    "decode_compact",
    "decode_content",
    "decode_payload",
    "decode_stream",
    "encode_bye",
    "encode_chunk",
    "encode_compact",
    "encode_compact_21",
    "encode_costs_compact",
    "encode_memory_compact",
    "encode_costs",
    "encode_end",
    "encode_frame",
    "encode_hello",
    "encode_log",
    "encode_measurements",
    "encode_memory",
    "encode_meta",
    "encode_names",
    "encode_proc",
    "encode_summary",
    "encode_threads",
    "encode_tokens",
    "FLAG_BULK",
    "FLAG_CHUNK",
    "Frame",
    "FrameDecoder",
    "HEADER",
    "HEADER_SIZE",
    "HEADER_V1",
    "KINDS",
    "MAGIC",
    "MAX_FRAME",
    "MAX_RECORDS",
    "mem_key",
    "MEM_KIND",
    "NotAStream",
    "pack_frame",
    "parse_frame",
    "Parsed",
    "payload_kind",
    "PREAMBLE",
    "preamble",
    "PREAMBLE_SIZE",
    "ProtocolError",
    "RawFrame",
    "scan",
    "ScanResult",
    "SCHEMA",
    "SCHEMA_MAJOR",
    "SCHEMA_MINOR",
    "SchemaTooNew",
    "split_frames",
    "SUMMARY_KIND",
    "SYNC",
    "_validate",
    "walk",
]
