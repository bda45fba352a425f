#!/usr/bin/env bash
# A clone without ../shared: every test program and script, run with BITNET_SHARED pointing
# nowhere, says what is missing, skips what needs the data and exits 0 - no crash, no failure.
set -u
B=${B:-build}
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for prog in "$B"/tests/test_* tests/test_*.sh; do
    case "$prog" in *test_no_shared.sh|*test_neon.sh|*.dSYM) continue ;; esac
    [ -x "$prog" ] || continue
    # A program whose source never names the shared data cannot behave differently without it
    # (make test has just run it): only the ones that read it are run again here.
    src=$prog
    case "$prog" in "$B"/tests/*) src=$(ls tests/"$(basename "$prog")".c* 2>/dev/null | head -n 1) ;; esac
    [ -n "$src" ] && ! grep -q 'check_shared\|check_have_shared\|SHARED' "$src" && continue
    BITNET_SHARED=/nonexistent "$prog" > "$out" 2>&1; rc=$?
    if [ "$rc" -eq 0 ] && grep -Eq ': [0-9]+ passed, 0 failed$' "$out"; then ok; else
        fail "$prog without shared data: exit $rc"; tail -n 5 "$out" >&2
    fi
    if grep -q 'nonexistent' "$out" && ! grep -qi 'notice' "$out"; then fail "$prog: no notice naming the missing data"; fi
done
echo "no_shared: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
