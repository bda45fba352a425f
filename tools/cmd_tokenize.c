/* bitnet tokenize -m M -p TEXT [--no-bos] [--special]: the ids on one line. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_tokenize(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    int32_t *ids = NULL;
    size_t n = 0, i;
    int rc = 1;
    if (!cli_parse(argc, argv, &o)) return 1;
    if (!o.prompt) {
        fprintf(stderr, "bitnet: tokenize: give the text with -p TEXT or -f FILE\n");
        return 1;
    }
    if (!cli_load_model(&o, 1, &model)) return 1;
    bitnet_tokenize(bitnet_model_vocab(model), o.prompt, strlen(o.prompt), !o.no_bos, o.special, NULL, 0, &n);
    ids = (int32_t *)malloc((n ? n : 1) * sizeof *ids);
    if (ids && bitnet_tokenize(bitnet_model_vocab(model), o.prompt, strlen(o.prompt), !o.no_bos, o.special, ids,
                               n, &n) == BITNET_OK) {
        for (i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
        rc = cli_finish_output(0);
    } else {
        cli_fail("tokenize");
    }
    free(ids);
    bitnet_model_free(model);
    return rc;
}
