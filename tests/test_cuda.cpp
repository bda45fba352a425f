/* test_cuda.cpp - every kernel of bitnet_cuda.cu against the library's reference kernels, and
   the whole GPU forward pass against the CPU's logits on the shared tiny models.

   Without a GPU (make test) this file is compiled by g++ with tests/cuda_emu.h, which runs the
   kernels' own source on the CPU (fibers for threads, real barriers, PTX's MMA fragment
   layout). With nvcc (bench/cuda_device.sh on a GPU machine) the same file runs natively. */
#ifndef __CUDACC__
#  include "cuda_emu.h"
#endif
#include "../bitnet_cuda.cu"
#include "cuda_ref.h"
#include "check.h"

#include <vector>

/* Graph replays so far (-1 natively, where they cannot be counted). */
static long graph_replays(void) {
#ifdef BN_CUDA_EMU
    return bn_emu_graph_launches;
#else
    return -1;
#endif
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_f(void) { return (float)(rng_u32() & 0xffffff) / 8388608.0f - 1.0f; }   /* [-1, 1) */

template <typename T> static T *dev_copy(const T *h, size_t n) {
    void *d = NULL;
    if (cudaMalloc(&d, n * sizeof(T) + 256) != cudaSuccess) abort();
    cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice);
    return (T *)d;
}
template <typename T> static std::vector<T> host_copy(const T *d, size_t n) {
    std::vector<T> h(n);
    cudaDeviceSynchronize();
    cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost);
    return h;
}

/* max |a - b| / (1 + max |b|): differences scaled to the size of the result. */
static float max_scaled(const float *a, const float *b, size_t n) {
    float worst = 0.0f, big = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) worst = d;
        if (fabsf(b[i]) > big) big = fabsf(b[i]);
    }
    return worst / (1.0f + big);
}

