#!/usr/bin/env bash
# bench/cuda_device.sh [BUILD_DIR]: everything that needs an NVIDIA GPU, in one run of a few
# minutes: builds the companion, the native CUDA tests and the GPU bench (nvcc, sm_80 + sm_90);
# runs the CUDA tests natively (every kernel against the reference kernels, the whole forward
# pass against the CPU on the shared tiny models); runs the CLI device checks with
# build/bitnet-cuda; then, on a random-weight model of the 2B-4T shape (made once, ~1.2 GB),
# measures the read bandwidth with the bench's own probe kernel, prefill tok/s at 512 tokens and
# decode tok/s at 1, 8 and 32 sequences. Last line:
#   summary: dev=.. bw_GBps=.. tg1_tps=.. tg8_tps=.. pp512_tps=.. roofline_ratio=.. tg32_tps=..
# Without a GPU it builds what it can and says what it skipped (summary dev=none).
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
J=${JOBS:-$(nproc 2>/dev/null || echo 4)}
t0=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - t0 )) s)"; }
die() { echo "cuda_device: $*" >&2; echo "summary: dev=error bw_GBps=0 tg1_tps=0 tg8_tps=0 pp512_tps=0 roofline_ratio=0"; exit 1; }

NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || die "nvcc not found (set NVCC=/path/to/nvcc)"
have_gpu=0
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    have_gpu=1
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
fi

step "build (make -j$J)"
make -j"$J" B="$B" NVCC="$NVCC" "$B/bitnet" cuda "$B/tests/cuda_native" "$B/bench/cuda_bench" > "$B.cuda_build.log" 2>&1 \
    || { tail -n 30 "$B.cuda_build.log"; die "build failed (log: $B.cuda_build.log)"; }
if [ "$have_gpu" -eq 0 ]; then
    echo "notice: no NVIDIA GPU here (nvidia-smi -L failed); tests and measurements skipped"
    echo "summary: dev=none bw_GBps=0 tg1_tps=0 tg8_tps=0 pp512_tps=0 roofline_ratio=0"
    exit 0
fi

step "CUDA tests, native"
"$B/tests/cuda_native" 2>&1 | tail -n 20
tests_rc=${PIPESTATUS[0]}
step "CLI device checks with $B/bitnet-cuda"
BITNET="$B/bitnet" BITNET_CUDA="$B/bitnet-cuda" tests/test_cuda_cli.sh 2>&1 | tail -n 5
cli_rc=${PIPESTATUS[0]}

model=$B/bitnet-2b4t-shape.gguf
if [ ! -f "$model" ]; then
    step "make the 2B-4T-shape model"
    "$B/bitnet" make-model "$model" --preset 2b4t || die "make-model failed"
fi
step "end to end with bitnet-cuda"
BITNET_DEVICE=cuda "$B/bitnet-cuda" run -m "$model" -p "The sea is" -n 16 2>&1 | tail -n 3
step "GPU bench"
bench_out=$("$B/bench/cuda_bench" "$model" "${STEPS:-64}") || { printf '%s\n' "$bench_out"; die "cuda_bench failed"; }
step "done"
[ "$tests_rc" -eq 0 ] && [ "$cli_rc" -eq 0 ] || echo "cuda_device: tests failed (native $tests_rc, cli $cli_rc)" >&2
printf '%s\n' "$bench_out"             # its last line is the summary
