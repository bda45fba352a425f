/* bitnet make-model OUT.gguf [--preset tiny|2b4t] [--layers N --embd N --ff N --heads N
   --kv-heads N --vocab N --ctx N] [--seed S]
   Writes a deterministic random-weight BitNet b1.58 model with the project's own writer:
   ternary projections in I2_S (FORMATS.md 3.1), an F16 tied embedding, F32 norms, and a small
   SentencePiece vocabulary (bytes, English word pieces, filler) so text goes in and out. The
   2b4t preset has the exact shape of microsoft/bitnet-b1.58-2B-4T for end-to-end speed tests. */
#include "cli.h"
#include "platform.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mm_shape {
    int layers, embd, ff, heads, kv_heads, vocab, ctx;
    uint64_t seed;
} mm_shape;

typedef struct mm_vocab {
    char **text;
    float *scores;
    int32_t *types;
    int n;
} mm_vocab;

static uint64_t mm_next(uint64_t *s) {                     /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float mm_uniform(uint64_t *s) { return (float)(mm_next(s) >> 40) / 16777216.0f; }

/* Approximately N(0, 1): the sum of four uniforms, rescaled. */
static float mm_normal(uint64_t *s) {
    return (mm_uniform(s) + mm_uniform(s) + mm_uniform(s) + mm_uniform(s) - 2.0f) * 1.7320508f;
}

static const char *const mm_words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
    "not", "he", "she", "this", "are", "or", "his", "her", "from", "at", "which", "but", "have", "an", "had",
    "they", "you", "were", "their", "one", "all", "we", "can", "there", "sea", "ship", "wind", "story",
    "once", "upon", "time", "little", "old", "man", "boat", "water", "wave", "sky", "sun", "moon", "night",
    "day", "light", "dark", "blue", "deep", "far", "away", "home", "long", "ago", "tell", "me", "about",
    "hello", "world", "bit", "net", "model", "token", "small", "large", "fast", "slow", "good", "new",
};

/* `dedup`: skip a text already present (word prefixes repeat; the rest are unique by design,
   and checking them all would make a large --vocab quadratic). */
static int mm_vocab_add(mm_vocab *v, const char *text, float score, int32_t type, int cap, int dedup) {
    int i;
    if (v->n >= cap) return 1;
    for (i = 0; dedup && i < v->n; i++) if (!strcmp(v->text[i], text)) return 1;
    v->text[v->n] = (char *)malloc(strlen(text) + 1);
    if (!v->text[v->n]) return 0;
    strcpy(v->text[v->n], text);
    v->scores[v->n] = score;
    v->types[v->n] = type;
    v->n++;
    return 1;
}

/* <unk> <s> </s>, two chat tokens, 256 byte tokens, every prefix of "▁word" (so SentencePiece
   merging can reach the words), then filler up to the vocabulary size. */
static int mm_make_vocab(mm_vocab *v, int n) {
    char piece[64];
    size_t w, k;
    int i, ok = 1;
    v->text = (char **)calloc((size_t)n, sizeof *v->text);
    v->scores = (float *)calloc((size_t)n, sizeof *v->scores);
    v->types = (int32_t *)calloc((size_t)n, sizeof *v->types);
    v->n = 0;
    if (!v->text || !v->scores || !v->types) return 0;
    ok &= mm_vocab_add(v, "<unk>", 0, BITNET_TOKEN_UNKNOWN, n, 0);
    ok &= mm_vocab_add(v, "<s>", 0, BITNET_TOKEN_CONTROL, n, 0);
    ok &= mm_vocab_add(v, "</s>", 0, BITNET_TOKEN_CONTROL, n, 0);
    ok &= mm_vocab_add(v, "<|begin_of_text|>", 0, BITNET_TOKEN_CONTROL, n, 0);
    ok &= mm_vocab_add(v, "<|eot_id|>", 0, BITNET_TOKEN_CONTROL, n, 0);
    for (i = 0; i < 256; i++) {
        snprintf(piece, sizeof piece, "<0x%02X>", i);
        ok &= mm_vocab_add(v, piece, 0, BITNET_TOKEN_BYTE, n, 0);
    }
    for (w = 0; w < sizeof mm_words / sizeof mm_words[0]; w++)
        for (k = 1; k <= strlen(mm_words[w]); k++) {
            snprintf(piece, sizeof piece, "\xe2\x96\x81%.*s", (int)k, mm_words[w]);
            ok &= mm_vocab_add(v, piece, -(float)v->n, BITNET_TOKEN_NORMAL, n, 1);
        }
    for (i = 0; v->n < n; i++) {
        snprintf(piece, sizeof piece, "\xe2\x96\x81w%d", i);
        ok &= mm_vocab_add(v, piece, -(float)v->n, BITNET_TOKEN_NORMAL, n, 0);
    }
    return ok;
}

