/* Float conversions (exhaustive), dequantizers against independent decoders, quantizers
   byte-exact against the reference files, the ternarizer, and error cases. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static uint32_t rng_state = 12345;
static uint32_t rng(void) {                      /* xorshift32 */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 17; rng_state ^= rng_state << 5;
    return rng_state;
}

/* ---- independent float oracles (double arithmetic, no bit tricks shared with the library) ---- */

static double half_value(uint16_t h) {           /* finite halves only */
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return (h & 0x8000) ? -v : v;
}

/* Nearest half of a finite or infinite float, ties to even, by search over the half grid. */
static uint16_t half_oracle(float f) {
    double a = fabs((double)f);
    uint16_t sign = (uint16_t)(f2u(f) >> 16 & 0x8000), lo = 0, hi = 0x7bff;
    if (isinf(f) || a >= 65520.0) return sign | 0x7c00;
    if (a >= 65504.0) return sign | 0x7bff;
    while (hi - lo > 1) {                        /* invariant: value(lo) <= a < value(hi) */
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (half_value(mid) <= a) lo = mid; else hi = mid;
    }
    if (half_value(hi) <= a) lo = hi;
    hi = (uint16_t)(lo + 1);
    {
        double dl = a - half_value(lo), dh = half_value(hi) - a;
        uint16_t pick = dl < dh ? lo : dh < dl ? hi : (lo & 1) ? hi : lo;
        return sign | pick;
    }
}

static uint16_t bf16_oracle(float f) {
    uint32_t u = f2u(f), mag = u & 0x7fffffff;
    double a = fabs((double)f), dl, dh, vl, vh;
    uint32_t lo = mag & 0xffff0000u;
    if (isnan(f)) return (uint16_t)((u >> 16) | 0x40);
    if (isinf(f)) return (uint16_t)(u >> 16);
    vl = fabs((double)u2f(lo));
    vh = lo + 0x10000u == 0x7f800000u ? ldexp(1.0, 128) : fabs((double)u2f(lo + 0x10000u));
    dl = a - vl; dh = vh - a;
    if (dh < dl || (dh == dl && (lo >> 16 & 1))) lo += 0x10000u;
    return (uint16_t)(((u & 0x80000000u) | lo) >> 16);
}

/* ---- conversions ---- */

