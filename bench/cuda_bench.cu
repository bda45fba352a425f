/* cuda_bench.cu - GPU speed of bitnet_cuda.cu on one model: the device's read bandwidth (its
   own probe kernel), prefill tok/s at 512 tokens, decode tok/s at 1, 8 and 32 sequences (one
   token per sequence per step, all in one batch), and decode at 1 as a share of the bandwidth
   roofline (device bytes read per token / bandwidth). Built by bench/cuda_device.sh:
       nvcc ... bench/cuda_bench.cu build/tests/cuda_ref.o    (cuda_ref.o holds the library)
   usage: cuda_bench MODEL.gguf [decode steps]          last line: "summary: ..." */
#include "../bitnet_cuda.cu"
#include <time.h>
#include <vector>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Best of 5 passes over a 2 GiB buffer (larger than any cache), in GB/s. */
static double probe_bandwidth(void) {
    size_t bytes = (size_t)2 << 30;
    void *buf = NULL;
    uint32_t *sink = NULL;
    cudaEvent_t e0, e1;
    double best = 0.0;
    if (cudaMalloc(&buf, bytes) != cudaSuccess || cudaMalloc((void **)&sink, 4) != cudaSuccess) return 0.0;
    cudaMemset(buf, 1, bytes);
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (int rep = 0; rep < 6; rep++) {
        float ms = 0.0f;
        cudaEventRecord(e0);
        bn_cu_read_probe<<<132 * 16, 512>>>((const uint4 *)buf, (int64_t)(bytes / 16), sink);
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
        if (rep > 0 && ms > 0 && bytes / (ms * 1e6) > best) best = bytes / (ms * 1e6);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaFree(buf);
    cudaFree(sink);
    return best;
}

/* tok/s of `steps` decode steps with n_seq sequences (one token each), after a 16-token prompt each. */
static double decode_tps(void *g, int n_seq, int steps, int vocab, float *logits) {
    std::vector<int32_t> tok((size_t)16 * n_seq), pos(tok.size()), seq(tok.size());
    bitnet_backend_batch b;
    int i, s;
    for (s = 0; s < n_seq; s++)
        for (i = 0; i < 16; i++) {
            tok[(size_t)(s * 16 + i)] = (s * 131 + i * 17) % vocab;
            pos[(size_t)(s * 16 + i)] = i;
            seq[(size_t)(s * 16 + i)] = s;
        }
    memset(&b, 0, sizeof b);
    b.token = tok.data(); b.pos = pos.data(); b.seq = seq.data();
    b.n_tokens = 16 * n_seq; b.n_out = 1;
    if (bn_cu_decode(g, &b, logits) != BITNET_OK) return 0.0;
    double t0 = 0.0;
    for (int st = -2; st < steps; st++) {                   /* two warm-up steps (graph capture) */
        if (st == 0) t0 = now_ms();
        for (s = 0; s < n_seq; s++) { tok[(size_t)s] = (st + 7 * s + 100) % vocab; pos[(size_t)s] = 18 + st; seq[(size_t)s] = s; }
        b.n_tokens = n_seq; b.n_out = n_seq;
        if (bn_cu_decode(g, &b, logits) != BITNET_OK) return 0.0;
    }
    return (double)steps * n_seq / ((now_ms() - t0) / 1e3);
}

static double prefill_tps(void *g, int n, int vocab, float *logits) {
    std::vector<int32_t> tok((size_t)n);
    bitnet_backend_batch b;
    double best = 0.0;
    for (int i = 0; i < n; i++) tok[(size_t)i] = (i * 7919) % vocab;
    memset(&b, 0, sizeof b);
    b.token = tok.data(); b.n_tokens = n; b.n_out = 1;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now_ms();
        if (bn_cu_decode(g, &b, logits) != BITNET_OK) return 0.0;
        double tps = n / ((now_ms() - t0) / 1e3);
        if (rep > 0 && tps > best) best = tps;
    }
    return best;
}

int main(int argc, char **argv) {
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    bitnet_ctx_params p;
    bitnet_device_info info;
    void *g = NULL;
    int steps = argc > 2 ? atoi(argv[2]) : 64;
    if (argc < 2 || steps <= 0) {
        fprintf(stderr, "usage: cuda_bench MODEL.gguf [decode steps]\n");
        return 1;
    }
    memset(&mp, 0, sizeof mp);
    mp.path = argv[1];
    if (bitnet_model_load(&m, &mp) != BITNET_OK) { fprintf(stderr, "cuda_bench: %s\n", bitnet_last_error()); return 1; }
    if (bn_cu_device_count() == 0 || bn_cu_device_info(0, &info) != BITNET_OK) {
        fprintf(stderr, "cuda_bench: no CUDA device\n");
        return 1;
    }
    memset(&p, 0, sizeof p);
    p.n_ctx = 1024; p.n_batch = 512;
    if (bn_cu_ctx_open(&g, m, &p, 0, 32) != BITNET_OK) { fprintf(stderr, "cuda_bench: %s\n", bitnet_last_error()); return 1; }
    bn_cu_ctx *c = (bn_cu_ctx *)g;
    int vocab = bitnet_model_hparams(m)->n_vocab;
    std::vector<float> logits((size_t)32 * vocab);
    /* bytes one decode step reads: every ternary word, block scales, the head; plus the cache */
    double bytes = (double)c->weight_bytes - (c->head.data != c->embd.data ? (double)c->embd.row_bytes * c->embd.rows : 0.0);
    double bw = probe_bandwidth();
    double pp = prefill_tps(g, 512, vocab, logits.data());
    double tg1 = decode_tps(g, 1, steps, vocab, logits.data());
    double tg8 = decode_tps(g, 8, steps, vocab, logits.data());
    double tg32 = decode_tps(g, 32, steps / 2 > 0 ? steps / 2 : 1, vocab, logits.data());
    double roof = bw > 0 ? bw * 1e9 / bytes : 0.0;
    char desc[512];
    printf("device: %s, compute %d.%d, %d SMs, %.1f GB\n", info.name, info.cc_major, info.cc_minor, info.sm_count,
           info.total_bytes / 1e9);
    printf("context: %s\n", bn_cu_describe(g, desc, sizeof desc));
    printf("read bandwidth (probe): %.0f GB/s; bytes per decoded token %.1f MB -> roofline %.0f tok/s\n", bw,
           bytes / 1e6, roof);
    printf("prefill 512: %.0f tok/s | decode: 1 seq %.1f tok/s, 8 seq %.1f tok/s, 32 seq %.1f tok/s\n", pp, tg1, tg8,
           tg32);
    char dev[128];
    snprintf(dev, sizeof dev, "%s", info.name);
    for (char *q = dev; *q; q++) if (*q == ' ') *q = '_';
    printf("summary: dev=%s bw_GBps=%.0f tg1_tps=%.1f tg8_tps=%.1f pp512_tps=%.0f roofline_ratio=%.3f tg32_tps=%.1f\n",
           dev, bw, tg1, tg8, pp, roof > 0 ? tg1 / roof : 0.0, tg32);
    bn_cu_ctx_free(g);
    bitnet_model_free(m);
    return 0;
}
