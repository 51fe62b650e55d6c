"""zlprof diff: the Mann-Whitney U test by hand, and sessions with and without a change."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from test_replay_synthetic import write_synthetic
from zlprof import protocol
from zlprof.diff import (
    diff_main,
    diff_sessions,
    format_text,
    mann_whitney_u,
)
from zlprof.recording import RecordingError, load_session
from zlprof.session import SessionState

# --------------------------------------------------------------------------- the test itself


def test_mann_whitney_hand_computed_with_a_tie() -> None:
    # A = 1 2 3 4, B = 3 5 6 7 8. Pooled and sorted: 1a 2a 3a 3b 4a 5b 6b 7b 8b, ranks
    # 1 2 3.5 3.5 5 6 7 8 9 (the two 3s share ranks 3 and 4).
    # R_A = 1 + 2 + 3.5 + 5 = 11.5; U_A = R_A - 4*5/2 = 1.5; U_B = 4*5 - 1.5 = 18.5.
    # Tie correction: one group of t = 2, sum(t^3 - t) = 6.
    # var(U) = 4*5/12 * ((9 + 1) - 6 / (9*8)) = 1.6667 * 9.91667 = 16.527778
    # z = (|18.5 - 10| - 0.5) / sqrt(16.527778) = 8 / 4.065438 = 1.967808
    # p = 2 * (1 - Phi(1.967808)) = 0.049090
    r = mann_whitney_u(np.array([1, 2, 3, 4]), np.array([3, 5, 6, 7, 8]))
    assert (r.n_a, r.n_b) == (4, 5)
    assert r.u_a == 1.5 and r.u_b == 18.5
    assert r.z == pytest.approx(1.967808, abs=1e-6)
    assert r.p_value == pytest.approx(0.049090, abs=1e-6)
    assert r.prob_b_greater == pytest.approx(18.5 / 20)


def test_mann_whitney_hand_computed_without_ties() -> None:
    # complete separation of 3 and 3: U_B = 9, mean 4.5, var = 3*3/12 * 7 = 5.25,
    # z = (4.5 - 0.5) / sqrt(5.25) = 1.745743, p = 0.080856 (normal approximation);
    # exactly: 2 of the C(6,3) = 20 orderings are this extreme, p = 0.1
    r = mann_whitney_u(np.array([1, 2, 3]), np.array([4, 5, 6]), normal=True)
    assert r.u_b == 9 and r.u_a == 0
    assert r.z == pytest.approx(1.745743, abs=1e-6)
    assert r.p_value == pytest.approx(0.080856, abs=1e-6)
    swapped = mann_whitney_u(np.array([4, 5, 6]), np.array([1, 2, 3]), normal=True)
    assert swapped.z == pytest.approx(-r.z) and swapped.p_value == pytest.approx(r.p_value)
    exact = mann_whitney_u(np.array([1, 2, 3]), np.array([4, 5, 6]))
    assert exact.method == "exact" and exact.p_value == pytest.approx(0.1)


def test_weights_equal_repeated_values() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 30, 200)
    b = rng.integers(3, 33, 150)
    plain = mann_whitney_u(a, b)
    ua, ca = np.unique(a, return_counts=True)
    ub, cb = np.unique(b, return_counts=True)
    weighted = mann_whitney_u(ua, ub, ca, cb)
    assert weighted.u_b == pytest.approx(plain.u_b)
    assert weighted.z == pytest.approx(plain.z)
    assert weighted.p_value == pytest.approx(plain.p_value)


def test_all_tied_is_no_evidence() -> None:
    r = mann_whitney_u(np.full(10, 7), np.full(12, 7))
    assert r.p_value == 1.0 and r.z == 0.0
    with pytest.raises(ValueError):
        mann_whitney_u(np.zeros(0), np.ones(3))


def test_false_positive_rate_is_about_alpha() -> None:
    # under the null hypothesis p is (nearly) uniform: about 5 % of tests fall below 0.05
    rng = np.random.default_rng(7)
    ps = [mann_whitney_u(rng.lognormal(0, 0.3, 40), rng.lognormal(0, 0.3, 60), normal=True).p_value
          for _ in range(400)]
    rate = sum(p < 0.05 for p in ps) / len(ps)
    assert 0.02 <= rate <= 0.08
    # and a real shift is found nearly always
    shifted = [mann_whitney_u(rng.lognormal(0, 0.3, 40), rng.lognormal(0.3, 0.3, 60)).p_value
               for _ in range(100)]
    assert sum(p < 0.05 for p in shifted) >= 95


# --------------------------------------------------------------------------- sessions


def _pair(tmp_path: Path, scale: dict[str, float], **kw: object) -> tuple[Path, Path]:
    a = write_synthetic(tmp_path / "a.zlp", seed=11, **kw)  # type: ignore[arg-type]
    b = write_synthetic(tmp_path / "b.zlp", seed=12, scale=scale, **kw)  # type: ignore[arg-type]
    return a, b


@pytest.mark.parametrize("exact_limit", [None, 500], ids=["exact", "histogram"])
def test_known_difference_is_found(tmp_path: Path, exact_limit: int | None) -> None:
    # 40 iterations a tick: block medians steady enough that 20 % clears the noise floor
    a, b = _pair(tmp_path, {"forward_pass/mlp": 1.2, "sampling": 0.8}, seconds=2.0, iters_per_tick=40)
    res = diff_sessions(load_session(a, exact_limit), load_session(b, exact_limit))
    mlp = res.row("forward_pass/mlp")
    assert mlp.verdict == "slower" and mlp.significant
    assert mlp.change["median"] == pytest.approx(0.2, abs=0.02)
    assert mlp.change["mean"] == pytest.approx(0.2, abs=0.02)
    assert mlp.test is not None and mlp.test.p_value < 1e-6 and mlp.test.z > 0
    assert res.row("sampling").verdict == "faster"
    assert res.row("sampling").change["median"] == pytest.approx(-0.2, abs=0.02)
    assert res.row("forward_pass").verdict == "slower"  # it contains mlp
    assert res.row("forward_pass/attention").verdict == "not significant"
    # the test ranks block medians, kept as samples arrive, past the exact limit too
    assert {r.samples for r in res.rows if r.kind == "op"} == {"blocks"}
    assert mlp.blocks is not None and min(mlp.blocks) >= 8 and mlp.floor is not None
    text = format_text(res)
    assert "1.20x slower" in text or "1.19x slower" in text or "1.21x slower" in text
    assert "Mann-Whitney U" in text


def test_same_distribution_is_not_significant(tmp_path: Path) -> None:
    a, b = _pair(tmp_path, {}, seconds=6.0, iters_per_tick=40)
    res = diff_sessions(load_session(a), load_session(b))
    ops = [r for r in res.rows if r.kind == "op"]
    assert len(ops) == 4
    assert all(r.verdict == "not significant" for r in ops), format_text(res)
    assert all(abs(r.change["median"] or 0) < 0.01 for r in ops)


def test_ops_in_one_session_only(tmp_path: Path) -> None:
    a = write_synthetic(tmp_path / "a.zlp", seconds=1.0)
    b = write_synthetic(tmp_path / "b.zlp", seconds=1.0, end=False)
    with open(b, "ab") as f:
        f.write(protocol.encode_names([(5, 0, "detokenize")]))
        t0 = np.arange(10, dtype=np.int64) * 1000 + 10**12
        f.write(protocol.encode_measurements(1, np.full(10, 5, np.int32), t0, t0 + 500))
    sa, sb = load_session(a), load_session(b)
    res = diff_sessions(sa, sb)
    only = res.row("detokenize")
    assert only.verdict == "only in B" and only.a is None and only.b is not None
    assert only.b.count == 10
    back = diff_sessions(sb, sa)
    assert back.row("detokenize").verdict == "only in A"
    assert back.rows[-4].op == "detokenize"  # after the ops both have, before latencies
    assert "only in A" in format_text(back)


def test_too_few_samples() -> None:
    a, b = SessionState(), SessionState()
    for st, base in ((a, 1000), (b, 5000)):
        st.ingest_many(protocol.decode_stream(
            protocol.encode_names([(1, 0, "rare")])
            + protocol.encode_measurements(
                1, np.ones(3, np.int32), np.zeros(3, np.int64), np.full(3, base, np.int64)
            )
        ))
    row = diff_sessions(a, b).row("rare")
    assert row.verdict == "too few samples"
    assert row.change["median"] == pytest.approx(4.0)


# --------------------------------------------------------------------------- command


def test_diff_main_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = _pair(tmp_path, {"forward_pass/mlp": 1.5}, seconds=1.0)
    assert diff_main(argparse.Namespace(a=str(a), b=str(b), format="text")) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("operation"))
    assert lines[head + 1].startswith("-" * len("forward_pass/attention"))
    table = lines[head : head + 2 + 7]
    # aligned: every "median A" value ends in the same column
    col = lines[head].index("median A") + len("median A")
    assert all(line[col - 1] != " " for line in table[2:])
    assert "not significant" in text and "slower" in text

    assert diff_main(argparse.Namespace(a=str(a), b=str(b), format="json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["test"].startswith("Mann-Whitney U")
    assert doc["alpha"] == 0.05
    row = next(r for r in doc["rows"] if r["op"] == "forward_pass/mlp")
    assert row["verdict"] == "slower" and row["significant"] is True
    assert row["test"]["samples"] == "blocks"
    assert row["test"]["noise_floor"] >= 0 and row["test"]["blocks_a"] >= 8
    assert 0 <= row["test"]["p_value"] < 0.05
    assert math.isclose(row["ratio"], 1.5, rel_tol=0.05)
    assert set(row["change"]) == {"median", "p95", "p99", "mean"}
    assert {r["kind"] for r in doc["rows"]} == {"op", "latency"}


def test_diff_main_refuses_a_non_recording(tmp_path: Path) -> None:
    a = write_synthetic(tmp_path / "a.zlp", seconds=0.5)
    junk = tmp_path / "junk.zlp"
    junk.write_text("nope")
    with pytest.raises(RecordingError, match="not a zlprof recording"):
        diff_main(argparse.Namespace(a=str(a), b=str(junk), format="text"))


# --------------------------------------------------------------------------- the machine's common level


_OPS = {"a": (1, 50_000, 1.0), "b": (2, 200_000, 0.5), "c": (3, 100_000, 1.0), "d": (4, 30_000, 1.2)}


def _machine_run(seed: int, scale: dict[str, float] | None = None, steps: int = 24_000) -> SessionState:
    """A run of steps of four ops (a, b, c, d: base ns, sensitivity) on a machine that
    switches between two speeds every second or so (the slow one makes CPU-bound work
    1.6 times as long; each op feels it to the power of its sensitivity, as ops do on a
    shared vCPU); ``scale`` multiplies ops' durations (a change of the code)."""
    rng = np.random.default_rng(seed)
    scale = scale or {}
    switches = np.cumsum(rng.uniform(0.5e9, 1.5e9, 64)).astype(np.int64)
    slow_first = bool(rng.integers(2))
    t = 10**12
    pids, t0s, t1s = [], [], []
    for _ in range(steps):
        slow = (int(np.searchsorted(switches, t - 10**12)) % 2 == 1) != slow_first
        for name, (pid, base, beta) in _OPS.items():
            d = int(base * (1.6**beta if slow else 1.0) * scale.get(name, 1.0) * rng.lognormal(0, 0.02))
            pids.append(pid)
            t0s.append(t)
            t1s.append(t + d)
            t += d + 1000
    st = SessionState()
    frames = protocol.encode_names([(p, 0, n) for n, (p, _b, _s) in _OPS.items()])
    for s in range(0, len(pids), 4000):
        frames += protocol.encode_measurements(1, np.array(pids[s:s + 4000], np.int32),
                                               np.array(t0s[s:s + 4000], np.int64),
                                               np.array(t1s[s:s + 4000], np.int64))
    st.ingest_many(protocol.decode_stream(frames))
    return st


