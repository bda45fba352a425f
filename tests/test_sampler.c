/* Sampler and stop strings: greedy ties, determinism, distributions of each filter, exact
   penalties, the penalty window, no allocation after init, a golden sequence, stop matching. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include "stop_reference.h"


static bitnet_sampler_params plain(float temperature) {   /* no filters, no penalties */
    bitnet_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = temperature;
    return p;
}

static bitnet_sampler *make(const bitnet_sampler_params *p, int32_t n_vocab) {
    bitnet_sampler *s = NULL;
    CHECK(bitnet_sampler_new(&s, p, n_vocab, NULL) == BITNET_OK && s != NULL);
    return s;
}

/* Draws n ids and counts them (no accept: penalties off in these tests). */
static void histogram(bitnet_sampler *s, const float *logits, int32_t n_vocab, int n, long *counts) {
    int i, bad = 0;
    memset(counts, 0, (size_t)n_vocab * sizeof *counts);
    for (i = 0; i < n; i++) {
        int32_t id = bitnet_sampler_sample(s, logits);
        if (id >= 0 && id < n_vocab) counts[id]++;
        else bad++;
    }
    CHECKF(bad == 0, "%d ids out of [0, %d)", bad, (int)n_vocab);
}

/* Every observed frequency within 5 sigma of the expected probability. */
static void check_freqs(const long *counts, const double *p, int32_t n_vocab, int n, const char *what) {
    int32_t i;
    for (i = 0; i < n_vocab; i++) {
        double want = p[i] * n, sigma = sqrt(n * p[i] * (1 - p[i]));
        CHECKF(fabs((double)counts[i] - want) <= 5 * sigma + 1, "%s: id %d drawn %ld times, expected %.1f",
               what, (int)i, counts[i], want);
    }
}

static void softmax(const float *l, int32_t n, double t, double *p) {
    double max = l[0], sum = 0;
    int32_t i;
    for (i = 1; i < n; i++) if (l[i] > max) max = l[i];
    for (i = 0; i < n; i++) sum += p[i] = exp((l[i] - max) / t);
    for (i = 0; i < n; i++) p[i] /= sum;
}

static void test_params(void) {
    bitnet_sampler_params d = bitnet_sampler_default_params(), p;
    bitnet_sampler *s = (bitnet_sampler *)&d;          /* must stay untouched on failure */
    CHECK(d.temperature == 0.8f && d.top_k == 40 && d.top_p == 0.95f && d.min_p == 0.05f);
    CHECK(d.repeat_penalty == 1.0f && d.presence_penalty == 0 && d.frequency_penalty == 0);
    CHECK(d.penalty_last_n == 64 && d.seed == 0 && d.greedy == 0);
    p = d; p.temperature = NAN;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "temperature"));
    p = d; p.min_p = 1.5f;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "min_p"));
    p = d; p.top_p = -0.1f;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS);
    p = d; p.repeat_penalty = -1;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS);
    p = d; p.frequency_penalty = INFINITY;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS);
    p = d; p.penalty_last_n = -2;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "-2"));
    p = d; p.penalty_last_n = BITNET_SAMPLER_HISTORY_MAX + 1;
    CHECK(bitnet_sampler_new(&s, &p, 10, NULL) == BITNET_ERR_ARGS);
    CHECK(bitnet_sampler_new(&s, &d, 0, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "n_vocab"));
    CHECK(bitnet_sampler_new(NULL, &d, 10, NULL) == BITNET_ERR_ARGS);
    CHECK(s == (bitnet_sampler *)&d);
    CHECK(bitnet_sampler_sample(NULL, NULL) == -1);
    bitnet_sampler_free(NULL);
    bitnet_sampler_accept(NULL, 1);
    bitnet_sampler_reset(NULL);
    /* zero means default: window 64, -1 the cap, default seed, top_p >= 1 off */
    p = plain(1); s = make(&p, 10);
    CHECK(s->n_hist == 64 && s->p.seed == BITNET_SAMPLER_DEFAULT_SEED && s->greedy == 0);
    bitnet_sampler_free(s);
    p.penalty_last_n = -1; p.top_p = 1; s = make(&p, 10);
    CHECK(s->n_hist == BITNET_SAMPLER_HISTORY_MAX && s->p.top_p == 0);
    bitnet_sampler_free(s);
    s = make(NULL, 10);
    CHECK(s->greedy == 1 && s->penalize == 0);
    bitnet_sampler_free(s);
}

