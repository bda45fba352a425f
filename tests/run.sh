#!/usr/bin/env bash
# Runs every test program given on the command line and ends with the line "N passed, N failed".
# A program that exits non-zero without reporting failures (a crash, a sanitizer report) counts
# as one more failure.
set -u
passed=0 failed=0
for prog in "$@"; do
    out=$("$prog" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_+ -]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=0 f=0
    if [ -n "$line" ]; then
        p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "FAIL $prog (exit $rc)"
    else
        echo "ok   $prog: $p passed"
    fi
    passed=$((passed + p)) failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
