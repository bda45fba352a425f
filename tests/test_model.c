/* The model end to end against ../shared/data/ref: prompt logits of every shared model vs the
   float64 oracle and vs the reference engine, 32 greedy ids, on-load ternarization, thread-count
   and batch invariance, no allocation per token, hostile model files. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <math.h>
#include <pthread.h>

#define MAX_POS 20

typedef struct reference {
    int32_t prompt[64], greedy[32];
    int n_prompt, n_greedy, first_pos, n_pos, n_vocab;
    float *logits;                           /* (n_pos, n_vocab) */
    float top5_logit[32][5];
    int32_t top5_id[32][5];
} reference;

/* Reads the integers of the JSON array that follows "key": (no nesting). */
static int json_ints(const char *json, const char *key, int32_t *out, int cap) {
    char pat[64];
    const char *p;
    int n = 0;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(json, pat);
    if (!p || !(p = strchr(p, '['))) return -1;
    for (p++; *p && *p != ']' && n < cap;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) { p++; continue; }
        out[n++] = (int32_t)v;
        p = end;
    }
    return n;
}

/* The integer that follows "key": */
static int json_int(const char *json, const char *key) {
    char pat[64];
    const char *p;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(json, pat);
    return p ? (int)strtol(p + strlen(pat), NULL, 10) : -1;
}

/* "greedy_top5": [[[id, logit], ...5], ...32] */
static void json_top5(const char *json, reference *r) {
    const char *p = strstr(json, "\"greedy_top5\":");
    int step, k;
    if (!p) return;
    p = strchr(p, '[') + 1;
    for (step = 0; step < 32; step++)
        for (k = 0; k < 5; k++) {
            char *end;
            p = strchr(p, '[');
            while (*p == '[') p++;
            r->top5_id[step][k] = (int32_t)strtol(p, &end, 10);
            r->top5_logit[step][k] = strtof(end + 1, &end);
            p = end;
        }
}

