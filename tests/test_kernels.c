/* Kernels: every ISA this machine has against the scalar _ref oracle (integer paths exact, float
   paths within a tight tolerance), weight repacking against the format definitions, odd shapes,
   misaligned pointers, error paths. Built with -DTEST_SMALL (qemu) the shapes shrink. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"

#ifdef TEST_SMALL
#  define BIG 1
#else
#  define BIG 0
#endif

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rndf(void) { return (float)((int)(rnd() % 20001) - 10000) / 5000.0f; }   /* [-2, 2] */

static bn_kernels tables[8];
static int n_tables;

static void init_tables(void) {
    bitnet_isa isas[4] = { BITNET_ISA_REF, BITNET_ISA_AVX2, BITNET_ISA_AVX512, BITNET_ISA_NEON };
    int i;
    for (i = 0; i < 4; i++)
        if (bitnet_isa_supported(isas[i])) {
            CHECK(bn_kernels_init(&tables[n_tables], isas[i]) == BITNET_OK);
            n_tables++;
        }
    CHECK(n_tables >= 1 && tables[0].isa == BITNET_ISA_REF);
#if BN__X86
    if (bitnet_isa_supported(BITNET_ISA_AVX2)) {     /* the maddubs GEMM tile even where VNNI is */
        CHECK(bn_kernels_init(&tables[n_tables], BITNET_ISA_AVX2) == BITNET_OK);
        tables[n_tables].gemm_tern = bn_gemm_tern_i8_avx2;
        n_tables++;
    }
#endif
}

/* Natural-order copy of a q vector in table order. */
static void unpermute(const bn_kernels *kt, const int8_t *q, int64_t kp, int8_t *out) {
    int64_t i;
    for (i = 0; i < kp; i++) out[i] = q[bn_act_pos(kt->act_order, i, kp)];
}

static void test_quant(void) {
    static const int64_t ks[] = { 1, 15, 16, 17, 127, 128, 129, 300, 2560, 6912 };
    int64_t ki, i;
    int t, special;
    for (ki = 0; ki < (int64_t)(sizeof ks / sizeof ks[0]); ki++)
        for (special = 0; special < 4; special++) {
            int64_t k = ks[ki], kp = bn_tern_kpad(k);
            float *xb = (float *)malloc(sizeof(float) * (size_t)(k + 1)), *x = xb + 1;   /* misaligned */
            int8_t *qr = (int8_t *)malloc((size_t)kp), *qb = (int8_t *)malloc((size_t)kp + 3), *qn = (int8_t *)malloc((size_t)kp);
            float sr, s;
            int32_t sumr, sum, expect = 0;
            for (i = 0; i < k; i++) {
                x[i] = rndf();
                if (special == 1) x[i] = 0.0f;                          /* amax clamps to 1e-5 */
                if (special == 2) x[i] = (float)((int)(rnd() % 253) - 126) + 0.5f * (float)(rnd() & 1);
                if (special == 3 && i % 7 == 3) x[i] = x[i] * 1e-7f;
            }
            if (special == 2) x[0] = 127.0f;                            /* s = 1: exact .5 ties */
            memset(qr, 0x7f, (size_t)kp);
            bn_quant_i8_ref(x, k, qr, &sr, &sumr);
            for (i = 0; i < k; i++) expect += qr[i];
            CHECK(sumr == expect);
            for (i = k; i < kp; i++) if (qr[i] != 0) break;
            CHECKF(i == kp, "padding not zero at %lld (k=%lld)", (long long)i, (long long)k);
            if (special == 1) CHECK(sr == (float)(127.0 / 1e-5));
            if (special == 2) {
                CHECK(sr == 1.0f);
                for (i = 0; i < k; i++) {
                    double want = nearbyint((double)x[i]);           /* default mode: half even */
                    if (qr[i] != (int8_t)want) break;
                }
                CHECKF(i == k, "tie rounding at %lld: x=%g q=%d", (long long)i, (double)x[i], qr[i]);
            }
            for (t = 1; t < n_tables; t++) {
                memset(qb, 0x55, (size_t)kp + 3);
                tables[t].quant_i8(x, k, qb + 3, &s, &sum);
                unpermute(&tables[t], qb + 3, kp, qn);
                CHECKF(memcmp(&s, &sr, 4) == 0, "%s quant scale k=%lld", bitnet_isa_name(tables[t].isa), (long long)k);
                CHECKF(sum == sumr, "%s quant sum k=%lld: %d vs %d", bitnet_isa_name(tables[t].isa), (long long)k, sum, sumr);
                CHECKF(memcmp(qn, qr, (size_t)kp) == 0, "%s quant codes k=%lld special=%d",
                       bitnet_isa_name(tables[t].isa), (long long)k, special);
            }
            free(xb); free(qr); free(qb); free(qn);
        }
}

/* I2_S bytes (FORMATS.md 3.1) for codes c in {0,1,2}, (m, k), with alpha after the data. */
static uint8_t *make_i2s(const int8_t *codes, int64_t m, int64_t k, float alpha, size_t *size, int offset) {
    size_t n = (size_t)(m * k / 4) + 32;
    uint8_t *buf = (uint8_t *)calloc(n + (size_t)offset, 1), *d = buf + offset;
    int64_t f;
    for (f = 0; f < m * k; f++) {
        int64_t byte = (f / 128) * 32 + (f % 32);
        int shift = 6 - 2 * (int)((f % 128) / 32);
        d[byte] = (uint8_t)(d[byte] | (codes[f] + 1) << shift);
    }
    memcpy(d + m * k / 4, &alpha, 4);
    *size = n;
    return buf;
}

