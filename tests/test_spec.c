/* test_spec.c - speculative decoding with n-gram drafts (bitnet_gen_params.draft): the same ids,
   text and stop reason as plain decoding, greedy and seeded, on shared models and on prompts
   where drafts are accepted (checked: the tests count the accepted drafts); stop strings,
   max_tokens, a full context and penalties; the output distribution by a seeded chi-square test
   of the first two tokens; no allocation while stepping; argument errors. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <math.h>

#define MAX_IDS 256
#define MAX_TEXT 8192

typedef struct run_result {
    int32_t ids[MAX_IDS];
    int n_ids;
    char text[MAX_TEXT];
    size_t len;
    bitnet_gen_stats stats;
    int rc;
} run_result;

static bitnet_ctx *new_ctx(const bitnet_model *m, int32_t n_ctx, int all_logits, const bitnet_allocator *a) {
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = n_ctx;
    p.n_batch = 64;
    p.all_logits = all_logits;
    if (a) p.allocator = *a;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

static int one_per_step_broken;

/* A generation from an empty cache with the step API: one id per step, as without drafts. */
static void run(bitnet_ctx *ctx, const bitnet_gen_params *p, run_result *r) {
    bitnet_gen *g = NULL;
    memset(r, 0, sizeof *r);
    bitnet_ctx_truncate(ctx, 0);
    r->rc = bitnet_gen_new(&g, ctx, p);
    if (r->rc != BITNET_OK) return;
    do {
        const char *text;
        size_t len;
        int32_t before = bitnet_gen_stats_get(g)->n_generated;
        r->rc = bitnet_gen_step(g, &text, &len);
        if (bitnet_gen_stats_get(g)->n_generated > before && r->n_ids < MAX_IDS) r->ids[r->n_ids++] = bitnet_gen_last_token(g);
        if (len > MAX_TEXT - 1 - r->len) len = MAX_TEXT - 1 - r->len;
        memcpy(r->text + r->len, text, len);
        r->len += len;
        r->text[r->len] = 0;
    } while (r->rc > 0);
    r->stats = *bitnet_gen_stats_get(g);
    bitnet_gen_free(g);
    if (r->n_ids != r->stats.n_generated && r->n_ids < MAX_IDS) one_per_step_broken++;   /* a step made two */
}

static int same_output(const run_result *a, const run_result *b) {
    return a->rc == b->rc && a->n_ids == b->n_ids && !memcmp(a->ids, b->ids, (size_t)a->n_ids * 4) &&
           a->len == b->len && !memcmp(a->text, b->text, a->len) && a->stats.stop_reason == b->stats.stop_reason &&
           a->stats.n_generated == b->stats.n_generated;
}

static int first_diff(const run_result *a, const run_result *b) {
    int k = 0;
    while (k < a->n_ids && k < b->n_ids && a->ids[k] == b->ids[k]) k++;
    return k;
}

/* Plain, then with drafts of each size: the same output. Returns the drafts accepted in all. */
static int32_t compare_plain_spec(bitnet_ctx *ctx, const bitnet_gen_params *base, const char *what) {
    static const int32_t sizes[3] = { 1, 3, 8 };
    static run_result plain, spec;
    bitnet_gen_params p = *base;
    int32_t accepted = 0;
    int i;
    p.draft = BITNET_DRAFT_NONE;
    run(ctx, &p, &plain);
    CHECKF(plain.rc == 0, "%s: plain rc %d: %s", what, plain.rc, bitnet_last_error());
    CHECK(plain.stats.n_draft_passes == 0);
    for (i = 0; i < 3; i++) {
        p.draft = BITNET_DRAFT_NGRAM;
        p.draft_max = sizes[i];
        run(ctx, &p, &spec);
        CHECKF(same_output(&plain, &spec), "%s, draft_max %d: %d ids (stop %d) vs plain %d ids (stop %d); first diff "
               "at %d", what, sizes[i], spec.n_ids, (int)spec.stats.stop_reason, plain.n_ids,
               (int)plain.stats.stop_reason, first_diff(&plain, &spec));
        CHECK(spec.stats.n_draft_accepted <= spec.stats.n_drafted);
        CHECK(spec.stats.n_drafted <= spec.stats.n_draft_passes * sizes[i]);
        accepted += spec.stats.n_draft_accepted;
    }
    return accepted;
}

