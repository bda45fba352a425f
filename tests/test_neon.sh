#!/usr/bin/env bash
# Cross-compiles tests/test_kernels.c for aarch64 (static) and runs it under qemu-aarch64 twice:
# a CPU with dotprod (-cpu max) and one without (-cpu cortex-a53). Prints "neon: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
if ! command -v "$CC" >/dev/null 2>&1 || ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "notice: $CC or $QEMU not found; NEON kernels not tested"
    echo "neon: 0 passed, 0 failed"
    exit 0
fi
out=${B:-build}/neon
mkdir -p "$out"
if ! "$CC" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DTEST_SMALL -static -I. \
        -o "$out/test_kernels" tests/test_kernels.c -lpthread -lm; then
    echo "neon: 0 passed, 1 failed"
    exit 1
fi
passed=0 failed=0
for cpu in max cortex-a53; do
    res=$("$QEMU" -cpu "$cpu" "$out/test_kernels" 2>&1); rc=$?
    line=$(printf '%s\n' "$res" | grep -E '^kernels: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    p=0 f=1
    if [ -n "$line" ]; then
        p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
        f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -ne 0 ]; then printf '%s\n' "$res" | grep -v '^cpu: ' | tail -n 20; fi
    printf '%s\n' "$res" | grep '^cpu: ' | sed "s/^/[$cpu] /"
    passed=$((passed + p)) failed=$((failed + f))
done
echo "neon: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
