/* bitnet logits -m M --tokens "1 2 3" -o FILE: float32 little-endian logits of every position
   (positions x vocab), the prompt run as one batch. */
#include "cli.h"
#include "platform.h"
#include <stdio.h>
#include <stdlib.h>

static int logits_write(bitnet_ctx *ctx, int32_t n, int32_t n_vocab, const char *path) {
    FILE *f = cli_fopen(path, "wb");
    int32_t i;
    if (!f) {
        fprintf(stderr, "bitnet: logits: cannot create '%s'\n", path);
        return 0;
    }
    for (i = 0; i < n; i++)
        if (fwrite(bitnet_ctx_logits(ctx, i), sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) break;
    if (fclose(f) != 0 || i < n) {
        fprintf(stderr, "bitnet: logits: write to '%s' failed\n", path);
        return 0;
    }
    return 1;
}

int cmd_logits(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    int32_t *ids = NULL, n = 0;
    int rc = 1;
    if (!cli_parse(argc, argv, &o)) return 1;
    if (!o.tokens || !o.output) {
        fprintf(stderr, "bitnet: logits: needs --tokens \"1 2 3\" and -o FILE\n");
        return 1;
    }
    if (!cli_parse_ids(o.tokens, &ids, &n)) return 1;
    if (o.n_ctx < n) o.n_ctx = n;
    if (cli_load_model(&o, 0, &model) && cli_new_ctx(&o, model, n, 1, &ctx)) {
        if (bitnet_decode(ctx, ids, n) != BITNET_OK) cli_fail("logits");
        else if (logits_write(ctx, n, bitnet_model_hparams(model)->n_vocab, o.output)) {
            fprintf(stderr, "bitnet: logits: wrote %d x %d floats to %s\n", n, bitnet_model_hparams(model)->n_vocab,
                    o.output);
            rc = 0;
        }
    }
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    free(ids);
    return rc;
}
