/* bitnet bench -m M [-p 128] [-n 64] [-t T] [-r 3]: prompt processing and generation speed in
   the style of llama-bench, and how close generation gets to the memory roofline: B is the mean
   of read-bandwidth passes interleaved with the generation (see bench_generate). Last line:
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

/* Busy-waits ms: long enough for a pool's workers to stop spinning and sleep, so the next
   phase (decode or probe) does not share the cores with them. */
static void bench_pause(double ms) {
    double t0 = bitnet_time_ms();
    while (bitnet_time_ms() - t0 < ms) {}
}

/* n_gen single-token decodes in chunks of 8, one bandwidth probe pass before each chunk: tok/s
   of the decodes, and the mean GB/s of the passes (a shared host's speed drifts by the second;
   this way both figures average over the same moments). */
static int bench_generate(bitnet_ctx *ctx, const int32_t *tokens, int n_tokens, int n_gen, bitnet_bw_probe *probe,
                          double *tg, double *bw, double *bw_best) {
    double decode_ms = 0, gbps = 0, t0, g;
    int i = 0, passes = 0;
    while (i < n_gen) {
        int end = i + 8 < n_gen ? i + 8 : n_gen;
        if (probe) {
            bench_pause(2);
            gbps += (g = bitnet_bw_probe_pass(probe));
            if (g > *bw_best) *bw_best = g;
            passes++;
            bench_pause(2);
        }
        t0 = bitnet_time_ms();
        for (; i < end; i++)
            if (bitnet_decode(ctx, &tokens[(i + 1) % n_tokens], 1) != BITNET_OK) return 0;
        decode_ms += bitnet_time_ms() - t0;
    }
    *tg = n_gen * 1e3 / decode_ms;
    *bw = passes ? gbps / passes : 0;
    return 1;
}

/* 5 us of work per row: a pool run of these costs its rows' work split over the threads, plus the
   hand-off (waking the workers, waiting for the last one). */
static void bench_spin_task(void *arg, int64_t r0, int64_t r1, int thread) {
    double t0 = bitnet_time_ms();
    (void)arg; (void)thread;
    while (bitnet_time_ms() - t0 < (double)(r1 - r0) * 0.005) {}
}

/* us a pool run costs beyond its work: the median over 400 runs of 4 rows per thread. */
static double bench_handoff_us(bitnet_threadpool *pool) {
    int n = bitnet_threadpool_size(pool), i, j, k;
    double t[400], work_us = 4 * 5.0;
    for (i = 0; i < 400; i++) {
        double t0 = bitnet_time_ms();
        bitnet_threadpool_run(pool, 4 * n, 1, bench_spin_task, NULL);
        t[i] = (bitnet_time_ms() - t0) * 1e3 - work_us;
    }
    for (i = 1; i < 400; i++)                      /* insertion sort: small and allocation-free */
        for (j = i; j > 0 && t[j] < t[j - 1]; j--) { double x = t[j]; t[j] = t[j - 1]; t[j - 1] = x; }
    k = 200;
    return t[k] > 0 ? t[k] : 0;
}

/* -v: n_gen single-token decodes with the context's profile on, printed per token, and the cost of
   the pool's hand-offs estimated from empty runs on a pool of the same size. */
static int bench_profile(bitnet_ctx *ctx, const int32_t *tokens, int n_tokens, int n_gen, bitnet_threadpool *pool) {
    bitnet_profile p;
    double empty_us, sum_ms = 0;
    int64_t runs = 0;
    int i;
    bitnet_ctx_truncate(ctx, 0);
    if (bitnet_decode(ctx, tokens, 1) != BITNET_OK) return 0;
    bitnet_ctx_set_profile(ctx, 1);
    for (i = 0; i < n_gen; i++)
        if (bitnet_decode(ctx, &tokens[(i + 1) % n_tokens], 1) != BITNET_OK) return 0;
    p = bitnet_ctx_get_profile(ctx);
    bitnet_ctx_set_profile(ctx, 0);
    empty_us = bench_handoff_us(pool);
    printf("time per decoded token (%lld decodes of 1 token, profile on):\n", (long long)p.n_decodes);
    for (i = 0; i < BITNET_PROF_COUNT; i++) {
        printf("  %-16s %8.3f ms  %5.1f%%  %4.0f pool runs\n", bitnet_prof_part_name((bitnet_prof_part)i),
               p.ms[i] / (double)p.n_decodes, p.total_ms > 0 ? 100.0 * p.ms[i] / p.total_ms : 0.0,
               (double)p.pool_runs[i] / (double)p.n_decodes);
        sum_ms += p.ms[i];
        runs += p.pool_runs[i];
    }
    printf("  %-16s %8.3f ms\n", "total", p.total_ms / (double)p.n_decodes);
    printf("  pool hand-offs   %.0f runs per token x %.1f us (a %d-thread pool's median run beyond its work) = %.3f ms, "
           "inside the parts above\n", (double)runs / (double)p.n_decodes, empty_us, bitnet_threadpool_size(pool),
           (double)runs / (double)p.n_decodes * empty_us / 1e3);
    (void)sum_ms;
    return 1;
}

