/* bitnet bench -m M [-p 128] [-n 64] [-t T] [-r 3]: prompt processing and generation speed in
   the style of llama-bench, and how close generation gets to the memory roofline: the read
   bandwidth is measured just before each generation run and the largest figure counts (a
   shared host slows down in phases; a slow probe must not flatter the ratio). Last line:
   summary: pp_tps=X tg_tps=Y bandwidth_GBps=B weight_bytes_per_token=W roofline_ratio=R */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

typedef struct bench_result {
    double mean, sd;
} bench_result;

static bench_result bench_stats(const double *x, int n) {
    bench_result r = { 0, 0 };
    int i;
    for (i = 0; i < n; i++) r.mean += x[i] / n;
    for (i = 0; i < n && n > 1; i++) r.sd += (x[i] - r.mean) * (x[i] - r.mean) / (n - 1);
    r.sd = r.sd > 0 ? sqrt(r.sd) : 0;
    return r;
}

static double bench_bandwidth(int threads) {
    bitnet_threadpool *pool = NULL;
    double gbps;
    if (bitnet_threadpool_new(&pool, threads, NULL) != BITNET_OK) return 0;
    gbps = bitnet_measure_read_bandwidth(pool, 0);
    bitnet_threadpool_free(pool);
    return gbps;
}

/* Tokens/s of one batch of n_prompt tokens, and of n_gen single-token decodes after it, and the
   read bandwidth measured just before the decodes (threads > 0). */
static int bench_once(bitnet_ctx *ctx, const int32_t *tokens, int n_prompt, int n_gen, int threads,
                      double *pp, double *tg, double *bw) {
    double t0;
    int i;
    bitnet_ctx_truncate(ctx, 0);
    t0 = bitnet_time_ms();
    if (n_prompt && bitnet_decode(ctx, tokens, n_prompt) != BITNET_OK) return 0;
    *pp = n_prompt ? n_prompt * 1e3 / (bitnet_time_ms() - t0) : 0;
    bitnet_ctx_truncate(ctx, 0);
    if (threads > 0) *bw = bench_bandwidth(threads);       /* the context's workers sleep by now */
    if (bitnet_decode(ctx, tokens, 1) != BITNET_OK) return 0;
    t0 = bitnet_time_ms();
    for (i = 0; i < n_gen; i++)
        if (bitnet_decode(ctx, &tokens[(i + 1) % (n_prompt ? n_prompt : 1)], 1) != BITNET_OK) return 0;
    *tg = n_gen ? n_gen * 1e3 / (bitnet_time_ms() - t0) : 0;
    return 1;
}

int cmd_bench(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    int n_prompt, n_gen, i, r, threads, rc = 1;
    int32_t *tokens;
    double pp[32], tg[32], bw[32];
    if (!cli_parse(argc, argv, &o)) return 1;
    n_prompt = o.prompt ? atoi(o.prompt) : 128;
    n_gen = o.n_predict;
    if (n_prompt < 0 || n_gen < 1 || o.repetitions < 1 || o.repetitions > 32) {
        fprintf(stderr, "bitnet: bench: needs -p >= 0, -n >= 1 and -r in 1..32\n");
        return 1;
    }
    if (o.n_ctx < n_prompt + n_gen + 1) o.n_ctx = n_prompt + n_gen + 1;
    tokens = (int32_t *)malloc((size_t)(n_prompt + 1) * sizeof *tokens);
    if (!tokens || !cli_load_model(&o, 0, &model) || !cli_new_ctx(&o, model, n_prompt ? n_prompt : 1, 0, &ctx)) {
        free(tokens);
        bitnet_model_free(model);
        return 1;
    }
    for (i = 0; i <= n_prompt; i++) tokens[i] = (int32_t)((i * 7919 + 13) % bitnet_model_hparams(model)->n_vocab);
    /* warm up at full size: the first pass faults in the batch buffers and the cache it uses */
    bench_once(ctx, tokens, n_prompt, 2, 0, &pp[0], &tg[0], &bw[0]);
    threads = o.threads ? o.threads : bitnet_online_cores();
    for (r = 0; r < o.repetitions; r++)
        if (!bench_once(ctx, tokens, n_prompt, n_gen, threads, &pp[r], &tg[r], &bw[r])) break;
    if (r == o.repetitions) {
        const bitnet_hparams *hp = bitnet_model_hparams(model);
        bitnet_model_memory mem = bitnet_model_get_memory(model);
        bench_result P = bench_stats(pp, r), G = bench_stats(tg, r);
        double B = 0;
        char kernels[64];
        for (i = 0; i < r; i++) if (bw[i] > B) B = bw[i];
        snprintf(kernels, sizeof kernels, "%s", bitnet_isa_name(bitnet_model_isa(model)));
        printf("| model %-14s | layers %3d | embd %5d | weights %8.1f MB | kernels %-6s | threads %2d |\n",
               hp->arch_name, hp->n_layer, hp->n_embd, mem.weight_bytes / 1e6, kernels, threads);
        printf("| pp%-4d | %9.2f ± %.2f tok/s |\n", n_prompt, P.mean, P.sd);
        printf("| tg%-4d | %9.2f ± %.2f tok/s |\n", n_gen, G.mean, G.sd);
        printf("read bandwidth %.1f GB/s (best of %d probes, one before each generation run) -> roofline %.1f tok/s\n",
               B, r, B * 1e9 / (double)mem.weight_bytes);
        printf("summary: pp_tps=%.2f tg_tps=%.2f bandwidth_GBps=%.2f weight_bytes_per_token=%llu roofline_ratio=%.3f\n",
               P.mean, G.mean, B, (unsigned long long)mem.weight_bytes,
               B > 0 ? G.mean / (B * 1e9 / (double)mem.weight_bytes) : 0.0);
        rc = 0;
    } else {
        cli_fail("bench");
    }
    free(tokens);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return rc;
}
