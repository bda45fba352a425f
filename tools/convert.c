/* convert.c - see convert.h. */
#define _POSIX_C_SOURCE 200809L
#include "convert.h"
#include "errbuf.h"
#include "hf_tokenizer.h"
#include "json.h"
#include "safetensors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum cv_kind { CV_EMBED, CV_NORM, CV_PROJ } cv_kind;

/* One output tensor: where it comes from and what shape the config says it has. */
typedef struct cv_job {
    char gguf[64];
    char hf[160];
    cv_kind kind;
    uint64_t rows, cols;              /* HF shape [rows, cols] (norms: rows = 1) */
    int permute_heads;                /* llama q/k: heads to un-rotate-half; 0 = none */
    bitnet_type type;                 /* written as */
} cv_job;

typedef struct cv_layout {
    const char *arch;                 /* GGUF architecture */
    const char *attn_sub, *ffn_sub;   /* HF sub-norm names (NULL = none) */
    int relu2, permute_qk;
} cv_layout;

typedef struct cv_hparams {
    int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx, head_dim;
    double rms_eps, rope_base, rope_scale;
    int tied;
    int32_t bos, eos;
} cv_hparams;

typedef struct cv_state {
    const convert_params *p;
    convert_report *rep;
    char *err;
    size_t err_size;
    json_doc *config;
    cv_layout layout;
    cv_hparams hp;
    st_model st;
    hf_vocab vocab;
    cv_job *jobs;
    int n_jobs;
    bitnet_gguf_writer *w;
    float *values;                    /* (largest tensor) */
    int8_t *codes;                    /* (largest projection) */
    unsigned char *packed;            /* (largest output tensor) */
    uint64_t max_elems, max_bytes;
    int begun;
} cv_state;

/* The error message into the caller's buffer; returns -1. */
#define cv_error(s, ...) errbuf_printf((s)->err, (s)->err_size, __VA_ARGS__)

/* ---- config.json ---- */

/* An integer config key; `def` < 0 means required. */
static int cv_int(cv_state *s, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out) {
    const json_value *v = json_get(json_root(s->config), key);
    if (!v || v->type == JSON_NULL) {
        if (def < 0) return cv_error(s, "config.json: no \"%s\"", key);
        *out = def;
        return 0;
    }
    if (v->type != JSON_NUMBER || !v->is_int || v->u.n.i < min || v->u.n.i > max)
        return cv_error(s, "config.json: \"%s\" must be a whole number in [%lld, %lld]", key, (long long)min,
                        (long long)max);
    *out = v->u.n.i;
    return 0;
}

static int cv_num(cv_state *s, const char *key, double def, double *out) {
    const json_value *v = json_get(json_root(s->config), key);
    if (!v || v->type == JSON_NULL) { *out = def; return 0; }
    if (v->type != JSON_NUMBER || !(v->u.n.num > 0) || v->u.n.num > 1e12)
        return cv_error(s, "config.json: \"%s\" must be a positive number", key);
    *out = v->u.n.num;
    return 0;
}

/* bos/eos_token_id: a number or the first of a list; -1 when absent. */
static int32_t cv_token_id(const json_value *v) {
    if (v && v->type == JSON_ARRAY && v->count) v = json_first(v);
    return v && v->type == JSON_NUMBER && v->is_int && v->u.n.i >= 0 && v->u.n.i < INT32_MAX ? (int32_t)v->u.n.i : -1;
}

