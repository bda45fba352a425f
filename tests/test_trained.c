/* The trained model (models/kjv-bitnet-i2_s.gguf, made by tools/train_bitnet.py and `bitnet
   convert`) against the reference its training script wrote from its own PyTorch forward pass
   (tests/data/trained_ref.bin): float32 logits of every prompt position and the greedy
   continuation. The W1.58A8 arithmetic is the same on both sides (ternary codes times int8
   activations summed exactly), so only float rounding order differs: logits must agree to a
   small fraction of their spread, and the argmax everywhere. Also: the same logits from every
   kernel table this CPU runs, and the tokenizer gives the prompts' ids. Paths can be overridden
   with BITNET_TRAINED_MODEL and BITNET_TRAINED_REF. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "tests/check.h"
#include <math.h>

typedef struct ref_prompt {
    uint32_t n_tokens, n_greedy;
    const int32_t *tokens, *greedy;
    const float *logits;              /* (n_tokens, n_vocab) */
} ref_prompt;

static const char *env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Parses the reference file; returns the number of prompts (0 on a bad file). */
static uint32_t parse_ref(const unsigned char *d, size_t size, uint32_t *n_vocab, ref_prompt *out, uint32_t max) {
    size_t off = 16;
    uint32_t n, i;
    if (size < 16 || memcmp(d, "BNREF1\0\0", 8)) return 0;
    n = rd_u32(d + 8);
    *n_vocab = rd_u32(d + 12);
    if (n > max || *n_vocab == 0 || *n_vocab > (1u << 20)) return 0;
    for (i = 0; i < n; i++) {
        ref_prompt *p = &out[i];
        uint64_t need;
        if (size - off < 8) return 0;
        p->n_tokens = rd_u32(d + off);
        p->n_greedy = rd_u32(d + off + 4);
        off += 8;
        if (p->n_tokens == 0 || p->n_tokens > 4096 || p->n_greedy > 4096) return 0;
        need = 4ull * p->n_tokens + 4ull * p->n_tokens * *n_vocab + 4ull * p->n_greedy;
        if (size - off < need) return 0;
        p->tokens = (const int32_t *)(const void *)(d + off);
        p->logits = (const float *)(const void *)(d + off + 4ull * p->n_tokens);
        p->greedy = (const int32_t *)(const void *)(d + off + 4ull * p->n_tokens * (1 + *n_vocab));
        off += (size_t)need;
    }
    return off == size ? n : 0;
}

