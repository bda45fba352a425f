/* test_embed.c - what an embedder (a game engine, a server) needs from a context: cancellation
   from another thread that stops a long prefill between layers and leaves the context as
   before the call; one thread pool shared by several contexts running in several threads; KV
   state saved, restored and copied (memory and file), with every header field checked and
   hostile or truncated state refused with nothing changed. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <pthread.h>
#include <unistd.h>

static const int32_t P[20] = { 1, 343, 452, 471, 406, 304, 267, 322, 446, 284,
                               508, 330, 409, 439, 414, 275, 490, 506, 485, 320 };

static bitnet_ctx_params ctx_params(int n_seq, int n_batch) {
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 64;
    p.n_batch = n_batch;
    p.n_seq = n_seq;
    p.n_threads = 1;
    return p;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, const bitnet_ctx_params *p) {
    bitnet_ctx *c = NULL;
    CHECKF(bitnet_ctx_new(&c, m, p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

static int same_logits(const bitnet_ctx *a, int32_t ia, const bitnet_ctx *b, int32_t ib) {
    const float *x = bitnet_ctx_logits(a, ia), *y = bitnet_ctx_logits(b, ib);
    int nv = bitnet_model_hparams(bitnet_ctx_model(a))->n_vocab;
    return x && y && memcmp(x, y, (size_t)nv * sizeof(float)) == 0;
}

/* ---- cancellation ---- */

/* The abort hook asks a helper thread to call bitnet_ctx_cancel at its `at`-th poll and waits
   until it has: a cancel from another thread arriving in the middle of a prefill. */
typedef struct canceller {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bitnet_ctx *ctx;
    int polls, at, asked, done, quit, abort_now;
} canceller;

