#!/usr/bin/env bash
# Compiles bitnet_cuda.cu and the CUDA tests with nvcc for sm_80 and sm_90 (SASS) plus PTX,
# every warning an error, and checks the object holds both architectures. Skipped with a
# notice where nvcc is missing. Prints "cuda_nvcc: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if [ ! -x "$NVCC" ]; then
    echo "notice: nvcc not found; bitnet_cuda.cu not compiled for the GPU"
    echo "cuda_nvcc: 0 passed, 0 failed"
    exit 0
fi
out=${B:-build}/nvcc_check
mkdir -p "$out"
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
ARCH="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90"
WARN="-Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror"
# shellcheck disable=SC2086
if "$NVCC" -std=c++14 -O3 $ARCH $WARN -I. -c -o "$out/bitnet_cuda.o" bitnet_cuda.cu 2> "$out/err"; then ok
else fail "nvcc bitnet_cuda.cu"; cat "$out/err" >&2; fi
CUOBJDUMP=$(dirname "$NVCC")/cuobjdump
if [ -x "$CUOBJDUMP" ] && [ -f "$out/bitnet_cuda.o" ]; then
    list=$("$CUOBJDUMP" --list-elf --list-ptx "$out/bitnet_cuda.o" 2>&1)
    for want in sm_80 sm_90 'compute_90'; do
        if printf '%s\n' "$list" | grep -q "$want"; then ok; else fail "object lacks $want"; fi
    done
fi
# shellcheck disable=SC2086
if "$NVCC" -std=c++14 -O1 -arch=sm_80 $WARN -I. -x cu -c -o "$out/test_cuda.o" tests/test_cuda.cpp 2> "$out/err"; then ok
else fail "nvcc tests/test_cuda.cpp"; cat "$out/err" >&2; fi
echo "cuda_nvcc: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
