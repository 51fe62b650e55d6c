"""The live reader folds a burst at once (issue 11: a flood over thousands of paths).

A fold's cost is per path as well as per measurement, so the reader folds what is waiting
on a channel (up to COALESCE_BYTES) in one ``ingest_many``, not frame by frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zlprof import protocol
from zlprof.sources import LiveSource
from zlprof.sources.channel import _Channel
from zlprof.sources.live import COALESCE_BYTES


def _burst(frames: int, per: int = 1024, paths: int = 500) -> bytes:
    rng = np.random.default_rng(3)
    out = [protocol.preamble(), protocol.encode_names([(i, 0, f"op{i}") for i in range(1, paths + 1)])]
    t = 1_000_000
    for _ in range(frames):
        p = rng.integers(1, paths + 1, size=per).astype(np.int32)
        t0 = t + np.arange(per, dtype=np.int64) * 1_000
        out.append(protocol.encode_measurements(1, p, t0, t0 + 500))
        t += per * 1_000
    return b"".join(out)


def _read(data: bytes, tmp_path: Path) -> tuple[LiveSource, list[int]]:
    src = LiveSource(["true"], None)
    calls: list[int] = []
    ingest = src.state.ingest_many

    def counted(frames: list[protocol.Frame]) -> None:
        calls.append(len(frames))
        ingest(frames)

    src.state.ingest_many = counted  # type: ignore[method-assign]
    # the whole burst is waiting before the reader starts: a file stands for the
    # channel's socket (always readable, then end of file), so the test does not depend
    # on how fast a writer fills a socket
    burst = tmp_path / "burst.bin"
    burst.write_bytes(data)
    src._read_channel(_Channel(1, open(burst, "rb")))  # type: ignore[arg-type]
    return src, calls


def test_a_burst_waiting_on_the_channel_is_folded_at_once(tmp_path: Path) -> None:
    data = _burst(200)  # 200 frames of 1,024 measurements, ~4 MiB
    assert len(data) < COALESCE_BYTES
    src, calls = _read(data, tmp_path)
    assert src.state.measurements == 200 * 1024
    assert len(src.state.ops) == 500
    assert calls == [201]  # names and 200 measurement frames: one fold


def test_a_burst_larger_than_the_coalescing_bound_is_folded_in_parts(tmp_path: Path) -> None:
    data = _burst(500)  # ~10 MiB
    assert len(data) > COALESCE_BYTES
    src, calls = _read(data, tmp_path)
    assert src.state.measurements == 500 * 1024
    assert 2 <= len(calls) <= 4 and sum(calls) == 501