/* TQ2_0 blocks (FORMATS.md 3.2) with scale d[block]. */
static uint8_t *make_tq2(const int8_t *codes, int64_t m, int64_t k, const float *d, size_t *size) {
    int64_t nb = m * k / 256, b, j, l, mm;
    uint8_t *buf = (uint8_t *)calloc((size_t)nb * 66, 1);
    for (b = 0; b < nb; b++) {
        uint8_t *blk = buf + b * 66;
        uint16_t h = bn_fp32_to_fp16(d[b]);
        for (j = 0; j < 64; j += 32)
            for (l = 0; l < 4; l++)
                for (mm = 0; mm < 32; mm++)
                    blk[j + mm] = (uint8_t)(blk[j + mm] | (codes[b * 256 + j * 4 + l * 32 + mm] + 1) << (2 * l));
        memcpy(blk + 64, &h, 2);
    }
    *size = (size_t)nb * 66;
    return buf;
}

/* TQ1_0 blocks as llama.cpp's quantize_row_tq1_0 writes them. */
static uint8_t *make_tq1(const int8_t *codes, int64_t m, int64_t k, const float *d, size_t *size) {
    int64_t nb = m * k / 256, b, j, n;
    uint8_t *buf = (uint8_t *)calloc((size_t)nb * 54, 1);
    for (b = 0; b < nb; b++) {
        const int8_t *c = codes + b * 256;
        uint8_t *blk = buf + b * 54;
        uint16_t h = bn_fp32_to_fp16(d[b]);
        for (j = 0; j < 32; j++) {
            unsigned v = 0;
            for (n = 0; n < 5; n++) v = v * 3 + (unsigned)(c[j + n * 32] + 1);
            blk[j] = (uint8_t)((v * 256 + 242) / 243);
        }
        for (j = 0; j < 16; j++) {
            unsigned v = 0;
            for (n = 0; n < 5; n++) v = v * 3 + (unsigned)(c[160 + j + n * 16] + 1);
            blk[32 + j] = (uint8_t)((v * 256 + 242) / 243);
        }
        for (j = 0; j < 4; j++) {
            unsigned v = 0;
            for (n = 0; n < 4; n++) v = v * 3 + (unsigned)(c[240 + j + n * 4] + 1);
            v *= 3;
            blk[48 + j] = (uint8_t)((v * 256 + 242) / 243);
        }
        memcpy(blk + 52, &h, 2);
    }
    *size = (size_t)nb * 54;
    return buf;
}

static int codes_match(const bn_tern *w, const int8_t *codes) {
    int64_t r, c;
    for (r = 0; r < w->rows; r++)
        for (c = 0; c < w->cols; c++)
            if (bn_tern_code(w, r, c) != codes[r * w->cols + c] + 1) return 0;
    return 1;
}

static void random_codes(int8_t *codes, int64_t n, int zero_blocks) {
    int64_t i;
    for (i = 0; i < n; i++) codes[i] = (int8_t)((int)(rnd() % 3) - 1);
    if (zero_blocks && n >= 512) memset(codes + 256, 0, 256);   /* an all-zero 256-block */
}

/* y of row r the slow way (natural order q, one scale per 256-block). */
static float expect_row(const bn_tern *w, int64_t r, const int8_t *q, float s) {
    double y = 0.0;
    int64_t c;
    for (c = 0; c < w->cols; c++) y += (double)(bn_tern_code(w, r, c) - 1) * q[c] * bn_tern_scale(w, r, c);
    return (float)(y / s);
}

/* Every table's GEMV and GEMM against the ref table on weights w. */
static void check_tern(const bn_tern *w, const char *what, int n_tok) {
    int64_t k = w->cols, kp = w->kp, m = w->rows, r, i;
    float *x = (float *)malloc(sizeof(float) * (size_t)(k * n_tok));
    int8_t *qb = (int8_t *)malloc((size_t)(kp * n_tok) + 5), *q = qb + 5;            /* misaligned */
    int8_t *qref = (int8_t *)malloc((size_t)(kp * n_tok));
    float *yr = (float *)malloc(sizeof(float) * (size_t)(m * n_tok)), *y = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
    float s[160], sref[160];                 /* n_tok <= 160 */
    int32_t sum[160], sumref[160];
    int t, tok, bad;
    for (i = 0; i < k * n_tok; i++) x[i] = rndf();
    for (tok = 0; tok < n_tok; tok++) bn_quant_i8_ref(x + tok * k, k, qref + tok * kp, &sref[tok], &sumref[tok]);
    bn_gemm_tern_i8_ref(w, qref, kp, sref, sumref, n_tok, yr, m, 0, m);
    bad = 0;
    for (r = 0; r < m; r++) {
        float e = expect_row(w, r, qref, sref[0]);
        if (fabsf(yr[r] - e) > 1e-4f * (1.0f + fabsf(e))) bad++;
    }
    CHECKF(bad == 0, "%s: ref GEMV differs from the definition in %d rows", what, bad);
    for (t = 0; t < n_tables; t++) {
        const bn_kernels *kt = &tables[t];
        for (tok = 0; tok < n_tok; tok++) kt->quant_i8(x + tok * k, k, q + tok * kp, &s[tok], &sum[tok]);
        /* GEMV over the whole range and over odd sub-ranges */
        for (i = 0; i < m; i++) y[i] = -1.0f;
        kt->gemv_tern(w, q, s[0], sum[0], y, 0, m / 3);
        kt->gemv_tern(w, q, s[0], sum[0], y, m / 3, m);
        CHECKF(memcmp(y, yr, sizeof(float) * (size_t)m) == 0, "%s gemv %s (%lld x %lld)",
               bitnet_isa_name(kt->isa), what, (long long)m, (long long)k);
        for (i = 0; i < m * n_tok; i++) y[i] = -1.0f;
        kt->gemm_tern(w, q, kp, s, sum, n_tok, y, m, 0, m - m / 2);
        kt->gemm_tern(w, q, kp, s, sum, n_tok, y, m, m - m / 2, m);
        CHECKF(memcmp(y, yr, sizeof(float) * (size_t)(m * n_tok)) == 0, "%s gemm %s (%lld x %lld, %d tokens)",
               bitnet_isa_name(kt->isa), what, (long long)m, (long long)k, n_tok);
        kt->gemm_tern(w, q, kp, s, sum, 0, y, m, 0, m);          /* no tokens: nothing written */
        CHECKF(memcmp(y, yr, sizeof(float) * (size_t)(m * n_tok)) == 0, "%s gemm %s with 0 tokens wrote",
               bitnet_isa_name(kt->isa), what);
    }
    free(x); free(qb); free(qref); free(yr); free(y);
}

