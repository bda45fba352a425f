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
# gguf_cmp --make-master OUT: writes a small model whose attn_q holds master (non-ternary)
# F32 weights (rows of different scales) and whose ffn_down holds ternary F16 weights;
# --make-master-tq: the same with attn_q quantized straight to TQ2_0 (block scales differ). gguf_cmp --check-master IN OUT:
# each projection of OUT is exactly bitnet_quantize(bitnet_ternarize(IN's decoded weights)).
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
static int make_master(const char *path, bitnet_type q_type) {
    bitnet_gguf_writer *w;
    static float q[256 * 8], e[256 * 4], norm[256];
    static unsigned char q_bytes[256 * 8 * 4];
    uint64_t q_size = q_type == BITNET_TYPE_F32 ? sizeof q : 8 * 66;
    static uint16_t d[128 * 4];
    uint64_t ne_q[2] = { 256, 8 }, ne_e[2] = { 256, 4 }, ne_d[2] = { 256, 2 }, ne_n[1] = { 256 };
    uint32_t s = 1;
    int i;
    for (i = 0; i < 256 * 8; i++) { s = s * 1103515245u + 12345u; q[i] = ((float)(s >> 8 & 0xffff) - 32768.0f) / 65536.0f * (float)(i / 256 + 1); }
    for (i = 0; i < 256 * 4; i++) e[i] = q[i] * 0.5f;
    for (i = 0; i < 128 * 4; i++) d[i] = (uint16_t)(i % 3 == 0 ? 0x2800 : i % 3 == 1 ? 0xa800 : 0);  /* +-1/32, 0 */
    for (i = 0; i < 256; i++) norm[i] = 1.0f;
    if (bitnet_quantize(q_type, q, 8, 256, q_bytes, sizeof q_bytes)) return 2;
    if (bitnet_gguf_writer_new(&w, NULL) || bitnet_gguf_writer_set_str(w, "general.architecture", "bitnet-b1.58") ||
        bitnet_gguf_writer_set_u32(w, "general.file_type", 0) ||
        bitnet_gguf_writer_add_tensor(w, "token_embd.weight", BITNET_TYPE_F32, 2, ne_e) ||
        bitnet_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", q_type, 2, ne_q) ||
        bitnet_gguf_writer_add_tensor(w, "blk.0.attn_norm.weight", BITNET_TYPE_F32, 1, ne_n) ||
        bitnet_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", BITNET_TYPE_F16, 2, ne_d) ||
        bitnet_gguf_writer_begin(w, path) || bitnet_gguf_writer_write(w, e, sizeof e) ||
        bitnet_gguf_writer_write(w, q_bytes, (size_t)q_size) || bitnet_gguf_writer_write(w, norm, sizeof norm) ||
        bitnet_gguf_writer_write(w, d, sizeof d) || bitnet_gguf_writer_end(w)) {
        fprintf(stderr, "gguf_cmp: %s\n", bitnet_last_error());
        return 2;
    }
    bitnet_gguf_writer_free(w);
    return 0;
}

static int check_master(const char *in_path, const char *out_path) {
    bitnet_gguf *in = NULL, *out = NULL;
    const char *names[2] = { "blk.0.attn_q.weight", "blk.0.ffn_down.weight" };
    int k, bad = 0;
    if (bitnet_gguf_open(&in, in_path, NULL) || bitnet_gguf_open(&out, out_path, NULL)) return 2;
    for (k = 0; k < 2; k++) {
        const bitnet_gguf_tensor *a = bitnet_gguf_find_tensor(in, names[k]), *b = bitnet_gguf_find_tensor(out, names[k]);
        static int8_t codes[4096];
        static float v[4096];
        static unsigned char want[4096];
        float alpha;
        uint64_t i;
        if (!a || !b || a->n_elements > 4096 || b->size > sizeof want ||
            bitnet_dequantize(a->type, a->data, a->size, a->n_elements / a->ne[0], a->ne[0], v) ||
            bitnet_ternarize(BITNET_TYPE_F32, v, a->n_elements, codes, &alpha)) return 2;
        for (i = 0; i < a->n_elements; i++) v[i] = codes[i] * alpha;
        if (bitnet_quantize(b->type, v, a->n_elements / a->ne[0], a->ne[0], want, b->size) ||
            memcmp(want, b->data, (size_t)b->size)) {
            fprintf(stderr, "gguf_cmp: %s is not the ternarized input\n", names[k]);
            bad++;
        }
    }
    return bad ? 1 : 0;
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
    if (argc == 3 && !strcmp(argv[1], "--make-master")) return make_master(argv[2], BITNET_TYPE_F32);
    if (argc == 3 && !strcmp(argv[1], "--make-master-tq")) return make_master(argv[2], BITNET_TYPE_TQ2_0);
    if (argc == 4 && !strcmp(argv[1], "--check-master")) return check_master(argv[2], argv[3]);
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
    echo "notice: $DATA not found (set BITNET_SHARED): the quantize checks on the shared models are skipped"
    echo "quantize_cli: 0 passed, 0 failed"
    exit 0
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

# a progress bar only on a terminal (`script` gives the command one)
if command -v script > /dev/null 2>&1; then
    tty_out=$(script -qec "$BITNET quantize $DATA/tiny-b158-f32.gguf $tmp/tty.gguf i2_s" /dev/null 2>&1)
    check "progress bar on a terminal" grep -q '\[100%\]' <<< "$tty_out"
fi

# master (non-ternary) float weights are ternarized with absmean first; ternary ones kept
"$tmp/gguf_cmp" --make-master "$tmp/master.gguf"
for type in i2_s tq2_0 tq1_0; do
    rm -f "$tmp/master-q.gguf"
    msg=$("$BITNET" quantize "$tmp/master.gguf" "$tmp/master-q.gguf" $type 2>&1)
    check "master -> $type: exit 0 ($msg)" test -s "$tmp/master-q.gguf"
    check "master -> $type: projections = quantize(ternarize(W))" "$tmp/gguf_cmp" --check-master "$tmp/master.gguf" "$tmp/master-q.gguf"
    check "master -> $type: reports one absmean tensor" grep -q "(1 ternarized by absmean" <<< "$msg"
done
# TQ blocks of different scales going to I2_S (one scale) are ternarized too
"$tmp/gguf_cmp" --make-master-tq "$tmp/master-tq.gguf"
msg=$("$BITNET" quantize "$tmp/master-tq.gguf" "$tmp/master-q.gguf" i2_s 2>&1)
check "master tq2_0 -> i2_s: projections = quantize(ternarize(W))" "$tmp/gguf_cmp" --check-master "$tmp/master-tq.gguf" "$tmp/master-q.gguf"
check "master tq2_0 -> i2_s: reports one absmean tensor ($msg)" grep -q "(1 ternarized by absmean" <<< "$msg"
"$BITNET" quantize "$tmp/master.gguf" "$tmp/master-q.gguf" bf16 > /dev/null 2>&1
check "master -> bf16 keeps the master weights (no ternarization)" \
    test "$("$tmp/gguf_cmp" --type "$tmp/master-q.gguf" blk.0.attn_q.weight)" = BF16

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