static void test_fp16_to_fp32_exhaustive(void) {
    static uint16_t h[65536];
    static float out[65536], sc[65536];
    uint32_t i, bad_val = 0, bad_scalar = 0, bad_nan = 0, bad_trip = 0;
    for (i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    bitnet_fp16_to_fp32_row(h, out, 65536);
    bn_fp16_to_fp32_scalar(h, sc, 65536);
    for (i = 0; i < 65536; i++) {
        int e = (i >> 10) & 0x1f, m = i & 0x3ff;
        if (f2u(out[i]) != f2u(sc[i])) bad_scalar++;
        if (e == 31 && m) {                      /* NaN: quiet, sign and top payload kept */
            uint32_t u = f2u(out[i]);
            if (!isnan(out[i]) || !(u & 0x400000) || (u >> 31) != (i >> 15) ||
                ((u >> 13) & 0x1ff) != (i & 0x1ff)) bad_nan++;
            continue;
        }
        if (e == 31 ? !(isinf(out[i]) && (out[i] < 0) == (i >> 15))
                    : ((double)out[i] != half_value((uint16_t)i) || !!signbit(out[i]) != (int)(i >> 15)))
            bad_val++;
    }
    CHECKF(bad_val == 0, "%u halves decode to the wrong float", bad_val);
    CHECKF(bad_scalar == 0, "%u halves differ between the vector and scalar paths", bad_scalar);
    CHECKF(bad_nan == 0, "%u NaN halves decode wrong", bad_nan);
    /* round trip: every half, NaN included, comes back unchanged except a quieted sNaN */
    {
        static uint16_t back[65536];
        bitnet_fp32_to_fp16_row(out, back, 65536);
        for (i = 0; i < 65536; i++) {
            uint16_t want = (uint16_t)i;
            if ((i & 0x7c00) == 0x7c00 && (i & 0x3ff)) want |= 0x200;
            if (back[i] != want) bad_trip++;
        }
        CHECKF(bad_trip == 0, "%u halves do not survive fp16->fp32->fp16", bad_trip);
    }
}

static void test_bf16_exhaustive(void) {
    static uint16_t b[65536], back[65536];
    static float out[65536];
    uint32_t i, bad = 0, bad_trip = 0;
    for (i = 0; i < 65536; i++) b[i] = (uint16_t)i;
    bitnet_bf16_to_fp32_row(b, out, 65536);
    bitnet_fp32_to_bf16_row(out, back, 65536);
    for (i = 0; i < 65536; i++) {
        uint16_t want = (uint16_t)i;
        if (f2u(out[i]) != i << 16) bad++;
        if ((i & 0x7f80) == 0x7f80 && (i & 0x7f)) want |= 0x40;
        if (back[i] != want) bad_trip++;
    }
    CHECKF(bad == 0, "%u bf16 values decode wrong", bad);
    CHECKF(bad_trip == 0, "%u bf16 values do not survive the round trip", bad_trip);
}

/* Floats around every half: the value, the exact midpoint to the next half, and one float
   ulp either side of the midpoint, both signs; then random bit patterns. */
static size_t tricky_floats(float *out, size_t cap) {
    size_t n = 0;
    uint32_t h;
    for (h = 0; h < 0x7c00 && n + 8 <= cap; h++) {
        double mid = (half_value((uint16_t)h) + (h == 0x7bff ? 65536.0 : half_value((uint16_t)(h + 1)))) / 2;
        float fm = (float)mid, v[4];
        int k;
        v[0] = (float)half_value((uint16_t)h);
        v[1] = fm;
        v[2] = u2f(f2u(fm) + 1);
        v[3] = fm > 0 ? u2f(f2u(fm) - 1) : fm;
        for (k = 0; k < 4; k++) { out[n++] = v[k]; out[n++] = -v[k]; }
    }
    while (n < cap) out[n++] = u2f(rng());
    return n;
}

static void test_fp32_to_fp16_tricky(void) {
    enum { N = 400000 };
    static float f[N];
    static uint16_t got[N], sc[N];
    size_t i, n = tricky_floats(f, N), bad = 0, bad_scalar = 0;
    f[n - 1] = INFINITY; f[n - 2] = -INFINITY; f[n - 3] = FLT_MAX; f[n - 4] = 1e-45f;
    f[n - 5] = u2f(0x7fa00001u);                 /* a signalling NaN */
    bitnet_fp32_to_fp16_row(f, got, n);
    bn_fp32_to_fp16_scalar(f, sc, n);
    for (i = 0; i < n; i++) {
        if (got[i] != sc[i]) bad_scalar++;
        if (isnan(f[i])) {
            uint32_t u = f2u(f[i]);
            uint16_t want = (uint16_t)((u >> 16 & 0x8000) | 0x7e00 | (u >> 13 & 0x3ff));
            if (got[i] != want) bad++;
        } else if (got[i] != half_oracle(f[i])) {
            if (bad++ < 5) fprintf(stderr, "fp16(%a) = %04x, want %04x\n", f[i], got[i], half_oracle(f[i]));
        }
    }
    CHECKF(bad == 0, "%zu floats round to the wrong half", bad);
    CHECKF(bad_scalar == 0, "%zu floats differ between vector and scalar", bad_scalar);
    /* named cases: RNE ties, overflow, subnormal ties */
    {
        float cases[] = { 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 65504.0f, 65519.99f, 65520.0f, 1e6f,
                          0x1p-25f, 0x3p-25f, 0x1p-26f, 0x1.000002p-25f, 0x1p-14f, -0.0f };
        uint16_t want[] = { 0x3c00, 0x3c02, 0x7bff, 0x7bff, 0x7c00, 0x7c00,
                            0x0000, 0x0002, 0x0000, 0x0001, 0x0400, 0x8000 };
        uint16_t out[12];
        bitnet_fp32_to_fp16_row(cases, out, 12);
        for (i = 0; i < 12; i++) CHECKF(out[i] == want[i], "fp16(%a) = %04x, want %04x", cases[i], out[i], want[i]);
    }
}

static void test_fp32_to_bf16_tricky(void) {
    enum { N = 300000 };
    static float f[N];
    static uint16_t got[N], sc[N];
    size_t i, n = N, bad = 0, bad_scalar = 0;
    for (i = 0; i < n; i++) {
        uint32_t u = rng();
        if (i % 4 == 1) u = (u & 0xffff0000u) | 0x8000;          /* exact ties */
        if (i % 4 == 2) u = (u & 0x807fffffu) | (rng() & 1 ? 0x7f800000u : 0);   /* NaN/Inf/subnormal */
        f[i] = u2f(u);
    }
    f[0] = FLT_MAX; f[1] = -FLT_MAX; f[2] = u2f(0x7f7f8000u); f[3] = u2f(0x7f7f7fffu);
    bitnet_fp32_to_bf16_row(f, got, n);
    bn_fp32_to_bf16_scalar(f, sc, n);
    for (i = 0; i < n; i++) {
        if (got[i] != sc[i]) bad_scalar++;
        if (got[i] != bf16_oracle(f[i]) && bad++ < 5)
            fprintf(stderr, "bf16(%08x) = %04x, want %04x\n", f2u(f[i]), got[i], bf16_oracle(f[i]));
    }
    CHECKF(bad == 0, "%zu floats round to the wrong bf16", bad);
    CHECKF(bad_scalar == 0, "%zu floats differ between vector and scalar", bad_scalar);
    CHECK(got[2] == 0x7f80 && got[3] == 0x7f7f);                /* overflow by rounding -> inf */
}

/* Every vector path this CPU has, called directly, against scalar at odd lengths and offsets. */
typedef size_t (*h2f_fn)(const uint16_t *, float *, size_t);
typedef size_t (*f2h_fn)(const float *, uint16_t *, size_t);

static void test_paths_odd(void) {
    enum { N = 1100 };
    static uint16_t hs[N + 1];
    static float fs[N + 1], a[N + 1], b[N + 1];
    static uint16_t ha[N + 1], hb[N + 1];
    size_t len, off, bad = 0;
    int k;
    for (k = 0; k < N + 1; k++) { hs[k] = (uint16_t)rng(); fs[k] = u2f(rng() % 3 ? rng() : rng() & 0x807fffffu); }
    for (off = 0; off < 2; off++)
        for (len = 0; len < N; len = len < 70 ? len + 1 : len * 2 + 1) {
            /* public dispatchers against scalar */
            bitnet_fp16_to_fp32_row(hs + off, a + off, len); bn_fp16_to_fp32_scalar(hs + off, b + off, len);
            bad += memcmp(a + off, b + off, len * 4) != 0;
            bitnet_bf16_to_fp32_row(hs + off, a + off, len); bn_bf16_to_fp32_scalar(hs + off, b + off, len);
            bad += memcmp(a + off, b + off, len * 4) != 0;
            bitnet_fp32_to_fp16_row(fs + off, ha + off, len); bn_fp32_to_fp16_scalar(fs + off, hb + off, len);
            bad += memcmp(ha + off, hb + off, len * 2) != 0;
            bitnet_fp32_to_bf16_row(fs + off, ha + off, len); bn_fp32_to_bf16_scalar(fs + off, hb + off, len);
            bad += memcmp(ha + off, hb + off, len * 2) != 0;
#if BN__QUANT_X86
            {
                uint32_t f = bitnet_cpu_features();
                struct { int ok; h2f_fn fn; void (*ref)(const uint16_t *, float *, size_t); } up[] = {
                    { !!(f & BITNET_CPU_F16C), bn_fp16_to_fp32_f16c, bn_fp16_to_fp32_scalar },
                    { !!(f & BITNET_CPU_AVX512F), bn_fp16_to_fp32_avx512, bn_fp16_to_fp32_scalar },
                    { !!(f & BITNET_CPU_AVX2), bn_bf16_to_fp32_avx2, bn_bf16_to_fp32_scalar },
                    { !!(f & BITNET_CPU_AVX512F), bn_bf16_to_fp32_avx512, bn_bf16_to_fp32_scalar } };
                struct { int ok; f2h_fn fn; void (*ref)(const float *, uint16_t *, size_t); } down[] = {
                    { !!(f & BITNET_CPU_F16C), bn_fp32_to_fp16_f16c, bn_fp32_to_fp16_scalar },
                    { !!(f & BITNET_CPU_AVX512F), bn_fp32_to_fp16_avx512, bn_fp32_to_fp16_scalar },
                    { !!(f & BITNET_CPU_AVX2), bn_fp32_to_bf16_avx2, bn_fp32_to_bf16_scalar },
                    { !!(f & BITNET_CPU_AVX512F), bn_fp32_to_bf16_avx512, bn_fp32_to_bf16_scalar } };
                for (k = 0; k < 4; k++) {
                    size_t done;
                    if (up[k].ok) {
                        done = up[k].fn(hs + off, a + off, len);
                        up[k].ref(hs + off + done, a + off + done, len - done);
                        up[k].ref(hs + off, b + off, len);
                        bad += done > len || memcmp(a + off, b + off, len * 4) != 0;
                    }
                    if (down[k].ok) {
                        done = down[k].fn(fs + off, ha + off, len);
                        down[k].ref(fs + off + done, ha + off + done, len - done);
                        down[k].ref(fs + off, hb + off, len);
                        bad += done > len || memcmp(ha + off, hb + off, len * 2) != 0;
                    }
                }
            }
#elif BN__ARM64
            {
                h2f_fn up[2] = { bn_fp16_to_fp32_neon, bn_bf16_to_fp32_neon };
                f2h_fn down[2] = { bn_fp32_to_fp16_neon, bn_fp32_to_bf16_neon };
                void (*up_ref[2])(const uint16_t *, float *, size_t) = { bn_fp16_to_fp32_scalar, bn_bf16_to_fp32_scalar };
                void (*down_ref[2])(const float *, uint16_t *, size_t) = { bn_fp32_to_fp16_scalar, bn_fp32_to_bf16_scalar };
                for (k = 0; k < 2; k++) {
                    size_t done = up[k](hs + off, a + off, len);
                    up_ref[k](hs + off + done, a + off + done, len - done);
                    up_ref[k](hs + off, b + off, len);
                    bad += done > len || memcmp(a + off, b + off, len * 4) != 0;
                    done = down[k](fs + off, ha + off, len);
                    down_ref[k](fs + off + done, ha + off + done, len - done);
                    down_ref[k](fs + off, hb + off, len);
                    bad += done > len || memcmp(ha + off, hb + off, len * 2) != 0;
                }
            }
#endif
        }
    CHECKF(bad == 0, "%zu vector/scalar mismatches at odd lengths or offsets", bad);
}

/* ---- dequantizers against per-element decoders written from FORMATS.md ---- */

static void put_f16(unsigned char *p, float v) { uint16_t h = half_oracle(v); p[0] = (unsigned char)h; p[1] = (unsigned char)(h >> 8); }
static float get_f16(const unsigned char *p) { return (float)half_value((uint16_t)(p[0] | p[1] << 8)); }

static float q8_0_elem(const unsigned char *x, uint64_t e) {
    const unsigned char *b = x + e / 32 * 34;
    return get_f16(b) * (float)(signed char)b[2 + e % 32];
}

static float q6_k_elem(const unsigned char *x, uint64_t e) {
    const unsigned char *b = x + e / 256 * 210;
    int r = (int)(e % 256), half = r / 128, l = r % 32, grp = r % 128 / 32;
    int lo = b[half * 64 + l + (grp & 1) * 32];
    int q = ((grp >= 2 ? lo >> 4 : lo & 15) | ((b[128 + half * 32 + l] >> (2 * grp) & 3) << 4)) - 32;
    return get_f16(b + 208) * (float)(signed char)b[192 + half * 8 + l / 16 + 2 * grp] * (float)q;
}

static float tq2_0_elem(const unsigned char *x, uint64_t e) {
    const unsigned char *b = x + e / 256 * 66;
    int r = (int)(e % 256);
    return (float)((b[r / 128 * 32 + r % 32] >> (2 * (r % 128 / 32)) & 3) - 1) * get_f16(b + 64);
}

/* TQ1_0: the byte holds ceil(v*256/243) of a 5-trit number v; floor(byte*243/256) gives v back. */
static float tq1_0_elem(const unsigned char *x, uint64_t e) {
    const unsigned char *b = x + e / 256 * 54;
    int r = (int)(e % 256), byte, digit, v, k;
    if (r < 160) { byte = r % 32; digit = r / 32; }
    else if (r < 240) { byte = 32 + (r - 160) % 16; digit = (r - 160) / 16; }
    else { byte = 48 + (r - 240) % 4; digit = (r - 240) / 4; }
    v = b[byte] * 243 / 256;
    for (k = 0; k < 4 - digit; k++) v /= 3;
    return (float)(v % 3 - 1) * get_f16(b + 52);
}

static float i2_s_elem(const unsigned char *x, uint64_t e, uint64_t n) {
    float alpha;
    int c = x[e / 128 * 32 + e % 32] >> (6 - 2 * (int)(e % 128 / 32)) & 3;
    memcpy(&alpha, x + n / 4, 4);
    return (float)(c - 1) * alpha;
}

/* 5 random trits packed the TQ1_0 way (a valid byte). */
static unsigned char tq1_random_byte(void) {
    int v = (int)(rng() % 243);
    return (unsigned char)((v * 256 + 242) / 243);
}

static void test_dequant_types(void) {
    enum { R = 3, C = 512, N = R * C };
    static unsigned char x[N * 4 + 64 + 1];
    static float y[N];
    uint64_t e, size, bad;
    int t, off;
    struct { bitnet_type type; uint64_t bytes; float (*elem)(const unsigned char *, uint64_t); } types[] = {
        { BITNET_TYPE_Q8_0, N / 32 * 34, q8_0_elem }, { BITNET_TYPE_Q6_K, N / 256 * 210, q6_k_elem },
        { BITNET_TYPE_TQ2_0, N / 256 * 66, tq2_0_elem }, { BITNET_TYPE_TQ1_0, N / 256 * 54, tq1_0_elem } };
    for (off = 0; off < 2; off++)                                /* aligned and odd source */
        for (t = 0; t < 4; t++) {
            unsigned char *p = x + off;
            size = types[t].bytes;
            for (e = 0; e < size; e++) p[e] = (unsigned char)rng();
            if (types[t].type == BITNET_TYPE_TQ1_0)
                for (e = 0; e < size; e++) if (e % 54 < 52) p[e] = tq1_random_byte();
            for (e = 0; e < size; e++) {                         /* finite scales */
                uint64_t bs = types[t].type == BITNET_TYPE_Q8_0 ? 34 : types[t].bytes / (N / 256);
                if (e % bs == bs - 2 || (types[t].type == BITNET_TYPE_Q8_0 && e % 34 == 0))
                    put_f16(p + e, (float)(rng() % 1000) / 4096.0f);
            }
            CHECK(bitnet_dequantize(types[t].type, p, size, R, C, y) == BITNET_OK);
            for (bad = 0, e = 0; e < N; e++) bad += y[e] != types[t].elem(p, e);
            CHECKF(bad == 0, "%s: %llu elements decode differently (offset %d)",
                   bitnet_type_name(types[t].type), (unsigned long long)bad, off);
        }
    /* I2_S: codes 0..2 only, alpha in the tail */
    for (off = 0; off < 2; off++) {
        unsigned char *p = x + off;
        float alpha = 0.0723f;
        for (e = 0; e < N / 4; e++) {
            int k, b = 0;
            for (k = 0; k < 4; k++) b = b << 2 | (int)(rng() % 3);
            p[e] = (unsigned char)b;
        }
        memcpy(p + N / 4, &alpha, 4);
        memset(p + N / 4 + 4, 0xee, 28);
        CHECK(bitnet_dequantize(BITNET_TYPE_I2_S, p, N / 4 + 32, R, C, y) == BITNET_OK);
        for (bad = 0, e = 0; e < N; e++) bad += y[e] != i2_s_elem(p, e, N);
        CHECKF(bad == 0, "I2_S: %llu elements decode differently", (unsigned long long)bad);
    }
    /* F32 / F16 / BF16 from odd addresses */
    {
        float f[5] = { 1.5f, -2.0f, 0.0f, 65504.0f, 1e-7f }, out[5];
        uint16_t h[5] = { 0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00 }, bf[5] = { 0x3f80, 0xbf80, 0x0001, 0x7f80, 0x4049 };
        memcpy(x + 1, f, sizeof f);
        CHECK(bitnet_dequantize(BITNET_TYPE_F32, x + 1, 20, 1, 5, out) == BITNET_OK && !memcmp(out, f, 20));
        memcpy(x + 1, h, sizeof h);
        CHECK(bitnet_dequantize(BITNET_TYPE_F16, x + 1, 10, 5, 1, out) == BITNET_OK);
        CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 0x1p-24f && out[3] == 65504.0f && isinf(out[4]));
        memcpy(x + 1, bf, sizeof bf);
        CHECK(bitnet_dequantize(BITNET_TYPE_BF16, x + 1, 10, 1, 5, out) == BITNET_OK);
        CHECK(out[0] == 1.0f && out[1] == -1.0f && f2u(out[2]) == 0x10000u && isinf(out[3]) && out[4] == 3.140625f);
    }
}

