"""Protocol frames: round trips, hostile bytes, versions."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlprof import protocol
from zlprof.protocol import FrameDecoder, ProtocolError, decode_stream


def sample_stream() -> bytes:
    return b"".join(
        [
            protocol.encode_hello(
                pid=1, argv=["x"], start_ns=10, wall_time=1.0, python="3.11", numpy_version="2",
                platform="linux", config={"preset": "tiny"},
            ),
            protocol.encode_names([(1, 0, "forward_pass"), (2, 1, "layer0")]),
            protocol.encode_measurements(
                5, np.array([1, 2]), np.array([10, 20]), np.array([30, 25]),
                np.array([100, 100]), np.array([200, 150]),
            ),
            protocol.encode_memory([40], [4096], [-1], {"kv_cache_bytes": [512]}),
            protocol.encode_tokens([(50, 0, 0, "prefill", "hi")]),
            protocol.encode_costs([(2, 1, 1000, 4000)]),
            protocol.encode_log(60, "stderr", "warning: x"),
            protocol.encode_meta({"batch": 2}),
            protocol.encode_end(0, "exited normally"),
        ]
    )


def test_every_kind_round_trips() -> None:
    frames = decode_stream(sample_stream())
    assert [f.kind for f in frames] == [
        "hello", "names", "meas", "mem", "tokens", "costs", "log", "meta", "end"
    ]
    meas = frames[2].body
    assert meas["path"].tolist() == [1, 2]
    assert meas["t1"].tolist() == [30, 25]
    assert meas["m1"].tolist() == [200, 150]
    assert frames[3].body["gauges"]["kv_cache_bytes"].tolist() == [512]
    assert frames[0].body["config"] == {"preset": "tiny"}


columns = st.lists(st.integers(min_value=-(2**62), max_value=2**62), max_size=300)


@given(
    tid=st.integers(min_value=0, max_value=2**62),
    data=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2**31 - 1),
            st.integers(min_value=-(2**62), max_value=2**62),
            st.integers(min_value=-(2**62), max_value=2**62),
        ),
        max_size=300,
    ),
    with_mem=st.booleans(),
)
@settings(max_examples=100, deadline=None)
def test_measurement_round_trip(tid: int, data: list[tuple[int, int, int]], with_mem: bool) -> None:
    arr = np.array(data, dtype=np.int64).reshape(-1, 3)
    m = arr[:, 1] if with_mem else None
    raw = protocol.encode_measurements(tid, arr[:, 0], arr[:, 1], arr[:, 2], m, m)
    (fr,) = decode_stream(raw)
    assert fr.body["tid"] == tid and fr.body["n"] == len(data)
    assert fr.body["path"].tolist() == arr[:, 0].tolist()
    assert fr.body["t0"].tolist() == arr[:, 1].tolist()
    assert fr.body["t1"].tolist() == arr[:, 2].tolist()
    assert ("m0" in fr.body) == with_mem


@given(
    rows=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2**62),
            st.integers(min_value=0, max_value=2**31),
            st.integers(min_value=-1, max_value=2**31),
            st.sampled_from(["start", "prefill", "decode", "end"]),
            st.text(max_size=20),
        ),
        max_size=50,
    )
)
@settings(max_examples=100, deadline=None)
def test_token_round_trip(rows: list) -> None:
    (fr,) = decode_stream(protocol.encode_tokens(rows))
    assert [tuple(r) for r in fr.body["rows"]] == rows


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_random_bytes_raise_only_protocol_error(data: bytes) -> None:
    try:
        decode_stream(data)
    except ProtocolError:
        pass


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_random_payloads_with_valid_framing(payload: bytes) -> None:
    """Even with a correct length and checksum, a hostile payload only raises ProtocolError."""
    raw = protocol.pack_frame(payload)
    try:
        decode_stream(raw)
    except ProtocolError:
        pass


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | st.text(max_size=5)
        | st.binary(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
        max_leaves=20,
    ),
    st.sampled_from(protocol.KINDS),
)
@settings(max_examples=300, deadline=None)
def test_wellformed_msgpack_of_wrong_shape(body: object, kind: str) -> None:
    import msgpack

    payload = msgpack.packb([kind, body], use_bin_type=True)
    raw = protocol.pack_frame(payload)
    try:
        decode_stream(raw)
    except ProtocolError:
        pass


def test_bit_flips_raise_only_protocol_error() -> None:
    data = sample_stream()
    rng = random.Random(3)
    caught = 0
    for _ in range(500):
        b = bytearray(data)
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8)
        try:
            decode_stream(bytes(b))
        except ProtocolError:
            caught += 1
    assert caught == 500  # the checksum catches every single-bit flip


def test_truncation_at_every_offset_yields_the_complete_prefix() -> None:
    data = sample_stream()
    full = decode_stream(data)
    ends = []
    off = 0
    while off < len(data):
        length = protocol.HEADER.unpack_from(data, off)[5]
        off += protocol.HEADER_SIZE + length
        ends.append(off)
    for cut in range(len(data) + 1):
        dec = FrameDecoder()
        frames = dec.feed(data[:cut])
        complete = sum(1 for e in ends if e <= cut)
        assert len(frames) == complete
        assert [f.kind for f in frames] == [f.kind for f in full[:complete]]
        assert dec.offset == (ends[complete - 1] if complete else 0)


def test_incremental_feed_byte_by_byte() -> None:
    data = sample_stream()
    dec = FrameDecoder()
    got = []
    for i in range(len(data)):
        got += dec.feed(data[i : i + 1])
    assert len(got) == 9 and dec.pending() == 0


def test_newer_major_schema_refused() -> None:
    body = {"schema": [protocol.SCHEMA_MAJOR + 1, 0], "pid": 1, "start_ns": 0}
    with pytest.raises(ProtocolError, match="newer"):
        decode_stream(protocol.encode_frame("hello", body))


def test_unknown_kind_of_newer_minor_is_skipped() -> None:
    data = protocol.encode_frame("gpu_counters", {"x": 1}) + protocol.encode_end(0)
    frames = decode_stream(data)
    assert [f.kind for f in frames] == ["end"]


def test_oversized_length_rejected_without_allocation() -> None:
    raw = protocol.HEADER.pack(protocol.SYNC, 0, 0, 0, 0, protocol.MAX_FRAME + 1, 0) + b"x" * 10
    with pytest.raises(ProtocolError, match="exceeds"):
        FrameDecoder().feed(raw)


def test_column_length_mismatch_rejected() -> None:
    body = {"tid": 1, "n": 3, "path": b"\0" * 8, "t0": b"\0" * 24, "t1": b"\0" * 24}
    with pytest.raises(ProtocolError, match="column"):
        decode_stream(protocol.encode_frame("meas", body))
