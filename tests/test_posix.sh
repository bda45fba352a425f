#!/usr/bin/env bash
# No hidden Linux assumptions: every unit test built against plain POSIX (`make posix`:
# -D_POSIX_C_SOURCE=200809L, no _GNU_SOURCE / _DEFAULT_SOURCE, BITNET_NO_LINUX_EXTENSIONS) and
# run. Prints "posix: N passed, N failed".
set -u
# Without the shared test data (a clone without ../shared) this suite is skipped with a notice.
if [ ! -f "${BITNET_SHARED:-../shared}/data/README.md" ]; then
    echo "notice: ${BITNET_SHARED:-../shared}/data not found (set BITNET_SHARED): the posix suite needs the shared models, skipped"
    echo "posix: 0 passed, 0 failed"
    exit 0
fi
cd "$(dirname "$0")/.."
B=${B:-build}
if ! make --no-print-directory -s B="$B" posix >/dev/null; then
    echo "FAIL: make posix" >&2
    echo "posix: 0 passed, 1 failed"
    exit 1
fi
passed=0 failed=0
for prog in "$B"/posix/test_*; do
    out=$("$prog" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '^[A-Za-z0-9_+ -]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=$(printf '%s' "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/p')
    f=$(printf '%s' "$line" | sed -nE 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/p')
    if [ -z "$line" ] || [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        printf '%s\n' "$out" | tail -n 20 >&2
        echo "FAIL: $prog (exit $rc)" >&2
        failed=$((failed + 1))
    else
        passed=$((passed + p))
    fi
done
echo "posix: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
