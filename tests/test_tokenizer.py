"""Byte-level BPE: any UTF-8 text round-trips, streaming pieces add up, training works."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zlprof.workload.tokenizer import (
    BOS,
    EOS,
    FIRST_MERGE,
    BPETokenizer,
    TokenizerError,
    builtin_tokenizer,
    format_merges,
    max_vocab,
    parse_merges,
    split_pieces,
    train_bpe,
)

TOK = builtin_tokenizer(8192)
utf8_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@given(utf8_text)
@settings(max_examples=300, deadline=None)
def test_any_utf8_text_round_trips(text: str) -> None:
    ids = TOK.encode(text)
    assert ids[0] == BOS
    assert all(0 <= i < TOK.vocab_size for i in ids)
    assert TOK.decode(ids) == text


@given(utf8_text)
@settings(max_examples=200, deadline=None)
def test_pre_tokenization_covers_every_character(text: str) -> None:
    assert "".join(split_pieces(text)) == text


@given(utf8_text)
@settings(max_examples=200, deadline=None)
def test_streamed_pieces_add_up_to_the_text(text: str) -> None:
    ids = TOK.encode(text, bos=False)
    s = TOK.streamer()
    assert "".join(s.push(i) for i in ids) == text


@given(st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_any_token_sequence_decodes(data: bytes) -> None:
    # sampled tokens need not form valid UTF-8: decoding never fails
    ids = list(data)
    assert isinstance(TOK.decode(ids), str)
    s = TOK.streamer()
    assert isinstance("".join(s.push(i) for i in ids), str)


def test_streamer_holds_back_split_code_points() -> None:
    s = TOK.streamer()
    euro = "€".encode()  # 3 bytes, byte tokens are their values
    assert s.push(euro[0]) == ""
    assert s.push(euro[1]) == ""
    assert s.push(euro[2]) == "€"


def test_merges_compress_english() -> None:
    text = "The profiler showed that the forward pass dominated the time."
    ids = TOK.encode(text, bos=False)
    assert len(ids) < len(text.encode()) / 2.5
    assert TOK.decode([TOK.encode(" the", bos=False)[0]]) == " the"


def test_specials_decode_to_nothing() -> None:
    assert TOK.decode([BOS, *TOK.encode("ab", bos=False), EOS]) == "ab"
    assert TOK.eos_id in TOK.stop_ids


def test_vocab_sizes() -> None:
    assert max_vocab() >= 8192
    assert builtin_tokenizer(300).vocab_size == 300
    with pytest.raises(TokenizerError, match="larger than"):
        builtin_tokenizer(max_vocab() + 1)
    with pytest.raises(TokenizerError, match="at least"):
        builtin_tokenizer(100)


def test_train_bpe_learns_frequent_pairs_and_round_trips() -> None:
    text = "low lower lowest low low newer newest new new " * 20
    merges = train_bpe(text, 30)
    assert 0 < len(merges) <= 30
    tok = BPETokenizer(merges)
    first = tok.token_bytes(FIRST_MERGE)
    assert len(first) == 2  # the most frequent byte pair
    for s in ("lowest newer", "brand-new words ✓", ""):
        assert tok.decode(tok.encode(s)) == s
    assert len(tok.encode("low low low", bos=False)) <= 3


def test_merge_file_round_trip_and_errors() -> None:
    merges = [(108, 111), (258, 119)]
    assert parse_merges(format_merges(merges, "header\nlines")) == merges
    with pytest.raises(TokenizerError, match="line 1"):
        parse_merges("1 2 3\n")
    with pytest.raises(TokenizerError, match="unknown token"):
        BPETokenizer([(1, 999)])
    with pytest.raises(TokenizerError, match="unknown token"):
        BPETokenizer([(BOS, 1)])
