/* test_batch.c - several sequences in one context: for every shared model a sequence decoded
   inside a mixed batch (others prefilling and generating in the same call) gets the logits it
   gets alone, bit for bit, for 1 and 2 threads and both cache types; truncate, clear and copy
   of one sequence while the others go on; bad batches leave the context unchanged; no
   allocation per call; bitnet_gen_step_batch and bitnet_generate_batch give the text of
   single generations; chunked prefill (prefill_budget) runs exactly its budget of prompt tokens
   beside generating streams and changes no logits. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <dirent.h>
#include <math.h>

#define N_P 20
#define N_G 5
#define MAX_MODELS 32

static const int32_t P[N_P] = { 1, 343, 452, 471, 406, 304, 267, 322, 446, 284,
                                508, 330, 409, 439, 414, 275, 490, 506, 485, 320 };
static const int32_t G[N_G] = { 300, 17, 499, 256, 42 };
static const int32_t Q[8] = { 1, 77, 78, 79, 300, 301, 302, 303 };
static const int32_t R[9] = { 1, 500, 400, 300, 200, 100, 50, 25, 12 };

static int model_names(char names[MAX_MODELS][128]) {
    DIR *d = opendir(check_shared("models"));
    struct dirent *e;
    int n = 0, i, j;
    if (!d) return 0;
    while ((e = readdir(d)) != NULL && n < MAX_MODELS) {
        size_t len = strlen(e->d_name);
        if (len > 5 && len < 128 && strcmp(e->d_name + len - 5, ".gguf") == 0) {
            memcpy(names[n], e->d_name, len - 5);
            names[n++][len - 5] = 0;
        }
    }
    closedir(d);
    for (i = 1; i < n; i++)                     /* sorted, so the output reads the same every run */
        for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char t[128];
            memcpy(t, names[j], 128); memcpy(names[j], names[j - 1], 128); memcpy(names[j - 1], t, 128);
        }
    return n;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int n_seq, int threads, int kv_f16) {
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 64;
    p.n_batch = 32;
    p.n_seq = n_seq;
    p.n_outputs = 4;
    p.n_threads = threads;
    p.kv_f16 = kv_f16;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

static double max_diff(const float *a, const float *b, int n) {
    double d = 0;
    int i;
    if (!a || !b) return 1e30;
    for (i = 0; i < n; i++) if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
    return d;
}

static int same(const float *a, const float *b, int n) {
    return a && b && memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* Decodes a batch built from parallel arrays. */
static bitnet_status run_batch(bitnet_ctx *c, const int32_t *tok, const int32_t *seq, const int8_t *lg, int n) {
    bitnet_batch b;
    b.n_tokens = n;
    b.token = tok;
    b.seq = seq;
    b.logits = lg;
    return bitnet_decode_batch(c, &b);
}

/* Sequence 0 alone: the prompt in one call, then each G token alone; sequence 1's tokens
   (Q, then 5, then 13 each step) alone too, into ref1. */
static void decode_alone(const bitnet_model *m, int threads, int kv_f16, float *ref, float *ref1, int nv) {
    bitnet_ctx *c = new_ctx(m, 1, threads, kv_f16);
    static const int32_t five = 5, thirteen = 13;
    int k;
    if (!c) return;
    CHECK(bitnet_decode(c, P, N_P) == BITNET_OK);
    memcpy(ref, bitnet_ctx_logits(c, -1), (size_t)nv * sizeof(float));
    for (k = 0; k < N_G; k++) {
        CHECK(bitnet_decode(c, &G[k], 1) == BITNET_OK);
        memcpy(ref + (size_t)(k + 1) * (size_t)nv, bitnet_ctx_logits(c, -1), (size_t)nv * sizeof(float));
    }
    if (ref1) {
        CHECK(bitnet_ctx_truncate(c, 0) == BITNET_OK && bitnet_decode(c, Q, 8) == BITNET_OK);
        for (k = 0; k <= N_G; k++) {
            CHECK(bitnet_decode(c, k ? &thirteen : &five, 1) == BITNET_OK);
            memcpy(ref1 + (size_t)k * (size_t)nv, bitnet_ctx_logits(c, -1), (size_t)nv * sizeof(float));
        }
    }
    bitnet_ctx_free(c);
}

/* Sequence 0 inside mixed batches: its prompt split in two pieces around another sequence's
   prompt chunk, with generating sequences around it; then each G token beside a prefilling
   and a generating sequence. Writes seq 0's logits (1 + N_G rows) to out, seq 1's to out1. */
static void decode_mixed(const bitnet_model *m, int threads, int kv_f16, float *out, float *out1, int nv) {
    bitnet_ctx *c = new_ctx(m, 4, threads, kv_f16);
    int32_t tok[32], seq[32];
    int8_t lg[32];
    int n = 0, i, k, at0 = -1;
    if (!c) return;
    CHECK(run_batch(c, Q, (const int32_t[]){ 1, 1, 1, 1, 1, 1, 1, 1 }, NULL, 8) == BITNET_OK);
    CHECK(run_batch(c, R, (const int32_t[]){ 3, 3, 3 }, NULL, 3) == BITNET_OK);
    memset(lg, 0, sizeof lg);
    tok[n] = 5; seq[n] = 1; lg[n++] = 1;                            /* seq 1 generating */
    for (i = 0; i < 10; i++) { tok[n] = P[i]; seq[n++] = 0; }       /* seq 0's prompt, first part */
    for (i = 0; i < 6; i++) { tok[n] = R[i]; seq[n++] = 2; }        /* seq 2 starts prefilling */
    for (i = 10; i < N_P; i++) { tok[n] = P[i]; seq[n++] = 0; }     /* seq 0's prompt, the rest */
    lg[n - 1] = 1; at0 = n - 1;
    tok[n] = 9; seq[n] = 3; lg[n++] = 1;                            /* seq 3 generating */
    CHECK(run_batch(c, tok, seq, lg, n) == BITNET_OK);
    CHECK(bitnet_ctx_seq_pos(c, 0) == N_P && bitnet_ctx_seq_pos(c, 1) == 9 && bitnet_ctx_seq_pos(c, 2) == 6 &&
          bitnet_ctx_seq_pos(c, 3) == 4);
    CHECK(bitnet_ctx_logits(c, 1) == NULL && bitnet_ctx_logits(c, 0) != NULL && bitnet_ctx_logits(c, -1) != NULL);
    if (bitnet_ctx_logits(c, at0)) memcpy(out, bitnet_ctx_logits(c, at0), (size_t)nv * sizeof(float));
    if (bitnet_ctx_logits(c, 0)) memcpy(out1, bitnet_ctx_logits(c, 0), (size_t)nv * sizeof(float));
    for (k = 0; k < N_G; k++) {
        n = 0;
        memset(lg, 0, sizeof lg);
        tok[n] = 11; seq[n] = 3; lg[n++] = 1;
        for (i = 0; i < 3 && bitnet_ctx_seq_pos(c, 2) + i < 9; i++) { tok[n] = R[6 + i]; seq[n++] = 2; }
        tok[n] = G[k]; seq[n] = 0; lg[n] = 1; at0 = n++;
        tok[n] = 13; seq[n] = 1; lg[n++] = 1;
        CHECK(run_batch(c, tok, seq, lg, n) == BITNET_OK);
        if (bitnet_ctx_logits(c, at0))
            memcpy(out + (size_t)(k + 1) * (size_t)nv, bitnet_ctx_logits(c, at0), (size_t)nv * sizeof(float));
        if (bitnet_ctx_logits(c, n - 1))
            memcpy(out1 + (size_t)(k + 1) * (size_t)nv, bitnet_ctx_logits(c, n - 1), (size_t)nv * sizeof(float));
    }
    CHECK(bitnet_ctx_seq_pos(c, 0) == N_P + N_G && bitnet_ctx_seq_pos(c, 2) == 9);
    bitnet_ctx_free(c);
}

/* Every shared model: mixed == alone bit for bit for two of the sequences; 2 threads == 1. */
static void test_mixed_equals_alone(const char *name, bitnet_isa isa) {
    bitnet_model *m = check_load_model_isa(name, isa);
    size_t rows;
    float *ref, *mix, *mix1;
    int nv, kv, th, k;
    double worst = 0;
    if (!m) return;
    nv = bitnet_model_hparams(m)->n_vocab;
    rows = (size_t)(N_G + 1) * (size_t)nv;
    ref = (float *)calloc(2 * rows, sizeof(float));     /* seq 0 rows, then seq 1 rows */
    mix = (float *)calloc(2 * rows, sizeof(float));
    mix1 = (float *)calloc(2 * rows, sizeof(float));
    for (kv = 0; kv < 2; kv++)
        for (th = 1; th <= 2; th++) {
            int identical = 1;
            decode_alone(m, th, kv, ref, ref + rows, nv);
            decode_mixed(m, th, kv, mix, mix + rows, nv);
            for (k = 0; k < 2 * (N_G + 1); k++) {
                double d = max_diff(ref + (size_t)k * nv, mix + (size_t)k * nv, nv);
                if (d > worst) worst = d;
                identical &= same(ref + (size_t)k * nv, mix + (size_t)k * nv, nv);
            }
            CHECKF(identical, "%s kv_f16 %d threads %d: mixed batch differs from alone by %g", name, kv, th, worst);
            if (th == 1) memcpy(mix1, mix, 2 * rows * sizeof(float));
            else CHECKF(same(mix1, mix, 2 * (N_G + 1) * nv), "%s kv_f16 %d: 2 threads differ from 1", name, kv);
        }
    printf("  %-34s %-6s mixed batch vs alone: max diff %g (F32 and F16 cache, 1 and 2 threads)\n", name,
           bitnet_isa_name(bitnet_model_isa(m)), worst);
    free(ref);
    free(mix);
    free(mix1);
    bitnet_model_free(m);
}

/* Truncate, clear and copy of one sequence while the others go on. */
static void test_seq_ops(void) {
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx *c, *alone;
    float *ref, *q8;
    int nv, i;
    int32_t s1[1] = { 1 };
    if (!m) return;
    nv = bitnet_model_hparams(m)->n_vocab;
    ref = (float *)malloc((size_t)(N_G + 1) * (size_t)nv * sizeof(float));
    q8 = (float *)malloc((size_t)nv * sizeof(float));
    decode_alone(m, 1, 0, ref, NULL, nv);
    c = new_ctx(m, 3, 1, 0);
    alone = new_ctx(m, 1, 1, 0);
    if (!c || !alone) goto done;
    CHECK(bitnet_ctx_n_seq(c) == 3 && bitnet_ctx_n_seq(alone) == 1);
    /* seq 0 takes P, seq 1 takes Q, in one batch */
    {
        int32_t tok[N_P + 8], seq[N_P + 8];
        for (i = 0; i < N_P; i++) { tok[i] = P[i]; seq[i] = 0; }
        for (i = 0; i < 8; i++) { tok[N_P + i] = Q[i]; seq[N_P + i] = 1; }
        CHECK(run_batch(c, tok, seq, NULL, N_P + 8) == BITNET_OK);
        CHECK(same(bitnet_ctx_logits(c, N_P - 1), ref, nv));
        CHECK(bitnet_ctx_logits(c, -1) != NULL && bitnet_ctx_logits(c, N_P + 6) == NULL);
        memcpy(q8, bitnet_ctx_logits(c, -1), (size_t)nv * sizeof(float));
    }
    /* truncating seq 1 drops its logits row, not seq 0's */
    CHECK(bitnet_ctx_seq_truncate(c, 1, 4) == BITNET_OK && bitnet_ctx_seq_pos(c, 1) == 4);
    CHECK(bitnet_ctx_logits(c, -1) == NULL && same(bitnet_ctx_logits(c, N_P - 1), ref, nv));
    CHECK(bitnet_ctx_seq_pos(c, 0) == N_P);
    /* seq 0 goes on; seq 1 redoes its tail: both as before */
    {
        int32_t tok[5] = { G[0], Q[4], Q[5], Q[6], Q[7] }, seq[5] = { 0, 1, 1, 1, 1 };
        CHECK(run_batch(c, tok, seq, NULL, 5) == BITNET_OK);
        CHECK(same(bitnet_ctx_logits(c, 0), ref + nv, nv));
        CHECK(same(bitnet_ctx_logits(c, 4), q8, nv));
    }
    /* copy seq 0's first 12 positions into seq 2, then seq 2 decodes the rest of P: the logits of
       P decoded whole; seq 0 meanwhile takes G[1] */
    CHECK(bitnet_ctx_seq_copy(c, 0, 2, 12) == BITNET_OK && bitnet_ctx_seq_pos(c, 2) == 12);
    {
        int32_t tok[9], seq[9];
        int8_t lg[9] = { 1, 0, 0, 0, 0, 0, 0, 0, 1 };
        tok[0] = G[1]; seq[0] = 0;
        for (i = 0; i < 8; i++) { tok[1 + i] = P[12 + i]; seq[1 + i] = 2; }
        CHECK(run_batch(c, tok, seq, lg, 9) == BITNET_OK);
        CHECK(same(bitnet_ctx_logits(c, 0), ref + 2 * nv, nv));
        CHECK(same(bitnet_ctx_logits(c, 8), ref, nv));
    }
    /* clear seq 0 while seq 1 goes on, then seq 0 starts again */
    CHECK(bitnet_ctx_seq_truncate(c, 0, 0) == BITNET_OK && bitnet_ctx_seq_pos(c, 0) == 0);
    CHECK(bitnet_ctx_pos(c) == 0 && bitnet_ctx_seq_pos(c, 1) == 8 && bitnet_ctx_seq_pos(c, 2) == N_P);
    CHECK(bitnet_decode(c, P, N_P) == BITNET_OK && same(bitnet_ctx_logits(c, -1), ref, nv));
    /* bitnet_ctx_truncate is sequence 0 */
    CHECK(bitnet_ctx_truncate(c, 5) == BITNET_OK && bitnet_ctx_seq_pos(c, 0) == 5 && bitnet_ctx_seq_pos(c, 2) == N_P);
    /* copy onto itself truncates; copy of an empty prefix clears */
    CHECK(bitnet_ctx_seq_copy(c, 2, 2, 19) == BITNET_OK && bitnet_ctx_seq_pos(c, 2) == 19);
    CHECK(bitnet_ctx_seq_copy(c, 1, 2, 0) == BITNET_OK && bitnet_ctx_seq_pos(c, 2) == 0);
    CHECK(run_batch(c, s1, (const int32_t[]){ 2 }, NULL, 1) == BITNET_OK && bitnet_ctx_seq_pos(c, 2) == 1);
done:
    bitnet_ctx_free(c);
    bitnet_ctx_free(alone);
    bitnet_model_free(m);
    free(ref);
    free(q8);
}

/* Every bad batch is refused with nothing changed: positions, last logits, and the cache (the
   next good decode gives the logits of a context that never saw the bad calls). */
static void test_errors_change_nothing(void) {
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx *c = NULL, *clean = NULL, *big = NULL;
    bitnet_ctx_params p;
    float *before;
    int32_t tok[40], seq[40], nv;
    int8_t lg[40];
    int i;
    if (!m) return;
    nv = bitnet_model_hparams(m)->n_vocab;
    memset(&p, 0, sizeof p);
    p.n_ctx = 24; p.n_batch = 8; p.n_seq = 2; p.n_outputs = 2; p.n_threads = 1;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_OK && bitnet_ctx_new(&clean, m, &p) == BITNET_OK);
    before = (float *)malloc((size_t)nv * sizeof(float));
    if (!c || !clean) goto done;
    CHECK(bitnet_decode(c, P, 20) == BITNET_OK && bitnet_decode(clean, P, 20) == BITNET_OK);
    memcpy(before, bitnet_ctx_logits(c, -1), (size_t)nv * sizeof(float));
    for (i = 0; i < 40; i++) { tok[i] = 7; seq[i] = 1; lg[i] = 0; }
    seq[0] = 2;
    CHECK(run_batch(c, tok, seq, NULL, 1) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "sequence 2"));
    seq[0] = -1;
    CHECK(run_batch(c, tok, seq, NULL, 1) == BITNET_ERR_ARGS);
    seq[0] = 1;
    tok[1] = nv;
    CHECK(run_batch(c, tok, seq, NULL, 2) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "vocabulary"));
    tok[1] = -3;
    CHECK(run_batch(c, tok, seq, NULL, 2) == BITNET_ERR_ARGS);
    tok[1] = 7;
    CHECK(run_batch(c, tok, seq, NULL, 9) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "n_batch"));
    CHECK(run_batch(c, tok, seq, NULL, 0) == BITNET_ERR_ARGS);
    CHECK(run_batch(c, NULL, seq, NULL, 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_decode_batch(c, NULL) == BITNET_ERR_ARGS && bitnet_decode_batch(NULL, NULL) == BITNET_ERR_ARGS);
    lg[0] = lg[1] = lg[2] = 1;
    CHECK(run_batch(c, tok, seq, lg, 3) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "n_outputs"));
    seq[0] = 0; seq[1] = 1; seq[2] = 0; seq[3] = 0; seq[4] = 0; lg[2] = 0;    /* seq 0: 20 + 4 + 1 > 24 */
    seq[5] = 0;
    CHECK(run_batch(c, tok, seq, NULL, 6) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "context"));
    CHECK(bitnet_decode(c, tok, 5) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_truncate(c, 2, 0) == BITNET_ERR_ARGS && bitnet_ctx_seq_truncate(c, 0, 21) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_truncate(c, 1, 1) == BITNET_ERR_ARGS && bitnet_ctx_seq_truncate(c, -1, 0) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_copy(c, 0, 1, 21) == BITNET_ERR_ARGS && bitnet_ctx_seq_copy(c, 0, 2, 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_copy(c, -1, 1, 0) == BITNET_ERR_ARGS && bitnet_ctx_seq_copy(NULL, 0, 1, 0) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_pos(c, 0) == 20 && bitnet_ctx_seq_pos(c, 1) == 0 && bitnet_ctx_seq_pos(c, 5) == 0);
    CHECK(same(bitnet_ctx_logits(c, -1), before, nv));
    CHECK(bitnet_decode(c, G, 1) == BITNET_OK && bitnet_decode(clean, G, 1) == BITNET_OK);
    CHECK(same(bitnet_ctx_logits(c, -1), bitnet_ctx_logits(clean, -1), nv));
    p.n_seq = 65537;
    CHECK(bitnet_ctx_new(&big, m, &p) == BITNET_ERR_ARGS && big == NULL);
    /* plan bytes grow with the sequences: n_seq caches */
    {
        bitnet_ctx_params one = p, four = p;
        const bitnet_hparams *hp = bitnet_model_hparams(m);
        size_t cache = (size_t)hp->n_layer * 24 * (size_t)hp->n_head_kv * (size_t)hp->head_dim * 4 * 2;
        one.n_seq = 1; four.n_seq = 4;
        CHECK(bitnet_ctx_plan_bytes(m, &four) >= bitnet_ctx_plan_bytes(m, &one) + 3 * cache);
        CHECK(bitnet_ctx_memory(c).reserved >= bitnet_ctx_plan_bytes(m, &one));
    }
done:
    free(before);
    bitnet_ctx_free(c);
    bitnet_ctx_free(clean);
    bitnet_model_free(m);
}