static int32_t tokenize(const bitnet_model *m, const char *text, int32_t *ids, int32_t cap) {
    size_t n = 0;
    const bitnet_vocab *v = bitnet_model_vocab(m);
    CHECK(bitnet_tokenize(v, text, strlen(text), bitnet_vocab_add_bos(v), 0, ids, (size_t)cap, &n) == BITNET_OK);
    return (int32_t)n;
}

/* The prompt followed by the model's own greedy continuation: random models fall into loops, so
   its n-grams recur and drafts get accepted. */
static int32_t looping_prompt(bitnet_ctx *ctx, const bitnet_model *m, int32_t *ids, int32_t n, int32_t extra) {
    static run_result r;
    bitnet_gen_params p;
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids;
    p.n_prompt_ids = n;
    p.max_tokens = extra;
    p.ignore_eog = 1;
    run(ctx, &p, &r);
    (void)m;
    memcpy(ids + n, r.ids, (size_t)r.n_ids * 4);
    return n + r.n_ids;
}

static void test_greedy(const char *name) {
    bitnet_model *m = check_load_model(name);
    bitnet_ctx *ctx = m ? new_ctx(m, 256, 1, NULL) : NULL;
    int32_t ids[256], n, accepted;
    bitnet_gen_params p;
    static run_result plain, spec;
    const char *stop[1];
    char stop_text[64];
    if (!ctx) { bitnet_model_free(m); return; }
    memset(&p, 0, sizeof p);
    p.ignore_eog = 1;
    /* a plain prompt */
    p.prompt = "Hello BitNet, tell me a story about the sea.";
    p.max_tokens = 40;
    compare_plain_spec(ctx, &p, name);
    /* a repetitive prompt and a prompt that ends in the model's own loop: drafts are accepted */
    p.prompt = "one two three four five six seven eight. one two three four five six seven eight. one two three";
    accepted = compare_plain_spec(ctx, &p, name);
    n = tokenize(m, "the sea and the ship", ids, 64);
    n = looping_prompt(ctx, m, ids, n, 48);
    p.prompt = NULL;
    p.prompt_ids = ids;
    p.n_prompt_ids = n;
    p.max_tokens = 64;
    accepted += compare_plain_spec(ctx, &p, name);
    CHECKF(accepted > 0, "%s: no draft was accepted: the speculative path was not exercised", name);
    printf("  %s: %d drafts accepted over the repetitive prompts\n", name, accepted);
    /* max_tokens ending inside an accepted run, and a full context */
    p.max_tokens = 5;
    compare_plain_spec(ctx, &p, "max_tokens 5");
    bitnet_ctx_free(ctx);
    ctx = new_ctx(m, n + 11, 1, NULL);
    p.max_tokens = 0;
    compare_plain_spec(ctx, &p, "full context");
    /* a stop string taken from the middle of the plain output */
    p.draft = BITNET_DRAFT_NONE;
    p.max_tokens = 40;
    run(ctx, &p, &plain);
    if (plain.len > 12) {
        size_t at = plain.len / 2, k = 0;
        while (at < plain.len && k < 4) stop_text[k++] = plain.text[at++];
        stop_text[k] = 0;
        stop[0] = stop_text;
        p.stop = stop;
        p.n_stop = 1;
        compare_plain_spec(ctx, &p, "stop string");
        p.draft = BITNET_DRAFT_NGRAM;
        run(ctx, &p, &spec);
        CHECK(spec.stats.stop_reason == BITNET_STOP_STRING && strstr(spec.text, stop_text) == NULL);
    }
    bitnet_ctx_free(ctx);
    bitnet_model_free(m);
}

