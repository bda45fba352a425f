/* hf_tokenizer.c - see hf_tokenizer.h. */
#define _POSIX_C_SOURCE 200809L
#include "hf_tokenizer.h"
#include "errbuf.h"
#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Llama 3 split rule as tokenizer.json spells it (after JSON unescaping). */
static const char hf_llama3_regex[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct hf_ctx {
    hf_vocab *v;
    char *err;
    size_t err_size;
    json_doc *tok, *cfg;              /* tokenizer.json, tokenizer_config.json (may be NULL) */
    int32_t *slot;                    /* hash table of token ids by text, (cap) */
    size_t cap;
} hf_ctx;

/* The error message into the caller's buffer; returns -1. */
#define hf_error(c, ...) errbuf_printf((c)->err, (c)->err_size, __VA_ARGS__)

static int hf_parse_file(hf_ctx *c, const char *dir, const char *name, int required, json_doc **out) {
    char path[4096], jerr[200];
    size_t len = 0;
    json_limits lim;
    char *text;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    text = json_read_file(path, 256u << 20, &len);
    *out = NULL;
    if (!text) return required ? hf_error(c, "cannot read '%s'", path) : 0;
    memset(&lim, 0, sizeof lim);
    if (json_parse(out, text, len, &lim, jerr, sizeof jerr)) {
        free(text);
        return hf_error(c, "%s: %s", path, jerr);
    }
    free(text);
    if (json_root(*out)->type != JSON_OBJECT) return hf_error(c, "%s: not a JSON object", path);
    return 0;
}

/* ---- text -> id hash ---- */

static uint64_t hf_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int32_t hf_lookup(const hf_ctx *c, const char *text) {
    size_t i = (size_t)(hf_hash(text) & (c->cap - 1));
    while (c->slot[i] >= 0) {
        if (!strcmp(c->v->text[c->slot[i]], text)) return c->slot[i];
        i = (i + 1) & (c->cap - 1);
    }
    return -1;
}

static int hf_index(hf_ctx *c) {
    int32_t id;
    c->cap = 16;
    while (c->cap < 2 * (size_t)c->v->n) c->cap *= 2;
    c->slot = (int32_t *)malloc(c->cap * sizeof *c->slot);
    if (!c->slot) return hf_error(c, "out of memory");
    memset(c->slot, 0xff, c->cap * sizeof *c->slot);
    for (id = 0; id < c->v->n; id++) {
        size_t i = (size_t)(hf_hash(c->v->text[id]) & (c->cap - 1));
        while (c->slot[i] >= 0) i = (i + 1) & (c->cap - 1);
        c->slot[i] = id;
    }
    return 0;
}

/* ---- vocabulary ---- */

static int hf_set_token(hf_ctx *c, int64_t id, const json_value *text, int32_t type) {
    hf_vocab *v = c->v;
    if (!text || text->type != JSON_STRING || !text->u.str.len || strlen(text->u.str.s) != text->u.str.len)
        return hf_error(c, "tokenizer.json: token %lld is not a non-empty string without NUL bytes", (long long)id);
    if (id < 0 || id >= v->n)
        return hf_error(c, "tokenizer.json: token '%.40s' has id %lld, outside the model's %d embedding rows",
                        text->u.str.s, (long long)id, v->n);
    if (v->text[id]) {
        if (strcmp(v->text[id], text->u.str.s))
            return hf_error(c, "tokenizer.json: id %lld is both '%.40s' and '%.40s'", (long long)id, v->text[id], text->u.str.s);
        free(v->text[id]);
    }
    if (!(v->text[id] = (char *)malloc(text->u.str.len + 1))) return hf_error(c, "out of memory");
    memcpy(v->text[id], text->u.str.s, text->u.str.len + 1);
    v->types[id] = type;
    return 0;
}

static int hf_is_byte_token(const char *s) {
    return strlen(s) == 6 && !strncmp(s, "<0x", 3) && s[5] == '>' && strchr("0123456789ABCDEF", s[3]) &&
           strchr("0123456789ABCDEF", s[4]);
}

static int hf_vocab_entries(hf_ctx *c, const json_value *model) {
    const json_value *vocab = json_get(model, "vocab"), *k, *unk = json_get(model, "unk_token");
    const json_value *added = json_get(json_root(c->tok), "added_tokens");
    uint32_t i;
    if (!vocab || vocab->type != JSON_OBJECT) return hf_error(c, "tokenizer.json: model.vocab is not an object");
    for (i = 0, k = json_first(vocab); i < vocab->count; i++, k = json_next(k + 1)) {
        int32_t type = BITNET_TOKEN_NORMAL;
        if (k[1].type != JSON_NUMBER || !k[1].is_int)
            return hf_error(c, "tokenizer.json: model.vocab['%.40s'] is not an integer id", k->u.str.s);
        if (c->v->spm && hf_is_byte_token(k->u.str.s)) type = BITNET_TOKEN_BYTE;
        if (unk && unk->type == JSON_STRING && !strcmp(unk->u.str.s, k->u.str.s)) type = BITNET_TOKEN_UNKNOWN;
        if (hf_set_token(c, k[1].u.n.i, k, type)) return -1;
    }
    if (added && added->type != JSON_ARRAY) return hf_error(c, "tokenizer.json: added_tokens is not a list");
    for (i = 0, k = added ? json_first(added) : NULL; added && i < added->count; i++, k = json_next(k)) {
        const json_value *id = json_get(k, "id"), *special = json_get(k, "special");
        int32_t type = special && special->type == JSON_TRUE ? BITNET_TOKEN_CONTROL : BITNET_TOKEN_USER_DEFINED;
        if (!id || id->type != JSON_NUMBER || !id->is_int)
            return hf_error(c, "tokenizer.json: added_tokens[%u] has no integer id", i);
        if (unk && unk->type == JSON_STRING && json_is_str(json_get(k, "content"), unk->u.str.s)) type = BITNET_TOKEN_UNKNOWN;
        if (hf_set_token(c, id->u.n.i, json_get(k, "content"), type)) return -1;
    }
    return 0;
}

static int hf_pad(hf_ctx *c) {
    int32_t id;
    char name[32];
    for (id = 0; id < c->v->n; id++) {
        if (c->v->text[id]) continue;
        snprintf(name, sizeof name, "[PAD%d]", id);
        if (!(c->v->text[id] = (char *)malloc(strlen(name) + 1))) return hf_error(c, "out of memory");
        strcpy(c->v->text[id], name);
        c->v->types[id] = BITNET_TOKEN_UNUSED;
    }
    return 0;
}

/* Merges as "a b"; from "a b" strings or ["a", "b"] pairs. SentencePiece scores = -rank. */
static int hf_merges(hf_ctx *c, const json_value *model) {
    const json_value *m = json_get(model, "merges"), *e;
    hf_vocab *v = c->v;
    uint32_t i;
    if (!m || m->type != JSON_ARRAY) return hf_error(c, "tokenizer.json: model.merges is not a list");
    v->merges = (char **)calloc(m->count ? m->count : 1, sizeof *v->merges);
    if (!v->merges) return hf_error(c, "out of memory");
    for (i = 0, e = json_first(m); i < m->count; i++, e = json_next(e)) {
        const json_value *a = e, *b = NULL;
        size_t la, lb;
        char *s;
        if (e->type == JSON_ARRAY && e->count == 2) { a = json_first(e); b = json_next(a); }
        if (a->type != JSON_STRING || (b && b->type != JSON_STRING) || strlen(a->u.str.s) != a->u.str.len ||
            (b && strlen(b->u.str.s) != b->u.str.len) || (!b && !strchr(a->u.str.s, ' ')))
            return hf_error(c, "tokenizer.json: merge %u is neither \"a b\" nor [\"a\", \"b\"]", i);
        la = a->u.str.len;
        lb = b ? b->u.str.len : 0;
        if (!(s = (char *)malloc(la + lb + 2))) return hf_error(c, "out of memory");
        memcpy(s, a->u.str.s, la);
        if (b) { s[la] = ' '; memcpy(s + la + 1, b->u.str.s, lb + 1); }
        else s[la] = 0;
        v->merges[v->n_merges++] = s;
    }
    return 0;
}

/* One UTF-8 character (a starting symbol, never the result of a merge). */
static int hf_one_char(const char *s) {
    unsigned char b = (unsigned char)s[0];
    size_t want = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    return strlen(s) == want;
}

static void hf_spm_scores(hf_ctx *c) {
    hf_vocab *v = c->v;
    int32_t i, r;
    char buf[1024];
    for (i = 0; i < v->n; i++)                          /* below every merge, unless a merge makes it */
        v->scores[i] = v->types[i] != BITNET_TOKEN_NORMAL || hf_one_char(v->text[i]) ? 0.0f : -(float)(v->n_merges + i);
    for (r = v->n_merges - 1; r >= 0; r--) {            /* the earliest merge wins */
        const char *sp = strchr(v->merges[r], ' ');
        size_t la = (size_t)(sp - v->merges[r]);
        int32_t id;
        if (strlen(v->merges[r]) >= sizeof buf) continue;
        memcpy(buf, v->merges[r], la);
        strcpy(buf + la, sp + 1);
        if ((id = hf_lookup(c, buf)) >= 0 && v->types[id] == BITNET_TOKEN_NORMAL) v->scores[id] = -(float)r;
    }
}

/* The largest id in model.vocab and added_tokens (-1 if none or one is not an integer in range). */
static int32_t hf_max_id(hf_ctx *c, const json_value *model) {
    const json_value *vocab = json_get(model, "vocab"), *added = json_get(json_root(c->tok), "added_tokens"), *k;
    int64_t best = -1;
    uint32_t i;
    for (i = 0, k = vocab && vocab->type == JSON_OBJECT ? json_first(vocab) : NULL; k && i < vocab->count; i++, k = json_next(k + 1))
        if (k[1].type == JSON_NUMBER && k[1].is_int && k[1].u.n.i > best) best = k[1].u.n.i;
    for (i = 0, k = added && added->type == JSON_ARRAY ? json_first(added) : NULL; k && i < added->count; i++, k = json_next(k)) {
        const json_value *id = json_get(k, "id");
        if (id && id->type == JSON_NUMBER && id->is_int && id->u.n.i > best) best = id->u.n.i;
    }
    return best < INT32_MAX - 1 ? (int32_t)best : -1;
}

/* ---- style: byte-level or SentencePiece; split rule ---- */

static int hf_has_type(const json_value *v, const char *type, const json_value **found) {
    const json_value *t, *list, *e;
    uint32_t i;
    if (!v || v->type != JSON_OBJECT) return 0;
    t = json_get(v, "type");
    if (t && json_is_str(t, type)) { if (found) *found = v; return 1; }
    list = json_get(v, "pretokenizers");
    if (!list) list = json_get(v, "normalizers");
    if (!list) list = json_get(v, "decoders");
    if (!list) list = json_get(v, "processors");
    if (!list || list->type != JSON_ARRAY) return 0;
    for (i = 0, e = json_first(list); i < list->count; i++, e = json_next(e))
        if (hf_has_type(e, type, found)) return 1;
    return 0;
}

static int hf_style(hf_ctx *c, const json_value *model) {
    const json_value *root = json_root(c->tok), *pre = json_get(root, "pre_tokenizer"), *norm = json_get(root, "normalizer");
    const json_value *dec = json_get(root, "decoder"), *bf = json_get(model, "byte_fallback"), *split = NULL, *meta = NULL;
    const json_value *type = json_get(model, "type");
    if (!type || !json_is_str(type, "BPE"))
        return hf_error(c, "tokenizer.json: model type '%s' is not supported (BPE only)",
                        type && type->type == JSON_STRING ? type->u.str.s : "?");
    if (hf_has_type(pre, "ByteLevel", NULL) || hf_has_type(dec, "ByteLevel", NULL)) {
        const json_value *bl = NULL, *use_regex;
        c->v->pre = "gpt-2";
        if (hf_has_type(pre, "Split", &split)) {
            const json_value *pat = json_get(json_get(split, "pattern"), "Regex");
            if (pat && json_is_str(pat, hf_llama3_regex)) c->v->pre = "llama-bpe";
            else fprintf(stderr, "bitnet: convert: note: unknown Split pre-tokenizer pattern; using the GPT-2 rule\n");
        } else if (hf_has_type(pre, "ByteLevel", &bl) && (use_regex = json_get(bl, "use_regex")) &&
                   use_regex->type == JSON_FALSE) {
            fprintf(stderr, "bitnet: convert: note: ByteLevel without a split rule; using the GPT-2 rule\n");
        }
        return 0;
    }
    if (hf_has_type(pre, "Metaspace", &meta) || hf_has_type(norm, "Replace", NULL) || (bf && bf->type == JSON_TRUE)) {
        c->v->spm = 1;
        return 0;
    }
    return hf_error(c, "tokenizer.json: neither a byte-level BPE (ByteLevel pre-tokenizer) nor a SentencePiece BPE "
                       "(Metaspace or byte_fallback)");
}

/* ---- special tokens from tokenizer_config.json ---- */

static int32_t hf_special(hf_ctx *c, const char *key, int32_t fallback) {
    const json_value *t = c->cfg ? json_get(json_root(c->cfg), key) : NULL;
    int32_t id;
    if (t && t->type == JSON_OBJECT) t = json_get(t, "content");
    if (!t || t->type != JSON_STRING) return fallback < c->v->n ? fallback : -1;
    id = hf_lookup(c, t->u.str.s);
    if (id < 0) fprintf(stderr, "bitnet: convert: note: %s '%s' is not in the vocabulary\n", key, t->u.str.s);
    return id >= 0 ? id : fallback < c->v->n ? fallback : -1;
}

/* add_bos: tokenizer_config's add_bos_token, else whether the post-processor's template starts
   with the BOS token. */
static int hf_add_bos(hf_ctx *c) {
    const json_value *b = c->cfg ? json_get(json_root(c->cfg), "add_bos_token") : NULL, *tp = NULL, *single, *first, *sp;
    if (b && (b->type == JSON_TRUE || b->type == JSON_FALSE)) return b->type == JSON_TRUE;
    if (c->v->bos < 0 || !hf_has_type(json_get(json_root(c->tok), "post_processor"), "TemplateProcessing", &tp)) return 0;
    single = json_get(tp, "single");
    first = single && single->type == JSON_ARRAY ? json_first(single) : NULL;
    sp = json_get(json_get(first, "SpecialToken"), "id");
    return sp && sp->type == JSON_STRING && !strcmp(sp->u.str.s, c->v->text[c->v->bos]);
}

static int hf_chat_template(hf_ctx *c, const char *dir) {
    const json_value *t = c->cfg ? json_get(json_root(c->cfg), "chat_template") : NULL, *e;
    const char *s = NULL;
    uint32_t i;
    char path[4096];
    size_t len = 0;
    if (t && t->type == JSON_ARRAY) {                  /* [{"name": ..., "template": ...}] */
        for (i = 0, e = json_first(t); i < t->count; i++, e = json_next(e)) {
            const json_value *tt = json_get(e, "template");
            if (tt && tt->type == JSON_STRING && (!s || json_is_str(json_get(e, "name"), "default"))) s = tt->u.str.s;
        }
    } else if (t && t->type == JSON_STRING) {
        s = t->u.str.s;
    }
    if (s) {
        if (!(c->v->chat_template = (char *)malloc(strlen(s) + 1))) return hf_error(c, "out of memory");
        strcpy(c->v->chat_template, s);
        return 0;
    }
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    c->v->chat_template = json_read_file(path, 1u << 20, &len);
    if (c->v->chat_template && strlen(c->v->chat_template) != len) {
        free(c->v->chat_template);
        c->v->chat_template = NULL;
    }
    return 0;
}

int hf_tokenizer_load(hf_vocab *v, const char *dir, int32_t n_vocab, int32_t config_bos, int32_t config_eos,
                      char *err, size_t err_size) {
    hf_ctx c;
    const json_value *model;
    int rc;
    memset(v, 0, sizeof *v);
    memset(&c, 0, sizeof c);
    c.v = v;
    c.err = err;
    c.err_size = err_size;
    v->bos = v->eos = v->unk = v->pad = -1;
    rc = hf_parse_file(&c, dir, "tokenizer.json", 1, &c.tok);
    if (!rc) rc = hf_parse_file(&c, dir, "tokenizer_config.json", 0, &c.cfg);
    model = rc ? NULL : json_get(json_root(c.tok), "model");
    if (!rc && (!model || model->type != JSON_OBJECT)) rc = hf_error(&c, "tokenizer.json: no \"model\" object");
    if (!rc && n_vocab <= 0) n_vocab = hf_max_id(&c, model) + 1;
    if (!rc && n_vocab <= 0) rc = hf_error(&c, "tokenizer.json: no tokens");
    if (!rc) {
        v->n = n_vocab;
        v->text = (char **)calloc((size_t)n_vocab, sizeof *v->text);
        v->scores = (float *)calloc((size_t)n_vocab, sizeof *v->scores);
        v->types = (int32_t *)calloc((size_t)n_vocab, sizeof *v->types);
        if (!v->text || !v->scores || !v->types) rc = hf_error(&c, "out of memory");
    }
    if (!rc) rc = hf_style(&c, model);
    if (!rc) rc = hf_vocab_entries(&c, model);
    if (!rc) rc = hf_pad(&c);
    if (!rc) rc = hf_merges(&c, model);
    if (!rc) rc = hf_index(&c);
    if (!rc) {
        if (v->spm) hf_spm_scores(&c);
        v->bos = hf_special(&c, "bos_token", config_bos);
        v->eos = hf_special(&c, "eos_token", config_eos);
        v->unk = hf_special(&c, "unk_token", -1);
        v->pad = hf_special(&c, "pad_token", -1);
        v->add_bos = hf_add_bos(&c);
        v->add_eos = c.cfg && json_get(json_root(c.cfg), "add_eos_token") &&
                     json_get(json_root(c.cfg), "add_eos_token")->type == JSON_TRUE;
        rc = hf_chat_template(&c, dir);
    }
    free(c.slot);
    json_free(c.tok);
    json_free(c.cfg);
    if (rc) hf_tokenizer_free(v);
    return rc;
}

int hf_tokenizer_write(const hf_vocab *v, bitnet_gguf_writer *w) {
    int ok = 1;
    ok &= bitnet_gguf_writer_set_str(w, "tokenizer.ggml.model", v->spm ? "llama" : "gpt2") == BITNET_OK;
    if (!v->spm) ok &= bitnet_gguf_writer_set_str(w, "tokenizer.ggml.pre", v->pre) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->text, (uint64_t)v->n) == BITNET_OK;
    if (v->spm) ok &= bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.scores", BITNET_GGUF_F32, v->scores, (uint64_t)v->n) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", BITNET_GGUF_I32, v->types, (uint64_t)v->n) == BITNET_OK;
    if (!v->spm)
        ok &= bitnet_gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)v->merges, (uint64_t)v->n_merges) == BITNET_OK;
    if (v->bos >= 0) ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos) == BITNET_OK;
    if (v->eos >= 0) ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos) == BITNET_OK;
    if (v->unk >= 0) ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk) == BITNET_OK;
    if (v->pad >= 0) ok &= bitnet_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos) == BITNET_OK;
    ok &= bitnet_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos) == BITNET_OK;
    if (v->chat_template) ok &= bitnet_gguf_writer_set_str(w, "tokenizer.chat_template", v->chat_template) == BITNET_OK;
    return ok ? 0 : -1;
}

void hf_tokenizer_free(hf_vocab *v) {
    int32_t i;
    if (v->text) for (i = 0; i < v->n; i++) free(v->text[i]);
    if (v->merges) for (i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->text);
    free(v->scores);
    free(v->types);
    free(v->merges);
    free(v->chat_template);
    memset(v, 0, sizeof *v);
    v->bos = v->eos = v->unk = v->pad = -1;
}
