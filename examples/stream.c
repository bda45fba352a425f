/* stream.c - stream text as it is generated, with sampling settings, a stop string and timing.
   Build: cc -O2 -I. examples/stream.c -lpthread -lm
          (a copy beside a copy of bitnet.h: cc -O2 stream.c -lpthread -lm)
   Run:   ./a.out model.gguf ["prompt"]   (or set BITNET_MODEL_PATH) */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called with each piece of text: complete UTF-8 characters, stop strings already removed.
   Returning nonzero would stop the generation (BITNET_STOP_CANCELLED). */
static int print_piece(const char *text, size_t len, void *user) {
    (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

static const char *reason_name(bitnet_stop_reason r) {
    switch (r) {
    case BITNET_STOP_EOG: return "end of generation";
    case BITNET_STOP_MAX_TOKENS: return "max tokens";
    case BITNET_STOP_STRING: return "stop string";
    case BITNET_STOP_CONTEXT: return "context full";
    case BITNET_STOP_CANCELLED: return "cancelled";
    default: return "running";
    }
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("BITNET_MODEL_PATH");
    const char *stops[] = { "\n\n" };            /* stop at the first blank line (not printed) */
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_gen_params gp;
    bitnet_gen_stats stats;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_status st;

    if (!path) { fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]  (or set BITNET_MODEL_PATH)\n", argv[0]); return 1; }
    /* Zeroed fields mean "default" in every params struct. */
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    memset(&gp, 0, sizeof gp);
    mp.path = path;
    cp.n_ctx = 1024;                             /* KV cache positions (0 = the model's full length) */
    if ((st = bitnet_model_load(&model, &mp)) != BITNET_OK || (st = bitnet_ctx_new(&ctx, model, &cp)) != BITNET_OK) {
        fprintf(stderr, "error: %s: %s\n", bitnet_status_str(st), bitnet_last_error());
        bitnet_model_free(model);
        return 1;
    }

    gp.prompt = argc > 2 ? argv[2] : "The old lighthouse keeper";
    gp.max_tokens = 128;
    gp.sampler = bitnet_sampler_default_params();  /* temperature 0.8, top_k 40, top_p 0.95, min_p 0.05 */
    gp.sampler.repeat_penalty = 1.1f;
    gp.sampler.seed = 42;                        /* same seed, same text */
    gp.stop = stops;
    gp.n_stop = 1;
    gp.on_piece = print_piece;

    fputs(gp.prompt, stdout);
    st = bitnet_generate_text(ctx, &gp, &stats);
    putchar('\n');
    if (st != BITNET_OK) fprintf(stderr, "error: %s: %s\n", bitnet_status_str(st), bitnet_last_error());
    else
        fprintf(stderr, "prompt: %d tokens in %.1f ms (%.1f tok/s) | generated: %d tokens in %.1f ms (%.1f tok/s)"
                " | first token after %.1f ms | stop: %s\n", stats.n_prompt, stats.prompt_ms, stats.prompt_tps,
                stats.n_generated, stats.gen_ms, stats.gen_tps, stats.ttft_ms, reason_name(stats.stop_reason));
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return st == BITNET_OK ? 0 : 1;
}