static float max_rel(const float *a, const float *b, size_t n) {
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / (1e-3f + fabsf(b[i]));
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* ---- kernels ---- */

static void test_quant(void) {
    static const int64_t ks[] = { 1, 100, 256, 300, 1000 };
    for (int64_t k : ks) {
        int n = 3;
        int64_t kp = (k + 127) / 128 * 128, ldq = kp + 128;
        std::vector<float> x((size_t)(n * k));
        for (auto &v : x) v = rng_f() * 3.0f;
        x[0] = 0.0f;
        float *dx = dev_copy(x.data(), x.size());
        int8_t *dq; float *ds;
        cudaMalloc(&dq, (size_t)(n * ldq)); cudaMalloc(&ds, (size_t)n * 4);
        cudaMemset(dq, 0x7f, (size_t)(n * ldq));
        bn_cu_quant_launch(dx, k, k, dq, ldq, ds, n, NULL);
        std::vector<int8_t> q = host_copy(dq, (size_t)(n * ldq));
        std::vector<float> s = host_copy(ds, (size_t)n);
        int same = 1;
        for (int t = 0; t < n; t++) {
            std::vector<int8_t> rq((size_t)kp);
            float rs;
            ref_quant_i8(x.data() + t * k, k, rq.data(), &rs);
            same &= rs == s[(size_t)t] && !memcmp(rq.data(), q.data() + t * ldq, (size_t)kp);
        }
        CHECKF(same, "quant k=%lld: int8 codes or scale differ from bn_quant_i8_ref", (long long)k);
        cudaFree(dx); cudaFree(dq); cudaFree(ds);
    }
}

/* Device copy of a CPU ternary view, repacked as the backend does at upload. */
static bn_cu_tern upload_tern(const bitnet_tern_view &v) {
    std::vector<uint32_t> words((size_t)(v.rows * (v.kp / 16)));
    bn_cu_repack(&v, words.data());
    bn_cu_tern w;
    memset(&w, 0, sizeof w);
    w.rows = v.rows; w.cols = v.cols; w.kp = v.kp; w.alpha = v.alpha;
    w.codes = dev_copy(words.data(), words.size());
    if (v.block_scale) w.block_scale = dev_copy(v.block_scale, (size_t)(v.rows * (v.kp / 256)));
    return w;
}

/* y = W x for n tokens on the device (quantizer + GEMV or MMA GEMM) against the reference. */
static float run_tern(void *ref, const bitnet_tern_view &v, int n, float *max_abs_ref) {
    bn_cu_tern w = upload_tern(v);
    int64_t ldq = v.kp, ldy = v.rows + 3;
    std::vector<float> x((size_t)(n * v.cols));
    for (auto &e : x) e = rng_f();
    float *dx = dev_copy(x.data(), x.size()), *ds, *dy;
    int8_t *dq;
    cudaMalloc(&dq, (size_t)(n * ldq)); cudaMalloc(&ds, (size_t)n * 4); cudaMalloc(&dy, (size_t)(n * ldy) * 4);
    bn_cu_quant_launch(dx, v.cols, v.cols, dq, ldq, ds, n, NULL);
    bn_cu_gemv_tern_launch(w, dq, ldq, ds, n, dy, ldy, NULL);
    std::vector<float> y = host_copy(dy, (size_t)(n * ldy));
    float worst = 0.0f;
    *max_abs_ref = 0.0f;
    for (int t = 0; t < n; t++) {
        std::vector<int8_t> q((size_t)v.kp);
        std::vector<float> ry((size_t)v.rows);
        float s;
        ref_quant_i8(x.data() + t * v.cols, v.cols, q.data(), &s);
        ref_gemv_tern(ref, q.data(), s, ry.data());
        for (int64_t r = 0; r < v.rows; r++) {
            float d = fabsf(ry[(size_t)r] - y[(size_t)(t * ldy + r)]);
            if (!(d <= worst)) worst = d;
            if (fabsf(ry[(size_t)r]) > *max_abs_ref) *max_abs_ref = fabsf(ry[(size_t)r]);
        }
    }
    cudaFree(dx); cudaFree(dq); cudaFree(ds); cudaFree(dy);
    cudaFree((void *)w.codes); if (w.block_scale) cudaFree((void *)w.block_scale);
    return worst;
}

static void test_tern(void) {
    /* rows, cols, tokens: GEMV at 1 and <= 8 tokens, MMA GEMM above (partial row and token tiles) */
    static const int shapes[][3] = { { 37, 256, 1 }, { 130, 384, 3 }, { 67, 640, 8 }, { 100, 512, 9 }, { 77, 384, 33 },
                                     { 129, 128, 40 } };
    for (auto &sh : shapes) {
        int m = sh[0], k = sh[1], n = sh[2];
        std::vector<int8_t> codes((size_t)(m * k));
        for (auto &c : codes) c = (int8_t)((int)(rng_u32() % 3) - 1);
        bitnet_tern_view v;
        void *ref = ref_tern_from_codes(codes.data(), 0.037f, k, m, &v);
        CHECK(ref != NULL);
        if (!ref) continue;
        float big, d = run_tern(ref, v, n, &big);
        CHECKF(d == 0.0f, "ternary %dx%d x %d tokens (%s): max |dy| %g, want bit-identical", m, k, n,
               n > BN_CU_GEMV_MAX_TOK ? "mma" : "dp4a", (double)d);
        ref_tern_free(ref);
    }
    /* per-block scales (a TQ2_0 image whose blocks have different d) */
    static const int bshapes[][3] = { { 45, 512, 1 }, { 45, 768, 5 }, { 70, 512, 20 } };
    for (auto &sh : bshapes) {
        int m = sh[0], k = sh[1], n = sh[2];
        std::vector<float> wf((size_t)(m * k));
        for (size_t i = 0; i < wf.size(); i++) wf[i] = (float)((int)(rng_u32() % 3) - 1) * (0.01f + 0.02f * (float)(i / 256 % 5));
        std::vector<uint8_t> tq((size_t)(m * (k / 256) * 66));
        CHECK(bitnet_quantize(BITNET_TYPE_TQ2_0, wf.data(), (uint64_t)m, (uint64_t)k, tq.data(), tq.size()) == BITNET_OK);
        bitnet_tern_view v;
        void *ref = ref_tern_from_tq2(tq.data(), tq.size(), k, m, &v);
        CHECK(ref != NULL && v.block_scale != NULL);
        if (!ref || !v.block_scale) continue;
        float big, d = run_tern(ref, v, n, &big);
        CHECKF(d <= 1e-5f * (1.0f + big), "block-scaled ternary %dx%d x %d: max |dy| %g (|y| up to %g)", m, k, n,
               (double)d, (double)big);
        ref_tern_free(ref);
    }
}

static void test_float_head(void) {
    static const int types[] = { BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16, BITNET_TYPE_Q8_0, BITNET_TYPE_Q6_K };
    for (int type : types) {
        for (int n : { 1, 3, 11 }) {
            int64_t k = type == BITNET_TYPE_Q6_K ? 512 : type == BITNET_TYPE_F16 && n == 3 ? 100 : 96, rows = 43;
            uint64_t shape[2] = { (uint64_t)k, (uint64_t)rows }, bytes = 0;
            bitnet_tensor_bytes((bitnet_type)type, 2, shape, &bytes);
            std::vector<uint8_t> data((size_t)bytes);
            std::vector<float> wf((size_t)(k * rows));
            for (auto &e : wf) e = rng_f() * 0.5f;
            if (type == BITNET_TYPE_Q6_K) {         /* random blocks with a sane f16 scale */
                for (auto &b : data) b = (uint8_t)rng_u32();
                for (size_t blk = 0; blk < data.size() / 210; blk++) { data[blk * 210 + 208] = 0x66; data[blk * 210 + 209] = 0x1c; }
            } else {
                CHECK(bitnet_quantize((bitnet_type)type, wf.data(), (uint64_t)rows, (uint64_t)k, data.data(), bytes) ==
                      BITNET_OK);
            }
            bn_cu_fmat w;
            w.type = type; w.rows = rows; w.cols = k; w.row_bytes = (size_t)(bytes / (uint64_t)rows);
            w.data = dev_copy(data.data(), data.size());
            int64_t ldx = k + 5, ldy = rows + 2;
            std::vector<float> x((size_t)(n * ldx));
            for (auto &e : x) e = rng_f();
            float *dx = dev_copy(x.data(), x.size()), *dy;
            cudaMalloc(&dy, (size_t)(n * ldy) * 4);
            bn_cu_gemv_f_launch(w, dx, ldx, n, dy, ldy, NULL);
            std::vector<float> y = host_copy(dy, (size_t)(n * ldy));
            float worst = 0.0f;
            for (int t = 0; t < n; t++) {
                std::vector<float> ry((size_t)rows);
                CHECK(ref_gemv_f(type, data.data(), bytes, k, rows, x.data() + t * ldx, ry.data()));
                float d = max_scaled(y.data() + t * ldy, ry.data(), (size_t)rows);
                if (!(d <= worst)) worst = d;
            }
            CHECKF(worst < 1e-5f, "head %s %lldx%lld x %d tokens: max scaled diff %g", bitnet_type_name((bitnet_type)type),
                   (long long)rows, (long long)k, n, (double)worst);
            cudaFree(dx); cudaFree(dy); cudaFree((void *)w.data);
        }
    }
}

static void test_vector_ops(void) {
    int64_t n = 257;
    int rows = 3;
    std::vector<float> x((size_t)(rows * n)), w((size_t)n), ref((size_t)n);
    for (auto &e : x) e = rng_f() * 2.0f;
    for (auto &e : w) e = 1.0f + 0.1f * rng_f();
    float *dx = dev_copy(x.data(), x.size()), *dw = dev_copy(w.data(), w.size()), *dout;
    int32_t pick[2] = { 2, 0 };
    int32_t *dpick = dev_copy(pick, 2);
    cudaMalloc(&dout, (size_t)(rows * n) * 4);
    for (int with_w = 0; with_w < 2; with_w++) {
        BN_LAUNCH(bn_cu_rmsnorm, dim3(2), dim3(BN_CU_THREADS), (cudaStream_t)NULL, (const float *)dx,
                  (const int32_t *)dpick, with_w ? (const float *)dw : (const float *)NULL, n, 1e-5f, dout);
        std::vector<float> y = host_copy(dout, (size_t)(2 * n));
        float worst = 0.0f;
        for (int i = 0; i < 2; i++) {
            ref_rmsnorm(x.data() + pick[i] * n, with_w ? w.data() : NULL, n, 1e-5f, ref.data());
            float d = max_rel(y.data() + i * n, ref.data(), (size_t)n);
            if (d > worst) worst = d;
        }
        CHECKF(worst < 1e-6f, "rmsnorm (weights %d, gathered rows): max rel diff %g", with_w, (double)worst);
    }
    /* ReLU^2 and SiLU */
    for (int relu2 = 0; relu2 < 2; relu2++) {
        std::vector<float> g((size_t)(rows * n)), u((size_t)(rows * n)), r((size_t)(rows * n));
        for (auto &e : g) e = rng_f() * 4.0f;
        for (auto &e : u) e = rng_f();
        float *dg = dev_copy(g.data(), g.size()), *du = dev_copy(u.data(), u.size());
        BN_LAUNCH(bn_cu_act_mul, dim3(2), dim3(64), (cudaStream_t)NULL, dg, (const float *)du, (int64_t)(rows * n), relu2);
        std::vector<float> y = host_copy(dg, g.size());
        ref_act_mul(g.data(), u.data(), rows * n, relu2, r.data());
        CHECKF(max_rel(y.data(), r.data(), r.size()) < 1e-6f, "%s", relu2 ? "relu2_mul" : "silu_mul");
        BN_LAUNCH(bn_cu_add, dim3(3), dim3(32), (cudaStream_t)NULL, dg, (const float *)du, (int64_t)(rows * n));
        std::vector<float> y2 = host_copy(dg, g.size());
        int ok = 1;
        for (size_t i = 0; i < y2.size(); i++) ok &= y2[i] == y[i] + u[i];
        CHECKF(ok, "residual add");
        cudaFree(dg); cudaFree(du);
    }
    cudaFree(dx); cudaFree(dw); cudaFree(dout); cudaFree(dpick);
}

static void test_rope(void) {
    int n_heads = 3, hd = 64, n_rot = 48, n_tok = 2;
    int32_t pos[2] = { 17, 300 };
    float base = 10000.0f;
    std::vector<float> inv((size_t)(n_rot / 2));
    for (int i = 0; i < n_rot / 2; i++) inv[(size_t)i] = (float)pow((double)base, -2.0 * i / n_rot);
    for (int neox = 0; neox < 2; neox++) {
        std::vector<float> x((size_t)(n_tok * n_heads * hd));
        for (auto &e : x) e = rng_f();
        float *dx = dev_copy(x.data(), x.size()), *dinv = dev_copy(inv.data(), inv.size());
        int32_t *dpos = dev_copy(pos, 2);
        BN_LAUNCH(bn_cu_rope, dim3((unsigned)n_tok), dim3(64), (cudaStream_t)NULL, dx, n_heads, hd, n_rot,
                  (const int32_t *)dpos, (const float *)dinv, neox);
        std::vector<float> y = host_copy(dx, x.size());
        for (int t = 0; t < n_tok; t++) {
            std::vector<float> cs((size_t)n_rot);
            for (int i = 0; i < n_rot / 2; i++) {
                double th = (double)pos[t] * inv[(size_t)i];
                cs[(size_t)i] = (float)cos(th); cs[(size_t)(n_rot / 2 + i)] = (float)sin(th);
            }
            ref_rope(x.data() + t * n_heads * hd, n_heads, hd, n_rot, cs.data(), neox);
        }
        CHECKF(max_rel(y.data(), x.data(), x.size()) < 1e-6f, "rope %s", neox ? "neox" : "norm");
        cudaFree(dx); cudaFree(dinv); cudaFree(dpos);
    }
}

/* Split attention (partial chunks + combine) over an F32 or F16 cache, GQA, two sequences. */
static void test_attention(void) {
    int n_head = 4, n_head_kv = 2, hd = 64, n_ctx = 200, n_seq = 2, n_tok = 3;
    int64_t kv_dim = n_head_kv * hd;
    int32_t pos[3] = { 0, 150, 77 }, seq[3] = { 0, 1, 1 };
    int splits = (n_ctx + BN_CU_ATT_CHUNK - 1) / BN_CU_ATT_CHUNK;
    for (int f16 = 0; f16 < 2; f16++) {
        size_t cells = (size_t)(n_seq * n_ctx * kv_dim);
        std::vector<float> kf(cells), vf(cells), q((size_t)(n_tok * n_head * hd));
        std::vector<uint16_t> kh(cells), vh(cells);
        for (size_t i = 0; i < cells; i++) { kf[i] = rng_f(); vf[i] = rng_f(); }
        for (auto &e : q) e = rng_f() * 2.0f;
        bitnet_fp32_to_fp16_row(kf.data(), kh.data(), cells);
        bitnet_fp32_to_fp16_row(vf.data(), vh.data(), cells);
        void *dk = f16 ? (void *)dev_copy(kh.data(), cells) : (void *)dev_copy(kf.data(), cells);
        void *dv = f16 ? (void *)dev_copy(vh.data(), cells) : (void *)dev_copy(vf.data(), cells);
        float *dq = dev_copy(q.data(), q.size()), *dpart, *dout;
        int32_t *dpos = dev_copy(pos, 3), *dseq = dev_copy(seq, 3);
        cudaMalloc(&dpart, (size_t)(n_tok * n_head * splits * (hd + 2)) * 4);
        cudaMalloc(&dout, q.size() * 4);
        dim3 grid((unsigned)(n_tok * n_head), (unsigned)splits);
        if (f16) BN_LAUNCH(bn_cu_attn_part<true>, grid, dim3(BN_CU_ATT_THREADS), (cudaStream_t)NULL, (const float *)dq,
                           (const void *)dk, (const void *)dv, (const int32_t *)dpos, (const int32_t *)dseq, n_head,
                           n_head_kv, hd, (int64_t)n_ctx, splits, dpart);
        else BN_LAUNCH(bn_cu_attn_part<false>, grid, dim3(BN_CU_ATT_THREADS), (cudaStream_t)NULL, (const float *)dq,
                       (const void *)dk, (const void *)dv, (const int32_t *)dpos, (const int32_t *)dseq, n_head,
                       n_head_kv, hd, (int64_t)n_ctx, splits, dpart);
        BN_LAUNCH(bn_cu_attn_combine, dim3((unsigned)(n_tok * n_head)), dim3(BN_CU_ATT_THREADS), (cudaStream_t)NULL,
                  (const float *)dpart, splits, hd, dout);
        std::vector<float> y = host_copy(dout, q.size());
        float worst = 0.0f;
        for (int t = 0; t < n_tok; t++)
            for (int h = 0; h < n_head; h++) {
                std::vector<float> r((size_t)hd);
                size_t off = (size_t)(seq[t] * n_ctx * kv_dim + (h / (n_head / n_head_kv)) * hd);
                const void *kb = f16 ? (const void *)(kh.data() + off) : (const void *)(kf.data() + off);
                const void *vb = f16 ? (const void *)(vh.data() + off) : (const void *)(vf.data() + off);
                ref_attention(q.data() + (t * n_head + h) * hd, kb, vb, f16, kv_dim, pos[t] + 1, hd, r.data());
                float d = max_rel(y.data() + (t * n_head + h) * hd, r.data(), (size_t)hd);
                if (d > worst) worst = d;
            }
        CHECKF(worst < 1e-4f, "attention (%s cache, %d chunks of %d): max rel diff %g", f16 ? "f16" : "f32", splits,
               BN_CU_ATT_CHUNK, (double)worst);
        /* the F16 store rounds as the library does */
        float *dkf = dev_copy(kf.data(), (size_t)kv_dim), *dvf = dev_copy(vf.data(), (size_t)kv_dim);
        int32_t one_pos[1] = { 5 }, one_seq[1] = { 1 };
        int32_t *dop = dev_copy(one_pos, 1), *dos = dev_copy(one_seq, 1);
        if (f16) {
            BN_LAUNCH(bn_cu_kv_store<true>, dim3(1), dim3(64), (cudaStream_t)NULL, (const float *)dkf, (const float *)dvf,
                      dk, dv, (const int32_t *)dop, (const int32_t *)dos, kv_dim, (int64_t)n_ctx);
            std::vector<uint16_t> got = host_copy((uint16_t *)dk + (size_t)((n_ctx + 5) * kv_dim), (size_t)kv_dim);
            CHECKF(!memcmp(got.data(), kh.data(), (size_t)kv_dim * 2), "kv_store f16 rounding");
        } else {
            BN_LAUNCH(bn_cu_kv_store<false>, dim3(1), dim3(64), (cudaStream_t)NULL, (const float *)dkf, (const float *)dvf,
                      dk, dv, (const int32_t *)dop, (const int32_t *)dos, kv_dim, (int64_t)n_ctx);
            std::vector<float> got = host_copy((float *)dv + (size_t)((n_ctx + 5) * kv_dim), (size_t)kv_dim);
            CHECKF(!memcmp(got.data(), vf.data(), (size_t)kv_dim * 4), "kv_store f32");
        }
        cudaFree(dkf); cudaFree(dvf); cudaFree(dop); cudaFree(dos);
        cudaFree(dk); cudaFree(dv); cudaFree(dq); cudaFree(dpart); cudaFree(dout); cudaFree(dpos); cudaFree(dseq);
    }
}

static void test_embed(void) {
    int64_t k = 256, rows = 9;
    std::vector<float> wf((size_t)(k * rows));
    for (auto &e : wf) e = rng_f();
    for (int type : { BITNET_TYPE_F16, BITNET_TYPE_Q8_0, BITNET_TYPE_F32 }) {
        uint64_t shape[2] = { (uint64_t)k, (uint64_t)rows }, bytes = 0;
        bitnet_tensor_bytes((bitnet_type)type, 2, shape, &bytes);
        std::vector<uint8_t> data((size_t)bytes);
        bitnet_quantize((bitnet_type)type, wf.data(), (uint64_t)rows, (uint64_t)k, data.data(), bytes);
        bn_cu_fmat w;
        w.type = type; w.rows = rows; w.cols = k; w.row_bytes = (size_t)(bytes / (uint64_t)rows);
        w.data = dev_copy(data.data(), data.size());
        int32_t tok[2] = { 7, 2 };
        int32_t *dt = dev_copy(tok, 2);
        float *dx;
        cudaMalloc(&dx, (size_t)(2 * k) * 4);
        BN_LAUNCH(bn_cu_embed, dim3(2), dim3(64), (cudaStream_t)NULL, w, (const int32_t *)dt, dx);
        std::vector<float> x = host_copy(dx, (size_t)(2 * k)), ref((size_t)k);
        int same = 1;
        for (int t = 0; t < 2; t++) {
            bitnet_dequantize((bitnet_type)type, data.data() + (size_t)tok[t] * w.row_bytes, w.row_bytes, 1, (uint64_t)k,
                              ref.data());
            same &= !memcmp(ref.data(), x.data() + t * k, (size_t)k * 4);
        }
        CHECKF(same, "embedding rows (%s) equal bitnet_dequantize", bitnet_type_name((bitnet_type)type));
        cudaFree(dt); cudaFree(dx); cudaFree((void *)w.data);
    }
}

/* ---- the whole forward pass against the CPU ---- */

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) if (v[i] > v[best]) best = i;
    return best;
}

