#!/usr/bin/env bash
# bench/serve.sh [BUILD_DIR]: serving speed on the 2B-4T-shape model (made once, as bench/model.sh
# does): `bitnet bench` generation speed, then `bitnet serve -np 8` driven by build/bench/serve at
# 1, 2, 4 and 8 concurrent streams (aggregate generated tok/s, p50/p99 time to first token and
# between tokens), and the 1-stream server speed as a ratio of `bitnet bench`'s, in the same run:
# from the request (prefill and TTFT included) and from the first token (decode only, like
# `bitnet bench`'s tg). Then 3 streams generating while a ~250-token prompt joins (its TTFT and
# the streams' longest stall: chunked prefill, --prefill-budget).
# BENCH_SERVE_TOKENS (64) tokens per stream; BENCH_THREADS threads (all cores);
# BENCH_SERVE_ARGS more `bitnet serve` options (e.g. --prefill-budget 0).
set -eu
B=${1:-build}
model=${BENCH_SERVE_MODEL:-$B/bitnet-2b4t-shape.gguf}
n=${BENCH_SERVE_TOKENS:-64}
[ -f "$model" ] || "$B/bitnet" make-model "$model" --preset 2b4t
echo "== bitnet bench (the same model, prompt 16, generation $n)"
"$B/bitnet" bench -m "$model" -p 16 -n "$n" -r 2 ${BENCH_THREADS:+-t $BENCH_THREADS} | tee "$B/bench-serve-ref.txt"
tg=$(sed -n 's/^summary: .*tg_tps=\([0-9.]*\).*/\1/p' "$B/bench-serve-ref.txt")
log=$B/bench-serve-server.log
"$B/bitnet" serve -m "$model" --port 0 -np 8 -c $((8 * (2 * n + 400))) ${BENCH_THREADS:+-t $BENCH_THREADS} \
    ${BENCH_SERVE_ARGS:-} > "$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for i in $(seq 600); do grep -q ' ready: ' "$log" && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
grep -q ' ready: ' "$log" || { cat "$log"; exit 1; }
port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")
echo "== bitnet serve -np 8 ($n tokens per stream)"
"$B/bench/serve" "$port" "$n" 1 1 2 4 8 j3 | tee "$B/bench-serve.txt" | grep -v '^summary' | awk 'NR != 3'
tps1=$(sed -n 's/^summary: tps_1=\([0-9.]*\).*/\1/p' "$B/bench-serve.txt")
awk -v a="$tps1" -v b="$tg" 'BEGIN { if (b > 0) printf "1 stream through the server / bitnet bench generation: %.3f (%.2f / %.2f tok/s)\n", a / b, a, b }'
dtps1=$(sed -n 's/^summary: .*dtps_1=\([0-9.]*\).*/\1/p' "$B/bench-serve.txt")
awk -v a="$dtps1" -v b="$tg" 'BEGIN { if (b > 0) printf "1 stream decode (first to last token) / bitnet bench generation: %.3f (%.2f / %.2f tok/s)\n", a / b, a, b }'
kill -INT $pid; wait $pid
trap - EXIT
# the host's speed drifts (a shared machine): `bitnet bench` again after the server shows by how much
"$B/bitnet" bench -m "$model" -p 16 -n "$n" -r 2 ${BENCH_THREADS:+-t $BENCH_THREADS} > "$B/bench-serve-ref2.txt"
tg2=$(sed -n 's/^summary: .*tg_tps=\([0-9.]*\).*/\1/p' "$B/bench-serve-ref2.txt")
awk -v a="$tg" -v b="$tg2" 'BEGIN { if (a > 0) printf "bitnet bench generation after the server: %.2f tok/s (%.3f of the one before: the drift of this host)\n", b, b / a }'
grep '^summary' "$B/bench-serve.txt"