static int cv_layout_of(cv_state *s) {
    const json_value *root = json_root(s->config), *archs = json_get(root, "architectures");
    const json_value *qc = json_get(root, "quantization_config"), *act = json_get(root, "hidden_act");
    const json_value *a = archs && archs->type == JSON_ARRAY && archs->count ? json_first(archs) : NULL;
    if (!a || a->type != JSON_STRING)
        return cv_error(s, "config.json: no \"architectures\" list naming the model class");
    snprintf(s->rep->hf_arch, sizeof s->rep->hf_arch, "%s", a->u.str.s);
    memset(&s->layout, 0, sizeof s->layout);
    if (json_is_str(a, "BitNetForCausalLM")) {
        s->layout.arch = "bitnet-b1.58";
        s->layout.attn_sub = "self_attn.attn_sub_norm";
        s->layout.ffn_sub = "mlp.ffn_sub_norm";
        s->layout.relu2 = 1;
    } else if (json_is_str(a, "BitnetForCausalLM")) {
        s->layout.arch = "bitnet";
        s->layout.attn_sub = "self_attn.inner_attn_ln";
        s->layout.ffn_sub = "mlp.ffn_layernorm";
    } else if (json_is_str(a, "LlamaForCausalLM")) {
        const json_value *qm = json_get(qc, "quant_method");
        if (!qm || !json_is_str(qm, "bitnet"))
            return cv_error(s, "config.json: LlamaForCausalLM without quantization_config.quant_method \"bitnet\" "
                               "is not a ternary model (bitnet convert writes BitNet models only)");
        s->layout.arch = "llama";
        s->layout.permute_qk = 1;
    } else {
        return cv_error(s, "config.json: architecture '%s' is not supported (supported: BitNetForCausalLM, "
                           "BitnetForCausalLM, LlamaForCausalLM with quant_method \"bitnet\")", a->u.str.s);
    }
    if (act && act->type == JSON_STRING) {
        int want_relu2 = s->layout.relu2;
        if ((want_relu2 && !json_is_str(act, "relu2")) || (!want_relu2 && !json_is_str(act, "silu")))
            return cv_error(s, "config.json: hidden_act '%s' for %s (expected %s)", act->u.str.s, s->rep->hf_arch,
                            want_relu2 ? "relu2" : "silu");
    }
    snprintf(s->rep->arch, sizeof s->rep->arch, "%s", s->layout.arch);
    return 0;
}

static int cv_rope_scaling(cv_state *s) {
    const json_value *rs = json_get(json_root(s->config), "rope_scaling"), *type, *factor;
    s->hp.rope_scale = 1.0;
    if (!rs || rs->type == JSON_NULL) return 0;
    type = json_get(rs, "rope_type");
    if (!type) type = json_get(rs, "type");
    factor = json_get(rs, "factor");
    if (!type || !json_is_str(type, "linear") || !factor || factor->type != JSON_NUMBER || !(factor->u.n.num >= 1))
        return cv_error(s, "config.json: rope_scaling other than {\"type\": \"linear\", \"factor\": F} is not supported");
    s->hp.rope_scale = factor->u.n.num;
    return 0;
}