static const int32_t prompt512[20] = { 1, 343, 452, 471, 406, 304, 267, 322, 446, 284, 508, 330, 409, 439, 414, 275,
                                       490, 506, 485, 320 };

static bitnet_status new_ctx(const bitnet_model *m, int device, int n_batch, int all_logits, int kv_f16, bitnet_ctx **c) {
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 128; p.n_batch = n_batch; p.n_threads = 1; p.all_logits = all_logits; p.kv_f16 = kv_f16;
    p.device = device;
    return bitnet_ctx_new(c, m, &p);
}

/* Prompt (optionally in n_batch chunks, all logits), then `steps` greedy tokens on each device:
   logits within the engine tolerance (max 0.25, RMS 0.05) and the same greedy ids. */
static void compare_model(const char *name, const int32_t *prompt, int n_prompt, int steps, int n_batch, int all_logits,
                          int kv_f16) {
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    memset(&mp, 0, sizeof mp);
    mp.path = check_shared(name);
    if (bitnet_model_load(&m, &mp) != BITNET_OK) {
        CHECKF(0, "load %s: %s", name, bitnet_last_error());
        return;
    }
    int V = bitnet_model_hparams(m)->n_vocab;
    bitnet_ctx *cpu = NULL, *gpu = NULL;
    CHECK(new_ctx(m, BITNET_DEVICE_CPU, n_batch, all_logits, kv_f16, &cpu) == BITNET_OK);
    CHECKF(new_ctx(m, BITNET_DEVICE_CUDA, n_batch, all_logits, kv_f16, &gpu) == BITNET_OK, "cuda ctx: %s",
           bitnet_last_error());
    if (!cpu || !gpu) { bitnet_ctx_free(cpu); bitnet_ctx_free(gpu); bitnet_model_free(m); return; }
    CHECK(bitnet_ctx_device(gpu, NULL) == BITNET_DEVICE_CUDA && bitnet_ctx_device(cpu, NULL) == BITNET_DEVICE_CPU);
    double worst = 0.0, sq = 0.0, early = 0.0;  /* early: the worst step rms before the first event */
    long cnt = 0;
    int event_step = -1;                       /* the first step whose rms jumps past 1e-4 */
    int same_ids = 1, id_cpu = 0, id_gpu = 0;
    long graphs0 = graph_replays();
    CHECK(bitnet_decode(cpu, prompt, n_prompt) == BITNET_OK);
    CHECKF(bitnet_decode(gpu, prompt, n_prompt) == BITNET_OK, "gpu decode: %s", bitnet_last_error());
    for (int step = 0; step <= steps; step++) {
        int rows = step == 0 && all_logits ? n_prompt : 1;
        double step_sq = 0.0;
        for (int r = 0; r < rows; r++) {
            const float *a = bitnet_ctx_logits(cpu, all_logits && step == 0 ? r : -1);
            const float *b = bitnet_ctx_logits(gpu, all_logits && step == 0 ? r : -1);
            if (!a || !b) { CHECK(a && b); break; }
            for (int i = 0; i < V; i++) {
                double d = fabs((double)a[i] - b[i]);
                if (!(d <= worst)) worst = d;
                sq += d * d; cnt++; step_sq += d * d;
            }
            if (r == rows - 1) { id_cpu = argmax(a, V); id_gpu = argmax(b, V); }
        }
        double step_rms = sqrt(step_sq / ((double)rows * V));
        if (event_step < 0 && step_rms > 1e-4) event_step = step;
        if (event_step < 0 && step_rms > early) early = step_rms;
        same_ids &= id_cpu == id_gpu;
        if (step == steps) break;
        int32_t next_cpu = id_cpu, next_gpu = id_gpu;
        if (bitnet_decode(cpu, &next_cpu, 1) != BITNET_OK || bitnet_decode(gpu, &next_gpu, 1) != BITNET_OK) {
            CHECKF(0, "decode step %d: %s", step, bitnet_last_error());
            break;
        }
    }
    double rms = cnt ? sqrt(sq / (double)cnt) : 0.0;
    CHECKF(worst <= 0.25 && rms <= 0.05, "%s: logits max |d| %.3g rms %.3g (engine tolerance 0.25 / 0.05)", name, worst, rms);
    /* Float reassociation alone, or else one int8 rounding-boundary event: an activation that
       lies on a boundary rounds the other way, and the KV cache carries the change on (the shared
       data's README measures these against llama.cpp: 0.04-0.08 on tiny-llama-ternary). Before
       the event the two agree to float rounding. */
    CHECKF(rms <= 0.01 || (event_step >= 0 && early <= 1e-5), "%s: logits rms %.3g (first step past 1e-4: %d, "
           "worst step before it %.3g): more than float reassociation and one int8 rounding event", name, rms,
           event_step, early);
    CHECKF(same_ids, "%s: greedy ids differ", name);
    if (steps > 0 && graphs0 >= 0) CHECKF(graph_replays() - graphs0 >= steps, "%s: decode steps did not replay the graph", name);
    printf("  %-40s batch %3d%s%s: max |d| %.2e rms %.2e | greedy %d/%d", name, n_batch, all_logits ? " all" : "",
           kv_f16 ? " f16-kv" : "", worst, rms, same_ids ? steps + 1 : 0, steps + 1);
    if (rms > 0.01) printf(" | an int8 rounding event at step %d (before it rms <= %.2e)", event_step, early);
    printf("\n");
    char desc[512];
    bitnet_ctx_describe_device(gpu, desc, sizeof desc);
    CHECK(strstr(desc, "cuda:0") != NULL);
    bitnet_ctx_free(cpu);
    bitnet_ctx_free(gpu);
    bitnet_model_free(m);
}

