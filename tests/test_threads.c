/* Thread pool: every row visited exactly once for any size/grain/thread count, many runs in a
   row (spinning) and after the workers went to sleep, and kernels split over 1..4 threads give
   the same bits as one thread. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <time.h>

typedef struct count_args { int *hits; int64_t grain; int bad_start; int max_thread; } count_args;

static void count_task(void *arg, int64_t r0, int64_t r1, int thread) {
    count_args *a = (count_args *)arg;
    int64_t r;
    if (r0 % a->grain) __atomic_add_fetch(&a->bad_start, 1, __ATOMIC_RELAXED);
    if (thread > __atomic_load_n(&a->max_thread, __ATOMIC_RELAXED))
        __atomic_store_n(&a->max_thread, thread, __ATOMIC_RELAXED);
    for (r = r0; r < r1; r++) __atomic_add_fetch(&a->hits[r], 1, __ATOMIC_RELAXED);
}

static void sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = 0; ts.tv_nsec = (long)ms * 1000000L;
    nanosleep(&ts, NULL);
}

static void test_split(void) {
    static const int64_t sizes[] = { 1, 2, 3, 15, 16, 17, 100, 1023 };
    static const int64_t grains[] = { 1, 4, 16 };
    int nt;
    for (nt = 1; nt <= 4; nt++) {
        bitnet_threadpool *pool = NULL;
        size_t si, gi;
        int rep, ok = 1;
        CHECK(bitnet_threadpool_new(&pool, nt, NULL) == BITNET_OK);
#if defined(BITNET_NO_THREADS)
        CHECK(bitnet_threadpool_size(pool) == 1);
#else
        CHECK(bitnet_threadpool_size(pool) == nt);
#endif
        for (si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
            for (gi = 0; gi < sizeof grains / sizeof grains[0]; gi++)
                for (rep = 0; rep < 20; rep++) {
                    int64_t n = sizes[si], r;
                    int hits[1024];
                    count_args a;
                    memset(hits, 0, sizeof hits);
                    a.hits = hits; a.grain = grains[gi]; a.bad_start = 0; a.max_thread = 0;
                    if (rep == 19) sleep_ms(3);                 /* let the workers fall asleep */
                    bitnet_threadpool_run(pool, n, grains[gi], count_task, &a);
                    for (r = 0; r < n; r++) if (hits[r] != 1) ok = 0;
                    if (hits[n] != 0 || a.bad_start || a.max_thread >= nt) ok = 0;
                }
        CHECKF(ok, "%d threads: some row not visited exactly once", nt);
        bitnet_threadpool_free(pool);
    }
    bitnet_threadpool_free(NULL);
    CHECK(bitnet_threadpool_size(NULL) == 1);
    CHECK(bitnet_online_cores() >= 1);
    CHECK(bitnet_threadpool_new(NULL, 2, NULL) == BITNET_ERR_ARGS);
    {
        bitnet_threadpool *pool = NULL;
        CHECK(bitnet_threadpool_new(&pool, 0, NULL) == BITNET_OK);   /* online cores */
        CHECK(bitnet_threadpool_size(pool) >= 1);
        bitnet_threadpool_free(pool);
    }
}

static uint64_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_identical_bits(void) {
    const int64_t m = 301, k = 640, n_tok = 5;
    int8_t *codes = (int8_t *)malloc((size_t)(m * k));
    uint16_t *f16 = (uint16_t *)malloc(sizeof(uint16_t) * (size_t)(m * k));
    float *x = (float *)malloc(sizeof(float) * (size_t)(k * n_tok));
    int8_t *q = (int8_t *)malloc((size_t)(bn_tern_kpad(k) * n_tok));
    float *y1 = (float *)malloc(sizeof(float) * (size_t)(m * n_tok)), *y = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
    float *f1 = (float *)malloc(sizeof(float) * (size_t)(m * n_tok)), *f = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
    float s[8];
    int32_t sum[8];
    int64_t i, kp = bn_tern_kpad(k);
    bn_kernels kt;
    bn_tern w;
    bn_fmat fm;
    int nt;
    for (i = 0; i < m * k; i++) { codes[i] = (int8_t)((int)(rnd() % 3) - 1); f16[i] = bn_fp32_to_fp16((float)(rnd() % 1000) / 500.0f - 1.0f); }
    for (i = 0; i < k * n_tok; i++) x[i] = (float)(rnd() % 2000) / 1000.0f - 1.0f;
    CHECK(bn_kernels_init(&kt, BITNET_ISA_AUTO) == BITNET_OK);
    CHECK(bn_tern_from_codes(&w, codes, 0.5f, k, m, NULL) == BITNET_OK);
    CHECK(bn_fmat_init(&fm, 1, f16, sizeof(uint16_t) * (size_t)(m * k), (uint64_t)k, (uint64_t)m) == BITNET_OK);
    for (i = 0; i < n_tok; i++) kt.quant_i8(x + i * k, k, q + i * kp, &s[i], &sum[i]);
    bn_par_gemm_tern(NULL, &kt, &w, q, kp, s, sum, n_tok, y1, m);
    bn_par_gemm_f(NULL, &kt, &fm, x, k, n_tok, f1, m);
    for (nt = 1; nt <= 4; nt++) {
        bitnet_threadpool *pool = NULL;
        int rep;
        CHECK(bitnet_threadpool_new(&pool, nt, NULL) == BITNET_OK);
        for (rep = 0; rep < 3; rep++) {
            memset(y, 0, sizeof(float) * (size_t)(m * n_tok));
            bn_par_gemv_tern(pool, &kt, &w, q, s[0], sum[0], y);
            CHECKF(memcmp(y, y1, sizeof(float) * (size_t)m) == 0, "gemv_tern with %d threads", nt);
            bn_par_gemm_tern(pool, &kt, &w, q, kp, s, sum, n_tok, y, m);
            CHECKF(memcmp(y, y1, sizeof(float) * (size_t)(m * n_tok)) == 0, "gemm_tern with %d threads", nt);
            memset(f, 0, sizeof(float) * (size_t)(m * n_tok));
            bn_par_gemv_f(pool, &kt, &fm, x, f);
            CHECKF(memcmp(f, f1, sizeof(float) * (size_t)m) == 0, "gemv_f16 with %d threads", nt);
            bn_par_gemm_f(pool, &kt, &fm, x, k, n_tok, f, m);
            CHECKF(memcmp(f, f1, sizeof(float) * (size_t)(m * n_tok)) == 0, "gemm_f16 with %d threads", nt);
        }
        bitnet_threadpool_free(pool);
    }
    bn_tern_free(&w);
    free(codes); free(f16); free(x); free(q); free(y1); free(y); free(f1); free(f);
}

int main(void) {
    test_split();
    test_identical_bits();
    return check_report("threads");
}