static void mm_free_vocab(mm_vocab *v) {
    int i;
    for (i = 0; i < v->n; i++) free(v->text[i]);
    free(v->text);
    free(v->scores);
    free(v->types);
}

static int mm_write_metadata(bitnet_gguf_writer *w, const mm_shape *s, const mm_vocab *v) {
    const char *a = "bitnet-b1.58";
    char key[128];
    int ok = 1;
#define MM_U32(suffix, val) (snprintf(key, sizeof key, "%s.%s", a, suffix), \
                             bitnet_gguf_writer_set_u32(w, key, (uint32_t)(val)) == BITNET_OK)
    ok &= bitnet_gguf_writer_set_str(w, "general.architecture", a) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_str(w, "general.name", "bitnet.h random-weight model") == BITNET_OK;
    ok &= MM_U32("vocab_size", s->vocab) && MM_U32("context_length", s->ctx) && MM_U32("embedding_length", s->embd);
    ok &= MM_U32("block_count", s->layers) && MM_U32("feed_forward_length", s->ff);
    ok &= MM_U32("rope.dimension_count", s->embd / s->heads) && MM_U32("attention.head_count", s->heads);
    ok &= MM_U32("attention.head_count_kv", s->kv_heads);
#undef MM_U32
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    ok &= bitnet_gguf_writer_set_f32(w, key, 1e-5f) == BITNET_OK;
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    ok &= bitnet_gguf_writer_set_f32(w, key, 500000.0f) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_u32(w, "general.file_type", 40) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") == BITNET_OK;
    ok &= bitnet_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->text, (uint64_t)v->n) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BITNET_GGUF_F32, v->scores, (uint64_t)v->n) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BITNET_GGUF_I32, v->types, (uint64_t)v->n) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_str(w, "tokenizer.chat_template", "BITNET chat (System:/User:/Assistant: turns)") == BITNET_OK;
    return ok;
}

static const char *const mm_proj[7] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" };

static void mm_proj_shape(const mm_shape *s, int p, uint64_t ne[2]) {
    uint64_t E = (uint64_t)s->embd, F = (uint64_t)s->ff, KV = (uint64_t)s->embd / s->heads * s->kv_heads;
    uint64_t in[7] = { E, E, E, E, E, E, F }, out[7] = { E, KV, KV, E, F, F, E };
    ne[0] = in[p];
    ne[1] = out[p];
}

static int mm_add_tensors(bitnet_gguf_writer *w, const mm_shape *s) {
    uint64_t ne[2];
    char name[64];
    int l, p, ok = 1;
    ne[0] = (uint64_t)s->embd; ne[1] = (uint64_t)s->vocab;
    ok &= bitnet_gguf_writer_add_tensor(w, "token_embd.weight", BITNET_TYPE_F16, 2, ne) == BITNET_OK;
    for (l = 0; l < s->layers; l++) {
        ne[0] = (uint64_t)s->embd;
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        ok &= bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, 1, ne) == BITNET_OK;
        snprintf(name, sizeof name, "blk.%d.attn_sub_norm.weight", l);
        ok &= bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, 1, ne) == BITNET_OK;
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        ok &= bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, 1, ne) == BITNET_OK;
        ne[0] = (uint64_t)s->ff;
        snprintf(name, sizeof name, "blk.%d.ffn_sub_norm.weight", l);
        ok &= bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_F32, 1, ne) == BITNET_OK;
        for (p = 0; p < 7; p++) {
            mm_proj_shape(s, p, ne);
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, mm_proj[p]);
            ok &= bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_I2_S, 2, ne) == BITNET_OK;
        }
    }
    ne[0] = (uint64_t)s->embd;
    ok &= bitnet_gguf_writer_add_tensor(w, "output_norm.weight", BITNET_TYPE_F32, 1, ne) == BITNET_OK;
    return ok;
}