static void test_models(void) {
    static const char *const models[] = {
        "models/tiny-b158-i2_s.gguf", "models/tiny-b158-f16.gguf", "models/tiny-b158-f32.gguf",
        "models/tiny-b158-as-bitnet-silu-tq2_0.gguf", "models/tiny-b158-as-bitnet-silu-tq1_0.gguf",
        "models/tiny-bitnet-silu-f16.gguf", "models/tiny-bitnet-silu-tq2_0.gguf", "models/tiny-bitnet-silu-i2_s.gguf",
        "models/tiny-llama-ternary-tq2_0.gguf" };
#ifdef CUDA_TEST_SMALL                  /* the sanitizer build: one model of each graph */
    for (const char *name : { models[0], models[4], models[8] }) compare_model(name, prompt512, 20, 4, 32, 0, 0);
    compare_model("models/tiny-b158-i2_s.gguf", prompt512, 20, 3, 7, 0, 1);
    return;
#endif
    for (const char *name : models) compare_model(name, prompt512, 20, 8, 32, 0, 0);
    /* prefill in chunks through the dp4a GEMV (7 <= 8 tokens) with an F16 cache and a longer decode;
       all logits of a prompt through the MMA GEMM */
    compare_model("models/tiny-b158-i2_s.gguf", prompt512, 20, 31, 7, 0, 1);
    compare_model("models/tiny-llama-ternary-tq2_0.gguf", prompt512, 20, 4, 20, 1, 0);
    static const int32_t p2b[13] = { 128000, 9906, 6631, 7099, 11, 3371, 757, 264, 3446, 922, 279, 9581, 13 };
    compare_model("models/tiny-2b4t-vocab-i2_s.gguf", p2b, 13, 1, 16, 0, 0);
}