def test_one_op_slower_on_a_machine_that_changes_speed() -> None:
    from zlprof.significance import COMMON, EXIT_INCONCLUSIVE, EXIT_REGRESSION, parse_fail_on

    base = _machine_run(1)
    # c 12 % slower: within each run the machine swings the ops' block medians by far
    # more than 12 % (the raw blocks' floor), but c moves against the other ops
    res = diff_sessions(base, _machine_run(2, {"c": 1.12}))
    c = res.row("c")
    assert c.raw_floor is not None and c.raw_floor > 0.12
    assert c.adjusted == pytest.approx(0.12, abs=0.03) and c.floor is not None and c.floor < 0.06
    assert c.verdict == "slower", format_text(res)
    assert all(res.row(n).verdict == "not significant" for n in "abd"), format_text(res)
    res.check([parse_fail_on("p50>+5%")])
    # the median of c itself moved with the machine too (by chance, either way), so only
    # when it also moved past 5 % does the rule fire; the verdict does not depend on it
    assert res.exit_status() in (0, EXIT_REGRESSION)
    # a run identical to the base: nothing
    same = diff_sessions(base, _machine_run(3))
    assert all(r.verdict in ("not significant", "too few samples") for r in same.rows), format_text(same)
    # every op 2.5x as slow (past the raw blocks' floor, twice the machine's 60 % swing): a and
    # c moved exactly as the common level did (sensitivity 1): that is what the machine
    # does, and two runs cannot tell it from a change touching every op: inconclusive,
    # not "not significant". b, which the machine moves half as much (sensitivity 0.5),
    # moved 2.5 / 2.5 ** 0.5 - 1 = 58 % more than the machine would have moved it: slower.
    every = diff_sessions(base, _machine_run(4, {n: 2.5 for n in _OPS}))
    every.check([parse_fail_on("a:p50>+5%")])
    for n in "ac":
        r = every.row(n)
        assert abs(r.adjusted or 0) < 0.05 and r.raw_floor is not None and r.raw_floor < 1.5
        assert r.verdict == "inconclusive" and r.why == COMMON and r.masked == "slower", format_text(every)
    assert every.row("b").verdict == "slower" and every.row("b").adjusted == pytest.approx(0.58, abs=0.06)
    assert every.exit_status() == EXIT_INCONCLUSIVE  # the rule names a only
    text = format_text(every)
    assert "op(s) moved only as much as the other ops did" in text
    doc = json.loads(every.to_json())
    row = next(r for r in doc["rows"] if r["op"] == "c")
    assert row["inconclusive_because"] == COMMON and row["verdict_before_machine"] == "slower"
    assert row["test"]["noise_floor_of"] == "machine-adjusted block medians"
    assert doc["inconclusive"][0]["why"] == COMMON