static void test_greedy(void) {
    const float tie[8] = { 0.5f, 1, 3, -2, 0, 3, 3, 2.5f };
    float copy[8], odd[5] = { NAN, -INFINITY, 1, INFINITY, INFINITY };
    const float dead[3] = { -INFINITY, -INFINITY, -INFINITY };
    bitnet_sampler_params p = plain(0);
    bitnet_sampler *s = make(&p, 8);
    int i;
    memcpy(copy, tie, sizeof copy);
    CHECK(bitnet_sampler_sample(s, copy) == 2);                  /* ties: lowest id */
    CHECK(memcmp(copy, tie, sizeof copy) == 0);                  /* logits not modified */
    bitnet_sampler_free(s);
    p = plain(1.5f); p.greedy = 1; s = make(&p, 8);
    for (i = 0; i < 5; i++) CHECK(bitnet_sampler_sample(s, tie) == 2);
    bitnet_sampler_free(s);
    p = plain(-1); s = make(&p, 5);
    CHECK(bitnet_sampler_sample(s, odd) == 3);                   /* NaN ignored, +inf wins, lowest */
    bitnet_sampler_free(s);
    p = plain(1); s = make(&p, 3);
    CHECK(bitnet_sampler_sample(s, dead) == 0);                  /* all -inf: 0, also when sampling */
    bitnet_sampler_free(s);
    p.top_k = 2; s = make(&p, 3);
    CHECK(bitnet_sampler_sample(s, dead) == 0);
    bitnet_sampler_free(s);
}

static void fill_random(float *l, int32_t n, uint64_t *rng, float scale) {
    int32_t i;
    for (i = 0; i < n; i++) l[i] = (float)(bn_rng_unit(rng) * 2 - 1) * scale;
}

static void test_top_k_one_and_cold(void) {
    enum { N = 3000 };
    static float l[N];
    uint64_t rng;
    bitnet_sampler_params p = plain(1);
    bitnet_sampler *k1, *cold, *g;
    int i;
    p.top_k = 1; k1 = make(&p, N);
    p = plain(1e-3f); cold = make(&p, N);
    p = plain(0); g = make(&p, N);
    bn_pcg32_seed(&rng, 7);
    for (i = 0; i < 200; i++) {
        int32_t want;
        fill_random(l, N, &rng, 10);
        if (i % 2) l[i] = l[i + 5] = 20;                             /* a tie at the top */
        else l[(i * 7) % N] = 10.5f;                 /* a gap of 0.5 = 500 at temperature 1e-3 */
        want = bitnet_sampler_sample(g, l);
        CHECK(want == (i % 2 ? i : want));
        CHECK(bitnet_sampler_sample(k1, l) == want);
        if (!(i % 2)) CHECK(bitnet_sampler_sample(cold, l) == want); /* temperature -> 0: greedy */
    }
    bitnet_sampler_free(k1);
    bitnet_sampler_free(cold);
    bitnet_sampler_free(g);
}