/* ---- quantizers on hand-checked values ---- */

static void test_quant_known(void) {
    float x[256];
    unsigned char q[400];
    float back[256];
    int i, bad = 0;
    /* Q8_0: amax 127 -> d = 1, roundf ties away from zero */
    for (i = 0; i < 32; i++) x[i] = (float)(i - 16) + 0.5f;
    x[31] = 127.0f;
    CHECK(bitnet_quantize(BITNET_TYPE_Q8_0, x, 1, 32, q, 34) == BITNET_OK);
    CHECK(q[0] == 0x00 && q[1] == 0x3c);                        /* d = 1.0 */
    CHECK((signed char)q[2] == -16 && (signed char)q[2 + 16] == 1 && (signed char)q[2 + 15] == -1 && q[2 + 31] == 127);
    /* Q8_0 all zero: d = 0, q = 0 */
    memset(x, 0, sizeof x);
    CHECK(bitnet_quantize(BITNET_TYPE_Q8_0, x, 1, 32, q, 34) == BITNET_OK && q[0] == 0 && q[1] == 0 && q[5] == 0);
    /* TQ2_0 / TQ1_0 / I2_S of ternary input decode back exactly */
    for (i = 0; i < 256; i++) x[i] = (float)((int)(rng() % 3) - 1) * 0.0625f;
    CHECK(bitnet_quantize(BITNET_TYPE_TQ2_0, x, 1, 256, q, 66) == BITNET_OK);
    CHECK(bitnet_dequantize(BITNET_TYPE_TQ2_0, q, 66, 1, 256, back) == BITNET_OK);
    for (i = 0; i < 256; i++) bad += back[i] != x[i];
    CHECK(get_f16(q + 64) == 0.0625f);
    CHECK(bitnet_quantize(BITNET_TYPE_TQ1_0, x, 1, 256, q, 54) == BITNET_OK);
    CHECK(bitnet_dequantize(BITNET_TYPE_TQ1_0, q, 54, 1, 256, back) == BITNET_OK);
    for (i = 0; i < 256; i++) bad += back[i] != x[i] || tq1_0_elem(q, (uint64_t)i) != x[i];
    CHECK(bitnet_quantize(BITNET_TYPE_I2_S, x, 2, 128, q, 96) == BITNET_OK);
    CHECK(bitnet_dequantize(BITNET_TYPE_I2_S, q, 96, 2, 128, back) == BITNET_OK);
    for (i = 0; i < 256; i++) bad += back[i] != x[i];
    for (i = 68; i < 96; i++) bad += q[i] != 0;                 /* zero padding after alpha */
    CHECKF(bad == 0, "%d ternary values do not survive quantize + dequantize", bad);
    /* I2_S by hand: element p of a 128-block sits in byte p%32 at shift 6-2*(p/32) */
    memset(x, 0, sizeof x);
    x[0] = 0.5f; x[32] = -0.25f; x[97] = 5e-7f;
    x[31] = 1e-6f; x[63] = 1.1e-6f; x[127] = -2e-6f;           /* (float)1e-6 is below the 1e-6 threshold */
    CHECK(bitnet_quantize(BITNET_TYPE_I2_S, x, 1, 128, q, 64) == BITNET_OK);
    CHECK(q[0] == (2 << 6 | 0 << 4 | 1 << 2 | 1) && q[1] == 0x55 && q[31] == (1 << 6 | 2 << 4 | 1 << 2 | 0));
    { float a; memcpy(&a, q + 32, 4); CHECK(a == 0.5f); }
    /* TQ: lroundf ties away from zero: x/d = 0.5 -> trit 2 */
    for (i = 0; i < 256; i++) x[i] = 0.0f;
    x[0] = 1.0f; x[1] = 0.5f; x[2] = -0.5f; x[3] = 0.49f;
    CHECK(bitnet_quantize(BITNET_TYPE_TQ2_0, x, 1, 256, q, 66) == BITNET_OK);
    CHECK(bitnet_dequantize(BITNET_TYPE_TQ2_0, q, 66, 1, 256, back) == BITNET_OK);
    CHECK(back[0] == 1.0f && back[1] == 1.0f && back[2] == -1.0f && back[3] == 0.0f);
    /* F16 / BF16 quantize to an odd address */
    {
        float f[3] = { 1.0f, -0.5f, 65520.0f };
        unsigned char *p = q + 1;
        CHECK(bitnet_quantize(BITNET_TYPE_F16, f, 1, 3, p, 6) == BITNET_OK);
        CHECK(p[0] == 0x00 && p[1] == 0x3c && p[2] == 0x00 && p[3] == 0xb8 && p[4] == 0x00 && p[5] == 0x7c);
        CHECK(bitnet_quantize(BITNET_TYPE_BF16, f, 3, 1, p, 6) == BITNET_OK);
        CHECK(p[0] == 0x80 && p[1] == 0x3f && p[2] == 0x00 && p[3] == 0xbf);
    }
}

