"""Does the live baseline comparison find a 10 % slowdown of one op, and how soon?

Records, with ``zlprof record -- python benchmarks/slowdown_program.py``, a baseline run,
a control run of the same program (no slowdown) and a run where the op ``target`` is
made ``--slowdown`` (10 %) slower, each ``--seconds`` (30) long. Then:

* folds the slowed run's recording into a SessionState in order, as a live session
  would receive it, and asks the BaselineComparator (what ``zlprof live --baseline``
  runs) for its verdicts after every second of data: when is ``target`` first called
  slower (and does it stay so), and what do the other ops get;
* runs ``zlprof diff BASE SLOWED --fail-on "p50>+5%"`` and the same for the control run,
  and prints both exit statuses (3: a rule was violated, 0: none, 4: inconclusive, the
  machine slowed one run notably more: starvation.py), with each pair's CPU figures.

With ``--rounds N`` the three recordings are made N times (base, slowed, control, in
that order) and the summary counts the rounds where each went right.

Run: python benchmarks/bench_baseline_detect.py [--seconds 30] [--slowdown 0.10] [--rounds N]
     [--keep DIR] [--load-every K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zlprof.baseline import BaselineComparator
from zlprof.recording import load_session, read_recording
from zlprof.session import SessionState
from zlprof.significance import Verdict
from zlprof.starvation import compare_shares, cpu_share, machine_ratio

PROGRAM = Path(__file__).resolve().with_name("slowdown_program.py")
#: the program's ops are meant to be single-threaded: a BLAS that spreads a 96 x 96 matmul
#: over both cores of a 2-core machine makes the program fight itself (and its recorder)
SINGLE_THREADED = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}


def record(path: Path, seconds: float, slowdown: float, load: bool = False) -> None:
    """One recording; ``load``: a ``yes > /dev/null`` runs beside it (the other core busy)."""
    loader = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if load else None
    try:
        _record(path, seconds, slowdown)
    finally:
        if loader is not None:
            loader.kill()
            loader.wait()


def machine(base: Path, other: Path) -> str:
    """The two runs' CPU figures (starvation.py) and whether they void the comparison."""
    a, b = cpu_share(load_session(base).memory_series()), cpu_share(load_session(other).memory_series())
    if a is None or b is None:
        return "machine: not recorded"
    busy = compare_shares(a, b)
    loop = f"{b.probe_ns / a.probe_ns - 1:+.0%}" if a.probe_ns and b.probe_ns else "?"
    return (f"machine: wait {a.wait:.0%} -> {b.wait:.0%}, reference loop {loop}, machine ratio "
            f"{machine_ratio(a, b) - 1:+.0%}" + (f"; {busy.note()}" if busy is not None else "; comparable"))


