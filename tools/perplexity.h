/* perplexity.h - perplexity of a model on a token stream, computed as llama.cpp's
   llama-perplexity does it (tools/perplexity/perplexity.cpp, function perplexity()):
     - the tokens (the whole text tokenized once, BOS first when the vocabulary adds one) are cut
       into n_chunk = min(K, n_tokens / n_ctx) non-overlapping chunks of n_ctx tokens; the tail
       that does not fill a chunk is dropped; at least 2 * n_ctx tokens are needed;
     - each chunk starts from an empty KV cache and is decoded in batches of n_batch tokens; with
       a BOS id the chunk's first token is replaced by BOS for the decode;
     - only the second half is scored: the logits at positions first = n_ctx/2 .. n_ctx-2 predict
       the tokens at first+1 .. n_ctx-1 (n_ctx - 1 - n_ctx/2 tokens a chunk);
     - NLL_t = -(logit[tok] - max - log(sum exp(logit - max))) (the sum in double);
       ppl = exp(mean NLL); the error estimate is ppl * sqrt((mean NLL^2 - mean^2) / (N - 1)). */
#ifndef BITNET_TOOLS_PERPLEXITY_H
#define BITNET_TOOLS_PERPLEXITY_H
#include "../bitnet.h"

typedef struct ppl_result {
    double ppl, ppl_err;      /* exp(mean NLL) and its error estimate (0 with < 2 tokens) */
    double nll, nll2;         /* mean NLL and mean NLL^2 of the scored tokens */
    int64_t n_scored;         /* tokens scored */
    int64_t n_evaluated;      /* tokens decoded (n_chunks * n_ctx) */
    int32_t n_chunks;
    double seconds;           /* time spent decoding and scoring */
} ppl_result;

/* Called after each chunk with the running result (ppl over the chunks so far). */
typedef void (*ppl_progress_fn)(int32_t chunk, const ppl_result *so_far, void *user);

/* Scores tokens[0..n_tokens) with ctx (created with all_logits and an n_batch of at least
   `n_batch`); the chunk size is the context's n_ctx. n_chunks <= 0 = as many as fit. bos < 0 =
   leave the chunks' first tokens as they are. BITNET_ERR_ARGS for too few tokens or bad sizes,
   BITNET_ERR_NOMEM, or the decode's status; the reason goes to err (err_size bytes). Allocates
   one batch of token ids at the start, nothing per token. */
bitnet_status ppl_compute(bitnet_ctx *ctx, const int32_t *tokens, size_t n_tokens, int32_t bos,
                          int32_t n_batch, int32_t n_chunks, ppl_progress_fn progress, void *user,
                          ppl_result *out, char *err, size_t err_size);

/* -log softmax(logits)[target] over n_vocab logits, as llama.cpp's log_softmax computes it. */
double ppl_token_nll(const float *logits, int32_t n_vocab, int32_t target);
#endif
