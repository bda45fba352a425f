/* test_head_type.c - bitnet_model_params.head_type: the head requantized at load to Q8_0 or
   Q6_K. Memory stats, teacher-forced logits against the head as stored (top-1 agreement and
   max |delta| within what the format's rounding allows), thread-count invariance, and the
   errors for shapes and types it cannot take. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <math.h>

#define N_GREEDY 24
#define MAX_SEQ 96

static bitnet_model *load(const char *name, bitnet_head_type h, bitnet_status *st) {
    bitnet_model *m = NULL;
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    p.path = check_shared_model(name);
    p.head_type = h;
    *st = bitnet_model_load(&m, &p);
    return m;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int n_threads) {
    bitnet_ctx *c = NULL;
    bitnet_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = MAX_SEQ;
    p.n_batch = MAX_SEQ;
    p.n_threads = n_threads;
    p.all_logits = 1;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

static int32_t argmax(const float *x, int n) {
    int i, best = 0;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* The prompt, then N_GREEDY greedy ids of the model as stored. */
static int32_t sequence(const bitnet_model *m, int32_t *ids) {
    const bitnet_vocab *v = bitnet_model_vocab(m);
    const char *text = "Hello BitNet, tell me a story about the sea.";
    int32_t n_vocab = bitnet_model_hparams(m)->n_vocab, i;
    size_t n = 0;
    bitnet_ctx *c = new_ctx(m, 0);
    if (!c || bitnet_tokenize(v, text, strlen(text), 1, 0, ids, MAX_SEQ - N_GREEDY, &n) != BITNET_OK) return 0;
    bitnet_decode(c, ids, (int32_t)n);
    for (i = 0; i < N_GREEDY; i++) {
        ids[n + (size_t)i] = argmax(bitnet_ctx_logits(c, -1), n_vocab);
        bitnet_decode(c, &ids[n + (size_t)i], 1);
    }
    bitnet_ctx_free(c);
    return (int32_t)n + N_GREEDY;
}

/* Logits of every position (n, n_vocab) into out. */
static void all_logits(const bitnet_model *m, const int32_t *ids, int32_t n, int threads, float *out) {
    int32_t n_vocab = bitnet_model_hparams(m)->n_vocab, i;
    bitnet_ctx *c = new_ctx(m, threads);
    CHECK(c && bitnet_decode(c, ids, n) == BITNET_OK);
    for (i = 0; c && i < n; i++) memcpy(out + (size_t)i * n_vocab, bitnet_ctx_logits(c, i), (size_t)n_vocab * 4);
    bitnet_ctx_free(c);
}

/* One model, one requantized head: stats and accuracy against the head as stored. */
static void check_head(const char *name, bitnet_head_type h, double max_allowed, int min_agree) {
    bitnet_status st;
    bitnet_model *ref = load(name, BITNET_HEAD_AS_STORED, &st), *m = load(name, h, &st);
    bitnet_model_memory mr, mm;
    int32_t ids[MAX_SEQ], n, n_vocab, i, j, cols;
    float *a, *b, *b1;
    double max_d = 0;
    int agree = 0;
    uint64_t want;
    CHECKF(ref && m, "%s: %s", name, bitnet_last_error());
    if (!ref || !m) { bitnet_model_free(ref); bitnet_model_free(m); return; }
    n_vocab = bitnet_model_hparams(m)->n_vocab;
    cols = bitnet_model_hparams(m)->n_embd;
    mr = bitnet_model_get_memory(ref);
    mm = bitnet_model_get_memory(m);
    want = (uint64_t)n_vocab * (h == BITNET_HEAD_Q8_0 ? (uint64_t)cols / 32 * 34 : (uint64_t)cols / 256 * 210);
    CHECK(mm.head_type == (h == BITNET_HEAD_Q8_0 ? BITNET_TYPE_Q8_0 : BITNET_TYPE_Q6_K));
    CHECK(mr.head_type == BITNET_TYPE_F16);
    CHECK(mr.head_bytes == (uint64_t)n_vocab * (uint64_t)cols * 2);
    CHECKF(mm.head_bytes == want, "%s: head %llu bytes, want %llu", name, (unsigned long long)mm.head_bytes,
           (unsigned long long)want);
    CHECK(mm.converted_bytes == mr.converted_bytes + want);       /* reported as model-owned memory */
    CHECK(mm.weight_bytes == mr.weight_bytes - mr.head_bytes + want);
    n = sequence(ref, ids);
    CHECK(n > N_GREEDY);
    a = (float *)malloc((size_t)n * n_vocab * 4);
    b = (float *)malloc((size_t)n * n_vocab * 4);
    b1 = (float *)malloc((size_t)n * n_vocab * 4);
    all_logits(ref, ids, n, 0, a);
    all_logits(m, ids, n, 0, b);
    all_logits(m, ids, n, 1, b1);
    CHECK(memcmp(b, b1, (size_t)n * n_vocab * 4) == 0);          /* any thread count, same bits */
    for (i = 0; i < n; i++) {
        agree += argmax(a + (size_t)i * n_vocab, n_vocab) == argmax(b + (size_t)i * n_vocab, n_vocab);
        for (j = 0; j < n_vocab; j++) {
            double d = fabs((double)a[(size_t)i * n_vocab + j] - b[(size_t)i * n_vocab + j]);
            if (d > max_d) max_d = d;
        }
    }
    CHECKF(max_d > 0 && max_d < max_allowed, "%s %s: max |dlogit| %.4f (allowed %.3f)", name,
           bitnet_type_name(mm.head_type), max_d, max_allowed);
    CHECKF(agree >= n - min_agree, "%s %s: top-1 agrees at %d of %d positions", name,
           bitnet_type_name(mm.head_type), agree, n);
    printf("  %s head %s: top-1 %d/%d, max |dlogit| %.4f\n", name, bitnet_type_name(mm.head_type), agree, n, max_d);
    free(a); free(b); free(b1);
    bitnet_model_free(ref);
    bitnet_model_free(m);
}

static void test_errors(void) {
    bitnet_status st;
    bitnet_model *m = load("tiny-2b4t-vocab-i2_s", BITNET_HEAD_Q6_K, &st);   /* n_embd 128 */
    CHECK(m == NULL && st == BITNET_ERR_FORMAT);
    CHECKF(strstr(bitnet_last_error(), "multiple of 256") && strstr(bitnet_last_error(), "token_embd"),
           "%s", bitnet_last_error());
    m = load("tiny-b158-i2_s", (bitnet_head_type)7, &st);
    CHECK(m == NULL && st == BITNET_ERR_ARGS);
    CHECK(strstr(bitnet_last_error(), "head_type 7") != NULL);
}

int main(void) {
    if (!check_have_shared()) return check_report("head_type");
    /* bounds: the head's rounding error and the activations' (quantized to 8 bits per 32 or 256,
       as llama.cpp does) times |x| summed over n_embd; the tiny logits' sd is 1.1-1.6, and their
       near-ties flip a top-1 or two */
    check_head("tiny-2b4t-vocab-i2_s", BITNET_HEAD_Q8_0, 0.08, 1);
    check_head("tiny-b158-f16", BITNET_HEAD_Q8_0, 0.08, 3);
    check_head("tiny-b158-f16", BITNET_HEAD_Q6_K, 0.2, 2);
    test_errors();
    return check_report("head_type");
}