static int cv_hparams_of(cv_state *s) {
    cv_hparams *h = &s->hp;
    const json_value *root = json_root(s->config), *tie = json_get(root, "tie_word_embeddings");
    if (cv_int(s, "hidden_size", -1, 1, 1 << 16, &h->n_embd) || cv_int(s, "num_hidden_layers", -1, 1, 1024, &h->n_layer) ||
        cv_int(s, "num_attention_heads", -1, 1, 1024, &h->n_head) ||
        cv_int(s, "num_key_value_heads", h->n_head, 1, 1024, &h->n_head_kv) ||
        cv_int(s, "intermediate_size", -1, 1, 1 << 20, &h->n_ff) || cv_int(s, "vocab_size", -1, 1, INT32_MAX, &h->n_vocab) ||
        cv_int(s, "max_position_embeddings", 2048, 1, INT32_MAX, &h->n_ctx) ||
        cv_int(s, "head_dim", h->n_embd / h->n_head, 2, 1 << 12, &h->head_dim) ||
        cv_num(s, "rms_norm_eps", 1e-6, &h->rms_eps) || cv_num(s, "rope_theta", 10000.0, &h->rope_base) ||
        cv_rope_scaling(s))
        return -1;
    if (h->n_head % h->n_head_kv)
        return cv_error(s, "config.json: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                        (long long)h->n_head, (long long)h->n_head_kv);
    if (h->head_dim % 2) return cv_error(s, "config.json: head dimension %lld is odd", (long long)h->head_dim);
    h->tied = tie ? tie->type == JSON_TRUE : strcmp(s->layout.arch, "llama") != 0;
    h->bos = cv_token_id(json_get(root, "bos_token_id"));
    h->eos = cv_token_id(json_get(root, "eos_token_id"));
    return 0;
}

/* ---- the tensor plan ---- */

static void cv_add(cv_state *s, const char *gguf, const char *hf, cv_kind kind, int64_t rows, int64_t cols, int permute) {
    cv_job *j = &s->jobs[s->n_jobs++];
    snprintf(j->gguf, sizeof j->gguf, "%s", gguf);
    snprintf(j->hf, sizeof j->hf, "%s", hf);
    j->kind = kind;
    j->rows = (uint64_t)rows;
    j->cols = (uint64_t)cols;
    j->permute_heads = permute;
}

static void cv_plan(cv_state *s) {
    const cv_hparams *h = &s->hp;
    int64_t E = h->n_embd, Q = h->n_head * h->head_dim, KV = h->n_head_kv * h->head_dim, F = h->n_ff;
    int il, perm = s->layout.permute_qk;
    char g[64], f[160];
    cv_add(s, "token_embd.weight", "model.embed_tokens.weight", CV_EMBED, h->n_vocab, E, 0);
    for (il = 0; il < h->n_layer; il++) {
#define CV_LAYER(gname, hname, kind, r, c, p) \
        (snprintf(g, sizeof g, "blk.%d.%s.weight", il, gname), \
         snprintf(f, sizeof f, "model.layers.%d.%s.weight", il, hname), cv_add(s, g, f, kind, r, c, p))
        CV_LAYER("attn_norm", "input_layernorm", CV_NORM, 1, E, 0);
        CV_LAYER("attn_q", "self_attn.q_proj", CV_PROJ, Q, E, perm ? (int)h->n_head : 0);
        CV_LAYER("attn_k", "self_attn.k_proj", CV_PROJ, KV, E, perm ? (int)h->n_head_kv : 0);
        CV_LAYER("attn_v", "self_attn.v_proj", CV_PROJ, KV, E, 0);
        CV_LAYER("attn_output", "self_attn.o_proj", CV_PROJ, E, Q, 0);
        if (s->layout.attn_sub) CV_LAYER("attn_sub_norm", s->layout.attn_sub, CV_NORM, 1, Q, 0);
        CV_LAYER("ffn_norm", "post_attention_layernorm", CV_NORM, 1, E, 0);
        CV_LAYER("ffn_gate", "mlp.gate_proj", CV_PROJ, F, E, 0);
        CV_LAYER("ffn_up", "mlp.up_proj", CV_PROJ, F, E, 0);
        CV_LAYER("ffn_down", "mlp.down_proj", CV_PROJ, E, F, 0);
        if (s->layout.ffn_sub) CV_LAYER("ffn_sub_norm", s->layout.ffn_sub, CV_NORM, 1, F, 0);
#undef CV_LAYER
    }
    cv_add(s, "output_norm.weight", "model.norm.weight", CV_NORM, 1, E, 0);
    if (!h->tied && st_find(&s->st, "lm_head.weight")) cv_add(s, "output.weight", "lm_head.weight", CV_EMBED, h->n_vocab, E, 0);
}

static int cv_is_float(st_dtype t) { return t == ST_F32 || t == ST_F16 || t == ST_BF16 || t == ST_F64; }

static int cv_is_ternary(bitnet_type t) {
    return t == BITNET_TYPE_I2_S || t == BITNET_TYPE_TQ1_0 || t == BITNET_TYPE_TQ2_0;
}

/* The scale of a packed projection: <name minus ".weight">.weight_scale, one float. */
static const st_tensor *cv_scale_tensor(cv_state *s, const cv_job *j) {
    char name[200];
    size_t n = strlen(j->hf);
    snprintf(name, sizeof name, "%.*s_scale", (int)n, j->hf);
    return st_find(&s->st, name);
}

/* Checks the HF tensor of a job against the config's shape and picks the output type. */
static int cv_check_job(cv_state *s, cv_job *j) {
    const st_tensor *t = st_find(&s->st, j->hf);
    uint64_t rows = j->rows, n, bytes, ne[2];
    if (!t) return cv_error(s, "tensor '%s' (for %s) is missing from the safetensors", j->hf, j->gguf);
    if (j->kind == CV_PROJ && t->dtype == ST_U8) {
        const st_tensor *sc = cv_scale_tensor(s, j);
        if (rows % 4) return cv_error(s, "tensor '%s': %llu rows cannot be packed 4 a byte", j->hf, (unsigned long long)rows);
        rows /= 4;
        if (!sc || !cv_is_float(sc->dtype) || sc->n_elements != 1)
            return cv_error(s, "tensor '%s' is packed uint8 but has no one-element float '%s_scale'", j->hf, j->hf);
    } else if (!cv_is_float(t->dtype)) {
        return cv_error(s, "tensor '%s': dtype %s is not a float type%s", j->hf, st_dtype_name(t->dtype),
                        j->kind == CV_PROJ ? " or packed uint8" : "");
    }
    if (j->kind == CV_NORM ? (t->n_elements != j->cols || t->n_dims > 1)
                           : (t->n_dims != 2 || t->shape[0] != rows || t->shape[1] != j->cols))
        return cv_error(s, "tensor '%s' has %u dims [%llu, %llu], the config says [%llu, %llu]%s", j->hf, t->n_dims,
                        (unsigned long long)(t->n_dims ? t->shape[0] : 1), (unsigned long long)(t->n_dims > 1 ? t->shape[1] : 0),
                        (unsigned long long)(j->kind == CV_NORM ? j->cols : rows), (unsigned long long)(j->kind == CV_NORM ? 0 : j->cols),
                        j->kind == CV_PROJ && t->dtype == ST_U8 ? " (packed rows)" : "");
    j->type = j->kind == CV_NORM ? BITNET_TYPE_F32
            : j->kind == CV_PROJ ? s->p->outtype
            : s->p->outtype == BITNET_TYPE_BF16 ? BITNET_TYPE_BF16 : BITNET_TYPE_F16;
    ne[0] = j->cols;
    ne[1] = j->rows;
    if (bitnet_tensor_bytes(j->type, j->kind == CV_NORM ? 1 : 2, ne, &bytes) != BITNET_OK)
        return cv_error(s, "tensor '%s' as %s: %s", j->gguf, bitnet_type_name(j->type), bitnet_last_error());
    n = j->rows * j->cols;
    if (j->kind == CV_PROJ) {
        if (n > s->max_elems) s->max_elems = n;
        if (bytes > s->max_bytes) s->max_bytes = bytes;
    }
    return 0;
}

static int cv_check_leftovers(cv_state *s) {
    size_t i;
    int k;
    for (i = 0; i < s->st.n_tensors; i++) {
        const char *name = s->st.tensors[i].name;
        size_t n = strlen(name);
        int used = 0;
        for (k = 0; k < s->n_jobs && !used; k++) used = !strcmp(s->jobs[k].hf, name);
        if (used || (n > 13 && !strcmp(name + n - 13, ".weight_scale")) || strstr(name, "rotary_emb.inv_freq")) continue;
        if (!strcmp(name, "lm_head.weight") && s->hp.tied) continue;
        fprintf(stderr, "bitnet: convert: note: tensor '%s' is not used\n", name);
    }
    return 0;
}

/* ---- tensor data ---- */

/* Rows of a q/k projection from HF's rotate-half order to the interleaved order of GGUF
   "llama" files: new row h*hd + 2i + a = old row h*hd + a*hd/2 + i. */
static int cv_permute(cv_state *s, const cv_job *j) {
    uint64_t hd = j->rows / (uint64_t)j->permute_heads, half = hd / 2, h, i, a, C = j->cols;
    float *tmp = (float *)malloc((size_t)(hd * C) * sizeof *tmp);
    if (!tmp) return cv_error(s, "out of memory");
    for (h = 0; h < (uint64_t)j->permute_heads; h++) {
        float *head = s->values + h * hd * C;
        for (i = 0; i < half; i++)
            for (a = 0; a < 2; a++) memcpy(tmp + (2 * i + a) * C, head + (a * half + i) * C, (size_t)C * sizeof *tmp);
        memcpy(head, tmp, (size_t)(hd * C) * sizeof *tmp);
    }
    free(tmp);
    return 0;
}

/* values = codes * alpha of a packed projection (alpha = 1 / weight_scale). */
static int cv_unpack(cv_state *s, const cv_job *j, const st_tensor *t) {
    const st_tensor *sc = cv_scale_tensor(s, j);
    uint64_t R = j->rows / 4, r, c, i;
    float scale, alpha;
    if (st_read_f32(sc, 0, 1, &scale) || !(scale > 0) || !(scale < 1e30f))
        return cv_error(s, "tensor '%s_scale': %g is not a positive finite scale", j->hf, (double)scale);
    alpha = 1.0f / scale;
    for (i = 0; i < 4; i++)
        for (r = 0; r < R; r++)
            for (c = 0; c < j->cols; c++) {
                unsigned v = (t->data[r * j->cols + c] >> (2 * i)) & 3u;
                if (v == 3) return cv_error(s, "tensor '%s': code 3 at packed row %llu column %llu (only 0..2 are ternary)",
                                            j->hf, (unsigned long long)r, (unsigned long long)c);
                s->values[(i * R + r) * j->cols + c] = ((float)v - 1.0f) * alpha;
            }
    s->rep->n_packed++;
    return 0;
}

static int cv_write_proj(cv_state *s, const cv_job *j) {
    const st_tensor *t = st_find(&s->st, j->hf);
    uint64_t n = j->rows * j->cols, bytes, ne[2], k;
    float alpha, amax = 0;
    int packed = t->dtype == ST_U8;
    ne[0] = j->cols;
    ne[1] = j->rows;
    bitnet_tensor_bytes(j->type, 2, ne, &bytes);
    if (packed ? cv_unpack(s, j, t) : st_read_f32(t, 0, n, s->values))
        return packed ? -1 : cv_error(s, "tensor '%s': cannot read", j->hf);
    if (j->permute_heads && cv_permute(s, j)) return -1;
    if (!packed) {
        if (bitnet_ternarize(BITNET_TYPE_F32, s->values, n, s->codes, &alpha) != BITNET_OK)
            return cv_error(s, "tensor '%s': %s", j->hf, bitnet_last_error());
        for (k = 0; k < n; k++) {
            float a = s->values[k] < 0 ? -s->values[k] : s->values[k];
            if (a > amax) amax = a;
            s->values[k] = (float)s->codes[k] * alpha;
        }
        if (alpha != amax) s->rep->n_ternarized_absmean++;
        else s->rep->n_already_ternary++;
    }
    if (bitnet_quantize(j->type, s->values, j->rows, j->cols, s->packed, bytes) != BITNET_OK ||
        bitnet_gguf_writer_write(s->w, s->packed, (size_t)bytes) != BITNET_OK)
        return cv_error(s, "tensor '%s' -> %s: %s", j->hf, bitnet_type_name(j->type), bitnet_last_error());
    return 0;
}

/* Embedding, head and norms: converted a slice at a time. */
static int cv_write_float(cv_state *s, const cv_job *j) {
    const st_tensor *t = st_find(&s->st, j->hf);
    uint64_t n = j->rows * j->cols, first, c;
    enum { SLICE = 1 << 16 };
    static float buf[SLICE];
    static uint16_t half[SLICE];
    for (first = 0; first < n; first += c) {
        bitnet_status st = BITNET_OK;
        c = n - first < SLICE ? n - first : SLICE;
        if (st_read_f32(t, first, c, buf)) return cv_error(s, "tensor '%s': cannot read", j->hf);
        if (j->type == BITNET_TYPE_F32) st = bitnet_gguf_writer_write(s->w, buf, (size_t)c * 4);
        else {
            if (j->type == BITNET_TYPE_F16) bitnet_fp32_to_fp16_row(buf, half, (size_t)c);
            else bitnet_fp32_to_bf16_row(buf, half, (size_t)c);
            st = bitnet_gguf_writer_write(s->w, half, (size_t)c * 2);
        }
        if (st != BITNET_OK) return cv_error(s, "writing '%s': %s", j->gguf, bitnet_last_error());
    }
    return 0;
}

/* ---- metadata ---- */

static uint32_t cv_file_type(bitnet_type t) {
    switch (t) {
    case BITNET_TYPE_I2_S: return 40;
    case BITNET_TYPE_TQ1_0: return 36;
    case BITNET_TYPE_TQ2_0: return 37;
    case BITNET_TYPE_BF16: return 32;
    default: return 1;
    }
}

static int cv_metadata(cv_state *s) {
    const cv_hparams *h = &s->hp;
    const char *a = s->layout.arch, *base;
    char key[128], name[256];
    int ok = 1;
    size_t n;
    snprintf(name, sizeof name, "%s", s->p->hf_dir);       /* the folder's own name */
    n = strlen(name);
    while (n > 1 && name[n - 1] == '/') name[--n] = 0;
    base = strrchr(name, '/');
    if (base && base[1]) memmove(name, base + 1, strlen(base + 1) + 1);
#define CV_U32(suffix, v) (snprintf(key, sizeof key, "%s.%s", a, suffix), \
                           bitnet_gguf_writer_set_u32(s->w, key, (uint32_t)(v)) == BITNET_OK)
#define CV_F32(suffix, v) (snprintf(key, sizeof key, "%s.%s", a, suffix), \
                           bitnet_gguf_writer_set_f32(s->w, key, (float)(v)) == BITNET_OK)
    ok &= bitnet_gguf_writer_set_str(s->w, "general.architecture", a) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_str(s->w, "general.name", name) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_u32(s->w, "general.file_type", cv_file_type(s->p->outtype)) == BITNET_OK;
    if (cv_is_ternary(s->p->outtype)) ok &= bitnet_gguf_writer_set_u32(s->w, "general.quantization_version", 2) == BITNET_OK;
    ok &= CV_U32("vocab_size", h->n_vocab) && CV_U32("context_length", h->n_ctx) && CV_U32("embedding_length", h->n_embd);
    ok &= CV_U32("block_count", h->n_layer) && CV_U32("feed_forward_length", h->n_ff);
    ok &= CV_U32("attention.head_count", h->n_head) && CV_U32("attention.head_count_kv", h->n_head_kv);
    ok &= CV_U32("rope.dimension_count", h->head_dim) && CV_F32("rope.freq_base", h->rope_base);
    ok &= CV_F32("attention.layer_norm_rms_epsilon", h->rms_eps);
    if (h->head_dim * h->n_head != h->n_embd) ok &= CV_U32("attention.key_length", h->head_dim) && CV_U32("attention.value_length", h->head_dim);
    if (h->rope_scale != 1.0) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        ok &= bitnet_gguf_writer_set_str(s->w, key, "linear") == BITNET_OK && CV_F32("rope.scaling.factor", h->rope_scale);
    }