static void *canceller_main(void *arg) {
    canceller *k = (canceller *)arg;
    pthread_mutex_lock(&k->mu);
    while (!k->quit) {
        if (k->asked && !k->done) {
            bitnet_ctx_cancel(k->ctx);
            k->done = 1;
            pthread_cond_broadcast(&k->cv);
        }
        pthread_cond_wait(&k->cv, &k->mu);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static int canceller_poll(void *user) {
    canceller *k = (canceller *)user;
    if (++k->polls == k->at) {
        pthread_mutex_lock(&k->mu);
        k->asked = 1;
        pthread_cond_broadcast(&k->cv);
        while (!k->done) pthread_cond_wait(&k->cv, &k->mu);
        pthread_mutex_unlock(&k->mu);
    }
    return k->abort_now;
}

static void test_cancel(void) {
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx_params p = ctx_params(3, 4);
    bitnet_ctx *c, *ref;
    canceller k;
    pthread_t th;
    int n_layer;
    if (!m) return;
    n_layer = bitnet_model_hparams(m)->n_layer;
    memset(&k, 0, sizeof k);
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    ref = new_ctx(m, &p);
    p.abort_fn = canceller_poll;
    p.abort_user = &k;
    c = new_ctx(m, &p);
    if (!c || !ref) goto done;
    k.ctx = c;
    pthread_create(&th, NULL, canceller_main, &k);
    /* a request made while nothing runs stops the next decode at once, and is used up by it */
    bitnet_ctx_cancel(c);
    CHECK(bitnet_decode(c, P, 5) == BITNET_ERR_CANCELLED && bitnet_ctx_pos(c) == 0 && k.polls == 0);
    CHECK(bitnet_ctx_logits(c, -1) == NULL);
    CHECK(bitnet_decode(c, P, 5) == BITNET_OK && bitnet_decode(ref, P, 5) == BITNET_OK);
    CHECK(same_logits(c, -1, ref, -1));
    /* another thread cancels in the 3rd chunk (n_batch 4) of a 15-token prefill, after layer 1:
       the decode stops at the next layer, all 15 tokens undone */
    k.polls = 0;
    k.at = 2 * n_layer + 2;
    CHECK(bitnet_decode(c, P + 5, 15) == BITNET_ERR_CANCELLED);
    CHECKF(k.polls == k.at, "polled %d times, cancelled at %d", k.polls, k.at);
    CHECK(bitnet_ctx_pos(c) == 5 && bitnet_ctx_logits(c, -1) == NULL && k.done);
    CHECK(bitnet_decode(c, P + 5, 15) == BITNET_OK && bitnet_decode(ref, P + 5, 15) == BITNET_OK);
    CHECK(same_logits(c, -1, ref, -1));
    /* the abort hook itself: a batch over three sequences, every position back */
    {
        int32_t tok[4] = { 5, 6, 7, 8 }, seq[4] = { 1, 2, 1, 0 };
        bitnet_batch b;
        b.n_tokens = 4; b.token = tok; b.seq = seq; b.logits = NULL;
        k.abort_now = 1;
        CHECK(bitnet_decode_batch(c, &b) == BITNET_ERR_CANCELLED && strstr(bitnet_last_error(), "cancel"));
        CHECK(bitnet_ctx_seq_pos(c, 0) == 20 && bitnet_ctx_seq_pos(c, 1) == 0 && bitnet_ctx_seq_pos(c, 2) == 0);
        k.abort_now = 0;
        CHECK(bitnet_decode_batch(c, &b) == BITNET_OK && bitnet_ctx_seq_pos(c, 1) == 2);
        CHECK(bitnet_decode(ref, &tok[3], 1) == BITNET_OK && same_logits(c, 3, ref, -1));
    }
    /* a generation cancelled mid-prompt is as before the step: stepping on gives the same text */
    {
        bitnet_gen_params gp;
        bitnet_gen *g = NULL, *h = NULL;
        char a[512] = "", b2[512] = "";
        const char *text;
        size_t len;
        int rc = 1, cancelled = 0, steps = 0;
        memset(&gp, 0, sizeof gp);
        gp.prompt = "Once upon a time there was a lighthouse";
        gp.max_tokens = 8;
        gp.ignore_eog = 1;
        gp.prefill_chunk = 3;
        gp.seq = 1;
        bitnet_ctx_seq_truncate(c, 1, 0);
        CHECK(bitnet_gen_new(&g, c, &gp) == BITNET_OK);
        gp.seq = 0;
        bitnet_ctx_truncate(ref, 0);
        CHECK(bitnet_gen_new(&h, ref, &gp) == BITNET_OK);
        while (g && rc != 0 && steps++ < 100) {
            if (steps == 2) { k.polls = 0; k.at = 1; k.done = k.asked = 0; }
            rc = bitnet_gen_step(g, &text, &len);
            if (rc == BITNET_ERR_CANCELLED) { cancelled++; CHECK(bitnet_ctx_seq_pos(c, 1) == 3); continue; }
            CHECK(rc >= 0);
            if (rc < 0) break;
            strncat(a, text, len < sizeof a - strlen(a) - 1 ? len : sizeof a - strlen(a) - 1);
        }
        rc = 1;
        while (h && rc > 0) {
            rc = bitnet_gen_step(h, &text, &len);
            strncat(b2, text, len < sizeof b2 - strlen(b2) - 1 ? len : sizeof b2 - strlen(b2) - 1);
        }
        CHECK(cancelled == 1);
        CHECKF(strcmp(a, b2) == 0, "\"%s\" after a cancel, \"%s\" without", a, b2);
        bitnet_gen_free(g);
        bitnet_gen_free(h);
    }
    /* bitnet_gen_step_batch: a cancelled step leaves every gen as it was; stepping on gives the
       text of the same gens never cancelled */
    {
        static const char *prompts[2] = { "Hello there", "The sea is" };
        bitnet_gen *g[2] = { NULL, NULL }, *h[2] = { NULL, NULL };
        bitnet_gen_params gp;
        char got[2][256], want[2][256];
        const char *texts[2];
        size_t lens[2];
        int results[2], i, steps, cancels = 0;
        memset(got, 0, sizeof got);
        memset(want, 0, sizeof want);
        for (i = 0; i < 3; i++) bitnet_ctx_seq_truncate(c, i, 0);
        for (i = 0; i < 2; i++) {
            memset(&gp, 0, sizeof gp);
            gp.prompt = prompts[i];
            gp.max_tokens = 6;
            gp.ignore_eog = 1;
            gp.seq = i;
            CHECK(bitnet_gen_new(&g[i], c, &gp) == BITNET_OK && bitnet_gen_new(&h[i], ref, &gp) == BITNET_OK);
        }
        bitnet_ctx_seq_truncate(ref, 0, 0);
        for (steps = 0; g[0] && g[1] && steps < 60; steps++) {
            bitnet_status st;
            if (steps == 1 || steps == 4) bitnet_ctx_cancel(c);
            st = bitnet_gen_step_batch(g, 2, texts, lens, results);
            if (st == BITNET_ERR_CANCELLED) { cancels++; CHECK(results[0] < 0 || results[1] < 0); continue; }
            CHECK(st == BITNET_OK);
            for (i = 0; i < 2; i++) strncat(got[i], texts[i], lens[i] < 200 - strlen(got[i]) ? lens[i] : 0);
            if (results[0] == 0 && results[1] == 0) break;
        }
        for (i = 0; h[0] && h[1] && i < 2; i++) {   /* the same gens never cancelled, one context each */
            bitnet_gen *one[1];
            int rc = 1;
            one[0] = h[i];
            bitnet_ctx_seq_truncate(ref, i, 0);
            while (rc > 0 && bitnet_gen_step_batch(one, 1, texts, lens, &rc) == BITNET_OK)
                strncat(want[i], texts[0], lens[0] < 200 - strlen(want[i]) ? lens[0] : 0);
        }
        CHECK(cancels == 2);
        for (i = 0; i < 2; i++) CHECKF(strcmp(got[i], want[i]) == 0, "gen %d: \"%s\" vs \"%s\"", i, got[i], want[i]);
        for (i = 0; i < 2; i++) { bitnet_gen_free(g[i]); bitnet_gen_free(h[i]); }
    }
    pthread_mutex_lock(&k.mu);
    k.quit = 1;
    pthread_cond_broadcast(&k.cv);
    pthread_mutex_unlock(&k.mu);
    pthread_join(th, NULL);
done:
    bitnet_ctx_free(c);
    bitnet_ctx_free(ref);
    bitnet_model_free(m);
    pthread_mutex_destroy(&k.mu);
    pthread_cond_destroy(&k.cv);
}

/* ---- KV state ---- */

/* Next-token logits of seq sa in a and sb in b after the same token agree bit for bit. */
static int continue_same(bitnet_ctx *a, int32_t sa, bitnet_ctx *b, int32_t sb) {
    static const int32_t tok = 300;
    bitnet_batch x, y;
    memset(&x, 0, sizeof x);
    x.n_tokens = 1; x.token = &tok; x.seq = &sa;
    y = x; y.seq = &sb;
    return bitnet_decode_batch(a, &x) == BITNET_OK && bitnet_decode_batch(b, &y) == BITNET_OK &&
           same_logits(a, 0, b, 0) && bitnet_ctx_seq_truncate(a, sa, bitnet_ctx_seq_pos(a, sa) - 1) == BITNET_OK &&
           bitnet_ctx_seq_truncate(b, sb, bitnet_ctx_seq_pos(b, sb) - 1) == BITNET_OK;
}

static void write_file(const char *path, const unsigned char *p, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, 1, n, f) == n);
    if (f) fclose(f);
}

