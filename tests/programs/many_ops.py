"""A program that measures many distinct op names, then idles (the scale case of issue 11).

    python tests/programs/many_ops.py [--names N] [--rounds R] [--busy S] [--idle S]

Defaults: 10,000 distinct names (100 groups of 100 children, so the tree has depth),
3 rounds over every name; then ``--busy`` seconds (0) of measuring the names round and
round as fast as it can, then it sleeps ``--idle`` seconds (600) without measuring.
"""

from __future__ import annotations

import argparse
import time

import zlprof


def one_round(n: int, groups: int, per: int) -> int:
    done = 0
    for g in range(groups):
        with zlprof.measure(f"group{g:03d}"):
            for i in range(min(per, n - done)):
                with zlprof.measure(f"op{g:03d}_{i:03d}"):
                    pass
                done += 1
    return done + groups


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--busy", type=float, default=0.0)
    ap.add_argument("--idle", type=float, default=600.0)
    a = ap.parse_args()
    groups = max(1, int(a.names ** 0.5))
    per = -(-a.names // groups)
    measured = sum(one_round(a.names, groups, per) for _ in range(a.rounds))
    print(f"measured {a.names} names x {a.rounds} rounds ({measured} blocks)", flush=True)
    end = time.monotonic() + a.busy
    while time.monotonic() < end:
        measured += one_round(a.names, groups, per)
    if a.busy:
        print(f"busy for {a.busy:g} s: {measured} blocks in all", flush=True)
    print(f"idling {a.idle:g} s", flush=True)
    time.sleep(a.idle)


if __name__ == "__main__":
    main()
