/* cuda_ref.c - the bitnet.h implementation plus its reference kernels exported for
   tests/test_cuda.cpp (see cuda_ref.h). */
#define BITNET_IMPLEMENTATION
#include "../bitnet.h"
#include "cuda_ref.h"

void ref_quant_i8(const float *x, int64_t k, int8_t *q, float *s) {
    int32_t sum;
    bn_quant_i8_ref(x, k, q, s, &sum);
}

static void *ref_tern_finish(bn_tern *w, bitnet_status st, bitnet_tern_view *view) {
    if (st != BITNET_OK) { free(w); return NULL; }
    memset(view, 0, sizeof *view);
    view->rows = w->rows; view->cols = w->cols; view->kp = w->kp; view->codes = w->codes;
    view->alpha = w->alpha; view->block_scale = w->block_scale;
    return w;
}

void *ref_tern_from_codes(const int8_t *codes, float alpha, int64_t k, int64_t m, bitnet_tern_view *view) {
    bn_tern *w = (bn_tern *)calloc(1, sizeof *w);
    if (!w) return NULL;
    return ref_tern_finish(w, bn_tern_from_codes(w, codes, alpha, k, m, NULL), view);
}

void *ref_tern_from_tq2(const void *data, uint64_t size, int64_t k, int64_t m, bitnet_tern_view *view) {
    bn_tern *w = (bn_tern *)calloc(1, sizeof *w);
    if (!w) return NULL;
    return ref_tern_finish(w, bn_tern_from_tensor(w, 35, data, size, (uint64_t)k, (uint64_t)m, NULL), view);
}

void ref_tern_free(void *w) {
    bn_tern_free((bn_tern *)w);
    free(w);
}

void ref_gemv_tern(const void *wp, const int8_t *q, float s, float *y) {
    const bn_tern *w = (const bn_tern *)wp;
    int32_t sum = 0;
    int64_t i;
    for (i = 0; i < w->kp; i++) sum += q[i];
    bn_gemv_tern_i8_ref(w, q, s, sum, y, 0, w->rows);
}

int ref_gemv_f(int type, const void *data, uint64_t size, int64_t k, int64_t rows, const float *x, float *y) {
    bn_fmat m;
    if (bn_fmat_init(&m, type, data, size, (uint64_t)k, (uint64_t)rows) != BITNET_OK) return 0;
    bn_gemv_f_ref(&m, x, y, 0, rows);
    return 1;
}

void ref_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *out) { bn_rmsnorm_ref(x, w, n, eps, out); }

void ref_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox) {
    bn_rope_ref(x, n_heads, head_dim, n_rot, cs, neox);
}

void ref_attention(const float *q, const void *k, const void *v, int f16, int64_t ld, int64_t n, int64_t d,
                   float *out) {
    float *s = (float *)malloc((size_t)n * sizeof *s);
    if (!s) return;
    bn_attn_scores_ref(q, 1, k, f16, ld, n, d, 1.0f / sqrtf((float)d), s, n);
    bn_softmax_ref(s, n);
    bn_attn_values_ref(out, 1, s, n, v, f16, ld, n, d);
    free(s);
}

void ref_act_mul(const float *g, const float *u, int64_t n, int relu2, float *out) {
    if (relu2) bn_relu2_mul_ref(g, u, n, out);
    else bn_silu_mul_ref(g, u, n, out);
}