/* A bad state is refused by restore and restore_file alike, the status and the reason given,
   and the target sequence is left as it was. */
static void expect_refused(bitnet_ctx *c, int32_t seq, const unsigned char *p, size_t n, bitnet_status want,
                           const char *needle, const char *path) {
    int32_t before = bitnet_ctx_seq_pos(c, seq < 0 ? 0 : seq);
    bitnet_status st = bitnet_ctx_state_restore(c, seq, p, n);
    CHECKF(st == want && strstr(bitnet_last_error(), needle), "restore of %zu bytes: %d (%s), want %d '%s'", n, st,
           bitnet_last_error(), want, needle);
    write_file(path, p, n);
    st = bitnet_ctx_state_restore_file(c, seq, path);
    CHECKF(st == want && strstr(bitnet_last_error(), needle), "restore_file of %zu bytes: %d (%s), want %d '%s'", n,
           st, bitnet_last_error(), want, needle);
    CHECK(bitnet_ctx_seq_pos(c, seq < 0 ? 0 : seq) == before);
}

static void test_state(void) {
    static const int32_t Q[8] = { 1, 77, 78, 79, 300, 301, 302, 303 };
    char path[64];
    bitnet_model *m = check_load_model("tiny-b158-i2_s"), *other = check_load_model("tiny-bitnet-silu-i2_s");
    bitnet_ctx_params p2 = ctx_params(2, 32), p3 = ctx_params(3, 32), small = ctx_params(1, 8), f16 = ctx_params(2, 32);
    bitnet_ctx *a = NULL, *b = NULL, *c = NULL, *cs = NULL, *c16 = NULL, *co = NULL;
    unsigned char *one = NULL, *all = NULL, *bad = NULL;
    size_t n_one = 0, n_all = 0, need = 0, i;
    const bitnet_hparams *hp;
    snprintf(path, sizeof path, "/tmp/bitnet_test_embed_%ld.bin", (long)getpid());
    if (!m || !other) goto done;
    hp = bitnet_model_hparams(m);
    small.n_ctx = 16;
    f16.kv_f16 = 1;
    a = new_ctx(m, &p2); b = new_ctx(m, &p3); c = new_ctx(m, &p2); cs = new_ctx(m, &small);
    c16 = new_ctx(m, &f16); co = new_ctx(other, &p2);
    if (!a || !b || !c || !cs || !c16 || !co) goto done;
    CHECK(bitnet_decode(a, P, 20) == BITNET_OK);
    {
        int32_t seq[8] = { 1, 1, 1, 1, 1, 1, 1, 1 };
        bitnet_batch x;
        memset(&x, 0, sizeof x);
        x.n_tokens = 8; x.token = Q; x.seq = seq;
        CHECK(bitnet_decode_batch(a, &x) == BITNET_OK);
    }
    n_one = bitnet_ctx_state_size(a, 0);
    n_all = bitnet_ctx_state_size(a, -1);
    CHECK(n_one == 40 + 4 + 8 + (size_t)20 * (size_t)hp->n_layer * 2 * (size_t)hp->n_head_kv * (size_t)hp->head_dim * 4);
    CHECK(n_all == n_one + 4 + (n_one - 52) / 20 * 8 && bitnet_ctx_state_size(a, 2) == 0);
    one = (unsigned char *)malloc(n_one);
    all = (unsigned char *)malloc(n_all);
    bad = (unsigned char *)malloc(n_all + 1);
    CHECK(bitnet_ctx_state_save(a, 0, one, n_one - 1, &need) == BITNET_ERR_ARGS && need == n_one);
    CHECK(bitnet_ctx_state_save(a, 0, one, n_one, &need) == BITNET_OK && memcmp(one, "BNKV", 4) == 0);
    CHECK(bitnet_ctx_state_save(a, -1, all, n_all, NULL) == BITNET_OK);
    CHECK(bitnet_ctx_state_save(a, 2, all, n_all, NULL) == BITNET_ERR_ARGS);
    /* one sequence into another sequence of a bigger context; all sequences into a twin */
    CHECK(bitnet_ctx_state_restore(b, 2, one, n_one) == BITNET_OK && bitnet_ctx_seq_pos(b, 2) == 20);
    CHECK(bitnet_ctx_seq_pos(b, 0) == 0 && continue_same(a, 0, b, 2));
    CHECK(bitnet_ctx_state_restore(c, -1, all, n_all) == BITNET_OK);
    CHECK(bitnet_ctx_seq_pos(c, 0) == 20 && bitnet_ctx_seq_pos(c, 1) == 8);
    CHECK(continue_same(a, 0, c, 0) && continue_same(a, 1, c, 1));
    /* through a file */
    CHECK(bitnet_ctx_state_save_file(a, 1, path) == BITNET_OK);
    CHECK(bitnet_ctx_state_restore_file(b, 0, path) == BITNET_OK && bitnet_ctx_seq_pos(b, 0) == 8);
    CHECK(continue_same(a, 1, b, 0));
    CHECK(bitnet_ctx_state_save_file(a, 0, "/nonexistent-dir/x.bin") == BITNET_ERR_IO);
    CHECK(bitnet_ctx_state_restore_file(b, 0, "/nonexistent-dir/x.bin") == BITNET_ERR_IO);
    /* copy between contexts */
    CHECK(bitnet_ctx_state_copy(b, 1, a, 0) == BITNET_OK && bitnet_ctx_seq_pos(b, 1) == 20 && continue_same(a, 0, b, 1));
    CHECK(bitnet_ctx_state_copy(c16, 0, a, 0) == BITNET_ERR_ARGS && bitnet_ctx_state_copy(co, 0, a, 0) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_state_copy(cs, 0, a, 0) == BITNET_ERR_ARGS && bitnet_ctx_state_copy(b, 3, a, 0) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_state_copy(a, 1, a, 0) == BITNET_OK && bitnet_ctx_seq_pos(a, 1) == 20);

    /* hostile and mismatched states: b's sequence 2 must come through all of it untouched */
    expect_refused(co, 0, one, n_one, BITNET_ERR_FORMAT, "another model", path);
    expect_refused(c16, 0, one, n_one, BITNET_ERR_FORMAT, "F32 KV cache", path);
    expect_refused(cs, 0, one, n_one, BITNET_ERR_ARGS, "the context has 16", path);
    expect_refused(b, -1, all, n_all, BITNET_ERR_ARGS, "2 sequences, the context 3", path);
    expect_refused(b, 2, all, n_all, BITNET_ERR_ARGS, "needs one", path);
    expect_refused(b, 2, one, 0, BITNET_ERR_FORMAT, "truncated", path);
    for (i = 1; i < n_one; i += i < 64 ? 1 : 4099)
        expect_refused(b, 2, one, i, BITNET_ERR_FORMAT, "truncated", path);
    expect_refused(b, 2, one, n_one - 1, BITNET_ERR_FORMAT, "truncated", path);
    memcpy(bad, one, n_one); bad[n_one] = 0;
    expect_refused(b, 2, bad, n_one + 1, BITNET_ERR_FORMAT, "oversized", path);
    {
        static const struct { size_t at; const char *why; } flips[] = {
            { 0, "magic" }, { 4, "version" }, { 8, "another model" }, { 16, "layers" }, { 20, "kv width" },
            { 24, "unknown" }, { 32, "needs one" }, { 40, "oversized" }, { 60, "checksum" }, { 0, "checksum" },
        };
        for (i = 0; i < sizeof flips / sizeof flips[0]; i++) {
            size_t at = i == sizeof flips / sizeof flips[0] - 1 ? n_one - 3 : flips[i].at;
            memcpy(bad, one, n_one);
            bad[at] ^= i == 5 ? 0x02 : 0x10;
            expect_refused(b, 2, bad, n_one, strstr(flips[i].why, "needs") ? BITNET_ERR_ARGS : BITNET_ERR_FORMAT,
                           flips[i].why, path);
        }
        memcpy(bad, one, n_one);
        bad[28] = 4; bad[29] = bad[30] = bad[31] = 0;       /* saved n_ctx 4 < its 20 positions */
        expect_refused(b, 2, bad, n_one, BITNET_ERR_FORMAT, "more than its n_ctx", path);
        memcpy(bad, one, n_one);
        bad[40] = 0xff; bad[41] = bad[42] = bad[43] = 0xff;   /* 4G positions */
        expect_refused(b, 2, bad, n_one, BITNET_ERR_FORMAT, "n_ctx", path);
    }
    CHECK(bitnet_ctx_state_restore(b, -2, one, n_one) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_state_restore(b, 3, one, n_one) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_state_restore(b, 0, NULL, n_one) == BITNET_ERR_ARGS);
    CHECK(bitnet_ctx_seq_pos(b, 2) == 20 && continue_same(a, 0, b, 2));
    printf("  KV state: one sequence %zu bytes, all %zu; hostile and truncated states refused\n", n_one, n_all);
done:
    remove(path);
    free(one); free(all); free(bad);
    bitnet_ctx_free(a); bitnet_ctx_free(b); bitnet_ctx_free(c); bitnet_ctx_free(cs); bitnet_ctx_free(c16);
    bitnet_ctx_free(co);
    bitnet_model_free(m);
    bitnet_model_free(other);
}

