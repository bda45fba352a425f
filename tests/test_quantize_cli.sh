#!/usr/bin/env bash
# `bitnet quantize` end to end: converts the shared tiny models between formats and compares
# every output tensor, byte for byte, with the reference engines' files (a small C helper
# built from bitnet.h reads both files). Run from the repo root after `make all`.
set -u
BITNET=${BITNET:-build/bitnet}
DATA=${BITNET_SHARED:-../shared}/data/models
CC=${CC:-cc}
passed=0 failed=0
ok()   { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }
not() { ! "$@"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gguf_cmp OUT REF: every tensor of REF is in OUT with the same type, shape and bytes (I2_S:
# codes and alpha; the reference's 28 padding bytes are uninitialised memory), and OUT has no
# other tensors. gguf_cmp OUT REF NAME: only tensor NAME. gguf_cmp --file-type FILE: prints
# general.file_type. gguf_cmp --type FILE NAME: prints the type of tensor NAME.
# gguf_cmp --whole OUT REF: the two files are identical except REF's I2_S padding bytes.
cat > "$tmp/gguf_cmp.c" <<'EOF'
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *p = NULL;
    long len;
    if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
        (p = (unsigned char *)malloc((size_t)len + 1)) && fread(p, 1, (size_t)len, f) == (size_t)len)
        *n = (size_t)len;
    else { free(p); p = NULL; }
    if (f) fclose(f);
    return p;
}
int main(int argc, char **argv) {
    bitnet_gguf *a = NULL, *b = NULL;
    int64_t i, bad = 0;
    if (argc == 3 && !strcmp(argv[1], "--file-type")) {
        uint32_t ft = 0;
        if (bitnet_gguf_open(&a, argv[2], NULL) || bitnet_gguf_get_u32(a, "general.file_type", &ft)) return 2;
        printf("%u\n", ft);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--type")) {
        const bitnet_gguf_tensor *t;
        if (bitnet_gguf_open(&a, argv[2], NULL) || !(t = bitnet_gguf_find_tensor(a, argv[3]))) return 2;
        printf("%s\n", bitnet_type_name(t->type));
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "--whole")) {
        size_t na, nb, k;
        unsigned char *x = read_all(argv[2], &na), *y = read_all(argv[3], &nb);
        if (!x || !y || bitnet_gguf_open(&b, argv[3], NULL)) return 2;
        for (i = 0; i < bitnet_gguf_n_tensors(b); i++) {         /* blank the padding in both */
            const bitnet_gguf_tensor *r = bitnet_gguf_tensor_at(b, i);
            uint64_t end = bitnet_gguf_data_offset(b) + r->offset + r->size;
            if (r->type == BITNET_TYPE_I2_S && end <= na && end <= nb)
                for (k = (size_t)end - 28; k < end; k++) x[k] = y[k] = 0;
        }
        return na == nb && !memcmp(x, y, na) ? 0 : 1;
    }
    if (argc < 3 || argc > 4 || bitnet_gguf_open(&a, argv[1], NULL) || bitnet_gguf_open(&b, argv[2], NULL)) {
        fprintf(stderr, "gguf_cmp: %s\n", bitnet_last_error());
        return 2;
    }
    if (argc == 3 && bitnet_gguf_n_tensors(a) != bitnet_gguf_n_tensors(b)) {
        fprintf(stderr, "gguf_cmp: %lld tensors, reference has %lld\n",
                (long long)bitnet_gguf_n_tensors(a), (long long)bitnet_gguf_n_tensors(b));
        bad++;
    }
    for (i = 0; i < bitnet_gguf_n_tensors(b); i++) {
        const bitnet_gguf_tensor *r = bitnet_gguf_tensor_at(b, i), *t = bitnet_gguf_find_tensor(a, r->name);
        uint64_t n = r->type == BITNET_TYPE_I2_S ? r->size - 28 : r->size;
        if (argc == 4 && strcmp(r->name, argv[3])) continue;
        if (!t || t->type != r->type || t->n_dims != r->n_dims || memcmp(t->ne, r->ne, sizeof t->ne) ||
            t->size != r->size || memcmp(t->data, r->data, (size_t)n)) {
            fprintf(stderr, "gguf_cmp: tensor %s differs (%s vs %s)\n", r->name,
                    t ? bitnet_type_name(t->type) : "missing", bitnet_type_name(r->type));
            bad++;
        }
    }
    return bad ? 1 : 0;
}
EOF
if [ ! -x "$BITNET" ] || ! $CC -std=c99 -O1 -I. -o "$tmp/gguf_cmp" "$tmp/gguf_cmp.c" -lpthread -lm; then
    echo "quantize_cli: 0 passed, 1 failed (no $BITNET or cannot build the helper)"
    exit 1
fi
if [ ! -f "$DATA/tiny-b158-f32.gguf" ]; then
    echo "quantize_cli: 0 passed, 1 failed (no shared data in $DATA)"
    exit 1
fi

# convert IN TYPE REF FILE_TYPE [options]: quantize IN to TYPE, compare with REF, check file_type
convert() {
    local in=$1 type=$2 ref=$3 ft=$4; shift 4
    local out="$tmp/out.gguf" err="$tmp/err.txt"
    rm -f "$out"
    if ! "$BITNET" quantize "$@" "$DATA/$in" "$out" "$type" > /dev/null 2> "$err"; then
        fail "quantize $in -> $type: $(head -n 1 "$err")"; return
    fi
    check "quantize $in -> $type printed to a non-terminal stderr" test ! -s "$err"
    check "$in -> $type matches $ref" "$tmp/gguf_cmp" "$out" "$DATA/$ref"
    check "$in -> $type: general.file_type" test "$("$tmp/gguf_cmp" --file-type "$out")" = "$ft"
}