static int argmax(const float *x, uint32_t n) {
    uint32_t i, best = 0;
    for (i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return (int)best;
}

static bitnet_ctx *new_ctx(const bitnet_model *m, int all_logits) {
    bitnet_ctx_params p;
    bitnet_ctx *c = NULL;
    memset(&p, 0, sizeof p);
    p.n_batch = 128;                  /* the prompts and their continuations fit the model's context */
    p.all_logits = all_logits;
    CHECKF(bitnet_ctx_new(&c, m, &p) == BITNET_OK, "ctx: %s", bitnet_last_error());
    return c;
}

/* Max |engine - ref| over a prompt's logits, and the spread of the reference logits. */
static void compare_prompt(bitnet_ctx *c, const ref_prompt *p, uint32_t V, double *max_diff, double *spread,
                           int *argmax_same) {
    uint32_t t, i;
    *argmax_same = 1;
    for (t = 0; t < p->n_tokens; t++) {
        const float *got = bitnet_ctx_logits(c, (int32_t)t), *want = p->logits + (size_t)t * V;
        float lo = want[0], hi = want[0];
        for (i = 0; i < V; i++) {
            double d = fabs((double)got[i] - (double)want[i]);
            if (d > *max_diff || d != d) *max_diff = d != d ? 1e30 : d;
            if (want[i] < lo) lo = want[i];
            if (want[i] > hi) hi = want[i];
        }
        if (hi - lo > *spread) *spread = hi - lo;
        if (argmax(got, V) != argmax(want, V)) *argmax_same = 0;
    }
}

static void check_greedy(bitnet_ctx *c, const ref_prompt *p, uint32_t V) {
    int32_t tok;
    uint32_t g, same = 0;
    bitnet_ctx_truncate(c, 0);
    CHECK(bitnet_decode(c, p->tokens, (int32_t)p->n_tokens) == BITNET_OK);
    for (g = 0; g < p->n_greedy; g++) {
        tok = argmax(bitnet_ctx_logits(c, -1), V);
        same += tok == p->greedy[g];
        if (bitnet_decode(c, &tok, 1) != BITNET_OK) break;
    }
    CHECKF(same == p->n_greedy, "greedy ids: %u of %u the same", same, p->n_greedy);
}

static void check_tokenizer(const bitnet_model *m, const ref_prompt *p, const char *text) {
    int32_t ids[512];
    size_t n = 0, i;
    int same;
    CHECK(bitnet_tokenize(bitnet_model_vocab(m), text, strlen(text), 1, 0, ids, 512, &n) == BITNET_OK);
    same = n == p->n_tokens;
    for (i = 0; same && i < n; i++) same = ids[i] == p->tokens[i];
    CHECKF(same, "tokenizer: '%s' gives %zu ids, the reference %u", text, n, p->n_tokens);
}

int main(void) {
    static const char *const prompts[] = { "In the beginning God created", "And the LORD said unto Moses,",
                                           "Blessed are the poor in spirit: for", "The LORD is my shepherd;" };
    const char *model_path = env_or("BITNET_TRAINED_MODEL", "models/kjv-bitnet-i2_s.gguf");
    const char *ref_path = env_or("BITNET_TRAINED_REF", "tests/data/trained_ref.bin");
    size_t size = 0;
    unsigned char *ref = check_read_file(ref_path, &size);
    ref_prompt prompts_ref[16];
    uint32_t n, V = 0, i;
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    int isa;
    CHECKF(ref != NULL, "cannot read %s", ref_path);
    n = ref ? parse_ref(ref, size, &V, prompts_ref, 16) : 0;
    CHECKF(n > 0, "%s: not a reference file", ref_path);
    for (isa = BITNET_ISA_REF; n && isa <= BITNET_ISA_NEON; isa++) {
        double max_diff = 0, spread = 0;
        int all_argmax = 1;
        bitnet_ctx *c;
        if (!bitnet_isa_supported((bitnet_isa)isa)) continue;
        memset(&mp, 0, sizeof mp);
        mp.path = model_path;
        mp.isa = (bitnet_isa)isa;
        if (bitnet_model_load(&m, &mp) != BITNET_OK) {
            CHECKF(0, "%s: %s", model_path, bitnet_last_error());
            break;
        }
        CHECK((uint32_t)bitnet_model_hparams(m)->n_vocab == V);
        c = new_ctx(m, 1);
        for (i = 0; c && i < n; i++) {
            int same;
            bitnet_ctx_truncate(c, 0);
            CHECK(bitnet_decode(c, prompts_ref[i].tokens, (int32_t)prompts_ref[i].n_tokens) == BITNET_OK);
            compare_prompt(c, &prompts_ref[i], V, &max_diff, &spread, &same);
            all_argmax &= same;
            if (isa == BITNET_ISA_REF && i < sizeof prompts / sizeof prompts[0]) check_tokenizer(m, &prompts_ref[i], prompts[i]);
        }
        bitnet_ctx_free(c);
        c = new_ctx(m, 0);
        for (i = 0; c && i < n; i++) check_greedy(c, &prompts_ref[i], V);
        bitnet_ctx_free(c);
        printf("trained model, %s kernels: max |logit - pytorch| = %.3g (logit spread %.3g)\n",
               bitnet_isa_name((bitnet_isa)isa), max_diff, spread);
        CHECKF(max_diff <= 2e-3 * spread, "max logit difference %.3g over 0.2%% of the spread %.3g", max_diff, spread);
        CHECK(all_argmax);
        bitnet_model_free(m);
        m = NULL;
    }
    free(ref);
    return check_report("test_trained");
}