static void test_determinism(void) {
    enum { N = 500, T = 300 };
    static float l[N];
    int32_t a[T], b[T], c[T], d[T];
    uint64_t rng;
    bitnet_sampler_params p = bitnet_sampler_default_params();
    bitnet_sampler *s1, *s2, *s3;
    int i, differ = 0;
    p.temperature = 1.5f; p.top_k = 100; p.top_p = 0.99f; p.min_p = 0.001f;
    p.seed = 99; s1 = make(&p, N); s2 = make(&p, N);
    p.seed = 100; s3 = make(&p, N);
    bn_pcg32_seed(&rng, 1);
    fill_random(l, N, &rng, 3);
    for (i = 0; i < T; i++) {
        a[i] = bitnet_sampler_sample(s1, l);
        b[i] = bitnet_sampler_sample(s2, l);
        c[i] = bitnet_sampler_sample(s3, l);
        differ += a[i] != c[i];
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECKF(differ > T / 2, "seed 99 and 100 agree on %d of %d draws", T - differ, T);
    bitnet_sampler_reset(s1);
    for (i = 0; i < T; i++) d[i] = bitnet_sampler_sample(s1, l);
    CHECK(memcmp(a, d, sizeof a) == 0);                          /* reset restarts the seed */
    bitnet_sampler_free(s1);
    bitnet_sampler_free(s2);
    bitnet_sampler_free(s3);
}

static void test_distributions(void) {
    enum { D = 20000 };
    const float l[6] = { 1.0f, 2.0f, 3.0f, 0.5f, -1.0f, 2.0f };
    double p[6], q[6];
    long counts[6];
    bitnet_sampler_params sp = plain(1);
    bitnet_sampler *s = make(&sp, 6);
    int i;
    softmax(l, 6, 1, p);
    histogram(s, l, 6, D, counts);
    check_freqs(counts, p, 6, D, "temperature 1");
    bitnet_sampler_free(s);
    sp = plain(0.5f); s = make(&sp, 6);
    softmax(l, 6, 0.5, p);
    histogram(s, l, 6, D, counts);
    check_freqs(counts, p, 6, D, "temperature 0.5");
    bitnet_sampler_free(s);
    /* top_k 3 keeps ids 2, 1, 5 (1 and 5 tie: both in), renormalised */
    sp = plain(1); sp.top_k = 3; s = make(&sp, 6);
    softmax(l, 6, 1, p);
    for (i = 0; i < 6; i++) q[i] = (i == 1 || i == 2 || i == 5) ? p[i] / (p[1] + p[2] + p[5]) : 0;
    histogram(s, l, 6, D, counts);
    check_freqs(counts, q, 6, D, "top_k 3");
    bitnet_sampler_free(s);
}

/* Probabilities 0.5 0.3 0.15 0.05 (as logits, shuffled ids). */
static const float quad[4] = { -1.8971199849f, -0.6931471806f, -1.2039728043f, -2.9957322736f };
static const double quad_p[4] = { 0.15, 0.5, 0.3, 0.05 };

static void expect_kept(const bitnet_sampler_params *sp, const int *keep, const char *what) {
    enum { D = 20000 };
    bitnet_sampler *s = make(sp, 4);
    double q[4], mass = 0;
    long counts[4];
    int i;
    for (i = 0; i < 4; i++) mass += keep[i] ? quad_p[i] : 0;
    for (i = 0; i < 4; i++) q[i] = keep[i] ? quad_p[i] / mass : 0;
    histogram(s, quad, 4, D, counts);
    for (i = 0; i < 4; i++) CHECKF(keep[i] || counts[i] == 0, "%s: id %d drawn", what, i);
    check_freqs(counts, q, 4, D, what);
    bitnet_sampler_free(s);
}

static void test_top_p_min_p(void) {
    static const int k1[4] = { 0, 1, 0, 0 }, k2[4] = { 0, 1, 1, 0 }, k3[4] = { 1, 1, 1, 0 },
                     k4[4] = { 1, 1, 1, 1 };
    bitnet_sampler_params sp = plain(1);
    sp.top_p = 0.45f; expect_kept(&sp, k1, "top_p 0.45");
    sp.top_p = 0.75f; expect_kept(&sp, k2, "top_p 0.75");
    sp.top_p = 0.85f; expect_kept(&sp, k3, "top_p 0.85");
    sp.top_p = 0.99f; expect_kept(&sp, k4, "top_p 0.99");
    sp.top_p = 1.00f; expect_kept(&sp, k4, "top_p 1 (off)");
    sp = plain(1);
    sp.min_p = 0.2f; expect_kept(&sp, k3, "min_p 0.2");         /* floor 0.1: drops 0.05 */
    sp.min_p = 0.5f; expect_kept(&sp, k2, "min_p 0.5");         /* floor 0.25 */
    sp.min_p = 0.7f; expect_kept(&sp, k1, "min_p 0.7");
    sp.min_p = 0.05f; expect_kept(&sp, k4, "min_p 0.05");
}

/* A nucleus larger than the first selection of 64: 300 likely ids (every third, equal logits)
   among 1000; top_p 0.8995 keeps the 270 of lowest id. */
static void test_top_p_large(void) {
    enum { N = 1000 };
    static float l[N];
    static long counts[N];
    bitnet_sampler_params sp = plain(1);
    bitnet_sampler *s;
    int32_t i, bad = 0, seen = 0;
    for (i = 0; i < N; i++) l[i] = (i % 3 == 0 && i < 900) ? 0.0f : -30.0f;
    sp.top_p = 0.8995f;
    s = make(&sp, N);
    histogram(s, l, N, 20000, counts);
    for (i = 0; i < N; i++) {
        bad += counts[i] && !(i % 3 == 0 && i < 3 * 270);
        seen += counts[i] > 0;
    }
    CHECKF(bad == 0 && seen == 270, "top_p large: %d drawn outside the nucleus, %d ids seen", bad, seen);
    bitnet_sampler_free(s);
}

static int cand_cmp(const void *a, const void *b) {
    const bn_sampler_cand *x = (const bn_sampler_cand *)a, *y = (const bn_sampler_cand *)b;
    return bn_sampler_before(x, y) ? -1 : bn_sampler_before(y, x) ? 1 : 0;
}

/* top_k selection and the top_p quickselect against a full qsort, on random sizes and logits
   with many ties: same members, and the top_p count is the first to reach the mass. */
static void test_select_reference(void) {
    enum { N = 3000 };
    static bn_sampler_cand c[N], ref[N];
    static unsigned char in_ref[N];
    uint64_t rng;
    int iter, bad_k = 0, bad_p = 0;
    bn_pcg32_seed(&rng, 5);
    for (iter = 0; iter < 300; iter++) {
        int32_t n = 1 + (int32_t)(bn_pcg32(&rng) % N), k = 1 + (int32_t)(bn_pcg32(&rng) % n), i, m;
        int levels = iter % 3 == 0 ? 4 : iter % 3 == 1 ? 50 : 0;    /* 0: continuous */
        float p = (float)bn_rng_unit(&rng), max;
        double cum = 0, sum = 0;
        for (i = 0; i < n; i++) {
            c[i].logit = levels ? (float)(bn_pcg32(&rng) % levels) * 0.5f : (float)(bn_rng_unit(&rng) * 20);
            c[i].id = i;
        }
        memcpy(ref, c, (size_t)n * sizeof *c);
        qsort(ref, (size_t)n, sizeof *ref, cand_cmp);
        bn_sampler_select(c, n, k);
        for (i = 0; i < k; i++) bad_k += c[i].id != ref[i].id;
        memcpy(c, ref, (size_t)n * sizeof *c);
        for (i = n - 1; i > 0; i--) {                                      /* shuffle */
            int32_t j = (int32_t)(bn_pcg32(&rng) % (uint32_t)(i + 1));
            bn_sampler_cand t = c[i]; c[i] = c[j]; c[j] = t;
        }
        max = ref[0].logit;
        m = bn_sampler_top_p(c, n, p, max, 0);
        memset(in_ref, 0, (size_t)n);
        for (i = 0; i < n; i++) sum += exp((double)ref[i].logit - max);
        for (i = 0; i < m; i++) in_ref[ref[i].id] = 1;
        for (i = 0; i < m; i++) bad_p += !in_ref[c[i].id];
        for (i = 0; i < m - 1; i++) cum += exp((double)ref[i].logit - max);
        bad_p += m < 1 || m > n || cum >= p * sum * (1 + 1e-6);             /* one fewer is short */
        bad_p += m < n && cum + exp((double)ref[m - 1].logit - max) < p * sum * (1 - 1e-6);
    }
    CHECKF(bad_k == 0, "top_k selection differs from the sort in %d places", bad_k);
    CHECKF(bad_p == 0, "top_p quickselect differs from the sort %d times", bad_p);
}

/* Random valid parameters on logits full of NaN, infinities and huge values: always an id. */
static void test_robust(void) {
    static const float special[6] = { NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX, 1e-38f };
    enum { N = 200 };
    float l[N];
    uint64_t rng;
    int iter, bad = 0, t;
    bn_pcg32_seed(&rng, 9);
    for (iter = 0; iter < 400; iter++) {
        bitnet_sampler_params sp;
        bitnet_sampler *s = NULL;
        int32_t n = 1 + (int32_t)(bn_pcg32(&rng) % N), i;
        sp.temperature = (float)(bn_rng_unit(&rng) * 3 - 0.5);
        sp.top_k = (int32_t)(bn_pcg32(&rng) % 300) - 50;
        sp.top_p = (float)(bn_rng_unit(&rng) * 1.2);
        sp.min_p = (float)bn_rng_unit(&rng) * (iter % 2);
        sp.repeat_penalty = (float)(bn_rng_unit(&rng) * 3);
        sp.presence_penalty = (float)(bn_rng_unit(&rng) * 4 - 2);
        sp.frequency_penalty = iter % 5 ? (float)(bn_rng_unit(&rng) * 4 - 2) : 3e38f;
        sp.penalty_last_n = (int32_t)(bn_pcg32(&rng) % 100) - 1;
        sp.seed = bn_pcg32(&rng);
        sp.greedy = iter % 7 == 0;
        if (bitnet_sampler_new(&s, &sp, n, NULL) != BITNET_OK) { bad++; continue; }
        for (t = 0; t < 20; t++) {
            int32_t id;
            for (i = 0; i < n; i++)
                l[i] = bn_pcg32(&rng) % 4 ? (float)(bn_rng_unit(&rng) * 40 - 20) : special[bn_pcg32(&rng) % 6];
            id = bitnet_sampler_sample(s, l);
            bad += id < 0 || id >= n;
            bitnet_sampler_accept(s, id);
        }
        bitnet_sampler_free(s);
    }
    CHECKF(bad == 0, "%d bad results on odd logits", bad);
}

/* The logits after the penalties, by the sampler's own first step. */
static void penalized(bitnet_sampler *s, const float *l, float *out) {
    int32_t i;
    for (i = 0; i < s->n_vocab; i++) {
        s->cand[i].logit = l[i];
        s->cand[i].id = i;
    }
    bn_sampler_penalize(s);
    for (i = 0; i < s->n_vocab; i++) out[i] = s->cand[i].logit;
}

static void test_penalties(void) {
    const float l[5] = { 1.0f, 2.0f, -2.0f, 3.0f, 0.0f };
    float o[5];
    bitnet_sampler_params sp = plain(0);
    bitnet_sampler *s;
    int32_t j;
    sp.repeat_penalty = 2;
    s = make(&sp, 5);
    bitnet_sampler_accept(s, 1); bitnet_sampler_accept(s, 2); bitnet_sampler_accept(s, 2);
    bitnet_sampler_accept(s, 4); bitnet_sampler_accept(s, 77); bitnet_sampler_accept(s, -1);
    CHECK(s->hist_len == 4);                                     /* out-of-range ids ignored */
    penalized(s, l, o);
    CHECK(o[0] == 1 && o[1] == 1 && o[2] == -4 && o[3] == 3 && o[4] == 0);
    CHECK(s->count[1] == 1 && s->count[2] == 2 && s->count[4] == 1);    /* counts restored */
    bitnet_sampler_free(s);
    sp = plain(0); sp.frequency_penalty = 0.5f; sp.presence_penalty = 0.25f;
    s = make(&sp, 5);
    bitnet_sampler_accept(s, 1); bitnet_sampler_accept(s, 2); bitnet_sampler_accept(s, 2);
    penalized(s, l, o);
    CHECK(o[0] == 1 && o[1] == 1.25f && o[2] == -3.25f && o[3] == 3 && o[4] == 0);
    bitnet_sampler_free(s);
    sp.repeat_penalty = 1.25f;                                   /* repeat first, then subtract */
    s = make(&sp, 5);
    bitnet_sampler_accept(s, 1); bitnet_sampler_accept(s, 2); bitnet_sampler_accept(s, 2);
    penalized(s, l, o);
    CHECK(o[0] == 1 && o[1] == 2.0f / 1.25f - 0.75f && o[2] == -2.0f * 1.25f - 1.25f);
    bitnet_sampler_free(s);
    sp = plain(0); sp.repeat_penalty = 1;                        /* 1 and 0 mean off */
    s = make(&sp, 5);
    CHECK(s->penalize == 0);
    bitnet_sampler_free(s);
    sp.repeat_penalty = 0;
    s = make(&sp, 5);
    CHECK(s->penalize == 0);
    bitnet_sampler_free(s);
    /* window of 2 through the public API: id 3 is penalised while it is among the last two */
    sp = plain(0); sp.repeat_penalty = 2; sp.penalty_last_n = 2;
    s = make(&sp, 5);
    CHECK(bitnet_sampler_sample(s, l) == 3);
    bitnet_sampler_accept(s, 3);
    CHECK(bitnet_sampler_sample(s, l) == 1);                     /* 3 / 2 = 1.5 < 2 */
    bitnet_sampler_accept(s, 1);
    CHECK(bitnet_sampler_sample(s, l) == 3);                     /* 3: 1.5; 1: 1; */
    bitnet_sampler_accept(s, 0);
    CHECK(bitnet_sampler_sample(s, l) == 3);                     /* 3 left the window */
    CHECK(s->count[3] == 0 && s->count[1] == 1 && s->count[0] == 1);
    for (j = 0; j < 1000; j++) bitnet_sampler_accept(s, j % 5);
    CHECK(s->hist_len == 2 && s->count[3] == 1 && s->count[4] == 1 && s->count[0] == 0);
    bitnet_sampler_reset(s);
    CHECK(s->hist_len == 0 && s->count[3] == 0 && s->count[4] == 0);
    CHECK(bitnet_sampler_sample(s, l) == 3);
    bitnet_sampler_free(s);
}

static void test_no_alloc_after_init(void) {
    enum { N = 128256 };
    static float l[N];
    check_allocator c = { 0, 0, 0, 0 };
    bitnet_allocator a;
    bitnet_sampler_params sp = bitnet_sampler_default_params();
    bitnet_sampler *s = NULL, *untouched = (bitnet_sampler *)&c;
    bitnet_stop *st = NULL;
    const char *stops[2] = { "</s>", "\n\nUser:" };
    char out[64];
    size_t n;
    long after_init;
    uint64_t rng;
    int i;
    a = check_allocator_hooks(&c);
    sp.repeat_penalty = 1.1f; sp.frequency_penalty = 0.1f; sp.presence_penalty = 0.1f;
    c.fail_at = 1;
    CHECK(bitnet_sampler_new(&untouched, &sp, N, &a) == BITNET_ERR_NOMEM && untouched == (bitnet_sampler *)&c);
    c.total = 0;
    CHECK(bitnet_stop_new(&st, stops, 2, &a) == BITNET_ERR_NOMEM && st == NULL);
    c.fail_at = 0; c.total = 0;
    CHECK(bitnet_sampler_new(&s, &sp, N, &a) == BITNET_OK);
    CHECK(bitnet_stop_new(&st, stops, 2, &a) == BITNET_OK);
    after_init = c.total;
    CHECK(after_init == 2);
    bn_pcg32_seed(&rng, 3);
    fill_random(l, N, &rng, 8);
    for (i = 0; i < 40; i++) {
        int32_t id = bitnet_sampler_sample(s, l);
        CHECK(id >= 0 && id < N);
        bitnet_sampler_accept(s, id);
        CHECK(bitnet_stop_feed(st, "ab\n", 3, out, sizeof out, &n) == BITNET_OK);
        if (i == 20) { bitnet_sampler_reset(s); bitnet_stop_reset(st); }
    }
    CHECK(bitnet_stop_flush(st, out, sizeof out, &n) == BITNET_OK);
    CHECK(c.total == after_init);
    bitnet_sampler_free(s);
    bitnet_stop_free(st);
    CHECK(c.live == 0);
}

/* A change in the RNG, the draw or the filters shows here. */
static void test_golden(void) {
    static const int32_t want[24] = {
        18, 9, 11, 5, 20, 24, 11, 24, 5, 3, 24, 24, 1, 22, 18, 7, 18, 5, 18, 3, 9, 14, 31, 29
    };
    float l[32];
    int32_t got[24];
    bitnet_sampler_params sp = bitnet_sampler_default_params();
    bitnet_sampler *s;
    uint32_t first[3];
    uint64_t rng;
    int i;
    bn_pcg32_seed(&rng, 42);
    for (i = 0; i < 3; i++) first[i] = bn_pcg32(&rng);
    CHECK(first[0] == 0xc2f57bd6u && first[1] == 0x6b07c4a9u && first[2] == 0x72b7b29bu);
    for (i = 0; i < 32; i++) l[i] = (float)((i * 7) % 13) * 0.25f;
    sp.seed = 1234; sp.temperature = 1.0f; sp.top_k = 20; sp.min_p = 0.1f;
    s = make(&sp, 32);
    for (i = 0; i < 24; i++) got[i] = bitnet_sampler_sample(s, l);
    CHECK(memcmp(got, want, sizeof got) == 0);
    bitnet_sampler_free(s);
}

/* ---- stop strings ---- */

typedef struct stop_run { char text[256]; size_t len; } stop_run;

/* Feeds the pieces in order, then flushes; the concatenated output. */
static void feed_all(bitnet_stop *st, const char *const *pieces, int n, stop_run *r) {
    char out[128];
    size_t got;
    int i;
    r->len = 0;
    for (i = 0; i < n; i++) {
        CHECK(bitnet_stop_feed(st, pieces[i], strlen(pieces[i]), out, sizeof out, &got) == BITNET_OK);
        memcpy(r->text + r->len, out, got);
        r->len += got;
    }
    CHECK(bitnet_stop_flush(st, out, sizeof out, &got) == BITNET_OK);
    memcpy(r->text + r->len, out, got);
    r->len += got;
    r->text[r->len] = 0;
}

static bitnet_stop *stop_make(const char *const *stops, int n) {
    bitnet_stop *st = NULL;
    CHECK(bitnet_stop_new(&st, stops, n, NULL) == BITNET_OK && st != NULL);
    return st;
}

static void test_stop_basic(void) {
    const char *eos[1] = { "</s>" }, *two[2] = { "\n\n", "User:" }, *ov[2] = { "abcd", "bc" },
               *same[2] = { "c", "abc" }, *bad[2] = { "ok", "" };
    bitnet_stop *st = stop_make(eos, 1), *none = (bitnet_stop *)&st;
    char out[64];
    size_t n;
    stop_run r;
    CHECK(bitnet_stop_max_held(st) == 3);
    CHECK(bitnet_stop_feed(st, "Hello </", 8, out, sizeof out, &n) == BITNET_OK && n == 6 &&
          memcmp(out, "Hello ", 6) == 0);
    CHECK(bitnet_stop_matched(st) == -1);
    CHECK(bitnet_stop_feed(st, "s> more", 7, out, sizeof out, &n) == BITNET_OK && n == 0);
    CHECK(bitnet_stop_matched(st) == 0);
    CHECK(bitnet_stop_feed(st, "x", 1, out, sizeof out, &n) == BITNET_OK && n == 0);    /* done */
    bitnet_stop_reset(st);
    CHECK(bitnet_stop_matched(st) == -1);
    {   /* partial prefix, then a mismatch releases it */
        const char *p[3] = { "a<", "/", "x>" };
        feed_all(st, p, 3, &r);
        CHECK(strcmp(r.text, "a</x>") == 0 && bitnet_stop_matched(st) == -1);
    }
    bitnet_stop_reset(st);
    {   /* stop at the very start */
        const char *p[2] = { "</s>", "tail" };
        feed_all(st, p, 2, &r);
        CHECK(r.len == 0 && bitnet_stop_matched(st) == 0);
    }
    bitnet_stop_reset(st);
    {   /* split one byte at a time, text before kept */
        const char *p[6] = { "h", "i", "<", "/", "s", ">" };
        feed_all(st, p, 6, &r);
        CHECK(strcmp(r.text, "hi") == 0 && bitnet_stop_matched(st) == 0);
    }
    bitnet_stop_reset(st);
    CHECK(bitnet_stop_feed(st, "ab</", 4, out, sizeof out, &n) == BITNET_OK && n == 2);
    CHECK(bitnet_stop_feed(st, "xyz", 3, out, 4, &n) == BITNET_ERR_ARGS && n == 0);   /* 2 + 3 > 4 */
    CHECK(bitnet_stop_flush(st, out, 1, &n) == BITNET_ERR_ARGS);
    CHECK(bitnet_stop_feed(st, "xyz", 3, out, 5, &n) == BITNET_OK && n == 5 && memcmp(out, "</xyz", 5) == 0);
    bitnet_stop_free(st);

    st = stop_make(two, 2);
    CHECK(bitnet_stop_max_held(st) == 4);
    CHECK(bitnet_stop_feed(st, "abc\nUs", 6, out, sizeof out, &n) == BITNET_OK && n == 4 &&
          memcmp(out, "abc\n", 4) == 0);
    CHECK(bitnet_stop_feed(st, "er: hi", 6, out, sizeof out, &n) == BITNET_OK && n == 0);
    CHECK(bitnet_stop_matched(st) == 1);
    bitnet_stop_reset(st);
    {
        const char *p[3] = { "x\n", "\nUser:", "y" };
        feed_all(st, p, 3, &r);
        CHECK(strcmp(r.text, "x") == 0 && bitnet_stop_matched(st) == 0);
    }
    bitnet_stop_free(st);

    st = stop_make(ov, 2);                      /* "bc" completes before "abcd" */
    CHECK(bitnet_stop_feed(st, "xabcd", 5, out, sizeof out, &n) == BITNET_OK && n == 2 && bitnet_stop_matched(st) == 1);
    bitnet_stop_free(st);
    st = stop_make(same, 2);                    /* both end at 'c': the longer wins */
    CHECK(bitnet_stop_feed(st, "xabc", 4, out, sizeof out, &n) == BITNET_OK && n == 1 && bitnet_stop_matched(st) == 1);
    bitnet_stop_free(st);

    CHECK(bitnet_stop_new(&none, bad, 2, NULL) == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "1"));
    CHECK(bitnet_stop_new(&none, NULL, -1, NULL) == BITNET_ERR_ARGS && none == (bitnet_stop *)&st);
    CHECK(bitnet_stop_feed(NULL, "a", 1, out, sizeof out, &n) == BITNET_ERR_ARGS);
    bitnet_stop_free(NULL);
}

