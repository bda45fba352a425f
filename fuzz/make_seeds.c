/* make_seeds OUT_DIR VOCAB.gguf...: writes each vocabulary cut down to its first 600 tokens (and
   the merges among them) as OUT_DIR/small-NAME, so the tokenizer fuzzer starts from real
   vocabulary files that load in well under a millisecond. Built and run by fuzz/run.sh. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEEP 600

static int is_token_array(const char *key) {
    return !strcmp(key, "tokenizer.ggml.tokens") || !strcmp(key, "tokenizer.ggml.scores") ||
           !strcmp(key, "tokenizer.ggml.token_type") || !strcmp(key, "tokenizer.ggml.merges");
}

/* The elements [0, n) of a string array as NUL-terminated copies; keep(i) picks which. */
static char **strings(const bitnet_gguf_value *arr, uint64_t n, const bitnet_vocab *v, uint64_t *kept) {
    char **out = (char **)calloc(n ? n : 1, sizeof *out);
    uint64_t i;
    *kept = 0;
    for (i = 0; out && i < n; i++) {
        bitnet_gguf_value e;
        char *s;
        if (bitnet_gguf_array_get(arr, i, &e) != BITNET_OK) continue;
        if (v) {        /* a merge "a b": both sides and the result must be kept tokens */
            const char *sp = (const char *)memchr(e.str.ptr, ' ', (size_t)e.str.len);
            char joined[512];
            size_t l = sp ? (size_t)(sp - e.str.ptr) : 0, r = sp ? (size_t)e.str.len - l - 1 : 0;
            int32_t a, b, c;
            if (!sp || l + r >= sizeof joined) continue;
            memcpy(joined, e.str.ptr, l);
            memcpy(joined + l, sp + 1, r);
            a = bitnet_vocab_find(v, e.str.ptr, l);
            b = bitnet_vocab_find(v, sp + 1, r);
            c = bitnet_vocab_find(v, joined, l + r);
            if (a < 0 || b < 0 || c < 0 || a >= KEEP || b >= KEEP || c >= KEEP) continue;
        }
        if (!(s = (char *)malloc((size_t)e.str.len + 1))) break;
        memcpy(s, e.str.ptr, (size_t)e.str.len);
        s[e.str.len] = 0;
        out[(*kept)++] = s;
    }
    return out;
}

static int shrink(const char *in, const char *out_path) {
    bitnet_gguf *g = NULL;
    bitnet_vocab *v = NULL;
    bitnet_gguf_writer *w = NULL;
    const bitnet_gguf_value *arr;
    char **toks = NULL, **merges = NULL;
    uint64_t n_tok = 0, n_merge = 0, i;
    int64_t k;
    int ok;
    if (bitnet_gguf_open(&g, in, NULL) != BITNET_OK || bitnet_vocab_load(&v, g, NULL) != BITNET_OK ||
        bitnet_gguf_writer_new(&w, NULL) != BITNET_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", in, bitnet_last_error());
        bitnet_vocab_free(v);
        bitnet_gguf_close(g);
        return 0;
    }
    ok = 1;
    for (k = 0; k < bitnet_gguf_n_kv(g) && ok; k++)
        if (!is_token_array(bitnet_gguf_key(g, k)))
            ok = bitnet_gguf_writer_set(w, bitnet_gguf_key(g, k), bitnet_gguf_kv(g, k)) == BITNET_OK;
    if (ok && bitnet_gguf_get_arr(g, "tokenizer.ggml.tokens", &arr) == BITNET_OK) {
        toks = strings(arr, arr->arr.count < KEEP ? arr->arr.count : KEEP, NULL, &n_tok);
        ok = toks && bitnet_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, n_tok) == BITNET_OK;
    }
    if (ok && bitnet_gguf_get_arr(g, "tokenizer.ggml.scores", &arr) == BITNET_OK)
        ok = bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BITNET_GGUF_F32, arr->arr.data, n_tok) == BITNET_OK;
    if (ok && bitnet_gguf_get_arr(g, "tokenizer.ggml.token_type", &arr) == BITNET_OK)
        ok = bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BITNET_GGUF_I32, arr->arr.data, n_tok) == BITNET_OK;
    if (ok && bitnet_gguf_get_arr(g, "tokenizer.ggml.merges", &arr) == BITNET_OK) {
        merges = strings(arr, arr->arr.count, v, &n_merge);
        ok = merges && bitnet_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, n_merge) == BITNET_OK;
    }
    ok = ok && bitnet_gguf_writer_begin(w, out_path) == BITNET_OK && bitnet_gguf_writer_end(w) == BITNET_OK;
    if (!ok) fprintf(stderr, "make_seeds: %s: %s\n", out_path, bitnet_last_error());
    for (i = 0; toks && i < n_tok; i++) free(toks[i]);
    for (i = 0; merges && i < n_merge; i++) free(merges[i]);
    free(toks);
    free(merges);
    bitnet_gguf_writer_free(w);
    bitnet_vocab_free(v);
    bitnet_gguf_close(g);
    return ok;
}

int main(int argc, char **argv) {
    int i, bad = 0;
    char out[4096];
    for (i = 2; i < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        snprintf(out, sizeof out, "%s/small-%s", argv[1], base ? base + 1 : argv[i]);
        bad += !shrink(argv[i], out);
    }
    return bad ? 1 : 0;
}
