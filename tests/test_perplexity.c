/* tools/perplexity.c (`bitnet perplexity`): llama.cpp's chunking on the shared tiny model,
   checked against NLLs this test computes itself from the model's logits (each chunk decoded
   in one batch, BOS in front, long-double log-softmax, the second half scored), for batch sizes
   that do and do not divide the context; the error estimate from the same per-token NLLs; bad
   input; and on the trained model (models/kjv-bitnet-i2_s.gguf) the held-out KJV text
   (tests/data/kjv-heldout.txt) scores a lower perplexity than the same words shuffled. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "tests/check.h"
#include "tools/perplexity.c"
#include <math.h>

static bitnet_model *load(const char *path) {
    bitnet_model *m = NULL;
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    p.path = path;
    CHECKF(bitnet_model_load(&m, &p) == BITNET_OK, "%s: %s", path, bitnet_last_error());
    return m;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int n_ctx, int n_batch) {
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.all_logits = 1;
    p.n_threads = 2;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

/* The expected result, computed the plain way. */
static void expected(bitnet_ctx *c, const int32_t *tok, int n_chunks, int n_ctx, int32_t bos, int32_t n_vocab,
                     double *ppl, double *err, int64_t *n_scored) {
    int32_t buf[256];
    long double sum = 0, sum2 = 0;
    int64_t n = 0;
    int ch, i, k;
    for (ch = 0; ch < n_chunks; ch++) {
        memcpy(buf, tok + ch * n_ctx, (size_t)n_ctx * sizeof *buf);
        if (bos >= 0) buf[0] = bos;
        bitnet_ctx_truncate(c, 0);
        CHECK(bitnet_decode(c, buf, n_ctx) == BITNET_OK);
        for (i = n_ctx / 2; i <= n_ctx - 2; i++) {
            const float *l = bitnet_ctx_logits(c, i);
            long double mx = l[0], z = 0, nll;
            for (k = 1; k < n_vocab; k++) if (l[k] > mx) mx = l[k];
            for (k = 0; k < n_vocab; k++) z += expl((long double)l[k] - mx);
            nll = -((long double)l[tok[ch * n_ctx + i + 1]] - mx - logl(z));
            sum += nll;
            sum2 += nll * nll;
            n++;
        }
    }
    *n_scored = n;
    *ppl = (double)expl(sum / n);
    *err = (double)(sqrtl((sum2 / n - (sum / n) * (sum / n)) / (n - 1)) * expl(sum / n));
}

static int n_progress;
static void count_progress(int32_t chunk, const ppl_result *r, void *user) {
    (void)user;
    CHECK(chunk == n_progress && r->n_chunks > chunk);
    n_progress++;
}

static void test_tiny(void) {
    bitnet_model *m = load(check_shared("models/tiny-b158-i2_s.gguf"));
    int32_t tok[1000], n_vocab;
    bitnet_ctx *c;
    uint64_t rng = 12345;
    int i, b;
    static const int batches[3] = { 64, 7, 1 };
    char err[256];
    ppl_result r;
    if (!m) return;
    n_vocab = bitnet_model_hparams(m)->n_vocab;
    for (i = 0; i < 1000; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)((rng >> 33) % (uint64_t)n_vocab);
    }
    c = new_ctx(m, 64, 64);
    if (c) {
        double ppl, e;
        int64_t n;
        expected(c, tok, 3, 64, 1, n_vocab, &ppl, &e, &n);
        for (b = 0; b < 3; b++) {
            n_progress = 0;
            CHECK(ppl_compute(c, tok, 1000, 1, batches[b], 3, count_progress, NULL, &r, err, sizeof err) == BITNET_OK);
            CHECK(n_progress == 3 && r.n_chunks == 3 && r.n_evaluated == 3 * 64);
            CHECKF(r.n_scored == n && n == 3 * 31, "scored %lld, want %lld", (long long)r.n_scored, (long long)n);
            CHECKF(fabs(r.ppl - ppl) <= 1e-6 * ppl, "batch %d: ppl %.12g, want %.12g", batches[b], r.ppl, ppl);
            CHECKF(fabs(r.ppl_err - e) <= 1e-6 * e, "batch %d: ppl_err %.9g, want %.9g", batches[b], r.ppl_err, e);
        }
        /* every chunk that fits: 1000 / 64 = 15; no BOS: chunk starts stay */
        CHECK(ppl_compute(c, tok, 1000, -1, 64, 0, NULL, NULL, &r, err, sizeof err) == BITNET_OK && r.n_chunks == 15);
        expected(c, tok, 15, 64, -1, n_vocab, &ppl, &e, &n);
        CHECKF(fabs(r.ppl - ppl) <= 1e-6 * ppl, "no bos: ppl %.12g, want %.12g", r.ppl, ppl);
        CHECK(ppl_compute(c, tok, 127, 1, 64, 0, NULL, NULL, &r, err, sizeof err) == BITNET_ERR_ARGS && strstr(err, "2 * n_ctx"));
        tok[5] = n_vocab;
        CHECK(ppl_compute(c, tok, 1000, 1, 64, 0, NULL, NULL, &r, err, sizeof err) == BITNET_ERR_ARGS && strstr(err, "outside"));
    }
    bitnet_ctx_free(c);
    bitnet_model_free(m);
}