convert tiny-b158-f32.gguf i2_s  tiny-b158-i2_s.gguf 40
convert tiny-b158-f32.gguf tq2_0 tiny-b158-as-bitnet-silu-tq2_0.gguf 37
convert tiny-b158-f32.gguf TQ1_0 tiny-b158-as-bitnet-silu-tq1_0.gguf 36
convert tiny-b158-f32.gguf f16   tiny-b158-f16.gguf 1
convert tiny-b158-i2_s.gguf f32  tiny-b158-f32.gguf 0
convert tiny-b158-i2_s.gguf tq1_0 tiny-b158-as-bitnet-silu-tq1_0.gguf 36
convert tiny-b158-as-bitnet-silu-tq2_0.gguf i2_s tiny-b158-i2_s.gguf 40
convert tiny-b158-as-bitnet-silu-tq1_0.gguf f16 tiny-b158-f16.gguf 1
convert tiny-bitnet-silu-f16.gguf i2_s tiny-bitnet-silu-i2_s.gguf 40
convert tiny-bitnet-silu-f16.gguf tq2_0 tiny-bitnet-silu-tq2_0.gguf 37
convert tiny-llama-ternary-tq2_0.gguf tq2_0 tiny-llama-ternary-tq2_0.gguf 37
# token_embd / output types on request
out="$tmp/opt.gguf"
"$BITNET" quantize --token-embedding-type f32 "$DATA/tiny-b158-f32.gguf" "$out" i2_s > /dev/null 2>&1
check "--token-embedding-type f32 keeps the F32 embedding" "$tmp/gguf_cmp" "$out" "$DATA/tiny-b158-f32.gguf" token_embd.weight
check "--token-embedding-type f32: projections still I2_S" "$tmp/gguf_cmp" "$out" "$DATA/tiny-b158-i2_s.gguf" blk.1.ffn_up.weight
"$BITNET" quantize "$DATA/tiny-llama-ternary-tq2_0.gguf" "$out" i2_s --output-tensor-type q8_0 --token-embedding-type BF16 > /dev/null 2>&1
check "--output-tensor-type q8_0" test "$("$tmp/gguf_cmp" --type "$out" output.weight)" = Q8_0
check "--token-embedding-type bf16" test "$("$tmp/gguf_cmp" --type "$out" token_embd.weight)" = BF16
"$BITNET" quantize "$DATA/tiny-llama-ternary-tq2_0.gguf" "$out" i2_s > /dev/null 2>&1
check "default: a ternary target keeps an F16 output.weight" test "$("$tmp/gguf_cmp" --type "$out" output.weight)" = F16
"$BITNET" quantize "$DATA/tiny-llama-ternary-tq2_0.gguf" "$out" bf16 > /dev/null 2>&1
check "default: a float target converts output.weight too" test "$("$tmp/gguf_cmp" --type "$out" output.weight)" = BF16

# the whole file, not just the tensors: an F32 -> F16 conversion writes the reference F16 file
"$BITNET" quantize "$DATA/tiny-b158-f32.gguf" "$tmp/whole.gguf" f16 > /dev/null 2>&1
check "f32 -> f16 writes tiny-b158-f16.gguf byte for byte" cmp -s "$tmp/whole.gguf" "$DATA/tiny-b158-f16.gguf"
"$BITNET" quantize "$DATA/tiny-b158-f32.gguf" "$tmp/whole.gguf" i2_s > /dev/null 2>&1
check "f32 -> i2_s writes tiny-b158-i2_s.gguf byte for byte (but its uninitialised padding)" \
    "$tmp/gguf_cmp" --whole "$tmp/whole.gguf" "$DATA/tiny-b158-i2_s.gguf"
check "... and the padding really differs (the comparison is not vacuous)" not cmp -s "$tmp/whole.gguf" "$DATA/tiny-b158-i2_s.gguf"

# bad arguments and files: exit 1, one line on stderr, no output file left behind
bad() {
    local what=$1; shift
    local err="$tmp/err.txt" rc
    rm -f "$tmp/bad.gguf"
    "$BITNET" quantize "$@" > /dev/null 2> "$err"; rc=$?
    check "$what: exit 1 (got $rc)" test "$rc" -eq 1
    check "$what: one line on stderr" test "$(wc -l < "$err")" -eq 1
    check "$what: no output left" test ! -e "$tmp/bad.gguf"
}
printf 'GGUF\3\0\0\0garbage' > "$tmp/garbage.gguf"
head -c 100000 "$DATA/tiny-b158-f32.gguf" > "$tmp/truncated.gguf"
bad "no arguments"
bad "unknown type" "$DATA/tiny-b158-f32.gguf" "$tmp/bad.gguf" q4_k
bad "missing input" "$tmp/nonexistent.gguf" "$tmp/bad.gguf" i2_s
bad "garbage input" "$tmp/garbage.gguf" "$tmp/bad.gguf" i2_s
bad "truncated input" "$tmp/truncated.gguf" "$tmp/bad.gguf" i2_s
bad "bad option value" --token-embedding-type i2_s "$DATA/tiny-b158-f32.gguf" "$tmp/bad.gguf" i2_s
bad "unknown option" --frobnicate "$DATA/tiny-b158-f32.gguf" "$tmp/bad.gguf" i2_s
bad "unwritable output" "$DATA/tiny-b158-f32.gguf" "$tmp/no/such/dir/bad.gguf" i2_s
cp "$DATA/tiny-b158-f32.gguf" "$tmp/self.gguf"
bad "output is the input" "$tmp/self.gguf" "$tmp/self.gguf" i2_s
check "the input survives" cmp -s "$tmp/self.gguf" "$DATA/tiny-b158-f32.gguf"

echo "quantize_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
