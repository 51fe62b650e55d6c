"""Compare two sessions op by op: did each operation get faster, slower, or neither?

For every operation (full call path) present in either session: the change in median,
p95, p99 and mean duration (statistics from stats.py, as everywhere else), and a
Mann-Whitney U test on the two sessions' samples of that op (two-sided, normal
approximation with tie correction and continuity correction; no SciPy). Like pyperf's
``compare_to``, a difference is reported only when it is both statistically significant
(p < ``alpha``, default 0.05) and large enough to matter (the median moved by at least
``min_change``, default 1 %); otherwise the op is "not significant". Ops measured in only
one session are listed as such; an op with fewer than ``MIN_SAMPLES`` samples on a side is
"too few samples".

Samples. While an op holds at most the exact-sample limit (100,000 by default) the test
ranks the exact durations. Past it an OpAccumulator keeps a log-bucket histogram (bucket
width 0.2 %), and the test then ranks bucket indices weighted by their counts: values in
one bucket count as ties, which makes the test slightly conservative. Each row says which
(``samples``: "exact" or "histogram").

Token latencies (time to first token, time per output token, inter-token latency) are
compared the same way, as rows of kind "latency".

``diff_sessions(a, b)`` is the data function (the app's compare screen uses it);
``diff_main(args)`` is ``zlprof diff A B [--format text|json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .session import SessionState
from .stats import LogHistogram, OpAccumulator, PerformanceStats

ALPHA = 0.05
MIN_CHANGE = 0.01
MIN_SAMPLES = 5
TEST_NAME = "Mann-Whitney U"
TEST_DESCRIPTION = (
    "Mann-Whitney U on each op's samples (two-sided; normal approximation with tie and "
    "continuity correction)"
)
METRICS = ("median", "p95", "p99", "mean")
_FIELD = {"median": "median_ms", "p95": "p95_ms", "p99": "p99_ms", "mean": "avg_ms"}
LATENCIES = (("ttft", "time to first token"), ("tpot", "time per output token"),
             ("itl", "inter-token latency"))


# --------------------------------------------------------------------------- the test


@dataclass(frozen=True)
class MannWhitney:
    """Result of a two-sided Mann-Whitney U test of B against A."""

    n_a: int
    n_b: int
    #: U of A: pairs (a, b) with a > b, ties counting one half
    u_a: float
    #: U of B: pairs with b > a, ties one half (u_a + u_b = n_a * n_b)
    u_b: float
    #: standard score of u_b (positive: B's values tend to be larger)
    z: float
    p_value: float

    @property
    def prob_b_greater(self) -> float:
        """P(B > A) + P(B = A) / 2: 0.5 means no shift, 1.0 means every B above every A."""
        return self.u_b / (self.n_a * self.n_b)


def mann_whitney_u(
    a: np.ndarray,
    b: np.ndarray,
    weights_a: np.ndarray | None = None,
    weights_b: np.ndarray | None = None,
) -> MannWhitney:
    """Two-sided Mann-Whitney U test (normal approximation, tie and continuity corrected).

    ``weights_*`` give each value a multiplicity (for histogram buckets); by default
    every value counts once. Ties get the average of the ranks they span; the variance
    of U is ``n_a n_b / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))`` over tie groups of
    size t, and ``z = (|U - n_a n_b / 2| - 1/2) / sd``.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    wa = np.ones(len(a), np.float64) if weights_a is None else np.asarray(weights_a, np.float64)
    wb = np.ones(len(b), np.float64) if weights_b is None else np.asarray(weights_b, np.float64)
    n1 = float(wa.sum())
    n2 = float(wb.sum())
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples must be non-empty")
    values = np.concatenate([a, b])
    uniq, inv = np.unique(values, return_inverse=True)
    inv = inv.reshape(-1)
    counts = np.bincount(inv, weights=np.concatenate([wa, wb]), minlength=len(uniq))
    before = np.cumsum(counts) - counts
    avg_rank = before + (counts + 1.0) / 2.0
    r1 = float(np.dot(avg_rank[inv[: len(a)]], wa))
    u1 = r1 - n1 * (n1 + 1.0) / 2.0
    u2 = n1 * n2 - u1
    n = n1 + n2
    ties = float(np.sum(counts**3 - counts))
    var = n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0))) if n > 1 else 0.0
    if var <= 0:
        z, p = 0.0, 1.0  # every value tied: no evidence of a shift
    else:
        d = u2 - n1 * n2 / 2.0
        z = math.copysign(max(abs(d) - 0.5, 0.0), d) / math.sqrt(var)
        p = min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))
    return MannWhitney(int(round(n1)), int(round(n2)), u1, u2, z, p)