static void test_tern(void) {
    static const int64_t shapes[][3] = {   /* m, k, tokens */
        { 1, 128, 1 }, { 3, 256, 2 }, { 5, 384, 9 }, { 7, 640, 3 }, { 9, 1024, 8 },
        { 3, 100, 2 }, { 13, 2816, 140 }, { 4, 300, 7 }, { 33, 2560, 17 }, { 5, 16640, 7 }, { 70, 6912, 5 },
        { 6, 3200, 4 },
    };
    size_t si, n_shapes = sizeof shapes / sizeof shapes[0] - (BIG ? 4 : 0);
    for (si = 0; si < n_shapes; si++) {
        int64_t m = shapes[si][0], k = shapes[si][1];
        int n_tok = (int)shapes[si][2];
        int8_t *codes = (int8_t *)malloc((size_t)(m * k));
        float alpha = 0.0123f + (float)si * 0.25f, d[4096];
        size_t size;
        bn_tern w;
        uint8_t *buf;
        int64_t b;
        char what[64];
        random_codes(codes, m * k, 1);
        /* from codes */
        CHECK(bn_tern_from_codes(&w, codes, alpha, k, m, NULL) == BITNET_OK);
        CHECK(codes_match(&w, codes) && w.alpha == alpha && !w.block_scale && w.bytes_owned > 0);
        snprintf(what, sizeof what, "codes");
        check_tern(&w, what, n_tok);
        bn_tern_free(&w);
        if (k % 128) { free(codes); continue; }          /* only the codes path takes any K */
        /* I2_S, borrowed from a misaligned buffer */
        buf = make_i2s(codes, m, k, alpha, &size, 1);
        CHECK(bn_tern_from_tensor(&w, 36, buf + 1, size, (uint64_t)k, (uint64_t)m, NULL) == BITNET_OK);
        CHECK(codes_match(&w, codes) && w.alpha == alpha && w.bytes_owned == 0 && w.codes == buf + 1);
        check_tern(&w, "i2_s", n_tok);
        CHECK(bn_tern_from_tensor(&w, 36, buf + 1, size - 29, (uint64_t)k, (uint64_t)m, NULL) == BITNET_ERR_FORMAT);
        bn_tern_free(&w);
        free(buf);
        if (k % 256 == 0) {
            for (b = 0; b < m * k / 256; b++) d[b] = 0.75f;
            d[1] = 0.0f;                                    /* the all-zero block may have d = 0 */
            buf = make_tq2(codes, m, k, d, &size);
            CHECK(bn_tern_from_tensor(&w, 35, buf, size, (uint64_t)k, (uint64_t)m, NULL) == BITNET_OK);
            CHECK(codes_match(&w, codes) && w.alpha == 0.75f && !w.block_scale);
            check_tern(&w, "tq2_0", n_tok);
            bn_tern_free(&w);
            free(buf);
            buf = make_tq1(codes, m, k, d, &size);
            CHECK(bn_tern_from_tensor(&w, 34, buf, size, (uint64_t)k, (uint64_t)m, NULL) == BITNET_OK);
            CHECK(codes_match(&w, codes) && w.alpha == 0.75f && !w.block_scale);
            check_tern(&w, "tq1_0", n_tok);
            bn_tern_free(&w);
            free(buf);
            /* differing block scales: per-block path */
            for (b = 0; b < m * k / 256; b++) d[b] = 0.25f + (float)(b % 5) * 0.125f;
            buf = make_tq2(codes, m, k, d, &size);
            CHECK(bn_tern_from_tensor(&w, 35, buf, size, (uint64_t)k, (uint64_t)m, NULL) == BITNET_OK);
            CHECK(codes_match(&w, codes) && w.block_scale != NULL);
            if (w.block_scale) CHECK(w.block_scale[m * k / 256 - 1] == d[m * k / 256 - 1]);
            check_tern(&w, "tq2_0 per-block", n_tok > 3 ? 3 : n_tok);
            CHECK(bn_tern_from_tensor(&w, 35, buf, size - 1, (uint64_t)k, (uint64_t)m, NULL) == BITNET_ERR_FORMAT);
            bn_tern_free(&w);
            free(buf);
        }
        free(codes);
    }
}