/* Three sequences in one GPU context: prompts prefilled as one mixed batch, then decode steps
   of one token per sequence; each row must match a CPU context running that sequence alone. */
static void test_multi_seq(void) {
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    memset(&mp, 0, sizeof mp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    if (bitnet_model_load(&m, &mp) != BITNET_OK) { CHECK(0); return; }
    int V = bitnet_model_hparams(m)->n_vocab, lens[3] = { 5, 12, 3 }, n_all = 0;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 64; p.n_batch = 32; p.n_threads = 1; p.all_logits = 1;
    void *g = NULL;
    CHECKF(bn_cu_ctx_open(&g, m, &p, 0, 3) == BITNET_OK, "open 3 sequences: %s", bitnet_last_error());
    bitnet_ctx *cpu[3] = { NULL, NULL, NULL };
    int32_t tok[32], pos[32], seq[32];
    for (int s = 0; s < 3; s++) {
        p.device = BITNET_DEVICE_CPU;
        CHECK(bitnet_ctx_new(&cpu[s], m, &p) == BITNET_OK);
        for (int i = 0; i < lens[s]; i++) {
            tok[n_all] = prompt512[(s * 7 + i) % 20]; pos[n_all] = i; seq[n_all] = s; n_all++;
        }
    }
    if (!g || !cpu[0] || !cpu[1] || !cpu[2]) { CHECK(0); return; }
    std::vector<float> logits((size_t)(32 * V));
    bitnet_backend_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n_all; b.token = tok; b.pos = pos; b.seq = seq; b.n_out = n_all;
    CHECKF(bn_cu_decode(g, &b, logits.data()) == BITNET_OK, "mixed prefill: %s", bitnet_last_error());
    double worst = 0.0;
    int at = 0, same = 1;
    for (int s = 0; s < 3; s++) {
        CHECK(bitnet_decode(cpu[s], tok + at, lens[s]) == BITNET_OK);
        for (int i = 0; i < lens[s]; i++) {
            const float *a = bitnet_ctx_logits(cpu[s], i), *r = logits.data() + (size_t)(at + i) * V;
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)a[v] - r[v]));
        }
        at += lens[s];
    }
    for (int step = 0; step < 4; step++) {              /* one token per sequence: the dp4a GEMV at 3 tokens */
        for (int s = 0; s < 3; s++) {
            const float *a = bitnet_ctx_logits(cpu[s], -1);
            tok[s] = argmax(a, V); pos[s] = bitnet_ctx_pos(cpu[s]); seq[s] = s;
        }
        b.n_tokens = 3; b.n_out = 3;
        CHECK(bn_cu_decode(g, &b, logits.data()) == BITNET_OK);
        for (int s = 0; s < 3; s++) {
            CHECK(bitnet_decode(cpu[s], &tok[s], 1) == BITNET_OK);
            const float *a = bitnet_ctx_logits(cpu[s], -1), *r = logits.data() + (size_t)s * V;
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)a[v] - r[v]));
            same &= argmax(a, V) == argmax(r, V);
        }
    }
    CHECKF(worst <= 0.25 && same, "3 sequences in one context vs alone on the CPU: max |d| %.3g, same argmax %d",
           worst, same);
    printf("  multi-sequence (3 in one context, mixed prefill + 4 steps): max |d| %.2e\n", worst);
    for (int s = 0; s < 3; s++) bitnet_ctx_free(cpu[s]);
    bn_cu_ctx_free(g);
    bitnet_model_free(m);
}

