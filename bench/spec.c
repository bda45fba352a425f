/* Speculative decoding costs: what one forward pass over 1 + k tokens with logits for every row
   (a verify pass of k drafts) costs against decoding one token, for k = 1, 3, 7 (2, 4 and 8
   tokens); then the end-to-end tok/s of greedy generation with and without n-gram drafts on the
   same prompt. Sizes are timed round-robin (1, 2, 4, 8, 1, 2, ...) and the median of each kept,
   so a shared host's drift hits all of them alike; every figure is a ratio from the same run.
   usage: spec MODEL.gguf [-t THREADS] [-r ROUNDS] [-n GEN_TOKENS] [-p PROMPT]
   Last line: summary: verify2_ratio=A verify4_ratio=B verify8_ratio=C draft_speedup=S accepted=X/Y */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUNDS 64

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* ms of one decode of n tokens after `pos` cached ones, logits for every row. */
static double time_pass(bitnet_ctx *c, const int32_t *tokens, int32_t pos, int32_t n) {
    static const int8_t all[16] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    bitnet_batch b;
    double t0;
    memset(&b, 0, sizeof b);
    b.n_tokens = n;
    b.token = tokens + pos;
    b.logits = all;
    t0 = bitnet_time_ms();
    if (bitnet_decode_batch(c, &b) != BITNET_OK) return -1;
    t0 = bitnet_time_ms() - t0;
    bitnet_ctx_truncate(c, pos);
    return t0;
}

/* tok/s of one greedy generation of n tokens from the prompt, drafts on or off. */
static double generate(bitnet_ctx *c, const char *prompt, int n, int draft, bitnet_gen_stats *st) {
    bitnet_gen_params p;
    memset(&p, 0, sizeof p);
    p.prompt = prompt;
    p.max_tokens = n;
    p.ignore_eog = 1;
    p.draft = draft ? BITNET_DRAFT_NGRAM : BITNET_DRAFT_NONE;
    bitnet_ctx_truncate(c, 0);
    if (bitnet_generate_text(c, &p, st) != BITNET_OK) return -1;
    return st->gen_tps;
}

int main(int argc, char **argv) {
    static const int32_t sizes[4] = { 1, 2, 4, 8 };
    const char *path = NULL;
    const char *prompt = "The old lighthouse keeper wrote in his log every night: the sea is calm, the lamp is lit, "
                         "the ships are safe. Repeat the log: the sea is calm, the lamp is lit, the ships are safe. "
                         "Again: the sea is calm, the lamp is lit,";
    int threads = 0, rounds = 5, n_gen = 48, a, r, i;
    double t[4][MAX_ROUNDS], med[4], tps[2][MAX_ROUNDS];
    int32_t tokens[256], pos = 64;
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    bitnet_gen_stats st;
    int32_t drafted = 0, accepted = 0;
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-t") && a + 1 < argc) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-r") && a + 1 < argc) rounds = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-n") && a + 1 < argc) n_gen = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-p") && a + 1 < argc) prompt = argv[++a];
        else if (argv[a][0] != '-') path = argv[a];
        else path = NULL, a = argc;
    }
    if (!path || rounds < 1 || rounds > MAX_ROUNDS || n_gen < 1) {
        fprintf(stderr, "usage: spec MODEL.gguf [-t THREADS] [-r ROUNDS 1..%d] [-n GEN_TOKENS] [-p PROMPT]\n", MAX_ROUNDS);
        return 1;
    }
    memset(&mp, 0, sizeof mp);
    mp.path = path;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 512;
    cp.n_batch = 64;
    cp.n_outputs = 9;
    cp.n_threads = threads;
    if (bitnet_model_load(&m, &mp) != BITNET_OK || bitnet_ctx_new(&c, m, &cp) != BITNET_OK) {
        fprintf(stderr, "spec: %s\n", bitnet_last_error());
        return 1;
    }
    for (i = 0; i < 256; i++) tokens[i] = (int32_t)((i * 7919 + 13) % bitnet_model_hparams(m)->n_vocab);
    if (bitnet_decode(c, tokens, pos) != BITNET_OK) { fprintf(stderr, "spec: %s\n", bitnet_last_error()); return 1; }
    printf("model %s, %d threads, %d cached positions, %d rounds round-robin\n", path,
           threads ? threads : bitnet_online_cores(), pos, rounds);
    for (i = 0; i < 4; i++) time_pass(c, tokens, pos, sizes[i]);      /* warm up */
    for (r = 0; r < rounds; r++)
        for (i = 0; i < 4; i++)
            if ((t[i][r] = time_pass(c, tokens, pos, sizes[i])) < 0) { fprintf(stderr, "spec: %s\n", bitnet_last_error()); return 1; }
    for (i = 0; i < 4; i++) med[i] = median(t[i], rounds);
    printf("| tokens in the pass | median ms | cost vs 1 token | ms per token |\n|---|---|---|---|\n");
    for (i = 0; i < 4; i++)
        printf("| %d | %.2f | %.2fx | %.2f |\n", sizes[i], med[i], med[i] / med[0], med[i] / sizes[i]);
    /* end to end: plain and drafted generations alternated */
    generate(c, prompt, 4, 0, &st);
    for (r = 0; r < rounds; r++) {
        tps[0][r] = generate(c, prompt, n_gen, 0, &st);
        tps[1][r] = generate(c, prompt, n_gen, 1, &st);
        drafted += st.n_drafted;
        accepted += st.n_draft_accepted;
        if (tps[0][r] < 0 || tps[1][r] < 0) { fprintf(stderr, "spec: %s\n", bitnet_last_error()); return 1; }
    }
    {
        double plain = median(tps[0], rounds), spec = median(tps[1], rounds);
        printf("greedy generation of %d tokens: plain %.2f tok/s, with n-gram drafts %.2f tok/s (%.2fx); "
               "%d of %d drafted tokens accepted\n", n_gen, plain, spec, spec / plain, accepted, drafted);
        printf("summary: verify2_ratio=%.3f verify4_ratio=%.3f verify8_ratio=%.3f draft_speedup=%.3f accepted=%d/%d\n",
               med[1] / med[0], med[2] / med[0], med[3] / med[0], spec / plain, accepted, drafted);
    }
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    return 0;
}