/* ---- ternarizer ---- */

static void test_ternarize(void) {
    enum { N = 1000 };
    static float w[N];
    static uint16_t h[N], b[N];
    static int8_t codes[N], want[N];
    float alpha = 0;
    int i, bad = 0;
    double sum = 0;
    /* already ternary: alpha = the magnitude (not the absmean), codes = signs, in all 3 types */
    for (i = 0; i < N; i++) { want[i] = (int8_t)((int)(rng() % 3) - 1); w[i] = want[i] * 0.072265625f; }
    bitnet_fp32_to_fp16_row(w, h, N);
    bitnet_fp32_to_bf16_row(w, b, N);
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, N, codes, &alpha) == BITNET_OK && alpha == 0.072265625f);
    CHECK(!memcmp(codes, want, N));
    memset(codes, 9, N);
    CHECK(bitnet_ternarize(BITNET_TYPE_F16, h, N, codes, &alpha) == BITNET_OK && alpha == 0.072265625f);
    CHECK(!memcmp(codes, want, N));
    memset(codes, 9, N);
    CHECK(bitnet_ternarize(BITNET_TYPE_BF16, (unsigned char *)b, N, codes, &alpha) == BITNET_OK);
    CHECK(alpha == 0.072265625f);                               /* bf16-exact too */
    CHECK(!memcmp(codes, want, N));
    /* master weights: absmean, round half to even, clamp */
    for (i = 0; i < N; i++) w[i] = ((float)(int)(rng() % 2001) - 1000.0f) / 1000.0f;
    w[0] = 3.0f;
    for (i = 0; i < N; i++) sum += fabs(w[i]);
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, N, codes, &alpha) == BITNET_OK);
    CHECKF(alpha == (float)(sum / N), "absmean alpha %g, want %g", alpha, sum / N);
    for (i = 0; i < N; i++) {
        float r = w[i] / alpha;
        int c = r > 1.5f ? 1 : r < -1.5f ? -1 : r > 0.5f ? 1 : r < -0.5f ? -1 : 0;
        if (r == 0.5f || r == -0.5f) c = 0;                      /* ties go to even (0) */
        bad += codes[i] != c;
    }
    CHECKF(bad == 0, "%d master-weight codes wrong", bad);
    /* two magnitudes, the larger one later: not ternary, so absmean 0.75 */
    w[0] = 0.5f; w[1] = 0.0f; w[2] = 2.0f; w[3] = -0.5f;
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, 4, codes, &alpha) == BITNET_OK && alpha == 0.75f);
    CHECK(codes[0] == 1 && codes[1] == 0 && codes[2] == 1 && codes[3] == -1);
    /* all zero: clamped alpha, zero codes; unaligned F16 source */
    memset(h, 0, sizeof h);
    CHECK(bitnet_ternarize(BITNET_TYPE_F16, (unsigned char *)h + 1, 10, codes, &alpha) == BITNET_OK);
    CHECK(alpha == 1e-5f && codes[0] == 0 && codes[9] == 0);
    /* tiny magnitudes: absmean below 1e-5 clamps */
    for (i = 0; i < 4; i++) w[i] = i % 2 ? 1e-6f : -3e-6f;
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, 4, codes, &alpha) == BITNET_OK && alpha == 1e-5f && codes[1] == 0);
    /* errors */
    w[7] = NAN;
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, 10, codes, &alpha) == BITNET_ERR_FORMAT);
    CHECK(strstr(bitnet_last_error(), "weight 7") != NULL);
    CHECK(bitnet_ternarize(BITNET_TYPE_Q8_0, w, 32, codes, &alpha) == BITNET_ERR_UNSUPPORTED);
    CHECK(bitnet_ternarize(BITNET_TYPE_F32, w, 4, codes, NULL) == BITNET_ERR_ARGS);
}

