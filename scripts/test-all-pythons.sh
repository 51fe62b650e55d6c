#!/usr/bin/env bash
# Run the test suite on every supported Python (3.11, 3.12, 3.13), each in a fresh venv
# with the test extra, and print one "passed/failed" line per version.
#
#   scripts/test-all-pythons.sh                 # pythons found as python3.11 .. python3.13
#   PYTHONS="/opt/py311/bin/python3 $(pyenv prefix 3.13.0)/bin/python3" scripts/test-all-pythons.sh
#   scripts/test-all-pythons.sh -x -k stats     # extra arguments go to pytest
#
# CI (.ci/run) runs one version only; this is for release checks (~3 x the suite's time).
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${PYTHONS:-}" ]]; then
    PYTHONS=""
    for v in 3.11 3.12 3.13; do
        if command -v "python$v" >/dev/null; then
            PYTHONS+=" $(command -v "python$v")"
        elif command -v pyenv >/dev/null && p=$(pyenv prefix "$v" 2>/dev/null); then
            PYTHONS+=" $p/bin/python3"
        else
            echo "python$v: not found (set PYTHONS to choose interpreters)" >&2
        fi
    done
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
summary=()
status=0
for py in $PYTHONS; do
    ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])') || { status=1; continue; }
    venv="$work/venv-$ver"
    echo "=== Python $ver ($py)"
    if ! "$py" -m venv "$venv" || ! "$venv/bin/python" -m pip install -q -e ".[test]"; then
        summary+=("Python $ver: install failed")
        status=1
        continue
    fi
    log="$work/pytest-$ver.log"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [[ $rc -eq 0 ]] || status=1
    summary+=("Python $ver: $(tail -n 1 "$log" | sed 's/=//g; s/^ *//; s/ *$//')")
done
echo
printf '%s\n' "${summary[@]}"
exit $status