static void test_tern_errors(void) {
    uint8_t buf[1024];
    bn_tern w;
    memset(buf, 0, sizeof buf);
    CHECK(bn_tern_from_tensor(&w, 36, buf, sizeof buf, 100, 2, NULL) == BITNET_ERR_FORMAT);     /* k % 128 */
    CHECK(strstr(bitnet_last_error(), "multiple of 128") != NULL);
    CHECK(bn_tern_from_tensor(&w, 35, buf, sizeof buf, 128, 2, NULL) == BITNET_ERR_FORMAT);     /* k % 256 */
    CHECK(bn_tern_from_tensor(&w, 1, buf, sizeof buf, 128, 2, NULL) == BITNET_ERR_UNSUPPORTED);
    CHECK(bn_tern_from_tensor(&w, 36, buf, sizeof buf, 0, 2, NULL) == BITNET_ERR_FORMAT);
    CHECK(bn_tern_from_tensor(&w, 36, buf, sizeof buf, 1024, 4, NULL) == BITNET_ERR_FORMAT);    /* too small */
    CHECK(bn_tern_from_tensor(&w, 36, buf, sizeof buf, (uint64_t)1 << 40, 4, NULL) == BITNET_ERR_FORMAT);
    CHECK(bn_tern_from_tensor(&w, 36, NULL, 0, 128, 1, NULL) == BITNET_ERR_ARGS);
    {   /* float views: products that overflow 64 bits, unknown types */
        bn_fmat fm;
        CHECK(bn_fmat_init(&fm, 0, buf, sizeof buf, (uint64_t)1 << 31, (uint64_t)1 << 31) == BITNET_ERR_FORMAT);
        CHECK(bn_fmat_init(&fm, 2, buf, sizeof buf, 32, 1) == BITNET_ERR_UNSUPPORTED);
        CHECK(bn_fmat_init(&fm, 8, buf, sizeof buf, 33, 1) == BITNET_ERR_FORMAT);
        CHECK(bn_fmat_init(&fm, 1, buf, sizeof buf, 256, 2) == BITNET_OK && fm.row_bytes == 512);
    }
}

/* Random bytes that make a valid float matrix of type ft (finite values). */
static uint8_t *make_fmat(int type, int64_t m, int64_t k, size_t *size, int offset) {
    size_t rb = type == 0 ? (size_t)k * 4 : type == 8 ? (size_t)k / 32 * 34 : type == 14 ? (size_t)k / 256 * 210 : (size_t)k * 2;
    size_t n = rb * (size_t)m, i;
    uint8_t *buf = (uint8_t *)malloc(n + (size_t)offset), *d = buf + offset;
    for (i = 0; i < n; i++) d[i] = (uint8_t)rnd();
    for (i = 0; i < (size_t)(m * k); i++) {
        float v = rndf();
        if (type == 0) memcpy(d + i * 4, &v, 4);
        if (type == 1) { uint16_t h = bn_fp32_to_fp16(v); memcpy(d + i * 2, &h, 2); }
        if (type == 30) { uint16_t h = bn_fp32_to_bf16(v); memcpy(d + i * 2, &h, 2); }
    }
    if (type == 8)
        for (i = 0; i < n; i += 34) { uint16_t h = bn_fp32_to_fp16(0.01f * (float)(rnd() % 100)); memcpy(d + i, &h, 2); }
    if (type == 14)
        for (i = 0; i < n; i += 210) { uint16_t h = bn_fp32_to_fp16(0.001f * (float)(rnd() % 100)); memcpy(d + i + 208, &h, 2); }
    *size = n;
    return buf;
}

static void test_float(void) {
    static const int types[] = { 0, 1, 30, 8, 14 };
    static const int64_t shapes[][2] = { { 1, 256 }, { 5, 512 }, { 13, 768 }, { 4, 32 }, { 7, 37 }, { 9, 300 }, { 21, 2560 } };
    size_t ti, si;
    for (ti = 0; ti < sizeof types / sizeof types[0]; ti++)
        for (si = 0; si < sizeof shapes / sizeof shapes[0] - (BIG ? 1 : 0); si++) {
            int type = types[ti];
            int64_t m = shapes[si][0], k = shapes[si][1], i, r, n_tok = 3;
            size_t size;
            uint8_t *buf;
            float *x, *yr, *y, *mag, *y_avx2 = NULL;
            bn_fmat fm;
            int t;
            if ((type == 8 && k % 32) || (type == 14 && k % 256)) continue;
            buf = make_fmat(type, m, k, &size, 3);
            CHECK(bn_fmat_init(&fm, type, buf + 3, size, (uint64_t)k, (uint64_t)m) == BITNET_OK);
            CHECK(bn_fmat_init(&fm, type, buf + 3, size - 1, (uint64_t)k, (uint64_t)m) == BITNET_ERR_FORMAT);
            x = (float *)malloc(sizeof(float) * (size_t)(k * n_tok + 1));
            yr = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
            y = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
            mag = (float *)malloc(sizeof(float) * (size_t)m);
            for (i = 0; i < k * n_tok + 1; i++) x[i] = rndf();
            bn_gemm_f_ref(&fm, x + 1, k, n_tok, yr, m, 0, m);        /* misaligned x */
            for (r = 0; r < m; r++) {
                double a = 0.0;
                for (i = 0; i < k; i++) a += fabs((double)bn_fmat_at(&fm, r, i) * x[1 + i]);
                mag[r] = (float)a;
            }
            for (t = 0; t < n_tables; t++) {
                const bn_kernels *kt = &tables[t];
                int bad = 0;
                kt->gemv_f[fm.ft](&fm, x + 1, y, 0, m / 2);
                bn_fmat_gemv(kt, &fm, x + 1, y, m / 2, m);
                for (r = 0; r < m; r++) if (!(fabsf(y[r] - yr[r]) <= 2e-6f * mag[r] + 1e-6f)) bad++;
                CHECKF(bad == 0, "%s gemv type %d (%lld x %lld): %d rows off", bitnet_isa_name(kt->isa), type,
                       (long long)m, (long long)k, bad);
                if ((type == 8 || type == 14) && kt->isa == BITNET_ISA_AVX2 && !y_avx2) {   /* Q8_0 / Q6_K: one x86 result */
                    y_avx2 = (float *)malloc(sizeof(float) * (size_t)m);
                    memcpy(y_avx2, y, sizeof(float) * (size_t)m);
                } else if (kt->isa == BITNET_ISA_AVX512 && y_avx2) {
                    CHECKF(memcmp(y_avx2, y, sizeof(float) * (size_t)m) == 0, "type %d (%lld x %lld): the AVX-512 "
                           "gemv differs from the AVX2 one", type, (long long)m, (long long)k);
                }
                kt->gemm_f[fm.ft](&fm, x + 1, k, n_tok, y, m, 0, m);
                bad = 0;
                for (i = 0; i < m * n_tok; i++) if (!(fabsf(y[i] - yr[i]) <= 2e-6f * mag[i % m] * 4 + 1e-5f)) bad++;
                CHECKF(bad == 0, "%s gemm type %d (%lld x %lld): %d values off", bitnet_isa_name(kt->isa), type,
                       (long long)m, (long long)k, bad);
                {   /* GEMM row r of token 0 == GEMV row r, bit for bit */
                    float *yv = (float *)malloc(sizeof(float) * (size_t)m);
                    kt->gemv_f[fm.ft](&fm, x + 1, yv, 0, m);
                    CHECKF(memcmp(yv, y, sizeof(float) * (size_t)m) == 0, "%s gemm != gemv type %d",
                           bitnet_isa_name(kt->isa), type);
                    free(yv);
                }
            }
            free(buf); free(x); free(yr); free(y); free(mag); free(y_avx2);
        }
    {   /* Q6_K by hand: ql = 0x21, qh = 0, scales 1..16, d = 0.5 -> q1 = 1-32, q3 = 2-32 */
        uint8_t blk[210];
        float out[256];
        uint16_t h = bn_fp32_to_fp16(0.5f);
        int i;
        memset(blk, 0x21, 128); memset(blk + 128, 0, 64);
        for (i = 0; i < 16; i++) blk[192 + i] = (uint8_t)(i + 1);
        memcpy(blk + 208, &h, 2);
        bn_q6k_dequant(blk, out);
        CHECK(out[0] == 0.5f * 1 * -31 && out[16] == 0.5f * 2 * -31 && out[64] == 0.5f * 5 * -30);
        CHECK(out[128] == 0.5f * 9 * -31 && out[255] == 0.5f * 16 * -30);
    }
}