/* Held-out text against the same words in a shuffled order. */
static void test_trained(void) {
    bitnet_model *m = load("models/kjv-bitnet-i2_s.gguf");
    size_t len = 0, n = 0, n2 = 0, i, nw = 0;
    unsigned char *text = check_read_file("tests/data/kjv-heldout.txt", &len);
    char *shuf, **words;
    int32_t *ids;
    bitnet_ctx *c;
    ppl_result held, mixed;
    memset(&held, 0, sizeof held);
    memset(&mixed, 0, sizeof mixed);
    char err[256];
    uint64_t rng = 99;
    CHECKF(text != NULL, "tests/data/kjv-heldout.txt missing");
    if (!m || !text) { bitnet_model_free(m); free(text); return; }
    text[len] = 0;
    ids = (int32_t *)malloc((len + 4) * sizeof *ids);
    shuf = (char *)malloc(len + 2);
    words = (char **)malloc((len / 2 + 1) * sizeof *words);
    CHECK(bitnet_tokenize(bitnet_model_vocab(m), (const char *)text, len, 1, 0, ids, len + 4, &n) == BITNET_OK);
    c = new_ctx(m, 128, 128);
    if (c) CHECK(ppl_compute(c, ids, n, bitnet_vocab_bos(bitnet_model_vocab(m)), 128, 0, NULL, NULL, &held, err, sizeof err) == BITNET_OK);
    for (i = 0; i < len; i++) {                     /* words, shuffled (Fisher-Yates), joined by spaces */
        if (text[i] == ' ' || text[i] == '\n') text[i] = 0;
        else if (i == 0 || !text[i - 1]) words[nw++] = (char *)text + i;
    }
    for (i = nw; i > 1; i--) {
        size_t j;
        char *t;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        j = (size_t)((rng >> 33) % i);
        t = words[i - 1]; words[i - 1] = words[j]; words[j] = t;
    }
    for (i = 0, len = 0; i < nw; i++) len += (size_t)sprintf(shuf + len, "%s%s", i ? " " : "", words[i]);
    CHECK(bitnet_tokenize(bitnet_model_vocab(m), shuf, len, 1, 0, ids, len + 4, &n2) == BITNET_OK);
    if (c) CHECK(ppl_compute(c, ids, n2, bitnet_vocab_bos(bitnet_model_vocab(m)), 128, 0, NULL, NULL, &mixed, err, sizeof err) == BITNET_OK);
    printf("trained model, -c 128: held-out KJV ppl %.3f +/- %.3f (%lld tokens), shuffled words %.3f\n", held.ppl,
           held.ppl_err, (long long)held.n_scored, mixed.ppl);
    CHECKF(held.ppl < mixed.ppl && held.ppl > 1.0, "held-out %.3f, shuffled %.3f", held.ppl, mixed.ppl);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    free(ids);
    free(shuf);
    free(words);
    free(text);
}

int main(void) {
    if (check_have_shared()) test_tiny();
    test_trained();
    return check_report("test_perplexity");
}