def _test_samples(a: OpAccumulator, b: OpAccumulator) -> tuple[MannWhitney, str]:
    """The test on two accumulators' samples: exact durations, or histogram buckets."""
    da, db = a.sorted_durations(), b.sorted_durations()
    if da is not None and db is not None:
        return mann_whitney_u(da, db), "exact"
    ca = a.hist.counts if a.hist is not None else _bucket_counts(da)
    cb = b.hist.counts if b.hist is not None else _bucket_counts(db)
    idx = np.flatnonzero((ca > 0) | (cb > 0))
    ka, kb = idx[ca[idx] > 0], idx[cb[idx] > 0]
    return mann_whitney_u(ka, kb, ca[ka], cb[kb]), "histogram"


def _bucket_counts(d: np.ndarray | None) -> np.ndarray:
    h = LogHistogram()
    if d is not None:
        h.add(d)
    return h.counts


# --------------------------------------------------------------------------- the diff


@dataclass
class DiffRow:
    """One operation (or token latency) compared across the two sessions."""

    op: str
    #: "op" for an operation (full call path), "latency" for a token latency
    kind: str
    #: slower | faster | not significant | too few samples | only in A | only in B
    verdict: str
    a: PerformanceStats | None
    b: PerformanceStats | None
    #: relative change B/A - 1 of median, p95, p99, mean (None where undefined)
    change: dict[str, float | None] = field(default_factory=dict)
    test: MannWhitney | None = None
    #: "exact" or "histogram" (see the module doc); None without a test
    samples: str | None = None
    depth: int = 0

    @property
    def significant(self) -> bool:
        return self.verdict in ("slower", "faster")

    @property
    def ratio(self) -> float | None:
        """Median B / median A."""
        c = self.change.get("median")
        return None if c is None else 1.0 + c

    def as_dict(self) -> dict[str, Any]:
        def stats(s: PerformanceStats | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {
                "count": s.count,
                "median_ms": _num(s.median_ms),
                "p95_ms": _num(s.p95_ms),
                "p99_ms": _num(s.p99_ms),
                "mean_ms": _num(s.avg_ms),
                "std_ms": _num(s.std_ms),
                "total_ms": _num(s.total_ms),
                "estimator": s.estimator,
            }

        t = self.test
        return {
            "op": self.op,
            "kind": self.kind,
            "verdict": self.verdict,
            "significant": self.significant,
            "ratio": _num(self.ratio),
            "a": stats(self.a),
            "b": stats(self.b),
            "change": {k: _num(v) for k, v in self.change.items()},
            "test": None
            if t is None
            else {
                "name": TEST_NAME,
                "samples": self.samples,
                "u_a": t.u_a,
                "u_b": t.u_b,
                "z": t.z,
                "p_value": t.p_value,
                "prob_b_greater": t.prob_b_greater,
            },
        }


@dataclass
class DiffResult:
    a_label: str
    b_label: str
    rows: list[DiffRow]
    alpha: float = ALPHA
    min_change: float = MIN_CHANGE
    test: str = TEST_DESCRIPTION
    a_summary: dict[str, Any] = field(default_factory=dict)
    b_summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.verdict] = out.get(r.verdict, 0) + 1
        return out

    def row(self, op: str) -> DiffRow:
        for r in self.rows:
            if r.op == op:
                return r
        raise KeyError(op)

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": {"label": self.a_label, **_json_summary(self.a_summary)},
            "b": {"label": self.b_label, **_json_summary(self.b_summary)},
            "test": self.test,
            "alpha": self.alpha,
            "min_change": self.min_change,
            "rule": self.rule(),
            "counts": self.counts(),
            "rows": [r.as_dict() for r in self.rows],
            "warnings": list(self.warnings),
        }

    def rule(self) -> str:
        return (
            f"significant when p < {self.alpha:g} and the median moved by at least "
            f"{self.min_change * 100:g}%"
        )

    def to_text(self) -> str:
        return format_text(self)

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"


def _num(v: float | None) -> float | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return float(v)


