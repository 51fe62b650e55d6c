#!/usr/bin/env bash
# Smoke test of the real app in a real terminal: starts `zlprof live --preset tiny` in a
# detached tmux session (80x24), types keys and reads the screen with capture-pane.
# Checks the table fills, sort / drill-down / help / pause / theme respond, the app survives
# 200x60 and 40x12, and q stops the child, closes the recording and exits 0.
#
#   scripts/tmux_smoke.sh            (PYTHON=/path/to/python to pick the interpreter)
#
# Exit status 0 when every check passed; on failure the last screen is printed.
set -euo pipefail

PYTHON=${PYTHON:-python3}
command -v tmux >/dev/null || { echo "tmux_smoke: tmux is not installed" >&2; exit 2; }

tmp=$(mktemp -d)
session="zlprof-smoke-$$"
export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache"
record="$tmp/smoke.zlp"

cleanup() {
    tmux kill-session -t "$session" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

screen() { tmux capture-pane -p -t "$session" 2>/dev/null || true; }

fail() {
    echo "tmux_smoke: FAIL: $*" >&2
    echo "----- screen -----" >&2
    screen >&2
    exit 1
}

# wait_for PATTERN [SECONDS]: until the screen matches (grep -E)
wait_for() {
    local pattern=$1 limit=${2:-20} i
    for ((i = 0; i < limit * 10; i++)); do
        if screen | grep -Eq -- "$pattern"; then
            return 0
        fi
        sleep 0.1
    done
    fail "no '$pattern' on screen after ${limit}s"
}

keys() { tmux send-keys -t "$session" "$@"; }
# Escape needs a pause after it, or the terminal reads ESC + the next key as alt+key
esc() { tmux send-keys -t "$session" Escape; sleep 0.4; }

tmux new-session -d -s "$session" -x 80 -y 24 \
    "$PYTHON -m zlprof live --preset tiny --requests 0 --record '$record'; echo \"ZLPROF-EXIT=\$?\"; sleep 60"

wait_for "● running" 30
wait_for "tokenize|prefill|forward_pass" 60    # the table has ops
wait_for "tok/s [0-9]" 30                       # tokens are counted
child=$(screen | sed -nE 's/.* pid ([0-9]+) .*/\1/p' | head -1)
[[ -n "$child" ]] || fail "no child pid in the header"
echo "tmux_smoke: app running, child pid $child"

keys s                                          # opens by total: s goes on to share
wait_for "sort share" 5
keys S
wait_for "sort share ▲" 5
keys Down Down Enter
wait_for "durations · log scale" 10
wait_for "children · self vs total" 5
esc
wait_for "operations · ms" 5
keys f
sleep 0.3
keys l m _ h e a d
wait_for "filter “lm_head”" 5
esc
keys "?"
wait_for "· keys" 5
esc
keys Space
wait_for "PAUSED" 5
keys Space
keys t
wait_for "theme: light" 5
keys l
wait_for "child output" 5
esc
echo "tmux_smoke: keys answered at 80x24"

tmux resize-window -t "$session" -x 200 -y 60
wait_for " std " 10                             # all columns at 200 wide
wait_for "memory" 5
tmux resize-window -t "$session" -x 40 -y 12
sleep 1
wait_for "running|paused" 5
tmux resize-window -t "$session" -x 80 -y 24
wait_for "operations · ms" 10
echo "tmux_smoke: survived 200x60 and 40x12"

keys q
wait_for "ZLPROF-EXIT=0" 20
screen | grep -q "zlprof: recorded $record" || fail "no 'recorded' line after quitting"
[[ -s "$record" ]] || fail "recording $record is missing or empty"
if kill -0 "$child" 2>/dev/null; then
    fail "child $child still running after quit"
fi
echo "tmux_smoke: OK (quit stopped the child, recording $(stat -c %s "$record") bytes)"