static int mm_write_norm(bitnet_gguf_writer *w, int n, uint64_t *rng) {
    float buf[16384];
    int i;
    if (n > 16384) return 0;
    for (i = 0; i < n; i++) buf[i] = 1.0f + 0.05f * mm_normal(rng);
    return bitnet_gguf_writer_write(w, buf, (size_t)n * sizeof(float)) == BITNET_OK;
}

/* Ternary t * alpha with P(0) = 0.31, quantized to I2_S by the library's own quantizer. */
static int mm_write_proj(bitnet_gguf_writer *w, const uint64_t ne[2], float alpha, uint64_t *rng) {
    size_t n = (size_t)(ne[0] * ne[1]), i;
    uint64_t bytes;
    float *x = (float *)malloc(n * sizeof *x);
    void *q;
    int ok;
    bitnet_tensor_bytes(BITNET_TYPE_I2_S, 2, ne, &bytes);
    q = malloc((size_t)bytes);
    if (!x || !q) { free(x); free(q); return 0; }
    for (i = 0; i < n; i++) {
        float u = mm_uniform(rng);
        x[i] = u < 0.31f ? 0.0f : (u < 0.655f ? -alpha : alpha);
    }
    ok = bitnet_quantize(BITNET_TYPE_I2_S, x, ne[1], ne[0], q, bytes) == BITNET_OK &&
         bitnet_gguf_writer_write(w, q, (size_t)bytes) == BITNET_OK;
    free(x);
    free(q);
    return ok;
}

static int mm_write_embedding(bitnet_gguf_writer *w, const mm_shape *s, uint64_t *rng) {
    float *row = (float *)malloc((size_t)s->embd * sizeof *row);
    uint16_t *half = (uint16_t *)malloc((size_t)s->embd * sizeof *half);
    int r, i, ok = row && half;
    for (r = 0; r < s->vocab && ok; r++) {
        for (i = 0; i < s->embd; i++) row[i] = 0.1f * mm_normal(rng);
        bitnet_fp32_to_fp16_row(row, half, (size_t)s->embd);
        ok = bitnet_gguf_writer_write(w, half, (size_t)s->embd * 2) == BITNET_OK;
    }
    free(row);
    free(half);
    return ok;
}

static int mm_write_data(bitnet_gguf_writer *w, const mm_shape *s) {
    uint64_t rng = s->seed, ne[2];
    int l, p, ok = mm_write_embedding(w, s, &rng);
    for (l = 0; l < s->layers && ok; l++) {
        ok &= mm_write_norm(w, s->embd, &rng) && mm_write_norm(w, s->embd, &rng) && mm_write_norm(w, s->embd, &rng);
        ok &= mm_write_norm(w, s->ff, &rng);
        for (p = 0; p < 7 && ok; p++) {
            float alpha = p < 2 ? 0.06f + 0.04f * mm_uniform(&rng) : 0.02f + 0.03f * mm_uniform(&rng);
            mm_proj_shape(s, p, ne);
            ok &= mm_write_proj(w, ne, alpha, &rng);
        }
    }
    return ok && mm_write_norm(w, s->embd, &rng);
}

#define MM_USAGE "usage: bitnet make-model OUT.gguf [--preset tiny|2b4t] [--layers 1..256] [--embd N (multiple of " \
    "128, <= 16384)] [--ff N (multiple of 128, <= 16384)] [--heads N] [--kv-heads N] [--vocab 400..1048576] " \
    "[--ctx 8..1048576] [--seed S]\n"
#define MM_MAX_BYTES (16ull << 30)              /* refuse a file that would take hours to write */

/* The file's size: the F16 embedding and the I2_S projections (2 bits a weight) dominate. */
static uint64_t mm_estimated_bytes(const mm_shape *s) {
    uint64_t per_layer = 0, ne[2];
    int p;
    for (p = 0; p < 7; p++) {
        mm_proj_shape(s, p, ne);
        per_layer += ne[0] * ne[1] / 4;
    }
    return (uint64_t)s->vocab * (uint64_t)s->embd * 2 + (uint64_t)s->layers * per_layer;
}