static void test_stop_utf8(void) {
    const char *e[1] = { "\xc3\xa9" };                             /* é */
    bitnet_stop *st = stop_make(e, 1), *plain_st = stop_make(NULL, 0);
    char out[64];
    size_t n;
    stop_run r;
    CHECK(bitnet_stop_feed(st, "caf\xc3", 4, out, sizeof out, &n) == BITNET_OK && n == 3);
    CHECK(bitnet_stop_feed(st, "\xa9!", 2, out, sizeof out, &n) == BITNET_OK && n == 0 && bitnet_stop_matched(st) == 0);
    bitnet_stop_reset(st);
    CHECK(bitnet_stop_feed(st, "\xc3\xa8t\xc3", 4, out, sizeof out, &n) == BITNET_OK && n == 3);   /* è t, held C3 */
    CHECK(bitnet_stop_feed(st, "\xa8", 1, out, sizeof out, &n) == BITNET_OK && n == 2 && memcmp(out, "\xc3\xa8", 2) == 0);
    bitnet_stop_free(st);
    {   /* no stop strings: incomplete UTF-8 is still held back */
        const char *p[5] = { "\xe2\x82", "\xac ", "\xf0", "\x9f\x98", "\x80" };
        CHECK(bitnet_stop_feed(plain_st, p[0], 2, out, sizeof out, &n) == BITNET_OK && n == 0);
        CHECK(bitnet_stop_feed(plain_st, p[1], 2, out, sizeof out, &n) == BITNET_OK && n == 4);
        CHECK(bitnet_stop_feed(plain_st, p[2], 1, out, sizeof out, &n) == BITNET_OK && n == 0);
        CHECK(bitnet_stop_feed(plain_st, p[3], 2, out, sizeof out, &n) == BITNET_OK && n == 0);
        CHECK(bitnet_stop_feed(plain_st, p[4], 1, out, sizeof out, &n) == BITNET_OK && n == 4);
        bitnet_stop_reset(plain_st);
        feed_all(plain_st, p, 4, &r);                              /* flush releases the partial */
        CHECK(r.len == 7 && memcmp(r.text, "\xe2\x82\xac \xf0\x9f\x98", 7) == 0);
    }
    bitnet_stop_free(plain_st);
}

