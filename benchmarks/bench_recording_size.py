"""Bytes per measurement of a recording, per format and codec, on the built-in workload.

Runs the built-in workload of each preset at ops depth, captures the frame stream it
sends (the pipe zlprof reads), then writes those frames through each recorder:

* schema 1 (uncompressed single frames, the format of the issue's 25.6 B/measurement);
* schema 2.0 (zlib chunks of what one pipe read delivered; here: one chunk per frame run);
* schema 2.1 (this recorder: compact measurement columns, chunks per flush window), at
  zlib levels 1 and 6, and with zstandard when it is importable (for comparison only);

and prints bytes per measurement, the recorder's encode rate and the reader's decode rate
(read + decompress + expand, no folding) in measurements per second.

Run: python benchmarks/bench_recording_size.py [--presets tiny,small,medium] [--tokens N]
     python benchmarks/bench_recording_size.py FILE.zlp ...   (existing recordings)
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from zlprof import protocol, recording
from zlprof.recording import RecordingWriter, read_recording


def sizes(stream: bytes, tmp: Path) -> dict[str, tuple[int, float, float]]:
    """format -> (bytes, encode seconds, decode seconds) of the frames a child streamed."""
    wires = [protocol.pack_frame(c) for _s, _f, c in protocol.split_frames(stream)]
    frames = protocol.decode_stream(stream)
    out: dict[str, tuple[int, float, float]] = {}
    v1 = sum(8 + len(w) - protocol.HEADER_SIZE for w in wires) + protocol.PREAMBLE_SIZE
    out["schema 1 (uncompressed)"] = (v1, 0.0, 0.0)
    t = time.perf_counter()
    v20 = protocol.PREAMBLE_SIZE + sum(
        len(c) for c in recording.chunk_frames(b"".join(wires), 0)
    )
    out["schema 2.0 (zlib 1 per run)"] = (v20, time.perf_counter() - t, 0.0)
    for level in (1, 6):
        p = tmp / f"l{level}.zlp"
        t = time.perf_counter()
        with RecordingWriter(p, force=True, max_size=0, level=level) as w:
            for x in wires:  # as LiveSource passes them: whatever one pipe read delivered
                w.write_raw(x)
        enc = time.perf_counter() - t
        t = time.perf_counter()
        res = read_recording(p)
        dec = time.perf_counter() - t
        assert sum(f.body["n"] for f in res.frames if f.kind == "meas") == n_meas(frames)
        out[f"schema 2.1 (compact, zlib {level})"] = (p.stat().st_size, enc, dec)
    try:
        import zstandard
    except ImportError:
        return out
    # the same 2.1 chunk contents, compressed with zstandard instead (not a codec here)
    p = tmp / "l1.zlp"
    data = p.read_bytes()
    contents = [raw.content() for raw in protocol.walk(data, protocol.PREAMBLE_SIZE)]
    for lv in (3, 9):
        c = zstandard.ZstdCompressor(level=lv)
        d = zstandard.ZstdDecompressor()
        t = time.perf_counter()
        comp = [c.compress(x) for x in contents]
        enc = time.perf_counter() - t
        t = time.perf_counter()
        for x in comp:
            d.decompress(x)
        dec = time.perf_counter() - t
        total = protocol.PREAMBLE_SIZE + sum(len(x) + protocol.HEADER_SIZE for x in comp)
        out[f"  2.1 content, zstd {lv} (compress only)"] = (total, enc, dec)
        t = time.perf_counter()
        for x in contents:
            zlib.compress(x, 1)
    return out


def n_meas(frames: list[protocol.Frame]) -> int:
    return sum(f.body["n"] for f in frames if f.kind == "meas")


def record(preset: str, tokens: int, requests: int) -> bytes:
    """The raw frame stream the built-in workload sends at ops depth (after its preamble),
    read from its channel as LiveSource reads it (a Unix socket: zlprof answers the
    connection with the preamble, then the process streams)."""
    cmd = [sys.executable, "-m", "zlprof.workload", "--preset", preset, "--profile-depth",
           "ops", "--requests", str(requests), "--max-tokens", str(tokens)]
    with tempfile.TemporaryDirectory() as d:
        address = os.path.join(d, "channel")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(address)
        srv.listen(1)
        env = dict(os.environ, ZLPROF_SOCKET=address)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        srv.settimeout(60)
        conn, _ = srv.accept()
        srv.close()
        conn.sendall(protocol.preamble())
        parts = []
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            parts.append(b)
        conn.close()
        proc.wait()
    data = b"".join(parts)
    protocol.check_preamble(data[: protocol.PREAMBLE_SIZE])
    return data[protocol.PREAMBLE_SIZE :]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="*")
    ap.add_argument("--presets", default="tiny,small,medium")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--requests", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.files:
            streams = {}
            for f in args.files:  # a recording's frames, re-encoded as single frames
                frames = read_recording(f).frames
                streams[Path(f).stem] = b"".join(
                    protocol.encode_frame(fr.kind, _bytes(fr.body)) for fr in frames)
        else:
            streams = {p: record(p, args.tokens, args.requests) for p in args.presets.split(",")}
        for name, stream in streams.items():
            frames = protocol.decode_stream(stream)
            n = n_meas(frames)
            start = next(fr.body["start_ns"] for fr in frames if fr.kind == "hello")
            last = max(int(fr.body["t1"].max()) for fr in frames if fr.kind == "meas" and fr.body["n"])
            secs = max(1e-9, (last - start) / 1e9)
            print(f"{name}: {n:,} measurements over {secs:.1f} s ({n / secs:,.0f}/s)")
            for fmt_name, (size, enc, dec) in sizes(stream, tmp).items():
                rate = f"  encode {n / enc / 1e6:5.2f} M/s" if enc else ""
                rate += f"  read {n / dec / 1e6:5.2f} M/s" if dec else ""
                print(f"  {fmt_name:38s} {size / n:6.2f} B/meas  {size / secs * 3600 / 1e6:8.1f} MB/h"
                      f"{rate}")


def _bytes(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tobytes()
    if isinstance(v, dict):
        return {k: _bytes(x) for k, x in v.items()}
    return v


if __name__ == "__main__":
    main()
