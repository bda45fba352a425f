#!/usr/bin/env bash
# Cross-compiles tests/test_kernels.c for aarch64 (static) with gcc, and with clang when it is
# installed, and runs each under qemu-aarch64 twice: a CPU with dotprod (-cpu max) and one
# without (-cpu cortex-a53). Prints "neon: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
FLAGS="-std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -DTEST_SMALL -I."
if ! command -v "$CC" >/dev/null 2>&1 || ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "notice: $CC or $QEMU not found; NEON kernels not tested"
    echo "neon: 0 passed, 0 failed"
    exit 0
fi
out=${B:-build}/neon
mkdir -p "$out"
passed=0 failed=0

# run_on_cpus BINARY LABEL: adds its counts on both CPUs to passed/failed
run_on_cpus() {
    local bin=$1 label=$2 cpu res rc line p f
    for cpu in max cortex-a53; do
        res=$("$QEMU" -cpu "$cpu" "$bin" 2>&1); rc=$?
        line=$(printf '%s\n' "$res" | grep -E '^kernels: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
        p=0 f=1
        if [ -n "$line" ]; then
            p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
            f=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
        fi
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        if [ "$f" -ne 0 ]; then printf '%s\n' "$res" | grep -v '^cpu: ' | tail -n 20; fi
        printf '%s\n' "$res" | grep '^cpu: ' | sed "s/^/[$label $cpu] /"
        passed=$((passed + p)) failed=$((failed + f))
    done
}

# shellcheck disable=SC2086
if "$CC" $FLAGS -static -o "$out/test_kernels" tests/test_kernels.c -lpthread -lm; then
    run_on_cpus "$out/test_kernels" gcc
else
    failed=$((failed + 1))
fi
# clang: its own arm_neon.h and target attributes, linked with the gcc cross toolchain
if command -v clang >/dev/null 2>&1 && [ -d /usr/aarch64-linux-gnu/include ]; then
    # shellcheck disable=SC2086
    if clang --target=aarch64-linux-gnu -I/usr/aarch64-linux-gnu/include $FLAGS -c -o "$out/test_kernels_clang.o" \
            tests/test_kernels.c && "$CC" -static -o "$out/test_kernels_clang" "$out/test_kernels_clang.o" -lpthread -lm; then
        run_on_cpus "$out/test_kernels_clang" clang
    else
        failed=$((failed + 1))
    fi
else
    echo "notice: clang or the aarch64 headers not found; NEON kernels not built with clang"
fi
echo "neon: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
