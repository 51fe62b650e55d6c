"""Positive controls for the protocol fuzz tests (tests/test_protocol.py).

A fuzz test that only says "nothing but ProtocolError escapes" passes vacuously if its
inputs never reach the code under test. Each control plants a leak (a non-ProtocolError
exception) at the layer a fuzz test is meant to exercise and runs that very fuzz test:
it must find the leak. The bit-flip test counts its own rejections already. (Hypothesis
keeps the failing examples it found here; the real fuzz tests replay them and pass.)
"""

from __future__ import annotations

from typing import Any

import pytest

import test_protocol as tp
from zlprof import protocol
from zlprof.protocol import Frame, ProtocolError, decoding


class PlantedLeak(Exception):
    """The exception a broken decoder would let escape."""


class PlantedBodyLeak(BaseException):
    """A leak from the body checks, past the ``except Exception`` guard around them."""


def leaks_found(fuzz_test: Any) -> list[BaseException]:
    """Run a fuzz test; the planted leaks it reported (Hypothesis groups distinct ones)."""
    try:
        fuzz_test()
    except (PlantedLeak, PlantedBodyLeak) as exc:
        return [exc]
    except BaseExceptionGroup as group:
        found, _ = group.split((PlantedLeak, PlantedBodyLeak))
        return list(found.exceptions) if found else []
    return []


def test_random_bytes_fuzz_reaches_the_framing_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    original = protocol.parse_frame

    def leaky(buf: bytes | bytearray, pos: int) -> Any:
        try:
            return original(buf, pos)
        except ProtocolError as exc:  # e.g. a length past the limit, a checksum mismatch
            raise PlantedLeak(str(exc)) from None

    monkeypatch.setattr(decoding, "parse_frame", leaky)  # where it is looked up
    assert leaks_found(tp.test_random_bytes_raise_only_protocol_error)


def test_framed_payload_fuzz_reaches_the_payload_decoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = protocol.decode_payload

    def leaky(payload: bytes | memoryview, stream: int = 0) -> Frame | None:
        try:
            return original(payload, stream)
        except ProtocolError as exc:  # undecodable msgpack, not a [kind, body] pair, ...
            raise PlantedLeak(str(exc)) from None

    monkeypatch.setattr(decoding, "decode_payload", leaky)  # where it is looked up
    assert leaks_found(tp.test_random_payloads_with_valid_framing)


def test_wrong_shape_fuzz_reaches_the_body_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies of every known kind reach ``_validate`` and get refused there."""
    original = protocol._validate

    def leaky(kind: str, body: dict[str, Any]) -> None:
        try:
            original(kind, body)
        except ProtocolError as exc:
            # a BaseException: the guard around _validate (``except Exception``) lets it through
            raise PlantedBodyLeak(f"{kind}: {exc}") from None

    monkeypatch.setattr(decoding, "_validate", leaky)  # where it is looked up
    assert leaks_found(tp.test_wellformed_msgpack_of_wrong_shape)