/* Every float type's GEMM for 1, 2, 6 and 11 tokens (the 4-token groups and each remainder):
   each token's rows equal its GEMV's, bit for bit, also for rows of odd length. */
static void test_gemm_tokens(void) {
    static const int types[] = { 0, 1, 30, 8, 14 };
    static const int64_t toks[] = { 1, 2, 6, 11 };
    size_t ti, ni;
    for (ti = 0; ti < 5; ti++)
        for (ni = 0; ni < 4; ni++) {
            int type = types[ti], t;
            int64_t m = 7, k = type >= 8 ? 512 : ni % 2 ? 1061 : 301, n_tok = toks[ni], tok;   /* 1061: 3 stretches */
            size_t size;
            uint8_t *buf = make_fmat(type, m, k, &size, 2);
            float *x = (float *)malloc(sizeof(float) * (size_t)(k * n_tok + 1));
            float *y = (float *)malloc(sizeof(float) * (size_t)(m * n_tok)), *yv = (float *)malloc(sizeof(float) * (size_t)m);
            bn_fmat fm;
            int64_t i;
            CHECK(bn_fmat_init(&fm, type, buf + 2, size, (uint64_t)k, (uint64_t)m) == BITNET_OK);
            for (i = 0; i < k * n_tok + 1; i++) x[i] = rndf();
            for (t = 0; t < n_tables; t++) {
                const bn_kernels *kt = &tables[t];
                int same = 1;
                kt->gemm_f[fm.ft](&fm, x + 1, k, n_tok, y, m, 0, m);
                for (tok = 0; tok < n_tok; tok++) {
                    kt->gemv_f[fm.ft](&fm, x + 1 + tok * k, yv, 0, m);
                    same &= memcmp(yv, y + tok * m, sizeof(float) * (size_t)m) == 0;
                }
                CHECKF(same, "%s type %d, %lld tokens: GEMM rows != GEMV rows", bitnet_isa_name(kt->isa), type,
                       (long long)n_tok);
            }
            free(buf); free(x); free(y); free(yv);
        }
}

/* Q8_0 / Q6_K with quantized activations: more columns than one chunk (4096; Q8_0 with an odd
   block count in the second), more tokens than one group (8), every token's GEMM row equal to its
   GEMV, the integer dot against a hand sum, a NaN activation reaching the output, and every x86
   table's results the AVX2 table's bit for bit (the AVX-512 kernels promise it). */
