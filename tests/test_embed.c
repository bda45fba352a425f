/* test_embed.c - what an embedder (a game engine, a server) needs from a context: cancellation
   from another thread that stops a long prefill between layers and leaves the context as
   before the call; one thread pool shared by several contexts running in several threads; KV
   state saved, restored and copied (memory and file), with every header field checked and
   hostile or truncated state refused with nothing changed. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <pthread.h>

static const int32_t P[20] = { 1, 343, 452, 471, 406, 304, 267, 322, 446, 284,
                               508, 330, 409, 439, 414, 275, 490, 506, 485, 320 };

static bitnet_model *load_model(const char *name) {
    char rel[256];
    bitnet_model *m = NULL;
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    p.path = check_shared(rel);
    CHECKF(bitnet_model_load(&m, &p) == BITNET_OK, "%s: %s", name, bitnet_last_error());
    return m;
}

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
    bitnet_model *m = load_model("tiny-b158-i2_s");
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

int main(void) {
    test_cancel();
    return check_report("embed");
}
