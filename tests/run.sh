#!/usr/bin/env bash
# Runs every test program given on the command line and ends with the line "N passed, N failed".
# A program that exits non-zero without reporting failures (a crash, a sanitizer report) counts
# as one more failure. Programs run TEST_JOBS at a time (default: make's -j, else 1); each one's
# result is printed in the order given, with its wall time in seconds.
set -u
jobs=${TEST_JOBS:-$(printf ' %s\n' "${MAKEFLAGS:-}" | sed -nE 's/.* -j ?([0-9]+).*/\1/p')}
case "$jobs" in ''|*[!0-9]*|0) jobs=1 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
progs=("$@")
passed=0 failed=0 next=0 reported=0

start() {   # start I: runs program I in the background; $tmp/I.rc appears when it has finished
    local i=$1
    ( s=$(date +%s); "${progs[$i]}" > "$tmp/$i.out" 2>&1 < /dev/null; rc=$?
      echo "$rc $(( $(date +%s) - s ))" > "$tmp/$i.rc.part" && mv "$tmp/$i.rc.part" "$tmp/$i.rc" ) &
}

report() {   # report I: its ok / FAIL line, and the totals
    local i=$1 prog=${progs[$1]} out rc secs line p=0 f=0
    out=$(cat "$tmp/$i.out")
    read -r rc secs < "$tmp/$i.rc"
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_+ -]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -n "$line" ]; then
        p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 40
        echo "FAIL $prog (exit $rc, ${secs}s)"
    else
        echo "ok   $prog: $p passed (${secs}s)"
    fi
    passed=$((passed + p)) failed=$((failed + f))
}

while [ "$reported" -lt "${#progs[@]}" ]; do
    done_ahead=0
    for ((i = reported; i < next; i++)); do [ -f "$tmp/$i.rc" ] && done_ahead=$((done_ahead + 1)); done
    if [ $((next - reported - done_ahead)) -lt "$jobs" ] && [ "$next" -lt "${#progs[@]}" ]; then
        start "$next"; next=$((next + 1)); continue
    fi
    if [ -f "$tmp/$reported.rc" ]; then report "$reported"; reported=$((reported + 1)); continue; fi
    sleep 0.2
done
wait
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
