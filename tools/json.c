/* json.c - see json.h. */
#include "json.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define JSON_DEFAULT_MAX_BYTES ((size_t)256 << 20)
#define JSON_DEFAULT_MAX_DEPTH 512
#define JSON_MAX_NUMBER_CHARS 512

struct json_doc {
    json_value *nodes;        /* (n_nodes) in document order; nodes[0] is the root */
    uint32_t n_nodes, cap;
    char *arena;              /* decoded strings, each NUL-terminated; never moves */
    size_t arena_len;
    uint32_t *stack;          /* (max_depth) indexes of the open containers */
    uint32_t *table;          /* duplicate-key hash table: node index + 1, 0 = empty */
    size_t table_cap;
    uint64_t seed;
    const char *text, *p, *end;
    char *err;
    size_t err_size;
};

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if it is not one. */
static size_t json_utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, i;
    if (c < 0x80) return 1;
    if (c < 0xC2) return 0;
    if (c < 0xE0) need = 2;
    else if (c < 0xF0) { need = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c < 0xF5) { need = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need;
}

static size_t json_put_utf8(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Records "line L column C: message" for the current position; returns -1. */
static int json_fail(json_doc *d, const char *fmt, ...) {
    const char *q;
    size_t line = 1, col = 1, n;
    va_list ap;
    if (!d->err || !d->err_size) return -1;
    for (q = d->text; q < d->p && q < d->end; q++) {
        if (*q == '\n') { line++; col = 1; } else col++;
    }
    n = (size_t)snprintf(d->err, d->err_size, "line %lu column %lu: ", (unsigned long)line,
                         (unsigned long)col);
    if (n < d->err_size) {
        va_start(ap, fmt);
        vsnprintf(d->err + n, d->err_size - n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static json_value *json_add(json_doc *d, json_type type) {
    json_value *v;
    if (d->n_nodes == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        json_value *nodes;
        if (cap <= d->cap) return NULL;
        nodes = (json_value *)realloc(d->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return NULL;
        d->nodes = nodes;
        d->cap = cap;
    }
    v = &d->nodes[d->n_nodes++];
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
    v->span = 1;
    return v;
}

static void json_skip_ws(json_doc *d) {
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r')) d->p++;
}

static int json_hex4(const char *s, uint32_t *out) {
    uint32_t v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* One escape after the backslash at d->p; appends its UTF-8 to out. */
static int json_escape(json_doc *d, char *out, size_t *n) {
    uint32_t cp, lo;
    const char *s = d->p + 1;
    if (s >= d->end) return json_fail(d, "unterminated string");
    switch (*s) {
    case '"': case '\\': case '/': out[(*n)++] = *s; d->p += 2; return 0;
    case 'b': out[(*n)++] = '\b'; d->p += 2; return 0;
    case 'f': out[(*n)++] = '\f'; d->p += 2; return 0;
    case 'n': out[(*n)++] = '\n'; d->p += 2; return 0;
    case 'r': out[(*n)++] = '\r'; d->p += 2; return 0;
    case 't': out[(*n)++] = '\t'; d->p += 2; return 0;
    case 'u': break;
    default: return json_fail(d, "invalid escape '\\%c'", *s);
    }
    if (d->end - s < 5 || !json_hex4(s + 1, &cp)) return json_fail(d, "\\u needs four hex digits");
    d->p += 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return json_fail(d, "lone low surrogate \\u%04X", (unsigned)cp);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u' || !json_hex4(d->p + 2, &lo) ||
            lo < 0xDC00 || lo > 0xDFFF)
            return json_fail(d, "high surrogate \\u%04X without a low surrogate", (unsigned)cp);
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        d->p += 6;
    }
    *n += json_put_utf8(out + *n, cp);
    return 0;
}

/* The string at d->p (on its opening quote) into the arena. */
static int json_string(json_doc *d, json_value *v) {
    char *out = d->arena + d->arena_len;
    size_t n = 0;
    d->p++;
    for (;;) {
        const char *run = d->p;
        unsigned char c;
        while (d->p < d->end && (c = (unsigned char)*d->p) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
            d->p++;
        memcpy(out + n, run, (size_t)(d->p - run));
        n += (size_t)(d->p - run);
        if (d->p >= d->end) return json_fail(d, "unterminated string");
        c = (unsigned char)*d->p;
        if (c == '"') break;
        if (c == '\\') {
            if (json_escape(d, out, &n)) return -1;
        } else if (c < 0x20) {
            return json_fail(d, "raw control character 0x%02X in a string", c);
        } else {
            size_t k = json_utf8_len((const unsigned char *)d->p, (size_t)(d->end - d->p));
            if (!k) return json_fail(d, "invalid UTF-8 in a string");
            memcpy(out + n, d->p, k);
            n += k;
            d->p += k;
        }
    }
    d->p++;
    out[n] = 0;
    d->arena_len += n + 1;
    v->u.str.s = out;
    v->u.str.len = n;
    return 0;
}

static int json_digits(json_doc *d) {
    const char *start = d->p;
    while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    return d->p > start;
}

static int json_number(json_doc *d, json_value *v) {
    const char *start = d->p;
    char buf[JSON_MAX_NUMBER_CHARS + 1];
    int neg = 0, integer = 1;
    size_t len;
    if (*d->p == '-') { neg = 1; d->p++; }
    if (d->p < d->end && *d->p == '0') {
        d->p++;
        if (d->p < d->end && *d->p >= '0' && *d->p <= '9') return json_fail(d, "leading zero in a number");
    } else if (!json_digits(d)) {
        return json_fail(d, "invalid number");
    }
    if (d->p < d->end && *d->p == '.') {
        d->p++;
        integer = 0;
        if (!json_digits(d)) return json_fail(d, "digits expected after '.'");
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        d->p++;
        integer = 0;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-')) d->p++;
        if (!json_digits(d)) return json_fail(d, "digits expected in the exponent");
    }
    len = (size_t)(d->p - start);
    if (len > JSON_MAX_NUMBER_CHARS) return json_fail(d, "number longer than %d characters", JSON_MAX_NUMBER_CHARS);
    memcpy(buf, start, len);
    buf[len] = 0;
    v->u.n.num = strtod(buf, NULL);
    if (integer) {
        uint64_t mag = 0, limit = neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1;
        const char *q = start + neg;
        int fits = 1;
        for (; q < d->p; q++) {
            uint64_t dig = (uint64_t)(*q - '0');
            if (mag > (limit - dig) / 10) { fits = 0; break; }
            mag = mag * 10 + dig;
        }
        if (fits) {
            v->is_int = 1;
            v->u.n.i = neg ? (mag == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
        }
    } else if (v->u.n.num >= -9223372036854775808.0 &&
               v->u.n.num < 9223372036854775808.0 && v->u.n.num == (double)(int64_t)v->u.n.num) {
        v->is_int = 1;
        v->u.n.i = (int64_t)v->u.n.num;
    }
    return 0;
}

static int json_literal(json_doc *d, json_value **v) {
    static const char *const words[3] = { "null", "false", "true" };
    static const json_type types[3] = { JSON_NULL, JSON_FALSE, JSON_TRUE };
    int i;
    for (i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(d->end - d->p) >= n && !memcmp(d->p, words[i], n)) {
            if (!(*v = json_add(d, types[i]))) return json_fail(d, "out of memory");
            d->p += n;
            return 0;
        }
    }
    return json_fail(d, "unexpected character '%c'", *d->p);
}

static uint64_t json_hash(const json_doc *d, const char *s, size_t n) {
    uint64_t h = d->seed;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return h ^ (h >> 32);
}

/* Rejects an object with two equal keys: every key goes into an open-addressing table. */
static int json_check_keys(json_doc *d, uint32_t obj) {
    uint32_t i, count = d->nodes[obj].count, k = obj + 1;
    size_t cap = 16, mask;
    if (count < 2) return 0;
    while (cap < (size_t)count * 2) cap *= 2;
    if (cap > d->table_cap) {
        uint32_t *t = (uint32_t *)realloc(d->table, cap * sizeof *t);
        if (!t) return json_fail(d, "out of memory");
        d->table = t;
        d->table_cap = cap;
    }
    memset(d->table, 0, cap * sizeof *d->table);
    mask = cap - 1;
    for (i = 0; i < count; i++, k += 1 + d->nodes[k + 1].span) {
        const json_value *key = &d->nodes[k];
        size_t slot = (size_t)json_hash(d, key->u.str.s, key->u.str.len) & mask;
        while (d->table[slot]) {
            const json_value *other = &d->nodes[d->table[slot] - 1];
            if (other->u.str.len == key->u.str.len && !memcmp(other->u.str.s, key->u.str.s, key->u.str.len)) {
                return json_fail(d, "duplicate key \"%.40s\"", key->u.str.s);
            }
            slot = (slot + 1) & mask;
        }
        d->table[slot] = k + 1;
    }
    return 0;
}

/* The document at d->text: an iterative parse with the open containers on d->stack. */
static int json_run(json_doc *d, int max_depth) {
    int depth = 0;
    json_value *v;
    json_skip_ws(d);
    for (;;) {
        /* a value is expected at d->p */
        if (d->p >= d->end) return json_fail(d, "unexpected end of input");
        switch (*d->p) {
        case '{': case '[': {
            int is_obj = *d->p == '{';
            if (depth >= max_depth) return json_fail(d, "nesting deeper than %d", max_depth);
            if (!(v = json_add(d, is_obj ? JSON_OBJECT : JSON_ARRAY))) return json_fail(d, "out of memory");
            d->stack[depth++] = d->n_nodes - 1;
            d->p++;
            json_skip_ws(d);
            if (d->p < d->end && *d->p == (is_obj ? '}' : ']')) {
                d->p++;
                depth--;
                goto after_value;
            }
            if (is_obj) goto need_key;
            continue;
        }
        case '"':
            if (!(v = json_add(d, JSON_STRING))) return json_fail(d, "out of memory");
            if (json_string(d, v)) return -1;
            break;
        case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        case '8': case '9':
            if (!(v = json_add(d, JSON_NUMBER))) return json_fail(d, "out of memory");
            if (json_number(d, v)) return -1;
            break;
        default:
            if (json_literal(d, &v)) return -1;
        }
    after_value:
        if (depth == 0) break;
        {
            uint32_t parent = d->stack[depth - 1];
            int is_obj = d->nodes[parent].type == JSON_OBJECT;
            d->nodes[parent].count++;
            json_skip_ws(d);
            if (d->p < d->end && *d->p == ',') {
                d->p++;
                json_skip_ws(d);
                if (is_obj) goto need_key;
                continue;
            }
            if (d->p < d->end && *d->p == (is_obj ? '}' : ']')) {
                d->p++;
                d->nodes[parent].span = d->n_nodes - parent;
                if (is_obj && json_check_keys(d, parent)) return -1;
                depth--;
                /* the closed container is itself a value of its parent */
                goto after_value;
            }
            return json_fail(d, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    need_key:
        if (d->p >= d->end || *d->p != '"') return json_fail(d, "expected a string key");
        if (!(v = json_add(d, JSON_STRING))) return json_fail(d, "out of memory");
        if (json_string(d, v)) return -1;
        json_skip_ws(d);
        if (d->p >= d->end || *d->p != ':') return json_fail(d, "expected ':' after a key");
        d->p++;
        json_skip_ws(d);
    }
    json_skip_ws(d);
    if (d->p != d->end) return json_fail(d, "unexpected data after the value");
    return 0;
}

int json_parse(json_doc **out, const char *text, size_t len, const json_limits *limits,
               char *err, size_t err_size) {
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : JSON_DEFAULT_MAX_BYTES;
    int max_depth = limits && limits->max_depth > 0 ? limits->max_depth : JSON_DEFAULT_MAX_DEPTH;
    json_doc *d;
    int rc;
    *out = NULL;
    if (err && err_size) err[0] = 0;
    if (max_bytes > ((size_t)1 << 31)) max_bytes = (size_t)1 << 31;   /* node indexes are 32-bit */
    if (!text && len) return -1;
    if (len > max_bytes) {
        if (err && err_size) snprintf(err, err_size, "input of %lu bytes is over the limit of %lu",
                                      (unsigned long)len, (unsigned long)max_bytes);
        return -1;
    }
    d = (json_doc *)calloc(1, sizeof *d);
    if (!d || !(d->arena = (char *)malloc(len + 1)) ||
        !(d->stack = (uint32_t *)malloc((size_t)max_depth * sizeof *d->stack))) {
        json_free(d);
        if (err && err_size) snprintf(err, err_size, "out of memory");
        return -1;
    }
    d->text = d->p = text ? text : "";
    d->end = d->text + len;
    d->err = err;
    d->err_size = err_size;
    d->seed = 0xcbf29ce484222325ull ^ (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)d << 16);
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) d->p += 3;
    rc = json_run(d, max_depth);
    free(d->stack);
    free(d->table);
    d->stack = NULL;
    d->table = NULL;
    if (rc) { json_free(d); return -1; }
    *out = d;
    return 0;
}

void json_free(json_doc *doc) {
    if (!doc) return;
    free(doc->nodes);
    free(doc->arena);
    free(doc->stack);
    free(doc->table);
    free(doc);
}

const json_value *json_root(const json_doc *doc) { return doc && doc->n_nodes ? &doc->nodes[0] : NULL; }

const json_value *json_first(const json_value *v) {
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) && v->count ? v + 1 : NULL;
}

const json_value *json_next(const json_value *v) { return v + v->span; }

const json_value *json_get(const json_value *obj, const char *key) {
    const json_value *k = json_first(obj);
    size_t n = strlen(key);
    uint32_t i;
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (i = 0; i < obj->count; i++, k = json_next(k + 1))
        if (k->u.str.len == n && !memcmp(k->u.str.s, key, n)) return k + 1;
    return NULL;
}

const json_value *json_at(const json_value *arr, size_t i) {
    const json_value *e = json_first(arr);
    size_t j;
    if (!arr || arr->type != JSON_ARRAY || i >= arr->count) return NULL;
    for (j = 0; j < i; j++) e = json_next(e);
    return e;
}

int json_is_str(const json_value *v, const char *s) {
    return v && v->type == JSON_STRING && v->u.str.len == strlen(s) && !memcmp(v->u.str.s, s, v->u.str.len);
}

/* ---- writer ---- */

void json_w_init(json_writer *w) { memset(w, 0, sizeof *w); }

void json_w_free(json_writer *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

void json_w_reset(json_writer *w) {
    w->len = 0;
    w->failed = 0;
    w->depth = 0;
    w->after_key = 0;
    w->has_item = 0;
    if (w->buf) w->buf[0] = 0;
}

void json_w_raw(json_writer *w, const char *s, size_t len) {
    if (w->failed) return;
    if (len + 1 > w->cap - w->len || !w->buf) {
        size_t cap = w->cap ? w->cap : 256;
        char *buf;
        while (cap - w->len < len + 1) {
            if (cap > SIZE_MAX / 2) { w->failed = 1; return; }
            cap *= 2;
        }
        if (!(buf = (char *)realloc(w->buf, cap))) { w->failed = 1; return; }
        w->buf = buf;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, len);
    w->len += len;
    w->buf[w->len] = 0;
}

/* Comma before a value or key unless it is the first in its container or follows a key. */
static void json_w_sep(json_writer *w) {
    if (w->after_key) { w->after_key = 0; return; }
    if (w->depth > 0 && w->depth <= 64) {
        uint64_t bit = (uint64_t)1 << (w->depth - 1);
        if (w->has_item & bit) json_w_raw(w, ",", 1);
        w->has_item |= bit;
    }
}

static void json_w_open(json_writer *w, const char *c) {
    json_w_sep(w);
    json_w_raw(w, c, 1);
    if (++w->depth > 64) { w->failed = 1; return; }
    w->has_item &= ~((uint64_t)1 << (w->depth - 1));
}

static void json_w_close(json_writer *w, const char *c) {
    if (w->depth > 0) w->depth--;
    json_w_raw(w, c, 1);
}

void json_w_obj(json_writer *w) { json_w_open(w, "{"); }
void json_w_obj_end(json_writer *w) { json_w_close(w, "}"); }
void json_w_arr(json_writer *w) { json_w_open(w, "["); }
void json_w_arr_end(json_writer *w) { json_w_close(w, "]"); }

void json_w_escaped(json_writer *w, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t k;
        char esc[6];
        size_t n = 0;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') { i++; continue; }
        json_w_raw(w, s + run, i - run);
        if (c >= 0x80) {
            k = json_utf8_len((const unsigned char *)s + i, len - i);
            if (k) json_w_raw(w, s + i, k);
            else json_w_raw(w, "\xEF\xBF\xBD", 3);
            i += k ? k : 1;
            run = i;
            continue;
        }
        esc[n++] = '\\';
        switch (c) {
        case '"': esc[n++] = '"'; break;
        case '\\': esc[n++] = '\\'; break;
        case '\n': esc[n++] = 'n'; break;
        case '\r': esc[n++] = 'r'; break;
        case '\t': esc[n++] = 't'; break;
        case '\b': esc[n++] = 'b'; break;
        case '\f': esc[n++] = 'f'; break;
        default:
            esc[n++] = 'u'; esc[n++] = '0'; esc[n++] = '0';
            esc[n++] = hex[c >> 4]; esc[n++] = hex[c & 15];
        }
        json_w_raw(w, esc, n);
        i++;
        run = i;
    }
    json_w_raw(w, s + run, i - run);
}

void json_w_str(json_writer *w, const char *s, size_t len) {
    json_w_sep(w);
    json_w_raw(w, "\"", 1);
    json_w_escaped(w, s, len);
    json_w_raw(w, "\"", 1);
}

void json_w_key(json_writer *w, const char *key) {
    json_w_str(w, key, strlen(key));
    json_w_raw(w, ":", 1);
    w->after_key = 1;
}

void json_w_cstr(json_writer *w, const char *s) {
    if (s) json_w_str(w, s, strlen(s));
    else json_w_null(w);
}

void json_w_int(json_writer *w, int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    json_w_sep(w);
    json_w_raw(w, buf, (size_t)n);
}

void json_w_num(json_writer *w, double v) {
    char buf[40];
    int n;
    if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308) { json_w_null(w); return; }
    n = snprintf(buf, sizeof buf, "%.15g", v);       /* the shortest of 15 or 17 digits that reads back */
    if (strtod(buf, NULL) != v) n = snprintf(buf, sizeof buf, "%.17g", v);
    json_w_sep(w);
    json_w_raw(w, buf, (size_t)n);
}

void json_w_bool(json_writer *w, int v) {
    json_w_sep(w);
    json_w_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void json_w_null(json_writer *w) {
    json_w_sep(w);
    json_w_raw(w, "null", 4);
}

char *json_read_file(const char *path, size_t max, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f) return NULL;
    buf = (char *)malloc(max + 1);
    n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) { free(buf); return NULL; }
    buf[n] = 0;
    *len = n;
    return buf;
}