/* Random texts over a small alphabet, random splits: the result never depends on the split. */
static void test_stop_random_splits(void) {
    const char *stops[3] = { "aba", "ab\xc3\xa9", "bb" };
    bitnet_stop *st = stop_make(stops, 3);
    const char alphabet[4] = { 'a', 'b', '\xc3', '\xa9' };
    uint64_t rng;
    int iter, bad = 0;
    bn_pcg32_seed(&rng, 11);
    for (iter = 0; iter < 3000; iter++) {
        char text[40], out[64], got[64];
        size_t len = bn_pcg32(&rng) % 40, i = 0, glen = 0, n, want;
        int which;
        for (n = 0; n < len; n++) text[n] = alphabet[bn_pcg32(&rng) % 4];
        want = stop_reference(text, len, stops, 3, &which);
        bitnet_stop_reset(st);
        while (i < len) {
            size_t k = bn_pcg32(&rng) % 6;
            if (k > len - i) k = len - i;
            if (bitnet_stop_feed(st, text + i, k, out, sizeof out, &n) != BITNET_OK) bad++;
            if (st->n_held > bitnet_stop_max_held(st)) bad++;
            memcpy(got + glen, out, n);
            glen += n;
            i += k;
        }
        bitnet_stop_flush(st, out, sizeof out, &n);
        memcpy(got + glen, out, n);
        glen += n;
        if (glen != want || memcmp(got, text, want) != 0 || bitnet_stop_matched(st) != which) bad++;
    }
    CHECKF(bad == 0, "%d random splits gave a different result", bad);
    bitnet_stop_free(st);
}

int main(void) {
    test_params();
    test_greedy();
    test_top_k_one_and_cold();
    test_determinism();
    test_distributions();
    test_top_p_min_p();
    test_top_p_large();
    test_select_reference();
    test_robust();
    test_penalties();
    test_no_alloc_after_init();
    test_golden();
    test_stop_basic();
    test_stop_utf8();
    test_stop_random_splits();
    return check_report("sampler");
}