/* ---- one thread pool, several contexts ---- */

#define N_NPC 4
#define NPC_STEPS 12

typedef struct npc {
    bitnet_ctx *ctx;
    int32_t ids[NPC_STEPS];                 /* greedy ids after the prompt */
    int ok;
} npc;

static int32_t argmax(const float *l, int n) {
    int32_t best = 0, i;
    for (i = 1; i < n; i++) if (l[i] > l[best]) best = i;
    return best;
}

/* A prompt of its own (P shifted by k), then greedy decoding one token at a time. */
static void npc_run(npc *c, int k) {
    int nv = bitnet_model_hparams(bitnet_ctx_model(c->ctx))->n_vocab, i;
    int32_t tok;
    c->ok = bitnet_decode(c->ctx, P + k, 20 - k) == BITNET_OK;
    for (i = 0; c->ok && i < NPC_STEPS; i++) {
        tok = c->ids[i] = argmax(bitnet_ctx_logits(c->ctx, -1), nv);
        c->ok = bitnet_decode(c->ctx, &tok, 1) == BITNET_OK;
    }
}

typedef struct npc_job { npc *c; int k; } npc_job;

static void *npc_main(void *arg) {
    npc_job *j = (npc_job *)arg;
    npc_run(j->c, j->k);
    return NULL;
}