/* Seeded sampling with penalties: the drafts change nothing, seed by seed. */
static void test_sampling_same_ids(void) {
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx *ctx = m ? new_ctx(m, 256, 1, NULL) : NULL;
    int32_t ids[256], n, accepted = 0;
    bitnet_gen_params p;
    uint64_t seed;
    if (!ctx) { bitnet_model_free(m); return; }
    n = tokenize(m, "the sea and the ship", ids, 64);
    n = looping_prompt(ctx, m, ids, n, 48);
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids;
    p.n_prompt_ids = n;
    p.max_tokens = 32;
    p.ignore_eog = 1;
    p.sampler = bitnet_sampler_default_params();
    p.sampler.temperature = 0.5f;
    p.sampler.repeat_penalty = 1.1f;
    p.sampler.penalty_last_n = 16;
    p.sampler.frequency_penalty = 0.05f;
    for (seed = 1; seed <= 6; seed++) {
        p.sampler.seed = seed;
        accepted += compare_plain_spec(ctx, &p, "seeded sampling");
    }
    CHECKF(accepted > 0, "sampling: no draft accepted");
    bitnet_ctx_free(ctx);
    bitnet_model_free(m);
}

/* The sampler's distribution: top_k ids at temperature t, as probabilities (ids, p; count). */
static int top_probs(const float *logits, int n_vocab, int k, float t, int32_t *ids, double *p) {
    int i, j;
    double sum = 0;
    for (i = 0; i < k; i++) {
        int best = -1;
        for (j = 0; j < n_vocab; j++) {
            int taken = 0, q;
            for (q = 0; q < i; q++) taken |= ids[q] == j;
            if (!taken && (best < 0 || logits[j] > logits[best])) best = j;
        }
        ids[i] = best;
    }
    for (i = 0; i < k; i++) sum += p[i] = exp(((double)logits[ids[i]] - logits[ids[0]]) / t);
    for (i = 0; i < k; i++) p[i] /= sum;
    return k;
}

/* The first two sampled tokens over many seeds against their exact joint law p(t1) p(t2 | t1),
   with drafts on: the second comes from a verify pass whenever the first continues the loop.
   Pearson's chi-square must stay under the 0.1% critical value. (250 seeds under ASan.) */
static void test_distribution(void) {
    enum { K = 3, SEEDS = CHECK_SANITIZED ? 250 : 1000 };
    static const double crit[12] = { 0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88, 29.59, 31.26 };
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx *ctx = m ? new_ctx(m, 256, 1, NULL) : NULL;
    int32_t ids[256], n, t1[K], t2[K][K], n_vocab, drafted = 0, accepted = 0;
    double p1[K], p2[K][K], chi = 0, expect_rest = 0;
    long count[K][K], rest = 0;
    bitnet_gen_params p;
    static run_result r;
    int i, j, s, bins = 0;
    const float temp = 1.0f;
    if (!ctx) { bitnet_model_free(m); return; }
    n_vocab = bitnet_model_hparams(m)->n_vocab;
    n = tokenize(m, "the sea and the ship", ids, 64);
    n = looping_prompt(ctx, m, ids, n, 40);
    /* the exact law of (t1, t2) from plain decodes */
    bitnet_ctx_truncate(ctx, 0);
    CHECK(bitnet_decode(ctx, ids, n) == BITNET_OK);
    top_probs(bitnet_ctx_logits(ctx, -1), n_vocab, K, temp, t1, p1);
    for (i = 0; i < K; i++) {
        CHECK(bitnet_ctx_truncate(ctx, n) == BITNET_OK && bitnet_decode(ctx, &t1[i], 1) == BITNET_OK);
        top_probs(bitnet_ctx_logits(ctx, -1), n_vocab, K, temp, t2[i], p2[i]);
    }
    memset(count, 0, sizeof count);
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids;
    p.n_prompt_ids = n;
    p.max_tokens = 3;                       /* room for one draft after t1 */
    p.ignore_eog = 1;
    p.draft = BITNET_DRAFT_NGRAM;
    p.draft_max = 4;
    p.sampler.temperature = temp;
    p.sampler.top_k = K;
    for (s = 0; s < SEEDS; s++) {
        int a = -1, b = -1;
        p.sampler.seed = 1000 + (uint64_t)s;
        run(ctx, &p, &r);
        drafted += r.stats.n_draft_passes;
        accepted += r.stats.n_draft_accepted;
        for (i = 0; i < K; i++) if (r.n_ids == 3 && r.ids[0] == t1[i]) a = i;
        for (j = 0; a >= 0 && j < K; j++) if (r.ids[1] == t2[a][j]) b = j;
        if (a >= 0 && b >= 0) count[a][b]++;
        else rest++;
    }
    /* bins with an expected count under 5 are pooled with the impossible outcomes */
    for (i = 0; i < K; i++)
        for (j = 0; j < K; j++) {
            double e = SEEDS * p1[i] * p2[i][j];
            if (e < 5) { expect_rest += e; rest += count[i][j]; continue; }
            chi += (count[i][j] - e) * (count[i][j] - e) / e;
            bins++;
        }
    if (expect_rest >= 5) { chi += (rest - expect_rest) * (rest - expect_rest) / expect_rest; bins++; }
    else CHECKF(rest <= 5, "%ld outcomes outside the expected bins", rest);
    CHECKF(drafted > SEEDS / 10 && accepted > 0 && accepted < drafted,
           "drafts verified in %d runs, %d accepted: the verify path was not exercised both ways", drafted, accepted);
    CHECKF(bins >= 2 && chi < crit[bins - 1 < 11 ? bins - 1 : 11], "chi-square %.2f over %d bins (critical %.2f)", chi,
           bins, crit[bins - 1 < 11 ? bins - 1 : 11]);
    printf("  distribution: chi-square %.2f over %d bins, %d verify passes, %d drafts accepted in %d runs\n", chi, bins,
           drafted, accepted, SEEDS);
    bitnet_ctx_free(ctx);
    bitnet_model_free(m);
}