/* Tokens/s of one batch of n_prompt tokens, then of n_gen single-token decodes after it. */
static int bench_once(bitnet_ctx *ctx, const int32_t *tokens, int n_prompt, int n_gen, bitnet_bw_probe *probe,
                      double *pp, double *tg, double *bw, double *bw_best) {
    double t0;
    bitnet_ctx_truncate(ctx, 0);
    t0 = bitnet_time_ms();
    if (n_prompt && bitnet_decode(ctx, tokens, n_prompt) != BITNET_OK) return 0;
    *pp = n_prompt ? n_prompt * 1e3 / (bitnet_time_ms() - t0) : 0;
    bitnet_ctx_truncate(ctx, 0);
    if (bitnet_decode(ctx, tokens, 1) != BITNET_OK) return 0;
    return bench_generate(ctx, tokens, n_prompt ? n_prompt : 1, n_gen, probe, tg, bw, bw_best);
}

int cmd_bench(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    int n_prompt, n_gen, i, r, threads, rc = 1;
    int32_t *tokens;
    double pp[32], tg[32], bw[32], bw_best = 0;
    bitnet_threadpool *probe_threads = NULL;
    bitnet_bw_probe *probe = NULL;
    if (!cli_parse(argc, argv, &o)) return 1;
    n_prompt = 128;
    if (o.prompt && !cli_parse_int("-p", o.prompt, 0, 1 << 20, &n_prompt)) return 1;
    n_gen = o.n_predict;
    if (n_gen < 1 || n_gen > 1 << 20) {
        fprintf(stderr, "bitnet: bench: -n: %d is out of range (allowed 1..1048576)\n", n_gen);
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
    threads = cli_threads(o.threads);
    if (bitnet_threadpool_new(&probe_threads, threads, NULL) != BITNET_OK ||
        bitnet_bw_probe_new(&probe, probe_threads, 0) != BITNET_OK) {
        cli_fail("bench: bandwidth probe");
        goto done;
    }
    /* warm up at full size: the first pass faults in the batch buffers and the cache it uses */
    bench_once(ctx, tokens, n_prompt, 2, NULL, &pp[0], &tg[0], &bw[0], &bw_best);
    for (r = 0; r < o.repetitions; r++)
        if (!bench_once(ctx, tokens, n_prompt, n_gen, probe, &pp[r], &tg[r], &bw[r], &bw_best)) break;
    if (r == o.repetitions) {
        const bitnet_hparams *hp = bitnet_model_hparams(model);
        bitnet_model_memory mem = bitnet_model_get_memory(model);
        bench_result P = bench_stats(pp, r), G = bench_stats(tg, r);
        double B = bench_stats(bw, r).mean;
        char kernels[64];
        snprintf(kernels, sizeof kernels, "%s", bitnet_isa_name(bitnet_model_isa(model)));
        printf("| model %-14s | layers %3d | embd %5d | weights %8.1f MB | kernels %-6s | threads %2d |\n",
               hp->arch_name, hp->n_layer, hp->n_embd, mem.weight_bytes / 1e6, kernels, threads);
        printf("| pp%-4d | %9.2f ± %.2f tok/s |\n", n_prompt, P.mean, P.sd);
        printf("| tg%-4d | %9.2f ± %.2f tok/s |\n", n_gen, G.mean, G.sd);
        printf("read bandwidth %.1f GB/s (mean of passes interleaved with the generation; best pass %.1f)"
               " -> roofline %.1f tok/s (%.1f)\n", B, bw_best, B * 1e9 / (double)mem.weight_bytes,
               bw_best * 1e9 / (double)mem.weight_bytes);
        if (o.verbose && !bench_profile(ctx, tokens, n_prompt ? n_prompt : 1, n_gen, probe_threads)) cli_fail("bench -v");
        printf("summary: pp_tps=%.2f tg_tps=%.2f bandwidth_GBps=%.2f weight_bytes_per_token=%llu roofline_ratio=%.3f\n",
               P.mean, G.mean, B, (unsigned long long)mem.weight_bytes,
               B > 0 ? G.mean / (B * 1e9 / (double)mem.weight_bytes) : 0.0);
        rc = 0;
    } else {
        cli_fail("bench");
    }
done:
    bitnet_bw_probe_free(probe);
    bitnet_threadpool_free(probe_threads);
    free(tokens);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return rc;
}