/* ---- Q6_K: the library's own quantizer, checked by its round trip ---- */

static void test_q6_k_round_trip(void) {
    enum { ROWS = 3, COLS = 512, N = ROWS * COLS };
    static float x[N], y[N], y8[N];
    static unsigned char q[ROWS * COLS / 256 * 210 + 1], q8[ROWS * COLS / 32 * 34];
    double err6 = 0, err8 = 0, sig = 0, worst = 0;
    uint32_t seed = 7;
    int i;
    for (i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * (i % 97 == 0 ? 8.0f : 1.0f);  /* a few outliers */
    }
    for (i = 0; i < 16; i++) x[256 + i] = 0;                   /* an all-zero sub-block */
    for (i = 0; i < 256; i++) x[1024 + i] = 0;                 /* an all-zero block */
    CHECK(bitnet_quantize(BITNET_TYPE_Q6_K, x, ROWS, COLS, q + 1, sizeof q - 1) == BITNET_OK);  /* unaligned */
    CHECK(bitnet_dequantize(BITNET_TYPE_Q6_K, q + 1, sizeof q - 1, ROWS, COLS, y) == BITNET_OK);
    CHECK(bitnet_quantize(BITNET_TYPE_Q8_0, x, ROWS, COLS, q8, sizeof q8) == BITNET_OK);
    CHECK(bitnet_dequantize(BITNET_TYPE_Q8_0, q8, sizeof q8, ROWS, COLS, y8) == BITNET_OK);
    for (i = 0; i < N; i++) {
        double e = fabs((double)x[i] - y[i]);
        err6 += e * e;
        err8 += ((double)x[i] - y8[i]) * ((double)x[i] - y8[i]);
        sig += (double)x[i] * x[i];
        /* no value is off by more than one step of its sub-block's scale (max|x| / 31) */
        {
            float amax = 0;
            int j, b = i / 16 * 16;
            for (j = 0; j < 16; j++) amax = fabsf(x[b + j]) > amax ? fabsf(x[b + j]) : amax;
            if (e > worst * amax / 31 && amax > 0) worst = e / (amax / 31);
        }
    }
    CHECKF(worst <= 1.0, "worst error %.3f steps", worst);
    CHECKF(sqrt(err6 / sig) < 0.03, "Q6_K relative RMS error %.4f", sqrt(err6 / sig));
    CHECKF(err6 < err8 * 12, "Q6_K error %.3g vs Q8_0 %.3g", err6, err8);   /* 2 bits fewer: 16x at one block size */
    for (i = 1024; i < 1280; i++) CHECK(y[i] == 0);
    for (i = 256; i < 272; i++) CHECK(y[i] == 0);
    x[5] = NAN;
    CHECK(bitnet_quantize(BITNET_TYPE_Q6_K, x, ROWS, COLS, q, sizeof q) == BITNET_ERR_ARGS);
}