/* The public batch API on a GPU context against the same calls on a CPU context: a mixed
   prefill of two sequences, a shared-prefix copy, then steps of one token per sequence. */
static void test_batch_api(void) {
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    memset(&mp, 0, sizeof mp);
    mp.path = check_shared("models/tiny-bitnet-silu-i2_s.gguf");
    if (bitnet_model_load(&m, &mp) != BITNET_OK) { CHECK(0); return; }
    int V = bitnet_model_hparams(m)->n_vocab;
    bitnet_ctx *ctx[2] = { NULL, NULL };
    for (int d = 0; d < 2; d++) {
        bitnet_ctx_params p;
        memset(&p, 0, sizeof p);
        p.n_ctx = 64; p.n_batch = 24; p.n_threads = 1; p.n_seq = 3;
        p.device = d ? BITNET_DEVICE_CUDA : BITNET_DEVICE_CPU;
        CHECKF(bitnet_ctx_new(&ctx[d], m, &p) == BITNET_OK, "n_seq 3 ctx on %s: %s", d ? "cuda" : "cpu",
               bitnet_last_error());
    }
    if (!ctx[0] || !ctx[1]) { bitnet_ctx_free(ctx[0]); bitnet_ctx_free(ctx[1]); bitnet_model_free(m); return; }
    int32_t tok[24], seq[24];
    int n = 0;
    for (int i = 0; i < 9; i++) { tok[n] = prompt512[i]; seq[n++] = 0; }
    for (int i = 0; i < 6; i++) { tok[n] = prompt512[19 - i]; seq[n++] = 1; }
    bitnet_batch b;
    memset(&b, 0, sizeof b);
    b.n_tokens = n; b.token = tok; b.seq = seq;
    double worst = 0.0;
    int same = 1;
    for (int d = 0; d < 2; d++) CHECK(bitnet_decode_batch(ctx[d], &b) == BITNET_OK);
    for (int d = 0; d < 2; d++) CHECK(bitnet_ctx_seq_copy(ctx[d], 0, 2, 5) == BITNET_OK);
    for (int step = 0; step < 3; step++) {
        for (int r = 0; r < (step == 0 ? n : 3); r++) {
            const float *a = bitnet_ctx_logits(ctx[0], r), *g = bitnet_ctx_logits(ctx[1], r);
            CHECK((a == NULL) == (g == NULL));
            if (!a || !g) continue;
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs((double)a[v] - g[v]));
            same &= argmax(a, V) == argmax(g, V);
        }
        for (int s = 0; s < 3; s++) { tok[s] = prompt512[(step * 5 + s * 3) % 20]; seq[s] = s; }
        b.n_tokens = 3;
        for (int d = 0; d < 2; d++) CHECK(bitnet_decode_batch(ctx[d], &b) == BITNET_OK);
    }
    CHECK(bitnet_ctx_seq_pos(ctx[1], 2) == 8 && bitnet_ctx_seq_pos(ctx[1], 0) == 12);
    CHECK(bitnet_ctx_state_size(ctx[1], 0) == 0 || bitnet_ctx_state_save(ctx[1], 0, NULL, 0, NULL) == BITNET_ERR_UNSUPPORTED);
    CHECKF(worst <= 0.25 && same, "batch API on cuda vs cpu: max |d| %.3g, same argmax %d", worst, same);
    printf("  batch API (3 sequences, mixed prefill, seq_copy, 3 steps) cuda vs cpu: max |d| %.2e\n", worst);
    bitnet_ctx_free(ctx[0]);
    bitnet_ctx_free(ctx[1]);
    bitnet_model_free(m);
}