def _json_summary(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("argv", "elapsed_s", "measurements", "tokens", "tokens_per_s", "end_status")
    return {k: s.get(k) for k in keys}


def _change(a: float, b: float) -> float | None:
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return None
    return b / a - 1.0


def _compare(
    name: str,
    kind: str,
    acc_a: OpAccumulator | None,
    acc_b: OpAccumulator | None,
    st_a: PerformanceStats | None,
    st_b: PerformanceStats | None,
    alpha: float,
    min_change: float,
    depth: int = 0,
) -> DiffRow:
    if acc_a is None or acc_a.count == 0:
        return DiffRow(name, kind, "only in B", None, st_b, depth=depth)
    if acc_b is None or acc_b.count == 0:
        return DiffRow(name, kind, "only in A", st_a, None, depth=depth)
    assert st_a is not None and st_b is not None
    change = {m: _change(getattr(st_a, _FIELD[m]), getattr(st_b, _FIELD[m])) for m in METRICS}
    test, samples = _test_samples(acc_a, acc_b)
    if min(acc_a.count, acc_b.count) < MIN_SAMPLES:
        verdict = "too few samples"
    else:
        moved = change["median"]
        if test.p_value < alpha and moved is not None and abs(moved) >= min_change:
            verdict = "slower" if moved > 0 else "faster"
        else:
            verdict = "not significant"
    return DiffRow(name, kind, verdict, st_a, st_b, change, test, samples, depth)


def diff_sessions(
    a: SessionState,
    b: SessionState,
    *,
    alpha: float = ALPHA,
    min_change: float = MIN_CHANGE,
    a_label: str = "A",
    b_label: str = "B",
) -> DiffResult:
    """Compare every op (by full call path) and token latency of session ``b`` to ``a``."""
    with a.lock, b.lock:
        accs_a = {a.name_of(pid): acc for pid, acc in a.ops.items() if acc.count}
        accs_b = {b.name_of(pid): acc for pid, acc in b.ops.items() if acc.count}
        order = [r.full for r in a.op_rows() if r.full in accs_a]
        order += [r.full for r in b.op_rows() if r.full in accs_b and r.full not in accs_a]
        depth = {r.full: r.depth for r in [*a.op_rows(), *b.op_rows()]}
        rows: list[DiffRow] = []
        for name in order:
            acc_a, acc_b = accs_a.get(name), accs_b.get(name)
            st_a = acc_a.stats(name, a.wall_ns) if acc_a is not None else None
            st_b = acc_b.stats(name, b.wall_ns) if acc_b is not None else None
            rows.append(
                _compare(name, "op", acc_a, acc_b, st_a, st_b, alpha, min_change,
                         depth.get(name, 0))
            )
        for key, _title in LATENCIES:
            la: OpAccumulator = getattr(a, key)
            lb: OpAccumulator = getattr(b, key)
            if la.count == 0 and lb.count == 0:
                continue
            rows.append(
                _compare(key, "latency", la, lb, la.stats(key), lb.stats(key), alpha,
                         min_change)
            )
        sa, sb = a.summary(), b.summary()
    return DiffResult(
        a_label, b_label, rows, alpha, min_change, a_summary=sa, b_summary=sb,
        warnings=[f"{a_label}: {w}" for w in sa.get("warnings", [])]
        + [f"{b_label}: {w}" for w in sb.get("warnings", [])],
    )


# --------------------------------------------------------------------------- output


def _pct(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 100:+.1f}%"


def _ms(v: float | None) -> str:
    from . import fmt

    return fmt.ms(v) if v is not None else "-"


def _p(t: MannWhitney | None) -> str:
    if t is None:
        return "-"
    return f"{t.p_value:.3f}" if t.p_value >= 0.001 else "<0.001"


def _verdict(r: DiffRow) -> str:
    if r.significant and r.ratio is not None:
        ratio = r.ratio if r.verdict == "slower" else 1.0 / r.ratio
        return f"{ratio:.2f}x {r.verdict}"
    return r.verdict


def _describe(label: str, s: dict[str, Any]) -> str:
    """``  A: path  [program]  1.0s, 240 measurements, 25.0 tok/s end-to-end`` (one line;
    the app's compare screen shows it too)."""
    from . import fmt
    from .sessions import program_name

    argv = program_name(s.get("argv") or []) if s.get("argv") else ""
    tps = s.get("end_to_end_tokens_per_s", s.get("tokens_per_s")) or 0.0
    bits = [fmt.duration_s(s.get("elapsed_s") or 0.0), f"{s.get('measurements', 0):,} measurements"]
    if s.get("tokens"):
        bits.append(f"{tps:.1f} tok/s end-to-end")
    return f"  {label}" + (f"  [{argv}]" if argv else "") + "  " + ", ".join(bits)


def _describe_lines(label: str, s: dict[str, Any], width: int | None) -> list[str]:
    """:func:`_describe` wrapped to ``width``; a long path abbreviated from the left."""
    from .textwidth import cut, wrap

    if width is not None:
        label = cut(label, max(24, width - 40), "start")
    return wrap(_describe(label, s), width, "  ", "      ")


def _throughput_lines(res: DiffResult, width: int | None) -> list[str]:
    """Each rate both sessions have, A -> B, labelled with what it divides."""
    from .rates import DEFINITIONS
    from .textwidth import wrap

    out = []
    for key in ("decode_tokens_per_s", "end_to_end_tokens_per_s"):
        name, divides = DEFINITIONS[key]
        ta, tb = res.a_summary.get(key), res.b_summary.get(key)
        if key == "end_to_end_tokens_per_s":
            ta = ta if ta is not None else res.a_summary.get("tokens_per_s")
            tb = tb if tb is not None else res.b_summary.get("tokens_per_s")
        if ta and tb:
            out += wrap(
                f"{name} tok/s ({divides}): {ta:.1f} -> {tb:.1f} ({_pct(tb / ta - 1)})",
                width, "", "  ",
            )
    return out


#: the text table's columns; at a narrow terminal they go in ``drop`` order (p99 first),
#: the operation name is abbreviated first and the median change and verdict always stay
def _columns() -> list[Any]:
    from .textwidth import Column

    return [
        Column("operation", align="left", cut="end", min_width=20),
        Column("n A", drop=2),
        Column("n B", drop=3),
        Column("median A", drop=6),
        Column("median B", drop=7),
        Column("median"),
        Column("p95", drop=4),
        Column("p99", drop=1),
        Column("mean", drop=5),
        Column("p-value", drop=8),
        Column("verdict", align="left"),
    ]


def format_text(res: DiffResult, width: int | None = None) -> str:
    """An aligned table: one row per op, token latencies last.

    ``width``: a terminal's columns, which the table fits (names abbreviated and indented
    by call depth, then columns left out in a stated order); None (piped): ops by their
    full path, one row a line, nothing cut.
    """
    from .textwidth import render_table, wrap

    out = ["zlprof diff: B compared to A"]
    out += _describe_lines(f"A: {res.a_label}", res.a_summary, width)
    out += _describe_lines(f"B: {res.b_label}", res.b_summary, width)
    out += wrap(f"test: {res.test}; {res.rule()}; changes are B/A - 1", width, "", "      ")
    out.append("")
    body: list[list[str]] = []
    marks = False
    for r in res.rows:
        if r.kind != "op":
            name = f"[{r.op}]"
        elif width is None:
            name = r.op
        else:
            name = "  " * r.depth + r.op.rsplit("/", 1)[-1]
        p = _p(r.test)
        if r.samples == "histogram":
            p += "*"
            marks = True
        body.append([
            name,
            f"{r.a.count:,}" if r.a else "-",
            f"{r.b.count:,}" if r.b else "-",
            _ms(r.a.median_ms) if r.a else "-",
            _ms(r.b.median_ms) if r.b else "-",
            *(_pct(r.change.get(m)) for m in METRICS),
            p,
            _verdict(r),
        ])
    if not body:
        out.append("no measurements in either session")
        return "\n".join(out) + "\n"
    table = render_table(_columns(), body, width)
    out.extend(table.lines)
    out.append("")
    out += wrap("durations in ms; [ttft] [tpot] [itl] are token latencies", width)
    if marks:
        out += wrap("* past the exact-sample limit: tested on the 0.2% histogram buckets", width)
    note = table.note(width)
    if note:
        out += wrap(note, width)
    counts = res.counts()
    out += wrap(
        "summary: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda x: -x[1])),
        width,
    )
    out += _throughput_lines(res, width)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- command


def diff_main(args: argparse.Namespace) -> int:
    """``zlprof diff A B [--format text|json]``: RecordingError for a bad file (one line)."""
    from .recording import load_session

    a = load_session(args.a)
    b = load_session(args.b)
    res = diff_sessions(a, b, a_label=str(args.a), b_label=str(args.b))
    for w in res.warnings:
        print(f"zlprof: warning: {w}", file=sys.stderr)
    fmt_name = getattr(args, "format", "text") or "text"
    if fmt_name == "json":
        sys.stdout.write(res.to_json())
    elif fmt_name == "text":
        from .textwidth import terminal_width

        sys.stdout.write(format_text(res, terminal_width()))
    else:
        print(f"zlprof: error: unknown format {fmt_name!r}", file=sys.stderr)
        return 2
    return 0
