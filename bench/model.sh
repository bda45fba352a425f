#!/usr/bin/env bash
# bench/model.sh [BUILD_DIR]: end-to-end speed on a random-weight model of the exact
# microsoft/bitnet-b1.58-2B-4T shape (30 layers, 2560/6912, 20/5 heads, vocab 128256, F16 tied
# head, I2_S projections): prompt tok/s (128 tokens), generation tok/s (64 tokens), and
# generation as a ratio of the roofline (read bandwidth measured in the same run / weight bytes
# read per token). The model is made once (about 1.2 GB) and kept in BUILD_DIR.
set -eu
B=${1:-build}
model=$B/bitnet-2b4t-shape.gguf
[ -f "$model" ] || "$B/bitnet" make-model "$model" --preset 2b4t
# the file mapped (the default), then read into memory in 2 MiB pages (--no-mmap)
for mode in "" --no-mmap; do
    echo "== bitnet bench ${mode:-(mapped)}"
    "$B/bitnet" bench -m "$model" -p 128 -n 64 -r "${BENCH_REPS:-3}" ${BENCH_THREADS:+-t $BENCH_THREADS} $mode
done