static int load_reference(const char *model, const char *producer, reference *r) {
    char rel[256];
    size_t size = 0, lsize = 0;
    char *json;
    int32_t shape[2];
    memset(r, 0, sizeof *r);
    snprintf(rel, sizeof rel, "ref/%s.%s.json", model, producer);
    json = (char *)check_read_file(check_shared(rel), &size);
    if (!json) return 0;
    json[size] = 0;
    r->n_prompt = json_ints(json, "prompt_ids", r->prompt, 64);
    r->n_greedy = json_ints(json, "greedy_ids", r->greedy, 32);
    json_ints(json, "logits_shape", shape, 2);
    r->n_pos = shape[0];
    r->n_vocab = shape[1];
    r->first_pos = json_int(json, "logits_first_position");
    json_top5(json, r);
    free(json);
    snprintf(rel, sizeof rel, "ref/%s.%s.logits.f32", model, producer);
    r->logits = (float *)check_read_file(check_shared(rel), &lsize);
    return r->logits && lsize == (size_t)r->n_pos * (size_t)r->n_vocab * 4;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int n_threads, int all_logits) {
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 256;
    p.n_batch = 64;
    p.n_threads = n_threads;
    p.all_logits = all_logits;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

/* Largest and RMS difference between our prompt logits and the reference's positions. */
static void compare_prompt(bitnet_ctx *c, const reference *r, double *max_d, double *rms_d) {
    double sum = 0;
    int t, i;
    *max_d = 0;
    for (t = 0; t < r->n_pos; t++) {
        const float *ours = bitnet_ctx_logits(c, r->first_pos + t);
        for (i = 0; i < r->n_vocab; i++) {
            double d = fabs((double)ours[i] - r->logits[(size_t)t * r->n_vocab + i]);
            if (d > *max_d) *max_d = d;
            sum += d * d;
        }
    }
    *rms_d = sqrt(sum / ((double)r->n_pos * r->n_vocab));
}

static int32_t argmax(const float *x, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* 32 greedy ids after the prompt, one token per decode. */
static void greedy_run(bitnet_ctx *c, const reference *r, int32_t *out) {
    int step;
    bitnet_ctx_truncate(c, 0);
    bitnet_decode(c, r->prompt, r->n_prompt);
    for (step = 0; step < 32; step++) {
        out[step] = argmax(bitnet_ctx_logits(c, -1), r->n_vocab);
        bitnet_decode(c, &out[step], 1);
    }
}

/* Teacher-forced: feed the engine's greedy ids and compare its top-5 logits. */
static double teacher_forced_top5(bitnet_ctx *c, const reference *r) {
    double worst = 0;
    int step, k;
    bitnet_ctx_truncate(c, 0);
    bitnet_decode(c, r->prompt, r->n_prompt);
    for (step = 0; step < 32; step++) {
        const float *l = bitnet_ctx_logits(c, -1);
        for (k = 0; k < 5; k++) {
            double d = fabs((double)l[r->top5_id[step][k]] - r->top5_logit[step][k]);
            if (d > worst) worst = d;
        }
        bitnet_decode(c, &r->greedy[step], 1);
    }
    return worst;
}

static void test_model_against(const char *name, const char *engine) {
    reference oracle, eng;
    bitnet_model *m;
    bitnet_ctx *c;
    int32_t ids[32];
    double mx, rms;
    int same = 0, i;
    if (!load_reference(name, "oracle", &oracle) || !load_reference(name, engine, &eng)) {
        CHECKF(0, "%s: reference files missing", name);
        return;
    }
    m = check_load_model_isa(name, BITNET_ISA_AUTO);
    c = m ? new_ctx(m, 0, 1) : NULL;
    if (c && bitnet_decode(c, oracle.prompt, oracle.n_prompt) == BITNET_OK) {
        compare_prompt(c, &oracle, &mx, &rms);
        CHECKF(mx <= 0.06 && rms <= 1e-3, "%s vs oracle: max %g rms %g", name, mx, rms);
        printf("  %-34s vs oracle: max %.2e rms %.2e", name, mx, rms);
        compare_prompt(c, &eng, &mx, &rms);
        CHECKF(mx <= 0.25 && rms <= 0.06, "%s vs %s: max %g rms %g", name, engine, mx, rms);
        printf(" | vs %s: max %.3f rms %.3f", engine, mx, rms);
        greedy_run(c, &oracle, ids);
        for (i = 0; i < 32; i++) same += ids[i] == oracle.greedy[i];
        CHECKF(same == 32, "%s: %d/32 greedy ids equal the oracle's", name, same);
        mx = teacher_forced_top5(c, &eng);
        CHECKF(mx <= 0.25, "%s: teacher-forced top-5 vs %s differ by %g", name, engine, mx);
        printf(" | greedy %d/32 | TF top-5 %.3f\n", same, mx);
    }
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    free(oracle.logits);
    free(eng.logits);
}

/* An F16 KV cache: prompt logits within the engine tolerance (the reference engines keep their
   cache in F16 too) and the F32 cache's, bit-identical for 1 and 2 threads, greedy ids as the
   engine's, and the cache's memory halved. (F16 vs F32 moves logits by up to ~0.2 on these tiny
   random models: a rounded key can move a token's int8 activation scale.) */
static void test_kv_f16(const char *name, const char *engine) {
    reference eng;
    bitnet_model *m;
    bitnet_ctx *c32 = NULL, *c16[2] = { NULL, NULL };
    bitnet_ctx_params p;
    const bitnet_hparams *hp;
    int32_t ids16[32];
    double mx, rms, d = 0;
    int t, i, th;
    if (!load_reference(name, engine, &eng)) { CHECKF(0, "%s: reference files missing", name); return; }
    m = check_load_model_isa(name, BITNET_ISA_AUTO);
    if (!m) { free(eng.logits); return; }
    hp = bitnet_model_hparams(m);
    memset(&p, 0, sizeof p);
    p.n_ctx = 256; p.n_batch = 64; p.all_logits = 1;
    CHECK(bitnet_ctx_new(&c32, m, &p) == BITNET_OK);
    p.kv_f16 = 1;
    for (th = 0; th < 2; th++) {
        p.n_threads = th + 1;
        CHECK(bitnet_ctx_new(&c16[th], m, &p) == BITNET_OK);
    }
    if (c32 && c16[0] && c16[1]) {
        size_t kv_bytes = (size_t)hp->n_layer * 256 * (size_t)hp->n_head_kv * (size_t)hp->head_dim * 2 * 2;
        bitnet_ctx_params p32 = p;
        p32.kv_f16 = 0;
        CHECKF(bitnet_ctx_plan_bytes(m, &p32) - bitnet_ctx_plan_bytes(m, &p) >= kv_bytes - 128,
               "%s: F16 cache saves %zu bytes of %zu", name, bitnet_ctx_plan_bytes(m, &p32) - bitnet_ctx_plan_bytes(m, &p), kv_bytes);
        CHECK(bitnet_decode(c32, eng.prompt, eng.n_prompt) == BITNET_OK);
        CHECK(bitnet_decode(c16[0], eng.prompt, eng.n_prompt) == BITNET_OK);
        CHECK(bitnet_decode(c16[1], eng.prompt, eng.n_prompt) == BITNET_OK);
        compare_prompt(c16[0], &eng, &mx, &rms);
        CHECKF(mx <= 0.25 && rms <= 0.06, "%s F16 cache vs %s: max %g rms %g", name, engine, mx, rms);
        for (t = 0; t < eng.n_prompt; t++) {
            const float *a = bitnet_ctx_logits(c32, t), *b = bitnet_ctx_logits(c16[0], t);
            CHECK(memcmp(b, bitnet_ctx_logits(c16[1], t), (size_t)hp->n_vocab * sizeof(float)) == 0);
            for (i = 0; i < hp->n_vocab; i++) if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
        }
        CHECKF(d > 0 && d <= 0.25, "%s: F16 vs F32 cache logits differ by %g", name, d);
        greedy_run(c16[0], &eng, ids16);
        for (i = 0, t = 0; i < 32; i++) t += ids16[i] == eng.greedy[i];
        CHECKF(t >= 29, "%s: F16 cache: %d/32 greedy ids equal %s's", name, t, engine);
        printf("  %-34s F16 cache vs %s: max %.3f rms %.3f | greedy %d/32 | vs F32 cache %.3f\n", name, engine,
               mx, rms, t, d);
    }
    bitnet_ctx_free(c32);
    bitnet_ctx_free(c16[0]);
    bitnet_ctx_free(c16[1]);
    bitnet_model_free(m);
    free(eng.logits);
}

/* F32/F16 files ternarized on load give the I2_S file's logits bit for bit, for any thread
   count; other ISAs agree to float rounding (their sums run in another order). */
static void test_invariance(void) {
    static const char *files[] = { "tiny-b158-i2_s", "tiny-b158-f32", "tiny-b158-f16" };
    reference r;
    float *first = NULL, *isa_first = NULL;
    size_t n, i;
    int f, threads, isa;
    if (!load_reference("tiny-b158-i2_s", "oracle", &r)) { CHECK(0); return; }
    n = (size_t)r.n_prompt * (size_t)r.n_vocab;
    first = (float *)malloc(n * sizeof(float));
    isa_first = (float *)malloc(n * sizeof(float));
    for (isa = BITNET_ISA_REF; isa <= BITNET_ISA_NEON; isa++)
        for (f = 0; f < 3; f++)
            for (threads = 1; threads <= 3; threads++) {
                bitnet_model *m;
                bitnet_ctx *c;
                if (!bitnet_isa_supported((bitnet_isa)isa)) continue;
                m = check_load_model_isa(files[f], (bitnet_isa)isa);
                c = m ? new_ctx(m, threads, 1) : NULL;
                if (c && bitnet_decode(c, r.prompt, r.n_prompt) == BITNET_OK) {
                    const float *l = bitnet_ctx_logits(c, 0);
                    double mx = 0;
                    if (f == 0 && threads == 1) memcpy(isa_first, l, n * sizeof(float));
                    if (f == 0 && threads == 1 && isa == BITNET_ISA_REF) memcpy(first, l, n * sizeof(float));
                    CHECKF(memcmp(isa_first, l, n * sizeof(float)) == 0, "%s isa %s threads %d differs", files[f],
                           bitnet_isa_name((bitnet_isa)isa), threads);
                    for (i = 0; i < n; i++) if (fabs(first[i] - l[i]) > mx) mx = fabs(first[i] - l[i]);
                    CHECKF(mx < 1e-4, "%s isa %s vs ref: %g", files[f], bitnet_isa_name((bitnet_isa)isa), mx);
                }
                bitnet_ctx_free(c);
                bitnet_model_free(m);
            }
    free(first);
    free(isa_first);
    free(r.logits);
}

/* Prefill in one batch, in chunks, and token by token agree. */
static void test_batching(void) {
    reference r;
    bitnet_model *m = check_load_model_isa("tiny-bitnet-silu-i2_s", BITNET_ISA_AUTO);
    bitnet_ctx *whole = m ? new_ctx(m, 0, 0) : NULL, *single = m ? new_ctx(m, 0, 0) : NULL;
    float *a;
    int t, i;
    double mx = 0;
    if (!whole || !single || !load_reference("tiny-bitnet-silu-i2_s", "oracle", &r)) { CHECK(0); return; }
    a = (float *)malloc((size_t)r.n_vocab * sizeof(float));
    CHECK(bitnet_decode(whole, r.prompt, 7) == BITNET_OK && bitnet_decode(whole, r.prompt + 7, 13) == BITNET_OK);
    memcpy(a, bitnet_ctx_logits(whole, -1), (size_t)r.n_vocab * sizeof(float));
    for (t = 0; t < r.n_prompt; t++) CHECK(bitnet_decode(single, &r.prompt[t], 1) == BITNET_OK);
    for (i = 0; i < r.n_vocab; i++) if (fabs(a[i] - bitnet_ctx_logits(single, -1)[i]) > mx) mx = fabs(a[i] - bitnet_ctx_logits(single, -1)[i]);
    CHECKF(mx < 1e-4, "batched vs per-token decode differ by %g", mx);
    CHECK(bitnet_ctx_pos(whole) == 20 && bitnet_ctx_logits(whole, 0) == NULL);
    CHECK(bitnet_ctx_truncate(whole, 21) == BITNET_ERR_ARGS && bitnet_ctx_truncate(whole, 5) == BITNET_OK);
    CHECK(bitnet_ctx_pos(whole) == 5 && bitnet_ctx_logits(whole, -1) == NULL);
    free(a);
    free(r.logits);
    bitnet_ctx_free(whole);
    bitnet_ctx_free(single);
    bitnet_model_free(m);
}

/* One model, two contexts decoding in two threads at once, give the single-thread logits. */
typedef struct shared_run {
    const bitnet_model *m;
    const int32_t *ids;
    int n;
    float out[512];
    int ok;
} shared_run;

static void *shared_thread(void *arg) {
    shared_run *r = (shared_run *)arg;
    bitnet_ctx_params p;
    bitnet_ctx *c = NULL;
    int i;
    memset(&p, 0, sizeof p);
    p.n_ctx = 64;
    p.n_threads = 1;
    r->ok = bitnet_ctx_new(&c, r->m, &p) == BITNET_OK;
    for (i = 0; r->ok && i < 5; i++) {
        bitnet_ctx_truncate(c, 0);
        r->ok = bitnet_decode(c, r->ids, r->n) == BITNET_OK;
    }
    if (r->ok) memcpy(r->out, bitnet_ctx_logits(c, -1), sizeof r->out);
    bitnet_ctx_free(c);
    return NULL;
}

static void test_shared_model_threads(void) {
    static const int32_t a[6] = { 1, 300, 301, 302, 303, 304 }, b[4] = { 1, 400, 410, 420 };
    bitnet_model *m = check_load_model_isa("tiny-b158-i2_s", BITNET_ISA_AUTO);
    shared_run ra, rb, sa, sb;
    pthread_t ta, tb;
    if (!m) return;
    memset(&ra, 0, sizeof ra);
    ra.m = m; ra.ids = a; ra.n = 6;
    rb = ra; rb.ids = b; rb.n = 4;
    sa = ra; sb = rb;
    shared_thread(&sa);
    shared_thread(&sb);
    pthread_create(&ta, NULL, shared_thread, &ra);
    pthread_create(&tb, NULL, shared_thread, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(ra.ok && rb.ok && sa.ok && sb.ok);
    CHECK(memcmp(ra.out, sa.out, sizeof ra.out) == 0 && memcmp(rb.out, sb.out, sizeof rb.out) == 0);
    CHECK(bitnet_model_get_memory(m).load_ms > 0);
    bitnet_model_free(m);
}

/* ---- no allocation per token ---- */

static void test_no_allocation_per_token(void) {
    check_allocator cnt = { 0, 0, 0, 0 };
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    int32_t prompt[4] = { 1, 300, 301, 302 }, tok = 400;
    long before;
    int i;
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    mp.allocator = check_allocator_hooks(&cnt);
    cp.allocator = mp.allocator;
    cp.n_threads = 2;
    CHECK(bitnet_model_load(&m, &mp) == BITNET_OK);
    CHECK(m && bitnet_ctx_new(&c, m, &cp) == BITNET_OK);
    if (!c) return;
    before = cnt.total;
    CHECK(bitnet_decode(c, prompt, 4) == BITNET_OK);
    for (i = 0; i < 16; i++) CHECK(bitnet_decode(c, &tok, 1) == BITNET_OK);
    CHECKF(cnt.total == before, "%ld allocations while decoding", cnt.total - before);
    CHECK(bitnet_ctx_memory(c).reserved > 0 && bitnet_ctx_memory(c).in_use <= bitnet_ctx_memory(c).reserved);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    CHECK(cnt.live == 0);
}

/* ---- hostile model files: a shared file copied with one thing changed ---- */

typedef struct buffer {
    unsigned char *p;
    size_t n, cap;
} buffer;

static int buffer_put(const void *data, size_t size, void *user) {
    buffer *b = (buffer *)user;
    if (b->n + size > b->cap) {
        b->cap = (b->n + size) * 2;
        b->p = (unsigned char *)realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, data, size);
    b->n += size;
    return 0;
}

/* Copies tiny-b158-i2_s, dropping tensor `drop` or overriding `key`. */
static void make_variant(buffer *out, const char *drop, const char *key, uint32_t value) {
    bitnet_gguf *src;
    bitnet_gguf_writer *w;
    int64_t i;
    out->n = 0;
    if (bitnet_gguf_open(&src, check_shared("models/tiny-b158-i2_s.gguf"), NULL) != BITNET_OK) return;
    bitnet_gguf_writer_new(&w, NULL);
    for (i = 0; i < bitnet_gguf_n_kv(src); i++)
        bitnet_gguf_writer_set(w, bitnet_gguf_key(src, i), bitnet_gguf_kv(src, i));
    if (key) bitnet_gguf_writer_set_u32(w, key, value);
    for (i = 0; i < bitnet_gguf_n_tensors(src); i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(src, i);
        if (drop && !strcmp(t->name, drop)) continue;
        bitnet_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne);
    }
    bitnet_gguf_writer_begin_fn(w, buffer_put, out);
    for (i = 0; i < bitnet_gguf_n_tensors(src); i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(src, i);
        if (drop && !strcmp(t->name, drop)) continue;
        bitnet_gguf_writer_write(w, t->data, (size_t)t->size);
    }
    bitnet_gguf_writer_end(w);
    bitnet_gguf_writer_free(w);
    bitnet_gguf_close(src);
}

static void expect_load_error(const buffer *b, bitnet_status want, const char *needle) {
    bitnet_model *m = NULL;
    bitnet_model_params p;
    bitnet_status st;
    memset(&p, 0, sizeof p);
    p.data = b->p;
    p.size = b->n;
    st = bitnet_model_load(&m, &p);
    CHECKF(st == want && m == NULL, "status %d, want %d (%s)", st, want, bitnet_last_error());
    CHECKF(strstr(bitnet_last_error(), needle) != NULL, "'%s' lacks '%s'", bitnet_last_error(), needle);
    bitnet_model_free(m);
}

/* no_mmap: the file read into memory the model owns (from the allocator when one is given) gives
   the mapped file's logits bit for bit, reports the bytes it holds, and a truncated file still
   fails cleanly. */
static void test_no_mmap(void) {
    static const int32_t toks[] = { 1, 15, 300, 7, 42 };
    bitnet_model *mapped = check_load_model_isa("tiny-b158-i2_s", BITNET_ISA_AUTO), *read = NULL, *counted = NULL;
    bitnet_model_params p;
    check_allocator ca = { 0, 0, 0, 0 };
    bitnet_ctx *c1 = NULL, *c2 = NULL;
    bitnet_model_memory mem;
    memset(&p, 0, sizeof p);
    p.path = check_shared("models/tiny-b158-i2_s.gguf");
    p.no_mmap = 1;
    CHECKF(bitnet_model_load(&read, &p) == BITNET_OK, "no_mmap: %s", bitnet_last_error());
    p.allocator = check_allocator_hooks(&ca);
    CHECKF(bitnet_model_load(&counted, &p) == BITNET_OK, "no_mmap with an allocator: %s", bitnet_last_error());
    if (mapped && read && counted) {
        mem = bitnet_model_get_memory(read);
        CHECK(mem.read_bytes == mem.file_bytes && mem.file_bytes > 0);
#if !defined(BITNET_NO_MMAP)
        CHECK(bitnet_model_get_memory(mapped).read_bytes == 0);
#endif
        CHECK(bitnet_model_get_memory(counted).read_bytes == mem.file_bytes && ca.live > 0);
        c1 = new_ctx(mapped, 1, 0);
        c2 = new_ctx(read, 2, 0);
        CHECK(c1 && c2 && bitnet_decode(c1, toks, 5) == BITNET_OK && bitnet_decode(c2, toks, 5) == BITNET_OK);
        if (c1 && c2)
            CHECK(memcmp(bitnet_ctx_logits(c1, -1), bitnet_ctx_logits(c2, -1),
                         (size_t)bitnet_model_hparams(mapped)->n_vocab * sizeof(float)) == 0);
    }
    bitnet_ctx_free(c1);
    bitnet_ctx_free(c2);
    bitnet_model_free(mapped);
    bitnet_model_free(read);
    bitnet_model_free(counted);
    CHECKF(ca.live == 0, "no_mmap with an allocator: %ld blocks left", ca.live);
}

static void test_hostile_models(void) {
    buffer b = { 0, 0, 0 };
    bitnet_model *m = NULL;
    bitnet_model_params p;
    make_variant(&b, "blk.1.ffn_down.weight", NULL, 0);
    expect_load_error(&b, BITNET_ERR_FORMAT, "missing tensor 'blk.1.ffn_down.weight'");
    make_variant(&b, "blk.0.attn_norm.weight", NULL, 0);
    expect_load_error(&b, BITNET_ERR_FORMAT, "blk.0.attn_norm.weight");
    make_variant(&b, NULL, "bitnet-b1.58.feed_forward_length", 1024);
    expect_load_error(&b, BITNET_ERR_FORMAT, "ffn_sub_norm.weight' has shape [768, 1, 1, 1], expected [1024, 1]");
    make_variant(&b, NULL, "bitnet-b1.58.attention.head_count", 3);
    expect_load_error(&b, BITNET_ERR_FORMAT, "heads");
    make_variant(&b, NULL, "bitnet-b1.58.block_count", 100000);
    expect_load_error(&b, BITNET_ERR_FORMAT, "layers");
    make_variant(&b, NULL, "bitnet-b1.58.feed_forward_length", 0);
    expect_load_error(&b, BITNET_ERR_FORMAT, "out of range");
    make_variant(&b, NULL, "general.architecture", 7);
    expect_load_error(&b, BITNET_ERR_FORMAT, "general.architecture");
    make_variant(&b, NULL, NULL, 0);
    memset(&p, 0, sizeof p);
    p.data = b.p;
    p.size = b.n;
    CHECKF(bitnet_model_load(&m, &p) == BITNET_OK, "unchanged copy: %s", bitnet_last_error());
    bitnet_model_free(m);
    m = NULL;
    p.path = "/nonexistent.gguf";
    CHECK(bitnet_model_load(&m, &p) == BITNET_ERR_IO && m == NULL);
    free(b.p);
}

static void test_bad_calls(void) {
    bitnet_model *m = check_load_model_isa("tiny-b158-i2_s", BITNET_ISA_AUTO);
    bitnet_ctx *c = m ? new_ctx(m, 1, 0) : NULL;
    int32_t bad = 512, many[300];
    if (!c) return;
    memset(many, 0, sizeof many);
    CHECK(bitnet_decode(c, &bad, 1) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "512"));
    CHECK(bitnet_decode(c, many, 0) == BITNET_ERR_ARGS);
    CHECK(bitnet_decode(c, many, 257) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "context"));
    CHECK(bitnet_ctx_pos(c) == 0 && bitnet_ctx_logits(c, -1) == NULL);
    CHECK(bitnet_decode(c, many, 256) == BITNET_OK && bitnet_decode(c, many, 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_model_hparams(m)->arch == BITNET_ARCH_BITNET_B158 && bitnet_model_hparams(m)->n_vocab == 512);
    CHECK(bitnet_model_get_memory(m).weight_bytes > 0);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
}

int main(void) {
    if (!check_have_shared()) return check_report("model");
    printf("model logits against ../shared/data/ref:\n");
    test_model_against("tiny-b158-f32", "bitnet_cpp");
    test_model_against("tiny-b158-f16", "bitnet_cpp");
    test_model_against("tiny-b158-i2_s", "bitnet_cpp");
    test_model_against("tiny-b158-as-bitnet-silu-tq2_0", "llama_cpp");
    test_model_against("tiny-b158-as-bitnet-silu-tq1_0", "llama_cpp");
    test_model_against("tiny-bitnet-silu-f16", "llama_cpp");
    test_model_against("tiny-bitnet-silu-tq2_0", "llama_cpp");
    test_model_against("tiny-bitnet-silu-i2_s", "bitnet_cpp");
    test_model_against("tiny-llama-ternary-tq2_0", "llama_cpp");
    test_model_against("tiny-2b4t-vocab-i2_s", "bitnet_cpp");
    test_kv_f16("tiny-b158-i2_s", "bitnet_cpp");
    test_kv_f16("tiny-llama-ternary-tq2_0", "llama_cpp");
    test_invariance();
    test_batching();
    test_shared_model_threads();
    test_no_allocation_per_token();
    test_no_mmap();
    test_hostile_models();
    test_bad_calls();
    return check_report("model");
}
