#!/usr/bin/env bash
# The `bitnet` command line: info lists every shared file; bad files and arguments give a
# one-line error on stderr and exit status 1, never a signal.
set -u
. "$(dirname "$0")/lib.sh"

have_shared=1
if [ ! -f "$SHARED/data/README.md" ]; then
    have_shared=0
    echo "notice: $SHARED/data not found (set BITNET_SHARED): the checks on the shared models and vocabularies are skipped"
fi
shared() { [ "$have_shared" = 1 ]; }

shared && for f in "$SHARED"/data/models/*.gguf "$SHARED"/data/vocab/*.gguf; do
    expect_status 0 "info $(basename "$f")" -- "$BITNET" info "$f"
    grep -q '^tensors: ' "$tmp/out" && ok || fail "info $(basename "$f"): no tensor table"
done
if shared; then
"$BITNET" info "$SHARED/data/vocab/ggml-vocab-llama-bpe.gguf" > "$tmp/bpe" 2>&1
grep -q 'tokenizer.ggml.tokens .*\[string x 128256\]' "$tmp/bpe" && ok || fail "llama-bpe: 128256 tokens not listed"
"$BITNET" info "$SHARED/data/models/tiny-b158-i2_s.gguf" > "$tmp/i2s" 2>&1
grep -Eq '^  blk.0.attn_q.weight +I2_S +256 x 256 +[0-9]+ +16416$' "$tmp/i2s" && ok || fail "i2_s tensor row"
grep -q '^  total tensor bytes: ' "$tmp/i2s" && ok || fail "total tensor bytes"

head -c 100 "$SHARED/data/models/tiny-b158-i2_s.gguf" > "$tmp/truncated.gguf"
expect_status 1 "truncated file" -- "$BITNET" info "$tmp/truncated.gguf"
[ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q 'cannot fit' "$tmp/err" && ok || fail "truncated: message"
fi
printf 'GGUF\001\000\000\000' > "$tmp/v1.gguf"; head -c 16 /dev/zero >> "$tmp/v1.gguf"
expect_status 1 "version 1" -- "$BITNET" info "$tmp/v1.gguf"
grep -q 'version 1' "$tmp/err" && ok || fail "v1: message"
expect_status 1 "missing file" -- "$BITNET" info "$tmp/nope.gguf"
expect_status 1 "directory" -- "$BITNET" info "$tmp"
expect_status 1 "no argument" -- "$BITNET" info
expect_status 1 "unknown command" -- "$BITNET" frobnicate
expect_status 0 "--help" -- "$BITNET" --help
expect_status 0 "--version" -- "$BITNET" --version

# ---- model commands on a model the repo makes and on the shared references ----
"$BITNET" make-model "$tmp/tiny.gguf" --layers 2 > /dev/null 2>&1 && ok || fail "make-model"
expect_status 1 "make-model bad shape" -- "$BITNET" make-model "$tmp/bad.gguf" --embd 100
[ ! -e "$tmp/bad.gguf" ] && ok || fail "make-model left a file after an error"
expect_status 0 "run" -- "$BITNET" run -m "$tmp/tiny.gguf" -p "the sea" -n 12 -t 2
grep -q 'generated: 12 tokens' "$tmp/err" && ok || fail "run: stats line"
expect_status 0 "run --print-ids" -- "$BITNET" run -m "$tmp/tiny.gguf" --tokens "1 263 338" -n 7 --print-ids --temp 0
[ "$(wc -w < "$tmp/out")" -eq 7 ] && ok || fail "run --print-ids: want 7 ids, got '$(cat "$tmp/out")'"
cp "$tmp/out" "$tmp/ids1"
BITNET_MODEL_PATH="$tmp/tiny.gguf" BITNET_THREADS=1 "$BITNET" run --tokens "1 263 338" -n 7 --print-ids --temp 0 > "$tmp/ids2" 2>/dev/null
cmp -s "$tmp/ids1" "$tmp/ids2" && ok || fail "run: env defaults or thread count changed the greedy ids"
"$BITNET" run -m "$tmp/tiny.gguf" -p "the sea" -n 16 -s 7 --temp 0.9 > "$tmp/s1" 2>/dev/null
"$BITNET" run -m "$tmp/tiny.gguf" -p "the sea" -n 16 -s 7 --temp 0.9 > "$tmp/s2" 2>/dev/null
cmp -s "$tmp/s1" "$tmp/s2" && ok || fail "run: the same seed gave different text"
expect_status 1 "run without prompt" -- "$BITNET" run -m "$tmp/tiny.gguf"
expect_status 1 "run without model" -- env -u BITNET_MODEL_PATH "$BITNET" run -p hi
expect_status 1 "run bad flag" -- "$BITNET" run -m "$tmp/tiny.gguf" -p hi --frobnicate 3
expect_status 1 "run bad number" -- "$BITNET" run -m "$tmp/tiny.gguf" -p hi -n lots
expect_status 0 "run --cache-type f16" -- "$BITNET" run -m "$tmp/tiny.gguf" --tokens "1 263 338" -n 7 --print-ids --temp 0 --cache-type f16
[ "$(wc -w < "$tmp/out")" -eq 7 ] && ok || fail "run --cache-type f16: want 7 ids, got '$(cat "$tmp/out")'"
expect_status 0 "run --no-mmap" -- "$BITNET" run -m "$tmp/tiny.gguf" --tokens "1 263 338" -n 7 --print-ids --temp 0 --no-mmap
cmp -s "$tmp/out" "$tmp/ids2" && ok || fail "run --no-mmap: ids differ from the mapped file's"
expect_status 1 "run bad cache type" -- "$BITNET" run -m "$tmp/tiny.gguf" -p hi --cache-type q4
grep -q "f32 or f16" "$tmp/err" && ok || fail "run bad cache type: message"
expect_status 1 "run bad token id" -- "$BITNET" run -m "$tmp/tiny.gguf" --tokens "1 99999"
grep -q '99999' "$tmp/err" && [ "$(wc -l < "$tmp/err")" -le 2 ] && ok || fail "run bad token id: message"
if shared; then
expect_status 1 "run on a vocab-only file" -- "$BITNET" run -m "$SHARED/data/vocab/ggml-vocab-gpt-2.gguf" -p hi

# tokenize matches the llama.cpp vectors (line 1 of the .out file is the first test string)
vocab="$SHARED/data/vocab/ggml-vocab-llama-spm.gguf"
expect_status 0 "tokenize" -- "$BITNET" tokenize -m "$vocab" -p "Hello world" --no-bos
[ "$(cat "$tmp/out")" = "15043 3186" ] && ok || fail "tokenize: got '$(cat "$tmp/out")'"
expect_status 0 "tokenize with bos" -- "$BITNET" tokenize -m "$SHARED/data/models/tiny-2b4t-vocab-i2_s.gguf" \
    -p "Hello BitNet, tell me a story about the sea."
[ "$(cat "$tmp/out")" = "128000 9906 6631 7099 11 3371 757 264 3446 922 279 9581 13" ] && ok \
    || fail "tokenize 2b4t: got '$(cat "$tmp/out")'"
expect_status 0 "tokenize --special" -- "$BITNET" tokenize -m "$SHARED/data/vocab/ggml-vocab-llama-bpe.gguf" \
    -p "<|eot_id|>" --special --no-bos
[ "$(cat "$tmp/out")" = "128009" ] && ok || fail "tokenize --special: got '$(cat "$tmp/out")'"

# logits: positions x vocab float32
ids="1 343 452 471 406 304 267 322 446 284 508 330 409 439 414 275 490 506 485 320"
expect_status 0 "logits" -- "$BITNET" logits -m "$SHARED/data/models/tiny-b158-i2_s.gguf" --tokens "$ids" -o "$tmp/l.f32"
[ "$(wc -c < "$tmp/l.f32")" -eq $((20 * 512 * 4)) ] && ok || fail "logits: file size $(wc -c < "$tmp/l.f32")"
expect_status 1 "logits without -o" -- "$BITNET" logits -m "$SHARED/data/models/tiny-b158-i2_s.gguf" --tokens "1 2"
expect_status 1 "logits bad output path" -- "$BITNET" logits -m "$SHARED/data/models/tiny-b158-i2_s.gguf" --tokens "1 2" -o /nonexistent/x
fi

# bench ends with the machine-readable summary
expect_status 0 "bench" -- "$BITNET" bench -m "$tmp/tiny.gguf" -p 16 -n 8 -r 1 -t 2
tail -n 1 "$tmp/out" | grep -Eq '^summary: pp_tps=[0-9.]+ tg_tps=[0-9.]+ bandwidth_GBps=[0-9.]+ weight_bytes_per_token=[0-9]+ roofline_ratio=[0-9.]+$' \
    && ok || fail "bench summary: $(tail -n 1 "$tmp/out")"

# chat answers each line of stdin in the model's format
if shared; then
printf 'hello\ntell me about the sea\n' | "$BITNET" chat -m "$SHARED/data/models/tiny-2b4t-vocab-i2_s.gguf" -n 6 > "$tmp/chat" 2>&1 \
    && ok || fail "chat exit status"
[ "$(wc -l < "$tmp/chat")" -ge 2 ] && ok || fail "chat: want a reply line for each input line"
(for i in 1 2 3 4 5 6 7 8 9 10; do echo "tell me a long story about the sea and the wind $i"; done) |
    "$BITNET" chat -m "$SHARED/data/models/tiny-2b4t-vocab-i2_s.gguf" -c 96 -n 16 > /dev/null 2> "$tmp/err" \
    && ok || fail "chat: a conversation longer than the context: $(cat "$tmp/err")"
fi

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
