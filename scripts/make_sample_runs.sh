#!/usr/bin/env bash
# Regenerates sample_runs/: recordings of the built-in workload that replay out of the box.
# Usage: scripts/make_sample_runs.sh   (from a checkout with zlprof installed)
set -euo pipefail
cd "$(dirname "$0")/.."
ZLPROF=${ZLPROF:-zlprof}
mkdir -p sample_runs
# tiny model, one prompt at a time: many short requests, the whole drill-down tree
$ZLPROF record --preset tiny --batch 1 --max-tokens 48 --requests 16 --seed 1 --threads 1 \
    --out sample_runs/tiny-batch1.zlp --force > /dev/null
# small model, four prompts decoded together
$ZLPROF record --preset small --batch 4 --max-tokens 32 --requests 8 --seed 2 --threads 1 \
    --out sample_runs/small-batch4.zlp --force > /dev/null
ls -l sample_runs/*.zlp
