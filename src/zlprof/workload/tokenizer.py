"""Byte-level BPE tokenizer with byte fallback: any UTF-8 text round-trips.

Token ids:
    0..255      the raw bytes (the byte fallback: every byte string is encodable)
    256         ``<|bos|>`` (begin of sequence, prepended to prompts)
    257         ``<|eos|>`` (end of sequence: generation stops when it is sampled)
    258 + i     merge ``i`` of the merge list (lower i = applied first)

The built-in merges (``data/bpe_merges.txt``) were trained with :func:`train_bpe` on the
docstrings of the CPython 3.11 standard library (English technical prose, ~1.6 MB; test/idlelib/lib2to3 excluded); the
file records the procedure in its header. A vocabulary of ``n`` tokens uses the first
``n - 258`` merges, so every ``--vocab`` up to :data:`MAX_VOCAB` has a tokenizer.

Text is first split into pieces (words with their leading space, digit runs, punctuation
runs, whitespace runs) with a GPT-2-like pattern; merges never cross piece boundaries.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

N_BYTES = 256
BOS = 256
EOS = 257
N_SPECIAL = 2
FIRST_MERGE = N_BYTES + N_SPECIAL
MIN_VOCAB = FIRST_MERGE

# Covers every character: letters, digit runs, other non-space runs (incl. "_"), spaces.
PIECE_RE = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d{1,3}| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)

MERGES_RESOURCE = "bpe_merges.txt"


class TokenizerError(ValueError):
    """A bad merge file or an impossible vocabulary size."""


def split_pieces(text: str) -> list[str]:
    """The pre-tokenization of ``text``; ``"".join(split_pieces(t)) == t`` for every t."""
    return PIECE_RE.findall(text)


class BPETokenizer:
    """Byte-level BPE over a merge list; ``decode(encode(t)) == t`` for all text."""

    bos_id = BOS
    eos_id = EOS
    stop_ids = frozenset({EOS})  # generation of a row ends when one is sampled
    pad_id = 0  # left padding of shorter prompts in a batch (masked out)

    def __init__(self, merges: list[tuple[int, int]]) -> None:
        self.merges = list(merges)
        self.vocab_size = FIRST_MERGE + len(self.merges)
        pieces: list[bytes] = [bytes([b]) for b in range(N_BYTES)] + [b"", b""]
        ranks: dict[tuple[int, int], int] = {}
        for i, (a, b) in enumerate(self.merges):
            new = FIRST_MERGE + i
            if not (0 <= a < new and 0 <= b < new) or a in (BOS, EOS) or b in (BOS, EOS):
                raise TokenizerError(f"merge {i} ({a} {b}) refers to an unknown token")
            if (a, b) in ranks:
                raise TokenizerError(f"merge {i} ({a} {b}) is a duplicate")
            ranks[(a, b)] = i
            pieces.append(pieces[a] + pieces[b])
        self._ranks = ranks
        self.pieces = pieces  # id -> bytes (specials -> b"")
        self._cache: dict[str, tuple[int, ...]] = {}

    # ---------------------------------------------------------------- encoding

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        got = self._cache.get(piece)
        if got is not None:
            return got
        ids = list(piece.encode("utf-8"))
        ranks = self._ranks
        while len(ids) > 1:
            best = None
            best_rank = 1 << 60
            for j in range(len(ids) - 1):
                r = ranks.get((ids[j], ids[j + 1]))
                if r is not None and r < best_rank:
                    best_rank = r
                    best = j
            if best is None:
                break
            ids[best : best + 2] = [FIRST_MERGE + best_rank]
        out = tuple(ids)
        if len(self._cache) < 50_000:
            self._cache[piece] = out
        return out

    def encode(self, text: str, bos: bool = True) -> list[int]:
        """Token ids of ``text`` (with ``<|bos|>`` first unless ``bos=False``)."""
        ids = [BOS] if bos else []
        for piece in split_pieces(text):
            ids.extend(self._encode_piece(piece))
        return ids

    # ---------------------------------------------------------------- decoding

    def token_bytes(self, token: int) -> bytes:
        """The bytes of one token (``b""`` for specials and ids out of range)."""
        if 0 <= token < self.vocab_size:
            return self.pieces[token]
        return b""

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        pieces = self.pieces
        n = self.vocab_size
        return b"".join(pieces[i] for i in ids if 0 <= i < n)

    def decode(self, ids: Iterable[int], prev: int | None = None) -> str:
        """Text of ``ids``; specials are dropped, invalid UTF-8 becomes U+FFFD."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def streamer(self, prev: int | None = None) -> TokenStreamer:
        """Incremental decoder: token ids in, complete UTF-8 text pieces out."""
        return TokenStreamer(self.pieces, self.vocab_size)

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """The tokenizer with the first ``vocab_size`` tokens."""
        if vocab_size < MIN_VOCAB:
            raise TokenizerError(f"a vocabulary needs at least {MIN_VOCAB} tokens")
        if vocab_size > self.vocab_size:
            raise TokenizerError(
                f"vocab {vocab_size} is larger than the built-in tokenizer's {self.vocab_size} tokens"
            )
        return BPETokenizer(self.merges[: vocab_size - FIRST_MERGE])


class TokenStreamer:
    """Turns a stream of token ids into text pieces, holding back split UTF-8 sequences."""

    __slots__ = ("_pieces", "_n", "_pending")

    def __init__(self, pieces: list[bytes], n: int) -> None:
        self._pieces = pieces
        self._n = n
        self._pending = b""

    def push(self, token: int) -> str:
        b = self._pieces[token] if 0 <= token < self._n else b""
        text, self._pending = decode_streamed(self._pending + b)
        return text