/* No allocation in bitnet_decode_batch, seq ops, or gen_step_batch after setup. */
static void test_no_alloc(void) {
    check_allocator counter = { 0, 0, 0, 0 };
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    bitnet_gen *g[2] = { NULL, NULL };
    bitnet_gen_params gp[2];
    int results[2], i, k;
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    memset(gp, 0, sizeof gp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    mp.allocator = check_allocator_hooks(&counter);
    cp.n_ctx = 64; cp.n_batch = 16; cp.n_seq = 4; cp.n_threads = 2; cp.allocator = mp.allocator;
    CHECK(bitnet_model_load(&m, &mp) == BITNET_OK && m && bitnet_ctx_new(&c, m, &cp) == BITNET_OK);
    for (i = 0; i < 2; i++) { gp[i].prompt = i ? "The sea" : "Hello"; gp[i].seq = 2 + i; gp[i].ignore_eog = 1; }
    CHECK(c && bitnet_gen_new(&g[0], c, &gp[0]) == BITNET_OK && bitnet_gen_new(&g[1], c, &gp[1]) == BITNET_OK);
    if (c && g[0] && g[1]) {
        check_allocator before = counter;
        int32_t tok[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, seq[8] = { 0, 1, 0, 1, 0, 1, 0, 0 };
        for (k = 0; k < 5; k++) {
            CHECK(run_batch(c, tok, seq, NULL, 8) == BITNET_OK);
            CHECK(bitnet_gen_step_batch(g, 2, NULL, NULL, results) == BITNET_OK && results[0] == 1 && results[1] == 1);
        }
        CHECK(bitnet_ctx_seq_copy(c, 0, 1, 10) == BITNET_OK && bitnet_ctx_seq_truncate(c, 0, 3) == BITNET_OK);
        CHECKF(counter.total == before.total && counter.frees == before.frees, "%ld allocations, %ld frees",
               counter.total - before.total, counter.frees - before.frees);
    }
    bitnet_gen_free(g[0]);
    bitnet_gen_free(g[1]);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    CHECKF(counter.live == 0, "%ld blocks left", counter.live);
}

#define MAX_TEXT 2048
typedef struct gen_out { char text[MAX_TEXT]; size_t len; int32_t ids[64]; int n_ids; } gen_out;

static void gen_out_add(gen_out *o, const char *text, size_t len) {
    if (len > MAX_TEXT - 1 - o->len) len = MAX_TEXT - 1 - o->len;
    memcpy(o->text + o->len, text, len);
    o->len += len;
    o->text[o->len] = 0;
}

static int collect(const char *text, size_t len, void *user) { gen_out_add((gen_out *)user, text, len); return 0; }

/* Greedy (and one seeded) generations stepped together give the text and ids each gets alone. */
static void test_gen_step_batch(const char *name) {
    static const char *prompts[4] = { "Hello", "The sea is", "Once upon a time there was a", "x" };
    bitnet_model *m = check_load_model(name);
    bitnet_ctx *c = NULL, *alone = NULL, *other = NULL;
    bitnet_ctx_params cp;
    bitnet_gen_params gp[4];
    bitnet_gen *g[4] = { NULL, NULL, NULL, NULL }, *bad[2];
    bitnet_gen_stats stats[4];
    static gen_out single[4], batched[4], many[4];
    int i, results[4], running = 4, steps = 0;
    const char *texts[4];
    size_t lens[4];
    if (!m) return;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 64; cp.n_batch = 8; cp.n_threads = 1;
    CHECK(bitnet_ctx_new(&alone, m, &cp) == BITNET_OK);
    cp.n_seq = 4;
    CHECK(bitnet_ctx_new(&c, m, &cp) == BITNET_OK && bitnet_ctx_new(&other, m, &cp) == BITNET_OK);
    if (!c || !alone || !other) goto done;
    for (i = 0; i < 4; i++) {
        memset(&gp[i], 0, sizeof gp[i]);
        gp[i].prompt = prompts[i];
        gp[i].max_tokens = 6 + 3 * i;
        gp[i].ignore_eog = 1;
        gp[i].prefill_chunk = i == 2 ? 3 : 0;
        gp[i].sampler.temperature = i == 1 ? 0.8f : 0.0f;
        gp[i].sampler.seed = 7;
        gp[i].seq = 3 - i;
        memset(&single[i], 0, sizeof single[i]);
        memset(&batched[i], 0, sizeof batched[i]);
        memset(&many[i], 0, sizeof many[i]);
        gp[i].on_piece = collect;
        gp[i].user = &single[i];
        bitnet_ctx_truncate(alone, 0);
        {
            bitnet_gen_params one = gp[i];
            one.seq = 0;
            CHECK(bitnet_generate_text(alone, &one, NULL) == BITNET_OK);
        }
        CHECK(bitnet_gen_new(&g[i], c, &gp[i]) == BITNET_OK);
    }
    if (!g[0] || !g[1] || !g[2] || !g[3]) goto done;
    bad[0] = g[0]; bad[1] = g[0];
    CHECK(bitnet_gen_step_batch(bad, 2, NULL, NULL, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "share"));
    CHECK(bitnet_gen_step_batch(g, 0, NULL, NULL, NULL) == BITNET_ERR_ARGS);
    while (running > 0 && steps++ < 200) {
        CHECK(bitnet_gen_step_batch(g, 4, texts, lens, results) == BITNET_OK);
        for (i = 0, running = 0; i < 4; i++) {
            CHECK(results[i] >= 0);
            gen_out_add(&batched[i], texts[i], lens[i]);
            running += results[i] > 0;
        }
    }
    CHECK(bitnet_gen_step_batch(g, 4, texts, lens, results) == BITNET_OK && results[0] == 0 && lens[0] == 0);
    for (i = 0; i < 4; i++) {
        CHECKF(strcmp(single[i].text, batched[i].text) == 0, "%s prompt %d: \"%s\" alone, \"%s\" batched", name, i,
               single[i].text, batched[i].text);
        CHECK(bitnet_gen_stats_get(g[i])->n_generated == 6 + 3 * i);
        CHECK(bitnet_gen_stats_get(g[i])->stop_reason == BITNET_STOP_MAX_TOKENS);
    }
    /* generations on two contexts cannot share a batch */
    {
        bitnet_gen *o = NULL, *pair[2];
        CHECK(bitnet_gen_new(&o, other, &gp[0]) == BITNET_OK);
        pair[0] = g[0]; pair[1] = o;
        CHECK(bitnet_gen_step_batch(pair, 2, NULL, NULL, NULL) == BITNET_ERR_ARGS);
        bitnet_gen_free(o);
    }
    /* the whole-run entry points: one context, and generate_many with that context repeated */
    for (i = 0; i < 4; i++) { bitnet_ctx_seq_truncate(c, i, 0); gp[i].user = &many[i]; }
    CHECK(bitnet_generate_batch(c, gp, 4, stats) == BITNET_OK);
    for (i = 0; i < 4; i++) {
        CHECKF(strcmp(single[i].text, many[i].text) == 0, "%s generate_batch %d: \"%s\" vs \"%s\"", name, i,
               single[i].text, many[i].text);
        CHECK(stats[i].n_generated == 6 + 3 * i);
        bitnet_ctx_seq_truncate(c, i, 0);
        memset(&many[i], 0, sizeof many[i]);
    }
    {
        bitnet_ctx *same_ctx[4] = { c, c, c, c };
        CHECK(bitnet_generate_many(same_ctx, gp, 4, stats) == BITNET_OK);
        for (i = 0; i < 4; i++) CHECK(strcmp(single[i].text, many[i].text) == 0);
        for (i = 0; i < 4; i++) bitnet_ctx_seq_truncate(c, i, 0);
        gp[1].seq = gp[0].seq;
        CHECK(bitnet_generate_many(same_ctx, gp, 2, stats) == BITNET_ERR_ARGS);
        gp[0].seq = 4;
        CHECK(bitnet_generate_batch(c, gp, 1, stats) == BITNET_ERR_ARGS);
    }
    printf("  %-34s gen_step_batch: 4 prompts, %d steps, text equal to single generations\n", name, steps);
done:
    for (i = 0; i < 4; i++) bitnet_gen_free(g[i]);
    bitnet_ctx_free(c);
    bitnet_ctx_free(alone);
    bitnet_ctx_free(other);
    bitnet_model_free(m);
}


/* Chunked prefill: what a generation sees, hashed token by token (its logits bit for bit). */
typedef struct seen {
    uint64_t hash[16];
    int32_t ids[16];
    int n;
    gen_out out;
} seen;

static int32_t seen_greedy(float *logits, int32_t n_vocab, void *user) {
    seen *s = (seen *)user;
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)logits;
    size_t i;
    int32_t best = 0, k;
    for (i = 0; i < (size_t)n_vocab * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    for (k = 1; k < n_vocab; k++)
        if (logits[k] > logits[best]) best = k;
    if (s->n < 16) { s->hash[s->n] = h; s->ids[s->n] = best; }
    s->n++;
    return best;
}

static int seen_piece(const char *text, size_t len, void *user) { gen_out_add(&((seen *)user)->out, text, len); return 0; }

#define N_BUDGET_GENS 3
/* One stream generating while two longer prompts join (the second a few steps later): with
   prefill_budget B, every step that carries a generating stream runs exactly min(B, prompt
   tokens left) prompt tokens (never more: the stream is not stalled; never fewer: no step is
   wasted), steps with nobody generating fill n_batch, nothing is allocated, and every stream's
   logits (hashed), ids and text equal those of the same prompt generated alone in one chunk. */
static void test_prefill_budget(const char *name, int budget) {
    static const int32_t first[3] = { 1, 343, 452 };
    const int32_t *prompts[N_BUDGET_GENS] = { first, P, R };
    const int32_t n_prompt[N_BUDGET_GENS] = { 3, N_P, 9 };
    const int join_step[N_BUDGET_GENS] = { 0, 1, 3 };     /* the step a gen enters the batch */
    check_allocator counter = { 0, 0, 0, 0 };
    bitnet_model *m = check_load_model(name);
    bitnet_ctx *c = NULL, *alone = NULL;
    bitnet_ctx_params cp;
    bitnet_gen_params gp;
    bitnet_gen *g[N_BUDGET_GENS] = { NULL, NULL, NULL }, *batch[N_BUDGET_GENS];
    static seen ref[N_BUDGET_GENS], got[N_BUDGET_GENS];
    int i, step, running = 1, most = 0, budget_steps = 0, results[N_BUDGET_GENS], done[N_BUDGET_GENS] = { 0, 0, 0 };
    const char *texts[N_BUDGET_GENS];
    size_t lens[N_BUDGET_GENS];
    if (!m) return;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 64; cp.n_batch = 32; cp.n_threads = 1;
    CHECK(bitnet_ctx_new(&alone, m, &cp) == BITNET_OK);
    cp.n_seq = N_BUDGET_GENS; cp.n_outputs = N_BUDGET_GENS; cp.prefill_budget = budget;
    cp.allocator = check_allocator_hooks(&counter);
    CHECK(bitnet_ctx_new(&c, m, &cp) == BITNET_OK);
    if (!c || !alone) goto done;
    for (i = 0; i < N_BUDGET_GENS; i++) {
        memset(&gp, 0, sizeof gp);
        gp.prompt_ids = prompts[i];
        gp.n_prompt_ids = n_prompt[i];
        gp.max_tokens = 8;
        gp.ignore_eog = 1;
        gp.sample = seen_greedy;
        memset(&ref[i], 0, sizeof ref[i]);
        memset(&got[i], 0, sizeof got[i]);
        gp.sample_user = &ref[i];
        gp.on_piece = seen_piece;
        gp.user = &ref[i];
        bitnet_ctx_truncate(alone, 0);
        CHECK(bitnet_generate_text(alone, &gp, NULL) == BITNET_OK && ref[i].n == 8);
        gp.sample_user = &got[i];
        gp.seq = i;
        CHECK(bitnet_gen_new(&g[i], c, &gp) == BITNET_OK);
    }
    if (!g[0] || !g[1] || !g[2]) goto done;
    {
        check_allocator before = counter;
        for (step = 0; running && step < 100; step++) {
            int32_t pos[N_BUDGET_GENS], left = 0, taken = 0, want;
            int n = 0, generating = 0, prefilling[N_BUDGET_GENS], slot[N_BUDGET_GENS];
            for (i = 0; i < N_BUDGET_GENS; i++) {
                if (step < join_step[i] || done[i]) continue;
                pos[i] = bitnet_ctx_seq_pos(c, i);
                prefilling[i] = bitnet_gen_last_token(g[i]) < 0;
                if (prefilling[i]) left += n_prompt[i] - pos[i];
                else generating += bitnet_gen_get_stats(g[i])->n_generated < 8;   /* else it ends now */
                slot[n] = i;
                batch[n++] = g[i];
            }
            CHECK(bitnet_gen_step_batch(batch, n, texts, lens, results) == BITNET_OK);
            for (running = 0, i = 0; i < n; i++) {
                int k = slot[i];
                CHECK(results[i] >= 0);
                gen_out_add(&got[k].out, texts[i], lens[i]);
                if (prefilling[k]) taken += bitnet_ctx_seq_pos(c, k) - pos[k];
                if (results[i] == 0) done[k] = 1;
            }
            for (i = 0; i < N_BUDGET_GENS; i++) running += !done[i];
            want = generating && budget > 0 && budget < left ? budget : left < cp.n_batch ? left : cp.n_batch;
            CHECKF(taken == want, "%s budget %d step %d: %d prompt tokens run beside %d generating, want %d", name,
                   budget, step, taken, generating, want);
            if (generating && taken > most) most = taken;
            budget_steps += generating && taken > 0;
        }
        CHECKF(counter.total == before.total, "%s budget %d: %ld allocations while stepping", name, budget,
               counter.total - before.total);
    }
    for (i = 0; i < N_BUDGET_GENS; i++) {
        CHECKF(got[i].n == 8 && memcmp(got[i].hash, ref[i].hash, sizeof ref[i].hash) == 0,
               "%s budget %d stream %d: %d tokens, logits differ from the prompt alone", name, budget, i, got[i].n);
        CHECK(memcmp(got[i].ids, ref[i].ids, sizeof ref[i].ids) == 0);
        CHECKF(strcmp(got[i].out.text, ref[i].out.text) == 0, "%s budget %d stream %d: \"%s\" alone, \"%s\"", name,
               budget, i, ref[i].out.text, got[i].out.text);
    }
    printf("  %-34s prefill_budget %2d: %d steps, %d of them prefilling beside a stream (at most %d prompt tokens)\n",
           name, budget, step, budget_steps, most);
done:
    for (i = 0; i < N_BUDGET_GENS; i++) bitnet_gen_free(g[i]);
    bitnet_ctx_free(c);
    bitnet_ctx_free(alone);
    bitnet_model_free(m);
}

int main(void) {
    char names[MAX_MODELS][128];
    int n, i;
    if (!check_have_shared()) return check_report("batch");
    n = model_names(names);
    CHECKF(n >= 10, "found %d shared models in %s", n, check_shared("models"));
    printf("batch: a sequence inside mixed batches vs decoded alone:\n");
    for (i = 0; i < n; i++) test_mixed_equals_alone(names[i], BITNET_ISA_AUTO);
    for (i = BITNET_ISA_REF; i <= BITNET_ISA_NEON; i++)       /* every other kernel set this CPU runs */
        if (bitnet_isa_supported((bitnet_isa)i) && i != (int)bitnet_isa_best())
            test_mixed_equals_alone("tiny-b158-i2_s", (bitnet_isa)i);
    test_seq_ops();
    test_errors_change_nothing();
    test_no_alloc();
    test_gen_step_batch("tiny-b158-i2_s");
    test_gen_step_batch("tiny-llama-ternary-tq2_0");
    for (i = 0; i < 4; i++) {
        static const int budgets[4] = { 1, 3, 7, 0 };
        test_prefill_budget("tiny-b158-i2_s", budgets[i]);
        test_prefill_budget("tiny-llama-ternary-tq2_0", budgets[i]);
    }
    return check_report("batch");
}