static int mm_check_shape(const mm_shape *s) {
    const char *bad = s->embd % 128 ? "--embd must be a multiple of 128"
                    : s->ff % 128 ? "--ff must be a multiple of 128"
                    : s->embd % s->heads ? "--embd must be a multiple of --heads"
                    : s->heads % s->kv_heads ? "--heads must be a multiple of --kv-heads"
                    : (s->embd / s->heads) % 2 ? "the head size (--embd / --heads) must be even" : NULL;
    if (bad) {
        fprintf(stderr, "bitnet: make-model: %s\n", bad);
        return 0;
    }
    if (mm_estimated_bytes(s) > MM_MAX_BYTES) {
        fprintf(stderr, "bitnet: make-model: the model would be %.1f GB (limit %.0f GB)\n",
                mm_estimated_bytes(s) / 1e9, MM_MAX_BYTES / 1e9);
        return 0;
    }
    return 1;
}

/* One shape flag with its limits; -1 if `f` is not a shape flag. */
static int mm_shape_flag(mm_shape *s, const char *f, const char *v) {
    static const struct { const char *flag; int min, max; } lim[] = {
        { "--layers", 1, 256 }, { "--embd", 128, 16384 }, { "--ff", 128, 16384 }, { "--heads", 1, 256 },
        { "--kv-heads", 1, 256 }, { "--vocab", 400, 1 << 20 }, { "--ctx", 8, 1 << 20 },
    };
    int *field[7];
    size_t i;
    field[0] = &s->layers; field[1] = &s->embd; field[2] = &s->ff; field[3] = &s->heads;
    field[4] = &s->kv_heads; field[5] = &s->vocab; field[6] = &s->ctx;
    for (i = 0; i < sizeof lim / sizeof lim[0]; i++)
        if (!strcmp(f, lim[i].flag)) return cli_parse_int(f, v, lim[i].min, lim[i].max, field[i]);
    return -1;
}

static int mm_parse(int argc, char **argv, mm_shape *s, const char **out) {
    static const mm_shape tiny = { 4, 256, 768, 4, 2, 1024, 512, 20251123 };
    static const mm_shape b2b4t = { 30, 2560, 6912, 20, 5, 128256, 4096, 20251123 };
    int i, r;
    *s = tiny;
    *out = NULL;
    for (i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            fputs(MM_USAGE, stdout);
            exit(cli_finish_output(0));
        }
        if (f[0] != '-') {
            if (*out) {
                fprintf(stderr, "bitnet: make-model: unexpected argument '%s' (the output is '%s')\n", f, *out);
                return 0;
            }
            *out = f;
            continue;
        }
        if (!v) { fprintf(stderr, "bitnet: make-model: option '%s' needs a value\n", f); return 0; }
        i++;
        if (!strcmp(f, "--preset") && !strcmp(v, "tiny")) *s = tiny;
        else if (!strcmp(f, "--preset") && !strcmp(v, "2b4t")) *s = b2b4t;
        else if (!strcmp(f, "--preset")) {
            fprintf(stderr, "bitnet: make-model: --preset wants tiny or 2b4t, got '%s'\n", v);
            return 0;
        }
        else if (!strcmp(f, "--seed")) { if (!cli_parse_u64(f, v, &s->seed)) return 0; }
        else if ((r = mm_shape_flag(s, f, v)) == 0) return 0;
        else if (r < 0) { fprintf(stderr, "bitnet: make-model: unknown option '%s'\n", f); return 0; }
    }
    if (!*out) {
        fprintf(stderr, "bitnet: make-model: no output file\n" MM_USAGE);
        return 0;
    }
    return mm_check_shape(s);
}

int cmd_make_model(int argc, char **argv) {
    mm_shape s;
    mm_vocab v;
    bitnet_gguf_writer *w = NULL;
    const char *out;
    int ok;
    if (!mm_parse(argc, argv, &s, &out)) return 1;
    memset(&v, 0, sizeof v);
    ok = mm_make_vocab(&v, s.vocab) && bitnet_gguf_writer_new(&w, NULL) == BITNET_OK && mm_write_metadata(w, &s, &v) &&
         mm_add_tensors(w, &s);
    if (ok && bitnet_gguf_writer_begin(w, out) != BITNET_OK) ok = 0;
    else if (ok) ok = mm_write_data(w, &s) && bitnet_gguf_writer_end(w) == BITNET_OK;
    if (!ok) {
        cli_fail("make-model");
        cli_remove(out);
    } else {
        fprintf(stderr, "bitnet: wrote %s: %d layers, embd %d, ff %d, heads %d/%d, vocab %d\n", out, s.layers, s.embd,
                s.ff, s.heads, s.kv_heads, s.vocab);
    }
    bitnet_gguf_writer_free(w);
    mm_free_vocab(&v);
    return ok ? 0 : 1;
}
