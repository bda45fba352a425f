#!/usr/bin/env bash
# `bitnet convert` and `bitnet perplexity` from the command line: the committed Hugging Face
# folder of the trained model (models/kjv-bitnet, written by tools/train_bitnet.py) converts to
# exactly the committed models/kjv-bitnet-i2_s.gguf, twice; f16/bf16 load and run (TQ1_0/TQ2_0
# need rows of 256: a clear error for this 128-wide model; tests/test_convert covers them); perplexity on the held-out text ends with its summary line; bad arguments and inputs
# give a one-line error and exit status 1. Run from the repo root after `make all`.
set -u
BITNET=${BITNET:-build/bitnet}
HF=models/kjv-bitnet
GGUF=models/kjv-bitnet-i2_s.gguf
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad() {   # bad DESCRIPTION WANTED-IN-MESSAGE -- command...
    local what=$1 want=$2; shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"; local rc=$?
    if [ "$rc" -eq 1 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q -- "$want" "$tmp/err"; then ok
    else fail "$what: exit $rc, stderr: $(head -c 300 "$tmp/err")"; fi
}

check "convert i2_s" "$BITNET" convert "$HF" "$tmp/a.gguf"
check "same bytes as the committed model" cmp -s "$tmp/a.gguf" "$GGUF"
check "convert again" "$BITNET" convert "$HF" "$tmp/b.gguf"
check "same bytes when re-run" cmp -s "$tmp/a.gguf" "$tmp/b.gguf"
for t in f16 bf16; do
    "$BITNET" convert "$HF" "$tmp/$t.gguf" --outtype "$t" > /dev/null 2>&1 || fail "convert --outtype $t"
    out=$("$BITNET" run -m "$tmp/$t.gguf" -p "And God said" -n 8 --temp 0 2>/dev/null) && ok || fail "run the $t file"
    [ -n "$out" ] && ok || fail "$t: no text"
done
bad "convert: tq2_0 needs rows of 256" "multiple of 256" -- "$BITNET" convert "$HF" "$tmp/tq.gguf" --outtype tq2_0
"$BITNET" convert "$HF" "$tmp/v.gguf" --vocab-only > /dev/null && "$BITNET" tokenize -m "$tmp/v.gguf" -p "the LORD" > "$tmp/ids" 2>&1 \
    && ok || fail "vocab-only file tokenizes"
"$BITNET" tokenize -m "$GGUF" -p "the LORD" > "$tmp/ids2" 2>&1
check "vocab-only: same ids" cmp -s "$tmp/ids" "$tmp/ids2"

"$BITNET" perplexity -m "$GGUF" -f tests/data/kjv-heldout.txt -c 128 --chunks 4 -t 2 > "$tmp/ppl" 2> "$tmp/ppl.err"
check "perplexity runs" test $? -eq 0
grep -Eq '^\[1\][0-9.]+,\[2\][0-9.]+,\[3\][0-9.]+,\[4\][0-9.]+,$' "$tmp/ppl" && ok || fail "progress per chunk: $(head -c 200 "$tmp/ppl")"
tail -n 1 "$tmp/ppl" | grep -Eq '^summary: ppl=[0-9.]+ ppl_err=[0-9.]+ n_tokens=252 tokens_per_s=[0-9.]+$' && ok \
    || fail "summary line: $(tail -n 1 "$tmp/ppl")"
"$BITNET" perplexity -m "$GGUF" -f tests/data/kjv-heldout.txt -c 128 --chunks 4 -t 1 -b 50 > "$tmp/ppl1" 2>/dev/null
check "same ppl for -t 1 -b 50" test "$(grep -o 'ppl=[0-9.]*' "$tmp/ppl1")" = "$(grep -o 'ppl=[0-9.]*' "$tmp/ppl")"

bad "convert: no args" "usage" -- "$BITNET" convert
bad "convert: bad outtype" "unknown --outtype" -- "$BITNET" convert "$HF" "$tmp/x.gguf" --outtype q4_0
bad "convert: missing folder" "config.json" -- "$BITNET" convert "$tmp/nope" "$tmp/x.gguf"
mkdir -p "$tmp/hf" && cp "$HF/config.json" "$HF/tokenizer.json" "$tmp/hf/"
bad "convert: no weights" "no model.safetensors" -- "$BITNET" convert "$tmp/hf" "$tmp/x.gguf"
head -c 1000 "$HF/model.safetensors" > "$tmp/hf/model.safetensors"
bad "convert: truncated safetensors" "past the end" -- "$BITNET" convert "$tmp/hf" "$tmp/x.gguf"
check "no output left behind" test ! -e "$tmp/x.gguf"
bad "perplexity: no -f" "usage" -- "$BITNET" perplexity -m "$GGUF"
bad "perplexity: missing text" "cannot open" -- "$BITNET" perplexity -m "$GGUF" -f "$tmp/nope.txt"
printf 'In the beginning God created the heaven and the earth.\n' > "$tmp/short.txt"
bad "perplexity: text too short" "tokens; at least 2" -- "$BITNET" perplexity -m "$GGUF" -f "$tmp/short.txt" -c 64
bad "perplexity: bad --chunks" "--chunks" -- "$BITNET" perplexity -m "$GGUF" -f tests/data/kjv-heldout.txt --chunks x

echo "convert_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