/* Four contexts share one pool of two threads and decode at the same time from four threads:
   each gets the ids a context with a pool of its own gets; freeing them leaves the pool. */
static void test_shared_pool(void) {
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_threadpool *pool = NULL;
    bitnet_ctx_params p = ctx_params(1, 8);
    npc shared[N_NPC], alone[N_NPC];
    npc_job jobs[N_NPC];
    pthread_t th[N_NPC];
    int i, round;
    if (!m) return;
    memset(shared, 0, sizeof shared);
    memset(alone, 0, sizeof alone);
    CHECK(bitnet_threadpool_new(&pool, 2, NULL) == BITNET_OK);
    for (i = 0; i < N_NPC; i++) {
        p.threads = NULL;
        p.n_threads = 1;
        alone[i].ctx = new_ctx(m, &p);
        if (alone[i].ctx) npc_run(&alone[i], i);
    }
    p.threads = pool;
    p.n_threads = 7;                        /* ignored: the pool's size is used */
    CHECK(bitnet_ctx_plan_bytes(m, &p) < bitnet_ctx_plan_bytes(m, &(bitnet_ctx_params){ .n_ctx = 64, .n_batch = 8,
                                                                                         .n_threads = 7 }));
    for (round = 0; round < 2; round++) {   /* twice: the pool outlives the first four contexts */
        for (i = 0; i < N_NPC; i++) {
            memset(&shared[i], 0, sizeof shared[i]);
            shared[i].ctx = new_ctx(m, &p);
            jobs[i].c = &shared[i];
            jobs[i].k = i;
        }
        for (i = 0; i < N_NPC; i++) if (shared[i].ctx) pthread_create(&th[i], NULL, npc_main, &jobs[i]);
        for (i = 0; i < N_NPC; i++) if (shared[i].ctx) pthread_join(th[i], NULL);
        for (i = 0; i < N_NPC; i++) {
            CHECK(shared[i].ok && alone[i].ok);
            CHECKF(memcmp(shared[i].ids, alone[i].ids, sizeof alone[i].ids) == 0, "npc %d: shared pool ids differ", i);
            bitnet_ctx_free(shared[i].ctx);
        }
    }
    CHECK(bitnet_threadpool_size(pool) >= 1);
    printf("  %d contexts on one pool of %d threads, decoding from %d threads at once: ids as alone\n", N_NPC,
           bitnet_threadpool_size(pool), N_NPC);
    for (i = 0; i < N_NPC; i++) bitnet_ctx_free(alone[i].ctx);
    bitnet_threadpool_free(pool);
    bitnet_model_free(m);
}