/* ---- error cases ---- */

static void test_errors(void) {
    static float x[512], y[512];
    static unsigned char q[2048];
    CHECK(bitnet_dequantize((bitnet_type)99, q, sizeof q, 1, 32, y) == BITNET_ERR_UNSUPPORTED);
    CHECK(strstr(bitnet_last_error(), "99") != NULL);
    CHECK(bitnet_dequantize(BITNET_TYPE_Q4_K, q, sizeof q, 1, 256, y) == BITNET_ERR_UNSUPPORTED);
    CHECK(bitnet_dequantize(BITNET_TYPE_TL2, q, sizeof q, 1, 256, y) == BITNET_ERR_UNSUPPORTED);
    CHECK(bitnet_quantize(BITNET_TYPE_Q4_0, x, 1, 32, q, sizeof q) == BITNET_ERR_UNSUPPORTED);
    CHECK(bitnet_quantize(BITNET_TYPE_Q6_K, x, 1, 128, q, sizeof q) == BITNET_ERR_FORMAT);
    CHECK(bitnet_quantize(BITNET_TYPE_Q6_K, x, 2, 256, q, 419) == BITNET_ERR_ARGS);
    /* shapes that do not fit the blocks */
    CHECK(bitnet_dequantize(BITNET_TYPE_I2_S, q, sizeof q, 2, 192, y) == BITNET_ERR_FORMAT);
    CHECK(strstr(bitnet_last_error(), "multiple of 128") && strstr(bitnet_last_error(), "192"));
    CHECK(bitnet_quantize(BITNET_TYPE_I2_S, x, 1, 64, q, sizeof q) == BITNET_ERR_FORMAT);
    CHECK(bitnet_quantize(BITNET_TYPE_Q8_0, x, 1, 48, q, sizeof q) == BITNET_ERR_FORMAT);
    CHECK(bitnet_dequantize(BITNET_TYPE_TQ2_0, q, sizeof q, 2, 128, y) == BITNET_ERR_FORMAT);
    /* sizes */
    CHECK(bitnet_dequantize(BITNET_TYPE_I2_S, q, 2 * 128 / 4 + 31, 2, 128, y) == BITNET_ERR_FORMAT);
    CHECK(strstr(bitnet_last_error(), "needs 96 bytes, got 95") != NULL);
    CHECK(bitnet_dequantize(BITNET_TYPE_Q8_0, q, 67, 2, 32, y) == BITNET_ERR_FORMAT);
    CHECK(bitnet_dequantize(BITNET_TYPE_F16, q, 7, 1, 4, y) == BITNET_ERR_FORMAT);
    CHECK(bitnet_quantize(BITNET_TYPE_TQ1_0, x, 2, 256, q, 107) == BITNET_ERR_ARGS);
    CHECK(bitnet_quantize(BITNET_TYPE_F32, x, 1, 4, q, 15) == BITNET_ERR_ARGS);
    CHECK(bitnet_dequantize(BITNET_TYPE_F32, q, sizeof q, (uint64_t)1 << 40, (uint64_t)1 << 40, y) == BITNET_ERR_FORMAT);
    /* an I2_S code 3 is not valid */
    memset(q, 0x55, 32); q[5] = 0x57;
    memset(q + 32, 0, 32);
    y[0] = 42.0f;
    CHECK(bitnet_dequantize(BITNET_TYPE_I2_S, q, 64, 1, 128, y) == BITNET_ERR_FORMAT);
    CHECK(strstr(bitnet_last_error(), "element 101") != NULL);
    CHECK(y[0] == 42.0f);                                        /* dst untouched on failure */
    /* non-finite input to quantized types */
    memset(x, 0, sizeof x);
    x[40] = INFINITY;
    CHECK(bitnet_quantize(BITNET_TYPE_TQ2_0, x, 1, 256, q, sizeof q) == BITNET_ERR_ARGS);
    CHECK(strstr(bitnet_last_error(), "element 40 is Inf") != NULL);
    x[40] = NAN;
    CHECK(bitnet_quantize(BITNET_TYPE_I2_S, x, 1, 128, q, sizeof q) == BITNET_ERR_ARGS);
    CHECK(bitnet_quantize(BITNET_TYPE_F16, x, 1, 128, q, sizeof q) == BITNET_OK);   /* floats keep NaN */
    /* empty tensors are fine */
    CHECK(bitnet_dequantize(BITNET_TYPE_Q8_0, NULL, 0, 0, 32, y) == BITNET_OK);
    CHECK(bitnet_quantize(BITNET_TYPE_F16, NULL, 0, 8, q, 0) == BITNET_OK);
}