def _record(path: Path, seconds: float, slowdown: float) -> None:
    subprocess.run(
        [sys.executable, "-m", "zlprof", "record", "--out", str(path), "--force", "--",
         sys.executable, str(PROGRAM), "--seconds", str(seconds), "--slowdown", str(slowdown)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds * 4 + 60,
        env=SINGLE_THREADED,
    )


def fail_on(base: Path, other: Path, rule: str) -> tuple[int, list[str]]:
    res = subprocess.run([sys.executable, "-m", "zlprof", "diff", str(base), str(other), "--fail-on", rule],
                         capture_output=True, text=True, timeout=120)
    return res.returncode, [line for line in res.stderr.splitlines() if "FAIL" in line]


def live_detection(comparator: BaselineComparator, path: Path) -> tuple[float | None, object, float]:
    """Fold ``path`` in order; after every second of data ask for the verdicts. Returns
    the data time from which 'target' was called slower and stayed so (None: never),
    the final view, and the mean time of one comparison (a live refresh's cost)."""
    frames = read_recording(path).frames
    state = SessionState()
    first_slower: float | None = None
    next_s = 1.0
    spent, calls = 0.0, 0
    for i in range(0, len(frames), 8):
        state.ingest_many(frames[i : i + 8])
        t = state.elapsed_ns / 1e9
        if t < next_s and i + 8 < len(frames):
            continue
        next_s = t + 1.0
        t0 = time.perf_counter()
        view = comparator.compare_now(state)
        spent += time.perf_counter() - t0
        calls += 1
        target = view.ops.get("target")
        if target is not None and target.verdict == Verdict.SLOWER:
            if first_slower is None:
                first_slower = t
        else:
            first_slower = None  # must stay slower from then on
    return first_slower, comparator.compare_now(state), spent / max(calls, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--slowdown", type=float, default=0.10)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--load-every", type=int, default=0, metavar="K",
                    help="every K-th round, run a `yes > /dev/null` beside its slowed and control runs")
    args = ap.parse_args()
    d = args.keep or Path(tempfile.mkdtemp(prefix="zlprof-detect-"))
    d.mkdir(parents=True, exist_ok=True)
    tally = {"detected": 0, "slowed_exit3": 0, "control_quiet": 0, "control_exit0": 0,
             "slowed_exit4": 0, "control_exit4": 0, "slowed_busy": 0}
    costs: list[float] = []
    for k in range(args.rounds):
        base, slowed, control = d / f"r{k}-base.zlp", d / f"r{k}-slowed.zlp", d / f"r{k}-control.zlp"
        load = bool(args.load_every) and k % args.load_every == args.load_every - 1
        for path, slow in ((base, 0.0), (slowed, args.slowdown), (control, 0.0)):
            if not path.exists():
                record(path, args.seconds, slow, load=load and path is not base)
        comparator = BaselineComparator.load(base, every_s=0)
        print(f"\nround {k + 1}: baseline {base.name}; 'target' +{args.slowdown * 100:.0f}% in "
              f"{slowed.name}; {control.name} unchanged; {args.seconds:.0f} s each")
        for name, path in (("control", control), ("slowed", slowed)):
            when, view, cost = live_detection(comparator, path)
            costs.append(cost)
            print(f"  {name}: {view.summary()}")  # type: ignore[attr-defined]
            print(f"    {machine(base, path)}")
            for op, c in view.ops.items():  # type: ignore[attr-defined]
                adj = getattr(c, "adjusted", None)
                print(f"    {op:<8} n={c.n_current:>7,}  p50 {c.change['median'] * 100:+6.2f}%  "
                      f"p99 {(c.change['p99'] or 0) * 100:+6.2f}%  machine-adjusted "
                      + ("   -   " if adj is None else f"{adj * 100:+6.2f}%")
                      + f"  noise floor {(getattr(c, 'floor', None) or 0) * 100:5.2f}%  {c.verdict}")
            code, lines = fail_on(base, path, "p50>+5%")
            if name == "slowed":
                found = f"after {when:.0f} s of data" if when is not None else "NOT DETECTED"
                print(f"    'target' called slower (and stayed so) {found}")
                tally["detected"] += when is not None
                tally["slowed_exit3"] += code == 3
                tally["slowed_exit4"] += code == 4
                tally["slowed_busy"] += view.busy is not None  # type: ignore[attr-defined]
            else:
                tally["control_quiet"] += not any(
                    c.verdict.significant for c in view.ops.values())  # type: ignore[attr-defined]
                tally["control_exit0"] += code == 0
                tally["control_exit4"] += code == 4
            print(f"    zlprof diff {base.name} {path.name} --fail-on 'p50>+5%': exit {code}")
            for line in lines:
                print(f"      {line}")
    n = args.rounds
    print(f"\n{n} round(s): slowdown detected live {tally['detected']}/{n}, --fail-on exit 3 "
          f"{tally['slowed_exit3']}/{n}; control with nothing significant "
          f"{tally['control_quiet']}/{n}, --fail-on exit 0 {tally['control_exit0']}/{n}")
    print(f"the busy machine (exit 4, inconclusive): slowed {tally['slowed_exit4']}/{n}, control "
          f"{tally['control_exit4']}/{n}; slowed run's live view inconclusive {tally['slowed_busy']}/{n}")
    print(f"one live comparison (compare_now, 4 ops, once a second of data): mean "
          f"{sum(costs) / len(costs) * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
