/* bitnet perplexity -m MODEL -f TEXT [-c N] [--chunks K] [-t T] [-b B]
   Perplexity of MODEL on the text file, the way llama.cpp's llama-perplexity computes it (see
   tools/perplexity.h): chunks of N tokens (default: the model's context, at most 512), the
   second half of each scored. Prints the running perplexity after each chunk ("[1]12.3456,")
   and ends with
       Final estimate: PPL = X +/- Y
       summary: ppl=X ppl_err=Y n_tokens=N tokens_per_s=S
   where n_tokens is the number of tokens scored and tokens_per_s counts every token decoded. */
#include "cli.h"
#include "perplexity.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ppl_args {
    const char *file;
    int chunks, batch;
} ppl_args;

/* Takes -f, --chunks and -b out of argv (the rest goes to cli_parse); 0 on a bad value. */
static int ppl_take_args(int *argc, char **argv, ppl_args *a) {
    int i, n = 1;
    for (i = 1; i < *argc; i++) {
        const char *f = argv[i];
        int is_file = !strcmp(f, "-f") || !strcmp(f, "--file");
        int is_chunks = !strcmp(f, "--chunks"), is_batch = !strcmp(f, "-b") || !strcmp(f, "--batch-size");
        if (!is_file && !is_chunks && !is_batch) { argv[n++] = argv[i]; continue; }
        if (i + 1 >= *argc) {
            fprintf(stderr, "bitnet: option '%s' needs a value\n", f);
            return 0;
        }
        if (is_file) a->file = argv[++i];
        else if (!cli_parse_int(f, argv[++i], 1, 1 << 30, is_chunks ? &a->chunks : &a->batch)) return 0;
    }
    *argc = n;
    return 1;
}

/* The whole file, NUL-terminated, or NULL with a message. */
static char *ppl_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    if (!f) { fprintf(stderr, "bitnet: perplexity: cannot open '%s'\n", path); return NULL; }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = (char *)malloc((size_t)size + 1)) != NULL && fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = 0;
        *len = (size_t)size;
    } else {
        fprintf(stderr, "bitnet: perplexity: cannot read '%s'\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int32_t *ppl_tokenize(const bitnet_vocab *vocab, const char *text, size_t len, size_t *n) {
    size_t cap = len + 4;
    int32_t *ids = (int32_t *)malloc(cap * sizeof *ids);
    bitnet_status st = ids ? bitnet_tokenize(vocab, text, len, 1, 0, ids, cap, n) : BITNET_ERR_NOMEM;
    if (st == BITNET_ERR_ARGS && *n > cap) {            /* more tokens than bytes: once more */
        int32_t *bigger = (int32_t *)realloc(ids, *n * sizeof *ids);
        if (!bigger) st = BITNET_ERR_NOMEM;
        else st = bitnet_tokenize(vocab, text, len, 1, 0, ids = bigger, *n, n);
    }
    if (st != BITNET_OK) {
        cli_fail("perplexity: tokenize");
        free(ids);
        return NULL;
    }
    return ids;
}

static void ppl_progress(int32_t chunk, const ppl_result *r, void *user) {
    (void)user;
    printf("[%d]%.4f,", chunk + 1, r->ppl);
    fflush(stdout);
}

int cmd_perplexity(int argc, char **argv) {
    ppl_args a = { NULL, 0, 0 };
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    const bitnet_vocab *vocab;
    char *text = NULL, err[512] = "";
    int32_t *ids = NULL, train, bos;
    size_t len = 0, n = 0;
    ppl_result r;
    int rc = 1;
    if (!ppl_take_args(&argc, argv, &a) || !cli_parse(argc, argv, &o)) return 1;
    if (!a.file) {
        fprintf(stderr, "usage: bitnet perplexity -m MODEL -f TEXT [-c N] [--chunks K] [-t T] [-b B]\n");
        return 1;
    }
    if (!(text = ppl_read_file(a.file, &len)) || !cli_load_model(&o, 0, &model)) goto done;
    vocab = bitnet_model_vocab(model);
    train = bitnet_model_hparams(model)->n_ctx_train;
    if (!o.n_ctx) o.n_ctx = train > 0 && train < 512 ? train : 512;
    if (!a.batch || a.batch > o.n_ctx) a.batch = o.n_ctx;
    if (!(ids = ppl_tokenize(vocab, text, len, &n))) goto done;
    if (n < 2 * (size_t)o.n_ctx) {                 /* before a context of that size is made */
        fprintf(stderr, "bitnet: perplexity: '%s' has %zu tokens; at least 2 * n_ctx = %d are needed (use a smaller -c)\n",
                a.file, n, 2 * o.n_ctx);
        goto done;
    }
    if (!cli_new_ctx(&o, model, a.batch, 1, &ctx)) goto done;
    bos = bitnet_vocab_add_bos(vocab) ? bitnet_vocab_bos(vocab) : -1;
    fprintf(stderr, "perplexity: %zu tokens, n_ctx=%d, batch_size=%d, %zu chunks available\n", n, o.n_ctx, a.batch,
            n / (size_t)o.n_ctx);
    if (ppl_compute(ctx, ids, n, bos, a.batch, a.chunks, ppl_progress, NULL, &r, err, sizeof err) != BITNET_OK) {
        printf("\n");
        fprintf(stderr, "bitnet: %s\n", err);
        goto done;
    }
    printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_err);
    printf("summary: ppl=%.4f ppl_err=%.5f n_tokens=%lld tokens_per_s=%.1f\n", r.ppl, r.ppl_err,
           (long long)r.n_scored, r.seconds > 0 ? (double)r.n_evaluated / r.seconds : 0.0);
    rc = 0;
done:
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    free(ids);
    free(text);
    return rc;
}
