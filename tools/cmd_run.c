/* bitnet run -m M -p TEXT | --tokens "1 2 3" [-n N] [--print-ids] [sampling flags]
   Streams the generated text to stdout (or, with --print-ids, the generated ids on one line)
   and the timings to stderr. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_print_stats(const bitnet_gen_stats *s) {
    static const char *const reasons[] = { "running", "end of generation", "max tokens", "stop string",
                                           "context full", "cancelled" };
    fprintf(stderr, "\n[load %.0f ms | prompt: %d tokens, %.1f tok/s | generated: %d tokens, %.1f tok/s | first token "
            "%.0f ms | memory %.1f MB | stop: %s]\n", s->load_ms, s->n_prompt, s->prompt_tps, s->n_generated, s->gen_tps,
            s->ttft_ms, s->memory_bytes / 1e6, reasons[s->stop_reason]);
}

#define RUN_OUTPUT_FAILED (-1000)        /* stdout failed: not a bitnet_status */

/* Steps the generation, printing text as it comes or collecting the ids. */
static int run_generation(bitnet_gen *g, int print_ids) {
    const char *text;
    size_t len;
    int32_t seen = 0;
    int rc;
    while ((rc = bitnet_gen_step(g, &text, &len)) >= 0) {
        const bitnet_gen_stats *s = bitnet_gen_stats_get(g);
        if (print_ids && s->n_generated > seen) {
            printf(seen ? " %d" : "%d", bitnet_gen_last_token(g));
            seen = s->n_generated;
            if (ferror(stdout)) return RUN_OUTPUT_FAILED;
        }
        if (!print_ids && len && !cli_write(text, len)) return RUN_OUTPUT_FAILED;
        if (rc == 0) break;
    }
    if (print_ids) printf("\n");
    return rc;
}

int cmd_run(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_gen *gen = NULL;
    bitnet_gen_params p;
    int32_t *ids = NULL, n_ids = 0;
    int rc = 1;
    if (!cli_parse(argc, argv, &o)) return 1;
    if (!o.prompt && !o.tokens) {
        fprintf(stderr, "bitnet: run: give a prompt with -p TEXT, -f FILE or --tokens \"1 2 3\"\n");
        return 1;
    }
    if (o.tokens && !cli_parse_ids(o.tokens, &ids, &n_ids)) return 1;
    if (cli_load_model(&o, 0, &model) && cli_new_ctx(&o, model, 0, 0, &ctx)) {
        memset(&p, 0, sizeof p);
        p.prompt = o.prompt;
        p.prompt_ids = ids;
        p.n_prompt_ids = n_ids;
        p.parse_special = o.special;
        p.no_bos = o.no_bos;
        p.max_tokens = o.n_predict;
        p.sampler = o.sampler;
        p.draft = o.draft;
        p.draft_max = o.draft_max;
        if (bitnet_gen_new(&gen, ctx, &p) != BITNET_OK) cli_fail("run");
        else if ((rc = run_generation(gen, o.print_ids)) == RUN_OUTPUT_FAILED) rc = 1;   /* reported by cli_write / main */
        else if (rc < 0) rc = cli_fail("run");
        else {
            run_print_stats(bitnet_gen_stats_get(gen));
            if (o.draft) cli_print_draft_stats(bitnet_gen_stats_get(gen));
            rc = cli_finish_output(0);
        }
    }
    bitnet_gen_free(gen);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    free(ids);
    return rc;
}