#undef CV_U32
#undef CV_F32
    if (!ok || hf_tokenizer_write(&s->vocab, s->w)) return cv_error(s, "writing metadata: %s", bitnet_last_error());
    return 0;
}

/* ---- the whole conversion ---- */

static int cv_load_inputs(cv_state *s) {
    char path[4096], jerr[200];
    size_t len = 0;
    char *text;
    int32_t n_vocab = 0;
    snprintf(path, sizeof path, "%s/config.json", s->p->hf_dir);
    text = json_read_file(path, 16u << 20, &len);
    if (!text && !s->p->vocab_only) return cv_error(s, "cannot read '%s'", path);
    if (text && json_parse(&s->config, text, len, NULL, jerr, sizeof jerr)) {
        free(text);
        return cv_error(s, "%s: %s", path, jerr);
    }
    free(text);
    if (s->config) {
        if (json_root(s->config)->type != JSON_OBJECT) return cv_error(s, "%s: not a JSON object", path);
        if (cv_layout_of(s) || cv_hparams_of(s)) return -1;
        n_vocab = (int32_t)s->hp.n_vocab;
    } else {
        s->hp.bos = s->hp.eos = -1;
    }
    if (!s->p->vocab_only && st_open_dir(&s->st, s->p->hf_dir, s->err, s->err_size)) return -1;
    if (hf_tokenizer_load(&s->vocab, s->p->hf_dir, n_vocab, s->hp.bos, s->hp.eos, s->err, s->err_size))
        return -1;
    snprintf(s->rep->tokenizer, sizeof s->rep->tokenizer, "%s", s->vocab.spm ? "llama" : "gpt2");
    snprintf(s->rep->pre, sizeof s->rep->pre, "%s", s->vocab.pre ? s->vocab.pre : "");
    s->rep->n_vocab = s->vocab.n;
    return 0;
}

