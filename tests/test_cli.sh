#!/usr/bin/env bash
# The `bitnet` command line: info lists every shared file; bad files and arguments give a
# one-line error on stderr and exit status 1, never a signal.
set -u
BITNET=${BITNET:-build/bitnet}
SHARED=${BITNET_SHARED:-../shared}
passed=0 failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect_status() {   # expect_status WANT DESCRIPTION -- command...
    local want=$1 what=$2; shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else fail "$what: exit $rc, want $want"; cat "$tmp/err" >&2; fi
}

for f in "$SHARED"/data/models/*.gguf "$SHARED"/data/vocab/*.gguf; do
    expect_status 0 "info $(basename "$f")" -- "$BITNET" info "$f"
    grep -q '^tensors: ' "$tmp/out" && ok || fail "info $(basename "$f"): no tensor table"
done
"$BITNET" info "$SHARED/data/vocab/ggml-vocab-llama-bpe.gguf" > "$tmp/bpe" 2>&1
grep -q 'tokenizer.ggml.tokens .*\[string x 128256\]' "$tmp/bpe" && ok || fail "llama-bpe: 128256 tokens not listed"
"$BITNET" info "$SHARED/data/models/tiny-b158-i2_s.gguf" > "$tmp/i2s" 2>&1
grep -Eq '^  blk.0.attn_q.weight +I2_S +256 x 256 +[0-9]+ +16416$' "$tmp/i2s" && ok || fail "i2_s tensor row"
grep -q '^  total tensor bytes: ' "$tmp/i2s" && ok || fail "total tensor bytes"

head -c 100 "$SHARED/data/models/tiny-b158-i2_s.gguf" > "$tmp/truncated.gguf"
expect_status 1 "truncated file" -- "$BITNET" info "$tmp/truncated.gguf"
[ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q 'cannot fit' "$tmp/err" && ok || fail "truncated: message"
printf 'GGUF\001\000\000\000' > "$tmp/v1.gguf"; head -c 16 /dev/zero >> "$tmp/v1.gguf"
expect_status 1 "version 1" -- "$BITNET" info "$tmp/v1.gguf"
grep -q 'version 1' "$tmp/err" && ok || fail "v1: message"
expect_status 1 "missing file" -- "$BITNET" info "$tmp/nope.gguf"
expect_status 1 "directory" -- "$BITNET" info "$tmp"
expect_status 1 "no argument" -- "$BITNET" info
expect_status 1 "unknown command" -- "$BITNET" frobnicate
expect_status 0 "--help" -- "$BITNET" --help
expect_status 0 "--version" -- "$BITNET" --version

echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