/* ---- a pool on the embedder's job system ---- */

typedef struct job_system {
    int calls, most_jobs, threaded;
} job_system;

typedef struct job_half { bitnet_job_fn job; void *arg; int n, first; } job_half;

static void *job_half_main(void *arg) {
    job_half *h = (job_half *)arg;
    int i;
    for (i = h->first; i < h->n; i += 2) h->job(h->arg, i);
    return NULL;
}

/* Either every job on the caller in reverse order, or two threads taking alternate jobs. */
static void run_jobs(void *user, int n_jobs, bitnet_job_fn job, void *job_arg) {
    job_system *js = (job_system *)user;
    int i;
    js->calls++;
    if (n_jobs > js->most_jobs) js->most_jobs = n_jobs;
    if (js->threaded) {
        job_half h[2];
        pthread_t th;
        h[0].job = h[1].job = job; h[0].arg = h[1].arg = job_arg; h[0].n = h[1].n = n_jobs;
        h[0].first = 0; h[1].first = 1;
        pthread_create(&th, NULL, job_half_main, &h[1]);
        job_half_main(&h[0]);
        pthread_join(th, NULL);
        return;
    }
    for (i = n_jobs - 1; i >= 0; i--) job(job_arg, i);
}

static void test_jobs_pool(void) {
    bitnet_model *m = check_load_model("tiny-bitnet-silu-i2_s");
    bitnet_threadpool *pool = NULL;
    bitnet_ctx_params p = ctx_params(1, 8);
    bitnet_ctx *ref = NULL, *c = NULL;
    job_system js;
    int mode;
    if (!m) return;
    ref = new_ctx(m, &p);
    CHECK(ref && bitnet_decode(ref, P, 20) == BITNET_OK);
    CHECK(bitnet_threadpool_new_jobs(&pool, 3, NULL, NULL, NULL) == BITNET_ERR_ARGS && pool == NULL);
    for (mode = 0; mode < 2; mode++) {
        memset(&js, 0, sizeof js);
        js.threaded = mode;
        CHECK(bitnet_threadpool_new_jobs(&pool, 3, run_jobs, &js, NULL) == BITNET_OK && bitnet_threadpool_size(pool) == 3);
        p.threads = pool;
        c = new_ctx(m, &p);
        CHECK(c && bitnet_decode(c, P, 20) == BITNET_OK && same_logits(c, -1, ref, -1));
        CHECKF(js.calls > 0 && js.most_jobs <= 3 && js.most_jobs >= 2, "%d calls, at most %d jobs", js.calls,
               js.most_jobs);
        bitnet_ctx_free(c);
        bitnet_threadpool_free(pool);
        pool = NULL;
    }
    printf("  a pool on the embedder's job system (serial reversed, and two threads): logits as its own pool's\n");
    bitnet_ctx_free(ref);
    bitnet_model_free(m);
}

int main(void) {
    if (!check_have_shared()) return check_report("embed");
    test_cancel();
    test_jobs_pool();
    test_shared_pool();
    test_state();
    return check_report("embed");
}