/* ---- device choice ---- */

static void test_device_choice(void) {
    bitnet_device kind;
    int32_t idx;
    CHECK(bitnet_device_parse("cuda:1", &kind, &idx) == BITNET_OK && kind == BITNET_DEVICE_CUDA && idx == 1);
    CHECK(bitnet_device_parse("cpu", &kind, &idx) == BITNET_OK && kind == BITNET_DEVICE_CPU);
    CHECK(bitnet_device_parse("auto", &kind, &idx) == BITNET_OK && kind == BITNET_DEVICE_AUTO);
    CHECK(bitnet_device_parse("gpu", &kind, &idx) == BITNET_ERR_ARGS);
    CHECK(bitnet_device_parse("cuda:x", &kind, &idx) == BITNET_ERR_ARGS);
    CHECK(bitnet_backend_get() != NULL && !strcmp(bitnet_backend_get()->name, "cuda"));
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    memset(&mp, 0, sizeof mp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    if (bitnet_model_load(&m, &mp) != BITNET_OK) { CHECK(0); return; }
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 64;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_OK && bitnet_ctx_device(c, &idx) == BITNET_DEVICE_CUDA && idx == 0);
    bitnet_ctx_free(c); c = NULL;
    p.device = BITNET_DEVICE_CUDA; p.device_index = 3;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_ERR_CUDA && c == NULL && strstr(bitnet_last_error(), "cuda:3"));
    p.device = BITNET_DEVICE_AUTO;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_OK && bitnet_ctx_device(c, NULL) == BITNET_DEVICE_CPU);
    bitnet_ctx_free(c); c = NULL;
#ifdef BN_CUDA_EMU
    bn_emu_device_count = 0;                    /* a machine without a GPU */
    p.device = BITNET_DEVICE_CUDA; p.device_index = 0;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_ERR_CUDA && strstr(bitnet_last_error(), "no CUDA device"));
    p.device = BITNET_DEVICE_AUTO;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_OK && bitnet_ctx_device(c, NULL) == BITNET_DEVICE_CPU);
    bitnet_ctx_free(c); c = NULL;
    bn_emu_device_count = 1;
#endif
    p.device = 7;
    CHECK(bitnet_ctx_new(&c, m, &p) == BITNET_ERR_ARGS);
    bitnet_model_free(m);
}

int main(void) {
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("notice: no CUDA device; the native CUDA tests did not run\n");
        return check_report("cuda");
    }
    test_quant();
    test_tern();
    test_float_head();
    test_vector_ops();
    test_rope();
    test_attention();
    test_embed();
    test_device_choice();
    test_models();
    test_multi_seq();
    test_batch_api();
    return check_report("cuda");
}