static void test_no_alloc_and_errors(void) {
    check_allocator counter = { 0, 0, 0, 0 };
    bitnet_allocator hooks = check_allocator_hooks(&counter);
    bitnet_model *m = check_load_model("tiny-b158-i2_s");
    bitnet_ctx *ctx = m ? new_ctx(m, 256, 1, &hooks) : NULL, *plain_ctx = m ? new_ctx(m, 256, 0, NULL) : NULL;
    bitnet_gen *g = NULL;
    bitnet_gen_params p;
    int32_t ids[256], n, i;
    if (!ctx || !plain_ctx) { bitnet_ctx_free(ctx); bitnet_ctx_free(plain_ctx); bitnet_model_free(m); return; }
    n = tokenize(m, "the sea and the ship", ids, 64);
    n = looping_prompt(ctx, m, ids, n, 48);
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids;
    p.n_prompt_ids = n;
    p.ignore_eog = 1;
    p.draft = BITNET_DRAFT_NGRAM;
    bitnet_ctx_truncate(ctx, 0);
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_OK);
    {
        check_allocator before = counter;
        for (i = 0; i < 40; i++) bitnet_gen_step(g, NULL, NULL);
        CHECKF(counter.total == before.total && counter.frees == before.frees, "%ld allocations while stepping",
               counter.total - before.total);
        CHECK(bitnet_gen_stats_get(g)->n_draft_accepted > 0);
    }
    bitnet_gen_free(g);
    g = NULL;
    p.draft = (bitnet_draft_type)9;
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_ERR_ARGS && g == NULL);
    p.draft = BITNET_DRAFT_NGRAM;
    p.draft_max = -1;
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_ERR_ARGS && g == NULL);
    p.draft_max = 0;
    CHECK(bitnet_gen_new(&g, plain_ctx, &p) == BITNET_ERR_ARGS && g == NULL);
    CHECK(strstr(bitnet_last_error(), "logits") != NULL);
    bitnet_ctx_free(ctx);
    bitnet_ctx_free(plain_ctx);
    bitnet_model_free(m);
    CHECKF(counter.total == counter.frees, "%ld allocations, %ld frees", counter.total, counter.frees);
}

int main(void) {
    if (!check_have_shared()) return check_report("spec");
    test_greedy("tiny-b158-i2_s");
    test_greedy("tiny-llama-ternary-tq2_0");
    test_greedy("tiny-2b4t-vocab-i2_s");
    test_sampling_same_ids();
    test_distribution();
    test_no_alloc_and_errors();
    CHECKF(one_per_step_broken == 0, "%d generations handed out more than one id in a step", one_per_step_broken);
    return check_report("spec");
}
