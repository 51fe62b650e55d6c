"""A program that measures many distinct op names, then idles (the scale case of issue 11).

    python tests/programs/many_ops.py [N_NAMES] [ROUNDS] [IDLE_S]

Defaults: 10,000 distinct names (100 parents x 100 children, so the tree has depth),
3 rounds of every name, then it sleeps for IDLE_S seconds (600) without measuring.
"""

from __future__ import annotations

import sys
import time

import zlprof


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    idle_s = float(sys.argv[3]) if len(sys.argv) > 3 else 600.0
    groups = max(1, int(n ** 0.5))
    per = -(-n // groups)
    for _ in range(rounds):
        done = 0
        for g in range(groups):
            with zlprof.measure(f"group{g:03d}"):
                for i in range(per):
                    if done >= n:
                        break
                    with zlprof.measure(f"op{g:03d}_{i:03d}"):
                        pass
                    done += 1
    print(f"measured {n} names x {rounds} rounds; idling {idle_s:g} s", flush=True)
    time.sleep(idle_s)


if __name__ == "__main__":
    main()
