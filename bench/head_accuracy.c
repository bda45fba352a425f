/* What --head-type costs in accuracy: the model with its head as stored (the reference) and
   with the head requantized to Q8_0 and to Q6_K, teacher-forced over the same tokens (the
   prompt, then the reference's greedy continuation). Per head type: top-1 agreement over the
   positions, max |delta logit| and RMS delta (also relative to the logits' spread), and the head
   bytes read per token. A head type the shape cannot take (Q6_K needs n_embd % 256 == 0) is
   listed with the reason.
   usage: head_accuracy [MODEL.gguf] [-p TEXT] [-n N_GREEDY] [-t THREADS] */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define MAX_TOKENS 512

static int32_t argmax(const float *x, int32_t n) {
    int32_t i, best = 0;
    for (i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int32_t n, int threads) {
    bitnet_ctx_params cp;
    bitnet_ctx *c = NULL;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = n;
    cp.n_batch = n;
    cp.n_threads = threads;
    cp.all_logits = 1;
    return bitnet_ctx_new(&c, m, &cp) == BITNET_OK ? c : NULL;
}

/* The prompt then n_greedy greedy ids of the reference model, one decode per token. */
static int32_t build_sequence(const bitnet_model *m, const char *prompt, int n_greedy, int threads, int32_t *ids) {
    const bitnet_vocab *v = bitnet_model_vocab(m);
    int32_t n_vocab = bitnet_model_hparams(m)->n_vocab, i;
    size_t n = 0;
    bitnet_ctx *c;
    if (bitnet_tokenize(v, prompt, strlen(prompt), bitnet_vocab_add_bos(v), 0, ids, MAX_TOKENS / 2, &n) != BITNET_OK)
        return -1;
    if (!(c = new_ctx(m, (int32_t)n + n_greedy, threads))) return -1;
    if (bitnet_decode(c, ids, (int32_t)n) != BITNET_OK) { bitnet_ctx_free(c); return -1; }
    for (i = 0; i < n_greedy; i++) {
        ids[n + (size_t)i] = argmax(bitnet_ctx_logits(c, -1), n_vocab);
        if (i + 1 < n_greedy && bitnet_decode(c, &ids[n + (size_t)i], 1) != BITNET_OK) { bitnet_ctx_free(c); return -1; }
    }
    bitnet_ctx_free(c);
    return (int32_t)n + n_greedy;
}

/* All logits of ids under the model loaded with head type h, into out (n, n_vocab). */
static int teacher_forced(const char *path, bitnet_head_type h, const int32_t *ids, int32_t n, int threads,
                          float *out, bitnet_model_memory *mem) {
    bitnet_model_params mp;
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    int32_t i, n_vocab;
    int ok = 0;
    memset(&mp, 0, sizeof mp);
    mp.path = path;
    mp.head_type = h;
    if (bitnet_model_load(&m, &mp) != BITNET_OK) return 0;
    n_vocab = bitnet_model_hparams(m)->n_vocab;
    *mem = bitnet_model_get_memory(m);
    if ((c = new_ctx(m, n, threads)) && bitnet_decode(c, ids, n) == BITNET_OK) {
        for (i = 0; i < n; i++) memcpy(out + (size_t)i * n_vocab, bitnet_ctx_logits(c, i), (size_t)n_vocab * sizeof(float));
        ok = 1;
    }
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    return ok;
}

int main(int argc, char **argv) {
    const char *path = "../shared/data/models/tiny-2b4t-vocab-i2_s.gguf";
    const char *prompt = "Hello BitNet, tell me a story about the sea.";
    static const char *const names[3] = { "as stored", "Q8_0", "Q6_K" };
    int n_greedy = 32, threads = 0, h, a;
    int32_t ids[MAX_TOKENS], n, n_vocab, i, j;
    bitnet_model_params mp;
    bitnet_model *ref = NULL;
    bitnet_model_memory mem;
    float *base, *test;
    double sd = 0, mean = 0;
    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-p") && a + 1 < argc) prompt = argv[++a];
        else if (!strcmp(argv[a], "-n") && a + 1 < argc) n_greedy = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-t") && a + 1 < argc) threads = atoi(argv[++a]);
        else if (argv[a][0] != '-') path = argv[a];
        else { fprintf(stderr, "usage: head_accuracy [MODEL.gguf] [-p TEXT] [-n N_GREEDY] [-t THREADS]\n"); return 1; }
    }
    if (n_greedy < 1 || n_greedy > MAX_TOKENS / 2) { fprintf(stderr, "head_accuracy: -n wants 1..%d\n", MAX_TOKENS / 2); return 1; }
    memset(&mp, 0, sizeof mp);
    mp.path = path;
    if (bitnet_model_load(&ref, &mp) != BITNET_OK) { fprintf(stderr, "head_accuracy: %s\n", bitnet_last_error()); return 1; }
    n_vocab = bitnet_model_hparams(ref)->n_vocab;
    n = build_sequence(ref, prompt, n_greedy, threads, ids);
    bitnet_model_free(ref);
    base = (float *)malloc((size_t)(n > 0 ? n : 1) * (size_t)n_vocab * sizeof(float));
    test = (float *)malloc((size_t)(n > 0 ? n : 1) * (size_t)n_vocab * sizeof(float));
    if (n < 0 || !base || !test || !teacher_forced(path, BITNET_HEAD_AS_STORED, ids, n, threads, base, &mem)) {
        fprintf(stderr, "head_accuracy: %s\n", bitnet_last_error());
        return 1;
    }
    for (i = 0; i < n * n_vocab; i++) mean += base[i] / ((double)n * n_vocab);
    for (i = 0; i < n * n_vocab; i++) sd += (base[i] - mean) * (base[i] - mean) / ((double)n * n_vocab);
    sd = sqrt(sd);
    printf("model %s: %d positions teacher-forced (%d prompt + %d greedy), logits sd %.3f\n", path, n, n - n_greedy,
           n_greedy, sd);
    printf("| head | bytes/token | top-1 agreement | max abs dlogit | RMS dlogit | RMS / sd |\n|---|---|---|---|---|---|\n");
    printf("| %s (%s) | %.1f MB | - | - | - | - |\n", names[0], bitnet_type_name(mem.head_type), mem.head_bytes / 1e6);
    for (h = 1; h <= 2; h++) {
        double max_d = 0, sq = 0;
        int agree = 0;
        if (!teacher_forced(path, (bitnet_head_type)h, ids, n, threads, test, &mem)) {
            printf("| %s | - | not available: %s | | | |\n", names[h], bitnet_last_error());
            continue;
        }
        for (i = 0; i < n; i++) {
            const float *b = base + (size_t)i * n_vocab, *t = test + (size_t)i * n_vocab;
            agree += argmax(b, n_vocab) == argmax(t, n_vocab);
            for (j = 0; j < n_vocab; j++) {
                double d = fabs((double)b[j] - t[j]);
                if (d > max_d) max_d = d;
                sq += d * d;
            }
        }
        printf("| %s | %.1f MB | %d/%d | %.4f | %.5f | %.4f |\n", names[h], mem.head_bytes / 1e6, agree, n, max_d,
               sqrt(sq / ((double)n * n_vocab)), sqrt(sq / ((double)n * n_vocab)) / sd);
    }
    free(base);
    free(test);
    return 0;
}