/* ---- the shared reference files ---- */

static bitnet_gguf *open_shared(const char *rel) {
    bitnet_gguf *g = NULL;
    bitnet_status st = bitnet_gguf_open(&g, check_shared(rel), NULL);
    CHECKF(st == BITNET_OK, "cannot open %s: %s", check_shared(rel), bitnet_last_error());
    return st == BITNET_OK ? g : NULL;
}

static void rows_cols(const bitnet_gguf_tensor *t, uint64_t *rows, uint64_t *cols) {
    *cols = t->ne[0];
    *rows = t->ne[0] ? t->n_elements / t->ne[0] : 0;
}

/* Every tensor of `ref_file`, re-quantized from the same tensor of `float_file` (F32/F16, or
   the reference itself), must come out byte for byte; decoding the reference must give the
   float file's values exactly. I2_S: the 28 padding bytes after alpha hold uninitialised
   memory in bitnet.cpp's output, so only codes + alpha are compared. */
static void check_family(const char *float_file, const char *ref_file) {
    bitnet_gguf *src = open_shared(float_file), *ref = open_shared(ref_file);
    int64_t i, n_bytes_bad = 0, n_values_bad = 0, n_missing = 0, n = 0;
    if (!src || !ref) goto done;
    for (i = 0; i < bitnet_gguf_n_tensors(ref); i++) {
        const bitnet_gguf_tensor *r = bitnet_gguf_tensor_at(ref, i);
        const bitnet_gguf_tensor *t = bitnet_gguf_find_tensor(src, r->name);
        uint64_t rows, cols, cmp;
        float *a, *b;
        unsigned char *q;
        if (!t || t->n_elements != r->n_elements || t->ne[0] != r->ne[0]) { n_missing++; continue; }
        rows_cols(r, &rows, &cols);
        a = (float *)malloc(r->n_elements * 4 + 4);
        b = (float *)malloc(r->n_elements * 4 + 4);
        q = (unsigned char *)malloc(r->size + 1);
        if (bitnet_dequantize(t->type, t->data, t->size, rows, cols, a) != BITNET_OK ||
            bitnet_quantize(r->type, a, rows, cols, q, r->size) != BITNET_OK ||
            bitnet_dequantize(r->type, r->data, r->size, rows, cols, b) != BITNET_OK) {
            fprintf(stderr, "%s: %s: %s\n", ref_file, r->name, bitnet_last_error());
            n_bytes_bad++;
        } else {
            cmp = r->type == BITNET_TYPE_I2_S ? r->size - 28 : r->size;
            if (memcmp(q, r->data, cmp) && n_bytes_bad++ < 3)
                fprintf(stderr, "%s: %s: quantized bytes differ\n", ref_file, r->name);
            if (memcmp(a, b, r->n_elements * 4) && n_values_bad++ < 3)
                fprintf(stderr, "%s: %s: decoded values differ\n", ref_file, r->name);
        }
        n++;
        free(a); free(b); free(q);
    }
    CHECKF(n > 0 && n_missing == 0, "%s: %lld tensors compared, %lld missing in %s", ref_file,
           (long long)n, (long long)n_missing, float_file);
    CHECKF(n_bytes_bad == 0, "%s: %lld tensors quantize differently", ref_file, (long long)n_bytes_bad);
    CHECKF(n_values_bad == 0, "%s: %lld tensors decode differently", ref_file, (long long)n_values_bad);
done:
    bitnet_gguf_close(src);
    bitnet_gguf_close(ref);
}

