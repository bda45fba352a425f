/* bench/batch.c - generation speed with several sequences in one forward pass: aggregate
   tokens/s at 1, 2, 4 and 8 sequences, each generating one token per bitnet_decode_batch, as a
   ratio to 1 sequence measured in the same run, then where a step's time goes (ms per step and
   part, from the library's profile) at each count.
   Usage: build/bench/batch MODEL.gguf [STEPS] [THREADS]   (e.g. build/bitnet-2b4t-shape.gguf from bench/model.sh) */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEQ 8
#define N_COUNTS 4                              /* sequence counts 1, 2, 4, ..., MAX_SEQ */

/* Seconds for `steps` decode calls of n_seq tokens, one per sequence, after a 16-token prompt
   each; *prof gets the library's profile of those steps alone. */
static double time_steps(bitnet_ctx *ctx, int n_seq, int steps, bitnet_profile *prof) {
    int32_t tok[MAX_SEQ], seq[MAX_SEQ], prompt[16];
    bitnet_batch b;
    double t0;
    int i, s;
    for (i = 0; i < 16; i++) prompt[i] = 1 + 37 * i;
    for (s = 0; s < MAX_SEQ; s++) bitnet_ctx_seq_truncate(ctx, s, 0);
    for (s = 0; s < n_seq; s++) {
        int32_t ss[16];
        for (i = 0; i < 16; i++) ss[i] = s;
        memset(&b, 0, sizeof b);
        b.n_tokens = 16; b.token = prompt; b.seq = ss;
        if (bitnet_decode_batch(ctx, &b) != BITNET_OK) return -1;
    }
    memset(&b, 0, sizeof b);
    b.n_tokens = n_seq; b.token = tok; b.seq = seq;
    bitnet_ctx_set_profile(ctx, 1);             /* zeroes the counters */
    t0 = bitnet_time_ms();
    for (i = 0; i < steps; i++) {
        for (s = 0; s < n_seq; s++) { tok[s] = 100 + 7 * i + s; seq[s] = s; }
        if (bitnet_decode_batch(ctx, &b) != BITNET_OK) return -1;
    }
    t0 = bitnet_time_ms() - t0;
    *prof = bitnet_ctx_get_profile(ctx);
    bitnet_ctx_set_profile(ctx, 0);
    return t0 / 1e3;
}

int main(int argc, char **argv) {
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    int steps = argc > 2 ? atoi(argv[2]) : 16, n, i;
    double tps1 = 0, step_ms[N_COUNTS][BITNET_PROF_COUNT + 1];
    bitnet_prof_part part;
    bitnet_profile prof;
    if (argc < 2) { fprintf(stderr, "usage: %s MODEL.gguf [STEPS] [THREADS]\n", argv[0]); return 1; }
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = argv[1];
    cp.n_ctx = 16 + steps + 1;
    cp.n_batch = 16;
    cp.n_seq = MAX_SEQ;
    cp.n_threads = argc > 3 ? atoi(argv[3]) : 0;
    if (steps < 1 || bitnet_model_load(&model, &mp) != BITNET_OK || bitnet_ctx_new(&ctx, model, &cp) != BITNET_OK) {
        fprintf(stderr, "error: %s\n", bitnet_last_error());
        bitnet_model_free(model);
        return 1;
    }
    time_steps(ctx, 1, 2, &prof);                                    /* warm-up: pages, caches */
    printf("sequences  tok/s (aggregate)  x 1 sequence\n");
    for (n = 1, i = 0; n <= MAX_SEQ; n *= 2, i++) {
        double s = time_steps(ctx, n, steps, &prof), tps = s > 0 ? n * steps / s : 0;
        for (part = 0; part < BITNET_PROF_COUNT; part++) step_ms[i][part] = prof.ms[part] / steps;
        step_ms[i][BITNET_PROF_COUNT] = 1e3 * s / steps;
        if (n == 1) tps1 = tps;
        printf("%9d  %17.2f  %12.2f\n", n, tps, tps1 > 0 ? tps / tps1 : 0);
    }
    printf("\nms per step and part, from the library's profile\n%-22s", "part");
    for (n = 1; n <= MAX_SEQ; n *= 2) printf("  %7d seq", n);
    printf("\n");
    for (part = 0; part <= BITNET_PROF_COUNT; part++) {
        printf("%-22s", part < BITNET_PROF_COUNT ? bitnet_prof_part_name(part) : "step (wall)");
        for (i = 0; i < N_COUNTS; i++) printf("  %11.2f", step_ms[i][part]);
        printf("\n");
    }
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return 0;
}
