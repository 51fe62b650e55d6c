"""False positives of the per-op comparison on recordings of identical work.

Records PAIRS pairs of short runs of the built-in workload with the same preset, seed and
tokens (``zlprof record --preset tiny ...``, back to back), compares each pair with
``diff.diff_sessions`` (the test ``zlprof diff`` and ``--baseline`` share) and counts ops
called significant. Every pair is the same code, so each such op is a false positive.
Besides the default rule (U test on block medians, machine-adjusted where the runs have
block times and two or more ops: significance.py; Benjamini-Hochberg adjusted p < 0.05, a
median change of at least 5 % and more than the op's noise floor, and the adjusted change
too), the same pairs are judged by weaker rules (the same test, without the floor or the
adjusted change's conditions, or with a floor of one spread instead of two), to show what
each part buys, and by the method of round 2 (every
sample a unit of the U test, BH + 5 %; only where both sides hold exact samples):

    every sample, BH + 5 % (before) | blocks, raw p | blocks, BH | blocks, BH + 5 % |
    blocks, BH + 5 % + one spread | blocks, BH + 5 % + noise floor (default: two spreads)

Prints, per rule: pairs with at least one significant op, and significant ops out of
the ops tested (ops with fewer than 5 samples a side get no test). The rules above judge
the test alone; the last row is what zlprof reports: the default rule after the
busy-machine guard (starvation.py) made the verdicts the machine explains "inconclusive".
Per pair: each run's CPU wait share, the other processes' share of the machine, and the
reference loop's B/A ratio (profiler/cpu.py); with ``--load-every K`` every K-th pair's
second run has a ``yes > /dev/null`` beside it.

With ``--program SECONDS`` the pairs are runs of benchmarks/slowdown_program.py (four
single-threaded ops, no slowdown) of that many seconds instead of the workload.

Run: python benchmarks/bench_baseline_fp.py [--pairs 20] [--requests 8] [--max-tokens 24]
     [--threads 1] [--program SECONDS] [--keep DIR] [--load-every K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zlprof import significance as sig
from zlprof.diff import DiffResult, diff_sessions
from zlprof.recording import load_session
from zlprof.session import SessionState
from zlprof.significance import Verdict
from zlprof.starvation import BUSY_RATIO, cpu_share

#: (name, BH-adjusted?, minimum effect, noise floor: times the blocks' spread)
RULES = (
    ("blocks, raw p < 0.05", False, 0.0, 0.0),
    ("blocks, BH q < 0.05", True, 0.0, 0.0),
    ("blocks, BH q < 0.05, effect >= 5%", True, sig.MIN_EFFECT, 0.0),
    ("blocks, BH, 5%, > 1 x spread", True, sig.MIN_EFFECT, 1.0),
    ("blocks, BH, 5%, > noise floor (default)", True, sig.MIN_EFFECT, sig.FLOOR_SPREADS),
)
BEFORE = "every sample, BH q < 0.05, 5% (before)"
#: the noise floor without the blocks: what the blocks add
BEFORE_FLOOR = "every sample, BH, 5%, > noise floor"


def every_sample_rule(res: DiffResult, a: SessionState, b: SessionState) -> tuple[int, int] | None:
    """Significant ops under round 2's method (the U test on every sample, exact samples
    only; BH over the same rows; median change >= 5 %), and with the noise floor added.
    None if a side is past the exact limit."""
    rows = [r for r in res.rows if r.test is not None and r.verdict != Verdict.FEW]
    accs = []
    for r in rows:
        if r.kind == "op":
            pa, pb = a.path_id(r.op), b.path_id(r.op)
            accs.append((a.ops[pa] if pa is not None else None, b.ops[pb] if pb is not None else None))
        else:
            accs.append((getattr(a, r.op), getattr(b, r.op)))
    ps = []
    for acc_a, acc_b in accs:
        da = acc_a.sorted_durations() if acc_a is not None else None
        db = acc_b.sorted_durations() if acc_b is not None else None
        if da is None or db is None:
            return None
        ps.append(sig.mann_whitney_u(da, db).p_value)
    qs = sig.benjamini_hochberg(ps)
    plain = sum(sig.decide(q, r.change.get("median")).significant for r, q in zip(rows, qs, strict=True))
    floored = sum(sig.decide(q, r.change.get("median"), floor=r.floor or 0.0).significant
                  for r, q in zip(rows, qs, strict=True))
    return plain, floored


def machine(sa: SessionState, sb: SessionState) -> str:
    """Per-pair figures of the machine (starvation.py): each run's CPU wait share, the
    others' share of the machine, and the reference loop's B/A ratio."""
    ca, cb = cpu_share(sa.memory_series()), cpu_share(sb.memory_series())
    if ca is None or cb is None:
        return "cpu: not recorded"

    def pct(v: float | None) -> str:
        return "  ?" if v is None else f"{v * 100:3.0f}"

    ratio = "    ?" if not (ca.probe_ns and cb.probe_ns) else f"{cb.probe_ns / ca.probe_ns - 1:+5.0%}"
    return (f"wait% A {pct(ca.wait)} B {pct(cb.wait)}, others% A {pct(ca.others)} B {pct(cb.others)}, "
            f"loop B/A {ratio}")


def record(path: Path, args: argparse.Namespace, load: bool = False) -> None:
    """One recording; ``load``: a ``yes > /dev/null`` runs beside it (the other core busy)."""
    loader = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if load else None
    try:
        _record(path, args)
    finally:
        if loader is not None:
            loader.kill()
            loader.wait()


def _record(path: Path, args: argparse.Namespace) -> None:
    if args.program:
        program = Path(__file__).resolve().with_name("slowdown_program.py")
        cmd = [sys.executable, "-m", "zlprof", "record", "--out", str(path), "--force", "--",
               sys.executable, str(program), "--seconds", str(args.program)]
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300,
                       env=env)
        return
    cmd = [sys.executable, "-m", "zlprof", "record", "--preset", "tiny", "--seed", "1",
           "--requests", str(args.requests), "--max-tokens", str(args.max_tokens),
           "--out", str(path), "--force"]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--program", type=float, default=0.0, metavar="SECONDS")
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--load-every", type=int, default=0, metavar="K",
                    help="every K-th pair, run a `yes > /dev/null` beside its second run")
    args = ap.parse_args()
    d = args.keep or Path(tempfile.mkdtemp(prefix="zlprof-fp-"))
    d.mkdir(parents=True, exist_ok=True)
    hits = {name: [0, 0] for name, *_ in [*RULES, (BEFORE,), (BEFORE_FLOOR,)]}  # pairs with any, ops significant
    before_ok = True
    tested_total = 0
    worst: list[tuple[float, str, int]] = []
    shifts: list[float] = []
    inconclusive = flagged = 0
    guarded = [0, 0]  # the default rule with the busy-machine guard: pairs, ops
    t0 = time.perf_counter()
    for i in range(args.pairs):
        a, b = d / f"pair{i:02d}-a.zlp", d / f"pair{i:02d}-b.zlp"
        if not (a.exists() and b.exists()):
            record(a, args)
            record(b, args, load=bool(args.load_every) and i % args.load_every == args.load_every - 1)
        sa, sb = load_session(a), load_session(b)
        res = diff_sessions(sa, sb)
        busy = res.busy
        rows = [r for r in res.rows if r.test is not None and r.verdict != Verdict.FEW]
        tested_total += len(rows)
        for name, bh, effect, floor in RULES:
            n = 0
            for r in rows:
                p = r.q_value if bh else r.test.p_value  # type: ignore[union-attr]
                if sig.decide(p, r.change.get("median"), min_effect=effect,
                              floor=(r.floor or 0.0) * floor / sig.FLOOR_SPREADS,
                              adjusted=r.adjusted if floor else None).significant:
                    n += 1
            hits[name][0] += n > 0
            hits[name][1] += n
        old = every_sample_rule(res, sa, sb)
        if old is None:
            before_ok = False
        else:
            for name, n in zip((BEFORE, BEFORE_FLOOR), old, strict=True):
                hits[name][0] += n > 0
                hits[name][1] += n
        for r in res.rows:
            if r.significant:
                worst.append((r.change.get("median") or 0.0, r.op, i))
        shift = res.shift()
        shifts.append(abs(shift or 0.0))
        n_inc = sum(r.verdict == Verdict.INCONCLUSIVE for r in res.rows)
        n_sig = sum(r.significant for r in res.rows)
        flagged += busy is not None
        inconclusive += n_inc > 0
        guarded[0] += n_sig > 0
        guarded[1] += n_sig
        print(f"pair {i + 1:2d}/{args.pairs}: {len(rows)} ops, default rule: "
              f"{n_sig:2d} significant, {n_inc:2d} inconclusive; "
              f"typical op {(shift or 0.0) * 100:+5.1f}%; {machine(sa, sb)}"
              + (f"; {busy.note()}" if busy is not None else ""), flush=True)
    elapsed = time.perf_counter() - t0
    print()
    what = (f"slowdown_program.py, {args.program:g} s, no slowdown" if args.program else
            f"tiny preset, seed 1, {args.requests} requests x {args.max_tokens} tokens, "
            f"--threads {args.threads}")
    print(f"{args.pairs} pairs of identical runs ({what}); {tested_total} op tests; "
          f"{elapsed:.0f} s; recordings in {d}")
    print(f"{'rule':<40} {'pairs with a false positive':>28} {'false-positive ops':>20}")
    for name in [BEFORE, BEFORE_FLOOR] if before_ok else []:
        pairs, ops = hits[name]
        print(f"{name:<40} {pairs:>14d} / {args.pairs:<11d} {ops:>9d} / {tested_total:<8d}")
    for name, *_ in RULES:
        pairs, ops = hits[name]
        print(f"{name:<40} {pairs:>14d} / {args.pairs:<11d} {ops:>9d} / {tested_total:<8d}")
    name = "the default + busy-machine guard (reported)"
    print(f"{name:<40} {guarded[0]:>14d} / {args.pairs:<11d} {guarded[1]:>9d} / {tested_total:<8d}")
    print(f"\npairs with an op made inconclusive by the busy machine (starvation.py): "
          f"{inconclusive} / {args.pairs}; pairs where the machine slowed one run by more than "
          f"{BUSY_RATIO:.0%} (whether or not any op was significant): {flagged} / {args.pairs}")
    shifts.sort()
    print(f"\nhow much the typical op moved between the two identical runs of a pair: median "
          f"{shifts[len(shifts) // 2] * 100:.1f}%, max {shifts[-1] * 100:.1f}%")
    if worst:
        print("\nsignificant under the default rule (change of median, op, pair):")
        for ch, op, i in sorted(worst, key=lambda w: -abs(w[0]))[:15]:
            print(f"  {ch * 100:+6.1f}%  {op}  (pair {i + 1})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