static void test_quant_activations(void) {
    static const int types[] = { 8, 14 };
    size_t ti;
    for (ti = 0; ti < 2; ti++) {
        int type = types[ti], t;
        int64_t m = 5, k = type == 8 ? 4192 : 4352, n_tok = 11, i, r;
        float *y_avx2 = NULL;
        size_t size;
        uint8_t *buf = make_fmat(type, m, k, &size, 1);
        float *x = (float *)malloc(sizeof(float) * (size_t)(k * n_tok)), *yr, *y, *yv, *mag;
        bn_fmat fm;
        CHECK(bn_fmat_init(&fm, type, buf + 1, size, (uint64_t)k, (uint64_t)m) == BITNET_OK);
        yr = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
        y = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
        yv = (float *)malloc(sizeof(float) * (size_t)m);
        mag = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
        for (i = 0; i < k * n_tok; i++) x[i] = rndf() * (i % 97 == 0 ? 40.0f : 1.0f);
        bn_gemm_f_ref(&fm, x, k, n_tok, yr, m, 0, m);
        for (i = 0; i < m * n_tok; i++) {   /* sum |w x|: the scale of the float rounding */
            double a = 0.0;
            int64_t c;
            for (c = 0; c < k; c++) a += fabs((double)bn_fmat_at(&fm, i % m, c) * x[i / m * k + c]);
            mag[i] = (float)a;
        }
        {   /* the oracle by hand for row 0, token 0: quantize, integer dot per block, scale */
            double want = 0.0;
            int64_t bs = type == 8 ? 32 : 256, b;
            float tmp[256];
            for (b = 0; b < k / bs; b++) {
                float amax = 0.0f, inv;
                double dot = 0.0;
                for (i = 0; i < bs; i++) if (fabsf(x[b * bs + i]) > amax) amax = fabsf(x[b * bs + i]);
                inv = 127.0f / amax;
                if (type == 14) bn_q6k_dequant(buf + 1 + (size_t)b * 210, tmp);
                for (i = 0; i < bs; i++) {
                    float v = x[b * bs + i] * inv;
                    int q = v >= 0 ? (int)(v + 0.5f) : (int)(v - 0.5f);
                    double wv = type == 8 ? (double)bn_fmat_at(&fm, 0, b * bs + i) : (double)tmp[i];
                    dot += wv * q;
                }
                want += dot * (amax / 127.0f);
            }
            CHECKF(fabs(want - yr[0]) <= 1e-5 * fabs(want) + 1e-5, "type %d: oracle %.7g, by hand %.7g", type,
                   (double)yr[0], want);
        }
        for (t = 0; t < n_tables; t++) {
            const bn_kernels *kt = &tables[t];
            int bad = 0, same = 1;
            int64_t tok;
            kt->gemm_f[fm.ft](&fm, x, k, n_tok, y, m, 0, m);
            for (i = 0; i < m * n_tok; i++) if (!(fabsf(y[i] - yr[i]) <= 1e-5f * mag[i] + 1e-4f)) bad++;
            CHECKF(bad == 0, "%s qx gemm type %d: %d values off", bitnet_isa_name(kt->isa), type, bad);
            for (tok = 0; tok < n_tok; tok++) {
                kt->gemv_f[fm.ft](&fm, x + tok * k, yv, 0, m);
                same &= memcmp(yv, y + tok * m, sizeof(float) * (size_t)m) == 0;
            }
            CHECKF(same, "%s qx gemm rows != gemv rows, type %d", bitnet_isa_name(kt->isa), type);
            if (kt->isa == BITNET_ISA_AVX2 && !y_avx2) {
                y_avx2 = (float *)malloc(sizeof(float) * (size_t)(m * n_tok));
                memcpy(y_avx2, y, sizeof(float) * (size_t)(m * n_tok));
            } else if (kt->isa == BITNET_ISA_AVX512 && y_avx2) {
                CHECKF(memcmp(y_avx2, y, sizeof(float) * (size_t)(m * n_tok)) == 0,
                       "type %d: the AVX-512 qx gemm differs from the AVX2 one", type);
            }
            {
                float keep = x[5];
                x[5] = NAN;
                kt->gemv_f[fm.ft](&fm, x, yv, 0, m);
                for (r = 0; r < m; r++) CHECKF(yv[r] != yv[r], "%s type %d: NaN activation lost", bitnet_isa_name(kt->isa), type);
                x[5] = keep;
            }
        }
        free(buf); free(x); free(yr); free(y); free(yv); free(mag); free(y_avx2);
    }
}