/* Tokenizer keys alone (and the architecture when config.json names one). */
static int cv_vocab_only(cv_state *s) {
    if (bitnet_gguf_writer_new(&s->w, NULL) != BITNET_OK) return cv_error(s, "%s", bitnet_last_error());
    if ((s->config && bitnet_gguf_writer_set_str(s->w, "general.architecture", s->layout.arch) != BITNET_OK) ||
        hf_tokenizer_write(&s->vocab, s->w))
        return cv_error(s, "writing metadata: %s", bitnet_last_error());
    if (bitnet_gguf_writer_begin(s->w, s->p->out_path) != BITNET_OK) return cv_error(s, "%s", bitnet_last_error());
    s->begun = 1;
    if (bitnet_gguf_writer_end(s->w) != BITNET_OK) return cv_error(s, "%s: %s", s->p->out_path, bitnet_last_error());
    return 0;
}

static int cv_prepare(cv_state *s) {
    int i;
    s->jobs = (cv_job *)calloc((size_t)(s->hp.n_layer * 11 + 3), sizeof *s->jobs);
    if (!s->jobs) return cv_error(s, "out of memory");
    cv_plan(s);
    for (i = 0; i < s->n_jobs; i++)
        if (cv_check_job(s, &s->jobs[i])) return -1;
    cv_check_leftovers(s);
    if (s->max_elems > SIZE_MAX / sizeof(float)) return cv_error(s, "tensor too large for this machine");
    s->values = (float *)malloc((size_t)s->max_elems * sizeof(float) + 1);
    s->codes = (int8_t *)malloc((size_t)s->max_elems + 1);
    s->packed = (unsigned char *)malloc((size_t)s->max_bytes + 1);
    if (!s->values || !s->codes || !s->packed) return cv_error(s, "out of memory (%llu-element tensor)", (unsigned long long)s->max_elems);
    if (bitnet_gguf_writer_new(&s->w, NULL) != BITNET_OK) return cv_error(s, "%s", bitnet_last_error());
    if (cv_metadata(s)) return -1;
    for (i = 0; i < s->n_jobs; i++) {
        const cv_job *j = &s->jobs[i];
        uint64_t ne[2];
        ne[0] = j->cols;
        ne[1] = j->rows;
        if (bitnet_gguf_writer_add_tensor(s->w, j->gguf, j->type, j->kind == CV_NORM ? 1 : 2, ne) != BITNET_OK)
            return cv_error(s, "tensor '%s': %s", j->gguf, bitnet_last_error());
    }
    return 0;
}

