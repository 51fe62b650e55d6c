"""What the machine does to one op's durations within a run, and what the reference loop
could take out of them (an experiment, not what zlprof does).

Reads the recordings ``bench_baseline_detect.py --keep DIR`` made (``rK-base``,
``rK-slowed`` with ``target`` 10 % slower, ``rK-control``) and, per recording, cuts the run
into one-second windows: the median duration of op ``target`` in each, the process's CPU
wait share and the median of the sampler's reference loop (profiler/cpu.py). Prints the
correlation of the op's medians with either, over the windows of every run.

Then, per round, the comparison zlprof makes (block medians of every sample, the noise
floor) against the same comparison on durations scaled by the machine's speed in their
window (``duration * fast / loop``, where ``loop`` is the window's reference loop,
smoothed over 11 samples, and ``fast`` the 20th percentile of both runs' loops): the
change of ``target`` each finds, its noise floor and its verdict (the other ops tested
with it, Benjamini-Hochberg over the four).

Run: python benchmarks/bench_baseline_machine.py DIR [--op target]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from zlprof import significance as sig
from zlprof.blocks import BlockMedians
from zlprof.profiler.cpu import PROBE, RUN, WAIT
from zlprof.recording import read_recording


class Run:
    """One recording's samples by op and its CPU readings."""

    def __init__(self, path: Path) -> None:
        names: dict[int, str] = {}
        t: list[int] = []
        cols: dict[str, list[int]] = {RUN: [], WAIT: [], PROBE: []}
        parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for f in read_recording(path).frames:
            if f.kind == "names":
                for pid, _parent, name in f.body["paths"]:
                    names[int(pid)] = str(name)
            elif f.kind == "mem" and PROBE in f.body["gauges"]:
                t += f.body["t"].tolist()
                for k in cols:
                    cols[k] += f.body["gauges"][k].tolist()
            elif f.kind == "meas":
                p, t1 = f.body["path"], f.body["t1"]
                d = t1 - f.body["t0"]
                for pid in np.unique(p):
                    m = p == pid
                    parts.setdefault(int(pid), []).append((t1[m], d[m]))
        self.ops = {names.get(pid, str(pid)): (np.concatenate([a for a, _ in v]), np.concatenate([b for _, b in v]))
                    for pid, v in parts.items()}
        self.t = np.asarray(t, np.int64)
        self.run, self.wait = np.asarray(cols[RUN]), np.asarray(cols[WAIT])
        probe = np.asarray(cols[PROBE], np.float64)
        k = 11
        pad = np.pad(probe, k // 2, mode="edge")
        self.loop = np.array([np.median(pad[i:i + k]) for i in range(len(probe))])

    def windows(self, op: str) -> list[tuple[float, float, float]]:
        """(median duration, wait share, median loop) of every one-second window."""
        t1, d = self.ops[op]
        out = []
        edges = np.arange(self.t[0], self.t[-1], 1_000_000_000)
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            i = np.flatnonzero((self.t >= lo) & (self.t < hi))
            m = (t1 >= lo) & (t1 < hi)
            if len(i) < 3 or m.sum() < 10:
                continue
            dw, dr = self.wait[i[-1]] - self.wait[i[0]], self.run[i[-1]] - self.run[i[0]]
            out.append((float(np.median(d[m])), dw / max(dr + dw, 1), float(np.median(self.loop[i]))))
        return out

    def blocks(self, op: str, fast: float | None) -> np.ndarray:
        t1, d = self.ops[op]
        if fast is not None:
            idx = np.clip(np.searchsorted(self.t, t1), 0, len(self.t) - 1)
            d = d * (fast / self.loop[idx])
        bm = BlockMedians()
        bm.add(np.asarray(d, np.int64))
        return bm.values()


def compare(a: Run, b: Run, normalise: bool) -> dict[str, tuple[sig.Verdict, float, float]]:
    fast = float(np.percentile(np.r_[a.loop, b.loop], 20)) if normalise else None
    rows = []
    for op in a.ops.keys() & b.ops.keys():
        va, vb = a.blocks(op, fast), b.blocks(op, fast)
        if len(va) < sig.MIN_SAMPLES or len(vb) < sig.MIN_SAMPLES:
            continue
        bt = sig.compare_blocks(va, vb)
        rows.append((op, bt, float(np.expm1(np.median(vb) - np.median(va)))))
    qs = sig.benjamini_hochberg([r[1].test.p_value for r in rows])
    return {op: (sig.decide(q, ch, floor=bt.floor), ch, bt.floor)
            for (op, bt, ch), q in zip(rows, qs, strict=True)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--op", default="target")
    args = ap.parse_args()
    bases = sorted(args.dir.glob("r*-base.zlp"), key=lambda p: int(re.findall(r"\d+", p.name)[0]))
    wins: list[tuple[float, float, float]] = []
    right = {(n, norm): 0 for n in ("slowed", "control") for norm in (False, True)}
    rounds = 0
    for base in bases:
        others = {n: base.with_name(base.name.replace("-base", f"-{n}")) for n in ("slowed", "control")}
        if not all(p.exists() for p in others.values()):
            continue
        try:
            a = Run(base)
            runs = {n: Run(p) for n, p in others.items()}
        except Exception as e:  # a recording cut short
            print(f"{base.name}: skipped ({e})")
            continue
        rounds += 1
        wins += a.windows(args.op) + [w for r in runs.values() for w in r.windows(args.op)]
        for n, b in runs.items():
            line = f"{base.name[:3]} {n:<7}"
            for norm in (False, True):
                res = compare(a, b, norm)
                v, ch, floor = res[args.op]
                significant = sorted(op for op, r in res.items() if r[0].significant)
                ok = significant == [args.op] if n == "slowed" else not significant
                right[(n, norm)] += ok and (n == "control" or v == sig.Verdict.SLOWER)
                line += (f" | {'scaled by loop' if norm else 'as zlprof':<14} {args.op} {ch:+6.1%} "
                         f"floor {floor:5.1%} {v:<15}")
            print(line)
    if not wins:
        print("no recordings with CPU readings")
        return 1
    w = np.asarray(wins)
    print(f"\n{len(w)} one-second windows of {rounds} rounds: correlation of {args.op}'s median with "
          f"the reference loop {np.corrcoef(w[:, 0], w[:, 2])[0, 1]:+.2f}, with the CPU wait share "
          f"{np.corrcoef(w[:, 0], w[:, 1])[0, 1]:+.2f}")
    for norm in (False, True):
        print(f"{'scaled by the loop' if norm else 'as zlprof compares'}: slowdown found (and nothing "
              f"else) {right[('slowed', norm)]}/{rounds}, control quiet {right[('control', norm)]}/{rounds}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