static void test_vector_ops(void) {
    static const int64_t ns[] = { 1, 7, 16, 33, 128, 1000 };
    size_t ni;
    int t;
    float x[1000], w[1000], out[1000], out2[1000], u[1000], gb[1000];   /* gb: -60..60 */
    uint16_t h[1000];
    int64_t i;
    for (ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
        int64_t n = ns[ni];
        float dr, d;
        for (i = 0; i < n; i++) { x[i] = rndf(); w[i] = rndf(); u[i] = rndf(); h[i] = bn_fp32_to_fp16(rndf()); }
        for (i = 0; i < n; i++) gb[i] = x[i] * 30.0f;
        dr = bn_dot_f32_ref(x, w, n);
        for (t = 0; t < n_tables; t++) {
            const bn_kernels *kt = &tables[t];
            double mag = 0.0;
            for (i = 0; i < n; i++) mag += fabs((double)x[i] * w[i]);
            d = kt->dot_f32(x, w, n);
            CHECKF(fabsf(d - dr) <= 1e-6f * (float)mag + 1e-6f, "%s dot_f32 n=%lld", bitnet_isa_name(kt->isa), (long long)n);
            d = kt->dot_f16(h, w, n);
            CHECKF(fabsf(d - bn_dot_f16_ref(h, w, n)) <= 1e-6f * (float)mag * 2 + 1e-5f, "%s dot_f16", bitnet_isa_name(kt->isa));
            memcpy(out, x, sizeof(float) * (size_t)n); memcpy(out2, x, sizeof(float) * (size_t)n);
            kt->axpy_f32(out, 0.37f, w, n); bn_axpy_f32_ref(out2, 0.37f, w, n);
            for (i = 0; i < n; i++) if (fabsf(out[i] - out2[i]) > 1e-6f) break;
            CHECKF(i == n, "%s axpy_f32", bitnet_isa_name(kt->isa));
            memcpy(out, x, sizeof(float) * (size_t)n); memcpy(out2, x, sizeof(float) * (size_t)n);
            kt->axpy_f16(out, -1.5f, h, n); bn_axpy_f16_ref(out2, -1.5f, h, n);
            for (i = 0; i < n; i++) if (fabsf(out[i] - out2[i]) > 1e-5f) break;
            CHECKF(i == n, "%s axpy_f16", bitnet_isa_name(kt->isa));
            kt->rmsnorm(x, w, n, 1e-5f, out);
            bn_rmsnorm_ref(x, w, n, 1e-5f, out2);
            for (i = 0; i < n; i++) if (!(fabsf(out[i] - out2[i]) <= 1e-6f * fabsf(out2[i]))) break;
            CHECKF(i == n, "%s rmsnorm n=%lld", bitnet_isa_name(kt->isa), (long long)n);
            kt->rmsnorm(x, NULL, n, 1e-5f, out);
            bn_rmsnorm_ref(x, NULL, n, 1e-5f, out2);
            for (i = 0; i < n; i++) if (!(fabsf(out[i] - out2[i]) <= 1e-6f * fabsf(out2[i]))) break;
            CHECKF(i == n, "%s rmsnorm (no weight) n=%lld", bitnet_isa_name(kt->isa), (long long)n);
            kt->relu2_mul(x, u, n, out); bn_relu2_mul_ref(x, u, n, out2);
            CHECKF(memcmp(out, out2, sizeof(float) * (size_t)n) == 0, "%s relu2_mul", bitnet_isa_name(kt->isa));
            memcpy(out, x, sizeof(float) * (size_t)n);                 /* in place, as the model calls it */
            kt->relu2_mul(out, u, n, out);
            CHECK(memcmp(out, out2, sizeof(float) * (size_t)n) == 0);
            kt->silu_mul(gb, u, n, out); bn_silu_mul_ref(gb, u, n, out2);
            for (i = 0; i < n; i++) if (!(fabsf(out[i] - out2[i]) <= 4e-7f * fabsf(out2[i]) + 1e-30f)) break;
            CHECKF(i == n, "%s silu_mul at %lld: %g vs %g", bitnet_isa_name(kt->isa), (long long)i,
                   i < n ? (double)out[i] : 0.0, i < n ? (double)out2[i] : 0.0);
            memcpy(out, gb, sizeof(float) * (size_t)n); memcpy(out2, gb, sizeof(float) * (size_t)n);
            kt->softmax(out, n); bn_softmax_ref(out2, n);
            for (i = 0; i < n; i++) if (!(fabsf(out[i] - out2[i]) <= 4e-7f * out2[i] + 1e-38f)) break;
            CHECKF(i == n, "%s softmax n=%lld at %lld", bitnet_isa_name(kt->isa), (long long)n, (long long)i);
        }
    }
    for (t = 0; t < n_tables; t++) {   /* masked positions (-inf) get exactly 0 */
        float sm[19];
        for (i = 0; i < 19; i++) sm[i] = i % 3 == 1 ? -INFINITY : (float)i * 0.1f;
        tables[t].softmax(sm, 19);
        for (i = 0; i < 19; i++) if ((i % 3 == 1) != (sm[i] == 0.0f) || !(sm[i] >= 0.0f)) break;
        CHECKF(i == 19, "%s softmax with -inf at %lld", bitnet_isa_name(tables[t].isa), (long long)i);
    }
    {   /* rmsnorm, relu2, silu, softmax by value */
        float a[4] = { 1, -2, 3, -4 }, g[3] = { -1.0f, 0.5f, 2.0f }, uu[3] = { 3.0f, 4.0f, -1.0f }, o[4];
        double rms = sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
        bn_rmsnorm_ref(a, NULL, 4, 1e-5f, o);
        CHECK(fabs(o[2] - 3 / rms) < 1e-6 && fabs(o[3] + 4 / rms) < 1e-6);
        bn_relu2_mul_ref(g, uu, 3, o);
        CHECK(o[0] == 0.0f && o[1] == 1.0f && o[2] == -4.0f);
        bn_silu_mul_ref(g, uu, 3, o);
        CHECK(fabs(o[2] - 2.0 / (1.0 + exp(-2.0)) * -1.0) < 1e-6 && fabs(o[0] - (-1.0 / (1.0 + exp(1.0))) * 3.0) < 1e-6);
        bn_softmax_ref(a, 4);
        CHECK(fabs(a[0] + a[1] + a[2] + a[3] - 1.0) < 1e-6 && a[2] > a[0] && a[0] > a[1] && a[1] > a[3]);
        CHECK(fabs(a[2] / a[0] - exp(2.0)) < 1e-4);
    }
    {   /* RoPE: NEOX pairs (i, i+n/2), NORM pairs (2i, 2i+1); theta = pos * base^(-2i/n_rot) */
        float v[2 * 8], v0[2 * 8], cs[8];
        int neox;
        for (neox = 0; neox < 2; neox++) {
            for (i = 0; i < 16; i++) v[i] = v0[i] = rndf();
            bn_rope_angles(0, 10000.0f, 8, cs);
            bn_rope_ref(v, 2, 8, 8, cs, neox);
            CHECK(memcmp(v, v0, sizeof v) == 0);
            bn_rope_angles(5, 10000.0f, 8, cs);
            bn_rope_ref(v, 2, 8, 8, cs, neox);
            for (i = 0; i < 4; i++) {
                double th = 5.0 * pow(10000.0, -2.0 * (double)i / 8.0);
                int64_t a = neox ? 8 + i : 8 + 2 * i, b = neox ? 8 + i + 4 : 8 + 2 * i + 1;
                CHECK(fabs(v[a] - (v0[a] * cos(th) - v0[b] * sin(th))) < 1e-5);
                CHECK(fabs(v[b] - (v0[a] * sin(th) + v0[b] * cos(th))) < 1e-5);
            }
        }
    }
    {   /* RoPE of every table against ref: partial rotation, odd pair counts, both styles */
        static const int64_t dims[][2] = { { 2, 2 }, { 6, 6 }, { 10, 8 }, { 34, 34 }, { 64, 48 }, { 128, 128 }, { 130, 94 } };
        float v[3 * 130], want[3 * 130], cs[130];
        size_t d;
        int neox;
        for (t = 0; t < n_tables; t++)
            for (d = 0; d < sizeof dims / sizeof dims[0]; d++)
                for (neox = 0; neox < 2; neox++) {
                    int64_t hd = dims[d][0], nr = dims[d][1];
                    for (i = 0; i < 3 * hd; i++) v[i] = want[i] = rndf();
                    bn_rope_angles(1000 + (int64_t)d, 500000.0f, nr, cs);
                    bn_rope_ref(want, 3, hd, nr, cs, neox);
                    tables[t].rope(v, 3, hd, nr, cs, neox);
                    for (i = 0; i < 3 * hd; i++) if (!(fabsf(v[i] - want[i]) <= 1e-6f)) break;
                    CHECKF(i == 3 * hd, "%s rope hd=%lld n_rot=%lld neox=%d at %lld", bitnet_isa_name(tables[t].isa),
                           (long long)hd, (long long)nr, neox, (long long)i);
                }
    }
}

