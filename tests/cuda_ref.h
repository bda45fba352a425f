/* cuda_ref.h - the library's reference kernels, exported by tests/cuda_ref.c (which holds the
   bitnet.h implementation) for tests/test_cuda.cpp to compare the CUDA kernels against. */
#ifndef CUDA_REF_H
#define CUDA_REF_H
#include "../bitnet.h"
#ifdef __cplusplus
extern "C" {
#endif
/* bn_quant_i8_ref: q (kp = k rounded up to 128) and s. */
void ref_quant_i8(const float *x, int64_t k, int8_t *q, float *s);
/* A ternary matrix in the CPU's layout: from int8 codes (m, k) and one alpha, or from a TQ2_0
   image (per-block scales); its view; bn_gemv_tern_i8_ref on it (q from ref_quant_i8). */
void *ref_tern_from_codes(const int8_t *codes, float alpha, int64_t k, int64_t m, bitnet_tern_view *view);
void *ref_tern_from_tq2(const void *data, uint64_t size, int64_t k, int64_t m, bitnet_tern_view *view);
void ref_tern_free(void *w);
void ref_gemv_tern(const void *w, const int8_t *q, float s, float *y);
/* bn_gemv_f_ref over a float matrix of `type` (F32 F16 BF16 Q8_0 Q6_K) as stored. */
int ref_gemv_f(int type, const void *data, uint64_t size, int64_t k, int64_t rows, const float *x, float *y);
void ref_rmsnorm(const float *x, const float *w, int64_t n, float eps, float *out);
void ref_rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cs, int neox);
/* One query row over n cached rows (F32 or F16, row p at p * ld): scores, softmax, values. */
void ref_attention(const float *q, const void *k, const void *v, int f16, int64_t ld, int64_t n, int64_t d,
                   float *out);
void ref_act_mul(const float *g, const float *u, int64_t n, int relu2, float *out);
#ifdef __cplusplus
}
#endif
#endif
