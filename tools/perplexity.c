/* perplexity.c - see perplexity.h. */
#define _POSIX_C_SOURCE 200809L
#include "perplexity.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static bitnet_status ppl_error(char *err, size_t err_size, bitnet_status st, const char *fmt, ...) {
    va_list ap;
    if (err && err_size) {
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return st;
}

static double ppl_now(void) { return bitnet_time_ms() * 1e-3; }   /* the library's monotonic clock */

double ppl_token_nll(const float *logits, int32_t n_vocab, int32_t target) {
    float mx = logits[0];
    double sum = 0.0;
    int32_t i;
    for (i = 1; i < n_vocab; i++) if (logits[i] > mx) mx = logits[i];
    for (i = 0; i < n_vocab; i++) sum += (double)expf(logits[i] - mx);
    return -((double)(logits[target] - mx) - log(sum));
}

/* Running figures from the sums so far. */
static void ppl_finish(ppl_result *r, double nll_sum, double nll2_sum) {
    double var;
    r->nll = r->n_scored ? nll_sum / (double)r->n_scored : 0.0;
    r->nll2 = r->n_scored ? nll2_sum / (double)r->n_scored : 0.0;
    r->ppl = exp(r->nll);
    var = r->nll2 - r->nll * r->nll;
    r->ppl_err = r->n_scored > 1 && var > 0 ? sqrt(var / (double)(r->n_scored - 1)) * r->ppl : 0.0;
}

/* Decodes one chunk batch by batch and adds the NLL of its second half to the sums. */
static bitnet_status ppl_chunk(bitnet_ctx *ctx, const int32_t *chunk, int32_t n_ctx, int32_t bos,
                               int32_t n_batch, int32_t n_vocab, int32_t *buf, double *nll_sum,
                               double *nll2_sum, int64_t *n_scored) {
    int32_t first = n_ctx / 2, b0, k;
    bitnet_status st = bitnet_ctx_truncate(ctx, 0);
    for (b0 = 0; st == BITNET_OK && b0 < n_ctx; b0 += n_batch) {
        int32_t n = n_ctx - b0 < n_batch ? n_ctx - b0 : n_batch;
        for (k = 0; k < n; k++) buf[k] = chunk[b0 + k];
        if (b0 == 0 && bos >= 0) buf[0] = bos;
        if ((st = bitnet_decode(ctx, buf, n)) != BITNET_OK) break;
        for (k = 0; k < n; k++) {
            int32_t pos = b0 + k;
            double v;
            if (pos < first || pos > n_ctx - 2) continue;
            v = ppl_token_nll(bitnet_ctx_logits(ctx, k), n_vocab, chunk[pos + 1]);
            *nll_sum += v;
            *nll2_sum += v * v;
            (*n_scored)++;
        }
    }
    return st;
}

bitnet_status ppl_compute(bitnet_ctx *ctx, const int32_t *tokens, size_t n_tokens, int32_t bos,
                          int32_t n_batch, int32_t n_chunks, ppl_progress_fn progress, void *user,
                          ppl_result *out, char *err, size_t err_size) {
    const bitnet_hparams *hp;
    int32_t n_ctx, n_vocab, i, *buf;
    size_t n_max;
    double nll_sum = 0.0, nll2_sum = 0.0, t0;
    ppl_result r = { 0, 0, 0, 0, 0, 0, 0, 0 };
    bitnet_status st = BITNET_OK;
    if (!ctx || !tokens || !out) return ppl_error(err, err_size, BITNET_ERR_ARGS, "perplexity: no context or tokens");
    hp = bitnet_model_hparams(bitnet_ctx_model(ctx));
    n_ctx = bitnet_ctx_n_ctx(ctx);
    n_vocab = hp->n_vocab;
    if (n_ctx < 4) return ppl_error(err, err_size, BITNET_ERR_ARGS, "perplexity: context of %d tokens is too small (at least 4)", n_ctx);
    if (n_tokens < 2 * (size_t)n_ctx)
        return ppl_error(err, err_size, BITNET_ERR_ARGS, "perplexity: the text has %zu tokens; at least 2 * n_ctx = %d are needed "
                         "(use a smaller -c)", n_tokens, 2 * n_ctx);
    for (i = 0; i < (int32_t)n_tokens && i < INT32_MAX; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return ppl_error(err, err_size, BITNET_ERR_ARGS, "perplexity: token %d is id %d, outside the vocabulary of %d",
                             i, tokens[i], n_vocab);
    if (bos >= n_vocab) return ppl_error(err, err_size, BITNET_ERR_ARGS, "perplexity: BOS id %d outside the vocabulary", bos);
    if (n_batch <= 0 || n_batch > n_ctx) n_batch = n_ctx;
    n_max = n_tokens / (size_t)n_ctx;
    r.n_chunks = n_chunks > 0 && (size_t)n_chunks < n_max ? n_chunks : (int32_t)(n_max < INT32_MAX ? n_max : INT32_MAX);
    buf = (int32_t *)malloc((size_t)n_batch * sizeof *buf);
    if (!buf) return ppl_error(err, err_size, BITNET_ERR_NOMEM, "perplexity: out of memory");
    t0 = ppl_now();
    for (i = 0; i < r.n_chunks; i++) {
        st = ppl_chunk(ctx, tokens + (size_t)i * (size_t)n_ctx, n_ctx, bos, n_batch, n_vocab, buf, &nll_sum,
                       &nll2_sum, &r.n_scored);
        if (st != BITNET_OK) {
            ppl_error(err, err_size, st, "perplexity: chunk %d: %s", i + 1, bitnet_last_error());
            break;
        }
        r.n_evaluated += n_ctx;
        r.seconds = ppl_now() - t0;
        ppl_finish(&r, nll_sum, nll2_sum);
        if (progress) progress(i, &r, user);
    }
    free(buf);
    if (st == BITNET_OK) *out = r;
    return st;
}