static int cv_write(cv_state *s) {
    int i;
    if (bitnet_gguf_writer_begin(s->w, s->p->out_path) != BITNET_OK) return cv_error(s, "%s", bitnet_last_error());
    s->begun = 1;
    for (i = 0; i < s->n_jobs; i++) {
        const cv_job *j = &s->jobs[i];
        if (j->kind == CV_PROJ ? cv_write_proj(s, j) : cv_write_float(s, j)) return -1;
        if (s->p->progress) s->p->progress(i + 1, s->n_jobs, j->gguf, s->p->user);
    }
    s->rep->n_tensors = s->n_jobs;
    if (bitnet_gguf_writer_end(s->w) != BITNET_OK) return cv_error(s, "%s: %s", s->p->out_path, bitnet_last_error());
    return 0;
}

int convert_hf(const convert_params *p, convert_report *report, char *err, size_t err_size) {
    cv_state s;
    convert_report dummy;
    int rc;
    memset(&s, 0, sizeof s);
    s.p = p;
    s.rep = report ? report : &dummy;
    memset(s.rep, 0, sizeof *s.rep);
    s.err = err;
    s.err_size = err_size;
    if (!p || !p->hf_dir || !p->out_path) return cv_error(&s, "convert: no input folder or output file");
    if (p->outtype != BITNET_TYPE_I2_S && p->outtype != BITNET_TYPE_TQ2_0 && p->outtype != BITNET_TYPE_TQ1_0 &&
        p->outtype != BITNET_TYPE_F16 && p->outtype != BITNET_TYPE_BF16)
        return cv_error(&s, "convert: output type %s is not one of I2_S, TQ2_0, TQ1_0, F16, BF16",
                        bitnet_type_name(p->outtype));
    rc = cv_load_inputs(&s);
    if (!rc && p->vocab_only) rc = cv_vocab_only(&s);
    else if (!rc) rc = cv_prepare(&s);
    if (!rc && !p->vocab_only) rc = cv_write(&s);
    bitnet_gguf_writer_free(s.w);
    if (rc && s.begun) remove(p->out_path);                   /* no half-written file */
    free(s.values);
    free(s.codes);
    free(s.packed);
    free(s.jobs);
    hf_tokenizer_free(&s.vocab);
    st_close(&s.st);
    json_free(s.config);
    return rc;
}
