"""Bytes per measurement of a recording, per format and codec, on the built-in workload.

Runs the built-in workload of each preset at ops depth, captures the frame stream it
sends (the socket zlprof reads), then writes those frames through each recorder:

* schema 1 (uncompressed single frames, the format of the issue's 25.6 B/measurement);
* schema 2.0 (zlib chunks of what one pipe read delivered; here: one chunk per frame run);
* schema 2.1 (compact ``cmeas`` columns, chunks per flush window, zlib 6): this
  recorder's flush windows with their content re-encoded as the 2.1 recorder wrote it;
* schema 2.2 (this recorder: ``cmeas2``/``cmem``/``ccosts`` columns, zstd 15 up to
  128 KiB of content and 9 above), and its content under other codecs and levels (for
  comparison: zlib 6 and 9, zstd 9, 15 and 19 on every chunk);

and prints bytes per measurement, MB per hour of measuring at the rate the run measured,
the encode rate (the recorder, or the compressor alone) and the read rate (read +
decompress + expand, no folding; for the codec rows decompression alone) in measurements
per second.

Run: python benchmarks/bench_recording_size.py [--presets tiny,small,medium] [--tokens N]
     python benchmarks/bench_recording_size.py FILE.zlp ...   (existing recordings)
     python benchmarks/bench_recording_size.py --streams DIR  (saved streams: DIR/NAME.bin,
                                               as --save DIR writes them)
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


def _as_21(content: bytes) -> bytes:
    """A 2.2 chunk's content as the 2.1 recorder wrote it (cmeas; memory and costs frames
    as they are)."""
    import msgpack

    up = msgpack.Unpacker(raw=False)
    up.feed(content)
    out = []
    for obj in up:
        kind = obj[0]
        if kind in (protocol.COMPACT2_KIND, protocol.MEM_KIND, protocol.COSTS_KIND):
            frames = protocol.decode_content(msgpack.packb(obj, use_bin_type=True))
            if kind == protocol.COMPACT2_KIND:
                out.append(protocol.encode_compact_21([f.body for f in frames]))
            else:
                out += [protocol.encode_frame(f.kind, _bytes(f.body))[protocol.HEADER_SIZE:]
                        for f in frames]
        else:
            out.append(msgpack.packb(obj, use_bin_type=True))
    return b"".join(out)


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
    p = tmp / "rec.zlp"
    t = time.perf_counter()
    with RecordingWriter(p, force=True, max_size=0) as w:
        for x in wires:  # as LiveSource passes them: whatever one pipe read delivered
            w.write_raw(x)
    enc = time.perf_counter() - t
    t = time.perf_counter()
    res = read_recording(p)
    dec = time.perf_counter() - t
    assert sum(f.body["n"] for f in res.frames if f.kind == "meas") == n_meas(frames)
    data = p.read_bytes()
    raws = list(protocol.walk(data, protocol.PREAMBLE_SIZE))
    contents = [raw.content() for raw in raws]
    fixed = protocol.PREAMBLE_SIZE + protocol.HEADER_SIZE * len(contents)
    # 2.1: the same windows, the content as the 2.1 recorder encoded it, zlib 6
    old = [_as_21(c) for c in contents]
    t = time.perf_counter()
    packed = [zlib.compress(c, 6) for c in old]
    enc21 = time.perf_counter() - t
    t = time.perf_counter()
    for c in packed:
        protocol.decode_content(zlib.decompress(c))
    out["schema 2.1 (cmeas, zlib 6; codec only)"] = (fixed + sum(map(len, packed)), enc21,
                                         time.perf_counter() - t)
    out["schema 2.2 (this recorder)"] = (len(data), enc, dec)
    codecs: list[tuple[str, Any, Any]] = [
        (f"zlib {lv}", lambda c, lv=lv: zlib.compress(c, lv), zlib.decompress) for lv in (6, 9)
    ]
    import zstandard

    for lv in (9, 15, 19):
        codecs.append((f"zstd {lv}", zstandard.ZstdCompressor(level=lv).compress,
                       zstandard.ZstdDecompressor().decompress))
    for name, comp, decomp in codecs:
        t = time.perf_counter()
        packed = [comp(c) for c in contents]
        e = time.perf_counter() - t
        t = time.perf_counter()
        for c in packed:
            decomp(c)
        out[f"  2.2 content, {name} (codec only)"] = (fixed + sum(map(len, packed)), e,
                                                       time.perf_counter() - t)
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
    ap.add_argument("--streams", help="read saved streams DIR/*.bin instead of running")
    ap.add_argument("--save", help="save the captured streams as DIR/PRESET.bin")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.files:
            streams = {}
            for f in args.files:  # a recording's frames, re-encoded as single frames
                frames = read_recording(f).frames
                streams[Path(f).stem] = b"".join(
                    protocol.encode_frame(fr.kind, _bytes(fr.body)) for fr in frames)
        elif args.streams:
            streams = {f.stem: f.read_bytes() for f in sorted(Path(args.streams).glob("*.bin"))}
        else:
            streams = {p: record(p, args.tokens, args.requests) for p in args.presets.split(",")}
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                for name, stream in streams.items():
                    (Path(args.save) / f"{name}.bin").write_bytes(stream)
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
