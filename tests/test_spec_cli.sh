#!/usr/bin/env bash
# The command line of --head-type, --draft / --draft-max and bench -v: they work, greedy ids with
# drafts equal those without (and drafts were accepted), bad values give a one-line error and exit 1.
set -u
# Without the shared test data (a clone without ../shared) this suite is skipped with a notice.
if [ ! -f "${BITNET_SHARED:-../shared}/data/README.md" ]; then
    echo "notice: ${BITNET_SHARED:-../shared}/data not found (set BITNET_SHARED): the spec_cli suite needs the shared models, skipped"
    echo "spec_cli: 0 passed, 0 failed"
    exit 0
fi
. "$(dirname "$0")/lib.sh"

m158="$SHARED/data/models/tiny-b158-i2_s.gguf"
m2b="$SHARED/data/models/tiny-2b4t-vocab-i2_s.gguf"
rep="one two three four five six seven eight. one two three four five six seven eight. one two three"

# ---- --head-type ----
expect_status 0 "run --head-type q8_0" -- "$BITNET" run -m "$m2b" -p "Hello BitNet" -n 8 --temp 0 --head-type q8_0
expect_status 0 "run --head-type q6_k" -- "$BITNET" run -m "$m158" -p "the sea" -n 8 --temp 0 --head-type q6_k
expect_status 1 "q6_k on n_embd 128" -- "$BITNET" run -m "$m2b" -p "Hello" -n 4 --head-type q6_k
grep -q 'multiple of 256' "$tmp/err" && [ "$(wc -l < "$tmp/err")" -eq 1 ] && ok || fail "q6_k on n_embd 128: message"
expect_status 1 "bad --head-type" -- "$BITNET" run -m "$m158" -p "hi" --head-type q4_0
grep -q 'q8_0 or q6_k' "$tmp/err" && ok || fail "bad --head-type: message"
expect_status 0 "bench --head-type q8_0" -- "$BITNET" bench -m "$m2b" -p 8 -n 4 -r 1 --head-type q8_0
w8=$(tail -n 1 "$tmp/out" | sed -E 's/.*weight_bytes_per_token=([0-9]+).*/\1/')
expect_status 0 "bench" -- "$BITNET" bench -m "$m2b" -p 8 -n 4 -r 1
w16=$(tail -n 1 "$tmp/out" | sed -E 's/.*weight_bytes_per_token=([0-9]+).*/\1/')
# the head: 128256 x 128 F16 = 32833536 bytes, as Q8_0 17442816
[ $((w16 - w8)) -eq $((32833536 - 17442816)) ] && ok || fail "bench --head-type q8_0: weight bytes $w8 vs $w16"

# ---- --draft ----
expect_status 0 "run plain" -- "$BITNET" run -m "$m158" -p "$rep" -n 48 --temp 0 --print-ids
cp "$tmp/out" "$tmp/plain"
expect_status 0 "run --draft ngram" -- "$BITNET" run -m "$m158" -p "$rep" -n 48 --temp 0 --print-ids --draft ngram --draft-max 4
cmp -s "$tmp/plain" "$tmp/out" && ok || fail "--draft ngram changed the greedy ids"
acc=$(sed -nE 's/^\[draft: [0-9]+ verify passes, ([0-9]+) of [0-9]+ drafted tokens accepted\]$/\1/p' "$tmp/err")
[ -n "$acc" ] && [ "$acc" -gt 0 ] && ok || fail "--draft: no drafts accepted ($(tail -n 1 "$tmp/err"))"
expect_status 0 "run seeded plain" -- "$BITNET" run -m "$m158" -p "$rep" -n 32 -s 5 --temp 0.7
cp "$tmp/out" "$tmp/seeded"
expect_status 0 "run seeded --draft" -- "$BITNET" run -m "$m158" -p "$rep" -n 32 -s 5 --temp 0.7 --draft ngram
cmp -s "$tmp/seeded" "$tmp/out" && ok || fail "--draft changed the seeded text"
expect_status 1 "bad --draft" -- "$BITNET" run -m "$m158" -p "hi" --draft eagle
grep -q 'ngram or none' "$tmp/err" && ok || fail "bad --draft: message"
expect_status 1 "bad --draft-max" -- "$BITNET" run -m "$m158" -p "hi" --draft ngram --draft-max 0
expect_status 1 "bad --draft-max value" -- "$BITNET" run -m "$m158" -p "hi" --draft ngram --draft-max many
printf 'say it: one two three one two three one two three\nagain\n' |
    "$BITNET" chat -m "$m2b" -n 24 --temp 0 --draft ngram > "$tmp/chat" 2> "$tmp/err" && ok || fail "chat --draft: $(cat "$tmp/err")"
[ "$(grep -c '^\[draft: ' "$tmp/err")" -eq 2 ] && ok || fail "chat --draft: want a draft line per turn"

# ---- bench -v ----
expect_status 0 "bench -v" -- "$BITNET" bench -m "$m158" -p 8 -n 8 -r 1 -v
grep -q '^  ternary GEMV ' "$tmp/out" && grep -q '^  head GEMV ' "$tmp/out" && grep -q '^  pool hand-offs ' "$tmp/out" \
    && ok || fail "bench -v: no breakdown"
tail -n 1 "$tmp/out" | grep -q '^summary: pp_tps=' && ok || fail "bench -v: the summary is not the last line"

echo "spec_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