static void test_dispatch(void) {
    char buf[1024];
    bn_kernels kt;
    CHECK(bn_kernels_init(&kt, BITNET_ISA_AUTO) == BITNET_OK && kt.isa == bitnet_isa_best());
    CHECK(bn_kernels_init(&kt, (bitnet_isa)99) == BITNET_ERR_ARGS);
#if BN__X86
    CHECK(bn_kernels_init(&kt, BITNET_ISA_NEON) == BITNET_ERR_UNSUPPORTED);
    CHECK(strstr(bitnet_last_error(), "neon") != NULL);
#else
    CHECK(bn_kernels_init(&kt, BITNET_ISA_AVX2) == BITNET_ERR_UNSUPPORTED);
#endif
    bitnet_kernels_describe(BITNET_ISA_AUTO, buf, sizeof buf);
    CHECK(strstr(buf, "table: ") != NULL && strstr(buf, "gemv_tern=") != NULL);
    printf("%s\n", buf);
    bitnet_kernels_describe(BITNET_ISA_REF, buf, 20);
    CHECK(strlen(buf) < 20);
    CHECK(strcmp(bitnet_isa_name(BITNET_ISA_AVX512), "avx512") == 0);
}

/* Attention scores and value sums of every table against ref: query counts around the 4-query
   block, key counts around the 4-key block, head sizes off the 8-, 16- and 64-lane steps, F32 and
   F16 rows with a stride wider than the head. */
static void test_attention(void) {
    static const int64_t nqs[] = { 1, 2, 4, 5 }, ns[] = { 1, 3, 4, 17, 70 }, ds[] = { 16, 24, 37, 64, 128 };
    enum { LD = 140, NMAX = 70, QMAX = 5 };
    static float q[QMAX * 128], kf[NMAX * LD], vf[NMAX * LD], a[QMAX * NMAX];
    static float s_ref[QMAX * NMAX], s[QMAX * NMAX], o_ref[QMAX * 128];
    static uint16_t kh[NMAX * LD], vh[NMAX * LD];
    size_t qi, ni, di;
    int t, f16;
    int64_t i;
    for (i = 0; i < QMAX * 128; i++) q[i] = rndf();
    for (i = 0; i < NMAX * LD; i++) {
        kf[i] = rndf(); vf[i] = rndf();
        kh[i] = bn_fp32_to_fp16(kf[i]); vh[i] = bn_fp32_to_fp16(vf[i]);
    }
    for (i = 0; i < QMAX * NMAX; i++) a[i] = (rndf() + 1.0f) / 70.0f;
    for (t = 0; t < n_tables; t++)
        for (f16 = 0; f16 < 2; f16++)
            for (qi = 0; qi < 4; qi++)
                for (ni = 0; ni < 5; ni++)
                    for (di = 0; di < sizeof ds / sizeof *ds; di++) {
                        int64_t nq = nqs[qi], n = ns[ni], d = ds[di], bad = 0;
                        float *o = (float *)malloc(sizeof(float) * (size_t)(nq * d + 16));   /* + a guard */
                        const void *k = f16 ? (const void *)(kh + 3) : (const void *)(kf + 3);
                        const void *v = f16 ? (const void *)(vh + 1) : (const void *)(vf + 1);
                        bn_attn_scores_ref(q, nq, k, f16, LD, n, d, 0.125f, s_ref, NMAX);
                        tables[t].attn_scores(q, nq, k, f16, LD, n, d, 0.125f, s, NMAX);
                        for (i = 0; i < nq * NMAX; i++)
                            if (i % NMAX < n && !(fabsf(s[i] - s_ref[i]) <= 2e-6f * (float)d)) bad++;
                        bn_attn_values_ref(o_ref, nq, a, NMAX, v, f16, LD, n, d);
                        for (i = 0; i < 16; i++) o[nq * d + i] = -7.0f;
                        tables[t].attn_values(o, nq, a, NMAX, v, f16, LD, n, d);
                        for (i = 0; i < 16; i++) if (o[nq * d + i] != -7.0f) bad++;
                        for (i = 0; i < nq * d; i++) if (!(fabsf(o[i] - o_ref[i]) <= 1e-5f)) bad++;
                        free(o);
                        CHECKF(bad == 0, "%s attention f16=%d nq=%lld n=%lld d=%lld: %lld values off",
                               bitnet_isa_name(tables[t].isa), f16, (long long)nq, (long long)n, (long long)d,
                               (long long)bad);
                    }
}

int main(void) {
    init_tables();
    test_quant();
    test_tern();
    test_tern_errors();
    test_float();
    test_quant_activations();
    test_gemm_tokens();
    test_vector_ops();
    test_attention();
    test_dispatch();
    return check_report("kernels");
}