/* A few alphas from models/alphas.json, as each format stores them. */
static void test_file_alphas(void) {
    struct { const char *file, *tensor; float alpha; } a[] = {
        { "models/tiny-b158-i2_s.gguf", "blk.0.attn_q.weight", 0.072265625f },
        { "models/tiny-b158-i2_s.gguf", "blk.1.ffn_down.weight", 0.0308685302734375f },
        { "models/tiny-2b4t-vocab-i2_s.gguf", "blk.1.ffn_down.weight", 0.020294189453125f },
        { "models/tiny-bitnet-silu-i2_s.gguf", "blk.0.attn_v.weight", 0.022369384765625f },
        { "models/tiny-llama-ternary-tq2_0.gguf", "blk.0.attn_k.weight", 0.09576416015625f },
        { "models/tiny-b158-as-bitnet-silu-tq1_0.gguf", "blk.1.attn_q.weight", 0.08673095703125f },
    };
    size_t k;
    for (k = 0; k < sizeof a / sizeof a[0]; k++) {
        bitnet_gguf *g = open_shared(a[k].file);
        const bitnet_gguf_tensor *t = g ? bitnet_gguf_find_tensor(g, a[k].tensor) : NULL;
        uint64_t rows, cols, i, bad = 0;
        float *w;
        CHECKF(t != NULL, "%s: no %s", a[k].file, a[k].tensor);
        if (!t) { bitnet_gguf_close(g); continue; }
        rows_cols(t, &rows, &cols);
        w = (float *)malloc(t->n_elements * 4);
        CHECK(bitnet_dequantize(t->type, t->data, t->size, rows, cols, w) == BITNET_OK);
        for (i = 0; i < t->n_elements; i++) bad += w[i] != 0 && fabsf(w[i]) != a[k].alpha;
        CHECKF(bad == 0, "%s %s: %llu values are not +-%g", a[k].file, a[k].tensor, (unsigned long long)bad, a[k].alpha);
        if (t->type == BITNET_TYPE_I2_S) CHECK(bn_load_f32((const unsigned char *)t->data + t->n_elements / 4) == a[k].alpha);
        else CHECK(get_f16((const unsigned char *)t->data + (t->type == BITNET_TYPE_TQ2_0 ? 64 : 52)) == a[k].alpha);
        free(w);
        bitnet_gguf_close(g);
    }
}

/* The ternarizer on the stored float weights recovers alpha = max|W| and bitnet.cpp's codes. */
static void test_file_ternarize(void) {
    bitnet_gguf *f16 = open_shared("models/tiny-b158-f16.gguf"), *i2 = open_shared("models/tiny-b158-i2_s.gguf");
    const char *names[] = { "blk.0.attn_q.weight", "blk.1.ffn_down.weight" };
    int k;
    for (k = 0; k < 2 && f16 && i2; k++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_find_tensor(f16, names[k]), *r = bitnet_gguf_find_tensor(i2, names[k]);
        uint64_t rows, cols, i, bad = 0;
        int8_t *codes;
        float *w, alpha = 0;
        if (!t || !r) { CHECK(0); continue; }
        rows_cols(t, &rows, &cols);
        codes = (int8_t *)malloc(t->n_elements);
        w = (float *)malloc(t->n_elements * 4);
        CHECK(bitnet_ternarize(t->type, t->data, t->n_elements, codes, &alpha) == BITNET_OK);
        CHECK(bitnet_dequantize(r->type, r->data, r->size, rows, cols, w) == BITNET_OK);
        CHECK(alpha == bn_load_f32((const unsigned char *)r->data + r->n_elements / 4));
        for (i = 0; i < t->n_elements; i++) bad += (float)codes[i] * alpha != w[i];
        CHECKF(bad == 0, "%s: %llu codes differ from the I2_S file", names[k], (unsigned long long)bad);
        free(codes); free(w);
    }
    bitnet_gguf_close(f16);
    bitnet_gguf_close(i2);
}

static void test_files(void) {
    check_family("models/tiny-b158-f32.gguf", "models/tiny-b158-i2_s.gguf");
    check_family("models/tiny-b158-f32.gguf", "models/tiny-b158-as-bitnet-silu-tq2_0.gguf");
    check_family("models/tiny-b158-f32.gguf", "models/tiny-b158-as-bitnet-silu-tq1_0.gguf");
    check_family("models/tiny-b158-f32.gguf", "models/tiny-b158-f16.gguf");
    check_family("models/tiny-bitnet-silu-f16.gguf", "models/tiny-bitnet-silu-i2_s.gguf");
    check_family("models/tiny-bitnet-silu-f16.gguf", "models/tiny-bitnet-silu-tq2_0.gguf");
    check_family("models/tiny-b158-i2_s.gguf", "models/tiny-b158-as-bitnet-silu-tq1_0.gguf");
    check_family("models/tiny-llama-ternary-tq2_0.gguf", "models/tiny-llama-ternary-tq2_0.gguf");
    check_family("models/tiny-2b4t-vocab-i2_s.gguf", "models/tiny-2b4t-vocab-i2_s.gguf");
    test_file_alphas();
    test_file_ternarize();
}

int main(void) {
    test_fp16_to_fp32_exhaustive();
    test_bf16_exhaustive();
    test_fp32_to_fp16_tricky();
    test_fp32_to_bf16_tricky();
    test_paths_odd();
    test_dequant_types();
    test_quant_known();
    test_ternarize();
    test_q6_k_round_trip();
    test_errors();
    if (check_have_shared()) test_files();
    return check_report("quant");
}