def decode_streamed(b: bytes) -> tuple[str, bytes]:
    """(text, bytes held back) of the bytes of a token stream so far: an incomplete UTF-8
    sequence at the end (at most 3 bytes) waits for the next token; other invalid bytes
    become U+FFFD."""
    try:
        return b.decode("utf-8"), b""
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and len(b) - e.start <= 3:
            return b[: e.start].decode("utf-8", errors="replace"), b[e.start :]
        return b.decode("utf-8", errors="replace"), b""


# --------------------------------------------------------------------- training


def train_bpe(text: str, n_merges: int) -> list[tuple[int, int]]:
    """Learn up to ``n_merges`` merges from ``text`` (ties: the smaller pair wins).

    Classic BPE over piece frequencies with incremental pair counts: each merge only
    revisits the pieces that contain the merged pair.
    """
    words = Counter(split_pieces(text))
    seqs: list[list[int]] = []
    freqs: list[int] = []
    for w, f in words.items():
        seqs.append(list(w.encode("utf-8")))
        freqs.append(f)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    where: dict[tuple[int, int], set[int]] = defaultdict(set)
    for wi, s in enumerate(seqs):
        f = freqs[wi]
        for j in range(len(s) - 1):
            p = (s[j], s[j + 1])
            counts[p] += f
            where[p].add(wi)
    heap = [(-c, p) for p, c in counts.items()]
    heapq.heapify(heap)
    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        c = counts.get(pair, 0)
        if c <= 0:
            continue
        if -negc != c:  # stale entry: push the current count back
            heapq.heappush(heap, (-c, pair))
            continue
        if c < 2:
            break
        new = FIRST_MERGE + len(merges)
        merges.append(pair)
        a, b = pair
        touched: dict[tuple[int, int], None] = {}
        for wi in list(where.pop(pair, ())):
            s = seqs[wi]
            f = freqs[wi]
            for j in range(len(s) - 1):  # remove old pair counts of this word
                q = (s[j], s[j + 1])
                counts[q] -= f
            out: list[int] = []
            j = 0
            while j < len(s):
                if j < len(s) - 1 and s[j] == a and s[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            seqs[wi] = out
            for j in range(len(out) - 1):
                q = (out[j], out[j + 1])
                counts[q] += f
                where[q].add(wi)
                touched[q] = None
        counts.pop(pair, None)
        for q in touched:
            c2 = counts.get(q, 0)
            if c2 > 0:
                heapq.heappush(heap, (-c2, q))
    return merges


# --------------------------------------------------------------------- merge files


def parse_merges(text: str) -> list[tuple[int, int]]:
    """Parse a merge file: ``#`` comment lines, then one ``a b`` pair of token ids a line."""
    merges = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise TokenizerError(f"merge file line {lineno}: expected two token ids")
        try:
            merges.append((int(parts[0]), int(parts[1])))
        except ValueError:
            raise TokenizerError(f"merge file line {lineno}: not integers") from None
    return merges


def format_merges(merges: list[tuple[int, int]], header: str = "") -> str:
    lines = [f"# {h}" for h in header.splitlines()]
    lines += [f"{a} {b}" for a, b in merges]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=1)
def _builtin_merges() -> tuple[tuple[int, int], ...]:
    text = resources.files("zlprof.workload").joinpath("data", MERGES_RESOURCE).read_text()
    return tuple(parse_merges(text))


def max_vocab() -> int:
    """The largest vocabulary the built-in tokenizer provides."""
    return FIRST_MERGE + len(_builtin_merges())


def builtin_tokenizer(vocab_size: int | None = None) -> BPETokenizer:
    """The shipped tokenizer, truncated to ``vocab_size`` tokens."""
    merges = _builtin_merges()
    n = len(merges) if vocab_size is None else vocab_size - FIRST_MERGE
    if vocab_size is not None and vocab_size < MIN_VOCAB:
        raise TokenizerError(f"vocab must be at least {MIN_VOCAB} (256 bytes + 2 specials)")
    if n > len(merges):
        raise TokenizerError(
            f"vocab {vocab_size} is larger than the built-in tokenizer's "
            f"{FIRST_MERGE + len(merges)} tokens"
        )
    return BPETokenizer(list(merges[:n]))


def _stdlib_docstring_corpus() -> str:
    """The corpus the built-in merges were trained on (CPython stdlib docstrings)."""
    import ast
    import pathlib
    import sys

    root = (
        pathlib.Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    out = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root).parts
        if rel[0] in ("site-packages", "test", "idlelib", "lib2to3") or "tests" in rel:
            continue
        try:
            tree = ast.parse(p.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                d = ast.get_docstring(node)
                if d and len(d) > 40:
                    out.append(d)
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the built-in merges: ``python -m zlprof.workload.tokenizer OUT [N]``."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m zlprof.workload.tokenizer OUT [N_MERGES]", file=sys.stderr)
        return 2
    n = int(args[1]) if len(args) > 1 else 16384 - FIRST_MERGE
    corpus = _stdlib_docstring_corpus()
    merges = train_bpe(corpus, n)
    header = (
        "zlprof byte-level BPE merges, format 1: one merge a line, 'a b' token ids;\n"
        "ids 0-255 bytes, 256 <|bos|>, 257 <|eos|>, 258+i = merge i.\n"
        f"Trained by zlprof.workload.tokenizer.train_bpe ({len(merges)} merges) on the\n"
        f"docstrings of the CPython {sys.version_info[0]}.{sys.version_info[1]} standard library "
        f"({len(corpus)} characters)."
    )
    with open(args[0], "w", encoding="utf-8") as f:
        f.write(format_merges(merges, header))
    print(f"{len(merges)} merges -> {args[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
