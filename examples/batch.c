/* batch.c - several prompts generated together in one context: each on its own sequence, all
   advanced by one forward pass per step (one token per generating prompt, prompt chunks for the
   ones still reading theirs).
   Build: cc -O2 -I. examples/batch.c -lpthread -lm   (bitnet.h next to it or in -I)
   Run:   ./a.out model.gguf   (or set BITNET_MODEL_PATH) */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_PROMPTS 3

int main(int argc, char **argv) {
    static const char *prompts[N_PROMPTS] = { "The old lighthouse keeper", "Once upon a time", "The sea" };
    static char out[N_PROMPTS][4096];
    const char *path = argc > 1 ? argv[1] : getenv("BITNET_MODEL_PATH");
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_gen_params gp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_gen *gens[N_PROMPTS] = { NULL, NULL, NULL };
    const char *texts[N_PROMPTS];
    size_t lens[N_PROMPTS], used[N_PROMPTS] = { 0, 0, 0 };
    int results[N_PROMPTS], running = N_PROMPTS, i, steps = 0;
    bitnet_status st;

    if (!path) { fprintf(stderr, "usage: %s MODEL.gguf  (or set BITNET_MODEL_PATH)\n", argv[0]); return 1; }
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = path;
    cp.n_ctx = 256;                              /* positions per sequence */
    cp.n_seq = N_PROMPTS;                        /* one KV cache per prompt, in one context */
    cp.n_batch = 64;                             /* most tokens per forward pass, all sequences together */
    if ((st = bitnet_model_load(&model, &mp)) != BITNET_OK || (st = bitnet_ctx_new(&ctx, model, &cp)) != BITNET_OK)
        goto fail;
    for (i = 0; i < N_PROMPTS; i++) {
        memset(&gp, 0, sizeof gp);
        gp.prompt = prompts[i];
        gp.max_tokens = 48;
        gp.seq = i;                              /* each generation on its own sequence */
        gp.sampler = bitnet_sampler_default_params();
        gp.sampler.seed = 42 + (uint64_t)i;
        if ((st = bitnet_gen_new(&gens[i], ctx, &gp)) != BITNET_OK) goto fail;
    }
    /* One call = one forward pass for every prompt that is still running. */
    while (running > 0) {
        if ((st = bitnet_gen_step_batch(gens, N_PROMPTS, texts, lens, results)) != BITNET_OK) goto fail;
        for (i = 0, running = 0; i < N_PROMPTS; i++) {
            size_t n = lens[i] < sizeof out[i] - 1 - used[i] ? lens[i] : sizeof out[i] - 1 - used[i];
            memcpy(out[i] + used[i], texts[i], n);
            used[i] += n;
            running += results[i] > 0;
        }
        steps++;
    }
    for (i = 0; i < N_PROMPTS; i++) {
        out[i][used[i]] = 0;
        printf("[%d] %s%s\n\n", i, prompts[i], out[i]);
    }
    printf("%d prompts in %d batched steps\n", N_PROMPTS, steps);
    for (i = 0; i < N_PROMPTS; i++) bitnet_gen_free(gens[i]);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return 0;
fail:
    fprintf(stderr, "error: %s: %s\n", bitnet_status_str(st), bitnet_last_error());
    for (i = 0; i < N_PROMPTS; i++) bitnet_gen_free(gens[i]);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return 1;
}
