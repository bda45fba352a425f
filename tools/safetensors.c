/* safetensors.c - see safetensors.h. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"
#include "errbuf.h"
#include "json.h"
#include "../bitnet.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER (100u << 20)     /* the limit the reference implementation sets */

typedef struct st_mapping {
    void *base;
    size_t size;
} st_mapping;

static const struct { const char *name; size_t size; } st_dtypes[ST_DTYPE_COUNT] = {
    { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },
    { "I32", 4 }, { "U32", 4 }, { "F32", 4 }, { "I64", 8 }, { "U64", 8 }, { "F64", 8 },
    { "F8_E4M3", 1 }, { "F8_E5M2", 1 },
};

const char *st_dtype_name(st_dtype t) { return (unsigned)t < ST_DTYPE_COUNT ? st_dtypes[t].name : "?"; }
size_t st_dtype_size(st_dtype t) { return (unsigned)t < ST_DTYPE_COUNT ? st_dtypes[t].size : 0; }

static int st_mul(uint64_t a, uint64_t b, uint64_t *out) {
    if (a && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static int st_push(st_model *m, const st_tensor *t) {
    if (m->n_tensors == m->cap_tensors) {
        size_t cap = m->cap_tensors ? 2 * m->cap_tensors : 64;
        st_tensor *bigger = (st_tensor *)realloc(m->tensors, cap * sizeof *bigger);
        if (!bigger) return 0;
        m->tensors = bigger;
        m->cap_tensors = cap;
    }
    m->tensors[m->n_tensors++] = *t;
    return 1;
}

/* A JSON integer in [0, max]. */
static int st_uint(const json_value *v, uint64_t max, uint64_t *out) {
    if (!v || v->type != JSON_NUMBER || !v->is_int || v->u.n.i < 0 || (uint64_t)v->u.n.i > max) return 0;
    *out = (uint64_t)v->u.n.i;
    return 1;
}

/* One header entry: fills t (name not set) or explains what is wrong. */
static int st_entry(const json_value *v, const char *name, const unsigned char *data, uint64_t data_size,
                    st_tensor *t, uint64_t *begin, char *err, size_t err_size) {
    const json_value *dt = json_get(v, "dtype"), *shape = json_get(v, "shape"), *off = json_get(v, "data_offsets"), *e;
    uint64_t b, end, n = 1, bytes;
    uint32_t i;
    int k;
    if (v->type != JSON_OBJECT) return errbuf_printf(err, err_size, "tensor '%s': entry is not an object", name);
    if (!dt || dt->type != JSON_STRING) return errbuf_printf(err, err_size, "tensor '%s': no \"dtype\" string", name);
    for (k = 0; k < ST_DTYPE_COUNT && !json_is_str(dt, st_dtypes[k].name); k++) {}
    if (k == ST_DTYPE_COUNT)
        return errbuf_printf(err, err_size, "tensor '%s': unknown dtype '%.20s'", name, dt->u.str.s);
    t->dtype = (st_dtype)k;
    if (!shape || shape->type != JSON_ARRAY)
        return errbuf_printf(err, err_size, "tensor '%s': no \"shape\" array", name);
    if (shape->count > ST_MAX_DIMS)
        return errbuf_printf(err, err_size, "tensor '%s': %u dimensions (at most %d)", name, shape->count, ST_MAX_DIMS);
    t->n_dims = shape->count;
    for (i = 0, e = json_first(shape); i < shape->count; i++, e = json_next(e)) {
        if (!st_uint(e, UINT64_MAX, &t->shape[i]))
            return errbuf_printf(err, err_size, "tensor '%s': dimension %u is not a whole number >= 0", name, i);
        if (!st_mul(n, t->shape[i], &n))
            return errbuf_printf(err, err_size, "tensor '%s': element count overflows", name);
    }
    if (!st_mul(n, st_dtypes[k].size, &bytes))
        return errbuf_printf(err, err_size, "tensor '%s': byte size overflows", name);
    if (!off || off->type != JSON_ARRAY || off->count != 2 || !st_uint(json_at(off, 0), UINT64_MAX, &b) ||
        !st_uint(json_at(off, 1), UINT64_MAX, &end))
        return errbuf_printf(err, err_size, "tensor '%s': \"data_offsets\" is not [begin, end]", name);
    if (b > end || end > data_size)
        return errbuf_printf(err, err_size, "tensor '%s': data_offsets [%llu, %llu] outside the %llu data bytes", name,
                             (unsigned long long)b, (unsigned long long)end, (unsigned long long)data_size);
    if (end - b != bytes)
        return errbuf_printf(err, err_size,
                             "tensor '%s': %llu bytes in data_offsets, but %llu elements of %s need %llu", name,
                             (unsigned long long)(end - b), (unsigned long long)n, st_dtypes[k].name,
                             (unsigned long long)bytes);
    t->n_elements = n;
    t->size = bytes;
    t->data = data + b;
    *begin = b;
    return 0;
}

typedef struct st_range { uint64_t begin, end; const char *name; } st_range;

static int st_range_cmp(const void *a, const void *b) {
    const st_range *x = (const st_range *)a, *y = (const st_range *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Tensors' byte ranges must not overlap (empty tensors may sit anywhere). */
static int st_check_overlap(st_range *r, size_t n, char *err, size_t err_size) {
    size_t i, last = (size_t)-1;
    qsort(r, n, sizeof *r, st_range_cmp);
    for (i = 0; i < n; i++) {
        if (r[i].begin == r[i].end) continue;
        if (last != (size_t)-1 && r[i].begin < r[last].end)
            return errbuf_printf(err, err_size, "tensors '%s' and '%s' overlap", r[last].name, r[i].name);
        last = i;
    }
    return 0;
}

static int st_parse_entries(st_model *m, const json_value *root, const unsigned char *data, uint64_t data_size,
                            int file, char *err, size_t err_size) {
    const json_value *k = json_first(root);
    st_range *ranges = (st_range *)malloc((root->count ? root->count : 1) * sizeof *ranges);
    size_t n = 0, first = m->n_tensors;
    uint32_t i;
    int rc = 0;
    if (!ranges) return errbuf_printf(err, err_size, "out of memory");
    for (i = 0; i < root->count && !rc; i++, k = json_next(k + 1)) {
        st_tensor t;
        uint64_t begin = 0;
        char *name;
        if (json_is_str(k, "__metadata__")) {
            if (k[1].type != JSON_OBJECT) rc = errbuf_printf(err, err_size, "\"__metadata__\" is not an object");
            continue;
        }
        if (!k->u.str.len || strlen(k->u.str.s) != k->u.str.len) {
            rc = errbuf_printf(err, err_size, "tensor %u: empty name or a NUL byte in it", i);
            break;
        }
        memset(&t, 0, sizeof t);
        if ((rc = st_entry(k + 1, k->u.str.s, data, data_size, &t, &begin, err, err_size)) != 0) break;
        name = (char *)malloc(k->u.str.len + 1);
        if (!name) { rc = errbuf_printf(err, err_size, "out of memory"); break; }
        memcpy(name, k->u.str.s, k->u.str.len + 1);
        t.name = name;
        t.file = file;
        if (!st_push(m, &t)) { free(name); rc = errbuf_printf(err, err_size, "out of memory"); break; }
        ranges[n].begin = begin;
        ranges[n].end = begin + t.size;
        ranges[n].name = name;
        n++;
    }
    if (!rc) rc = st_check_overlap(ranges, n, err, err_size);
    free(ranges);
    (void)first;
    return rc;
}

int st_parse(st_model *m, const unsigned char *data, size_t size, int file, char *err, size_t err_size) {
    uint64_t n = 0;
    json_doc *doc = NULL;
    json_limits lim;
    char jerr[160];
    int i, rc;
    if (size < 8) return errbuf_printf(err, err_size, "%zu bytes: too short for the header length", size);
    for (i = 7; i >= 0; i--) n = n << 8 | data[i];
    if (n > size - 8)
        return errbuf_printf(err, err_size, "header length %llu is past the end of the file (%zu bytes)",
                             (unsigned long long)n, size);
    if (n > ST_MAX_HEADER)
        return errbuf_printf(err, err_size, "header length %llu is over the %u-byte limit",
                             (unsigned long long)n, ST_MAX_HEADER);
    memset(&lim, 0, sizeof lim);
    lim.max_bytes = (size_t)n + 1;
    lim.max_depth = 8;
    if (json_parse(&doc, (const char *)data + 8, (size_t)n, &lim, jerr, sizeof jerr))
        return errbuf_printf(err, err_size, "header JSON: %s", jerr);
    if (json_root(doc)->type != JSON_OBJECT) rc = errbuf_printf(err, err_size, "header is not a JSON object");
    else rc = st_parse_entries(m, json_root(doc), data + 8 + n, size - 8 - n, file, err, err_size);
    json_free(doc);
    return rc;
}

static int st_tensor_cmp(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

int st_finish(st_model *m, char *err, size_t err_size) {
    size_t i;
    if (m->n_tensors) qsort(m->tensors, m->n_tensors, sizeof *m->tensors, st_tensor_cmp);
    for (i = 1; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i - 1].name, m->tensors[i].name))
            return errbuf_printf(err, err_size, "tensor '%s' appears twice", m->tensors[i].name);
    return 0;
}

const st_tensor *st_find(const st_model *m, const char *name) {
    size_t lo = 0, hi = m->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->tensors[mid].name, name);
        if (!c) return &m->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

int st_add_file(st_model *m, const char *path, char *err, size_t err_size) {
    struct stat sb;
    st_mapping *files;
    void *base;
    int fd = open(path, O_RDONLY), rc;
    char why[400];
    if (fd < 0) return errbuf_printf(err, err_size, "cannot open '%s'", path);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0) {
        close(fd);
        return errbuf_printf(err, err_size, "'%s' is not a regular non-empty file", path);
    }
    base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED) return errbuf_printf(err, err_size, "cannot map '%s'", path);
    files = (st_mapping *)realloc(m->files, (size_t)(m->n_files + 1) * sizeof *files);
    if (!files) {
        munmap(base, (size_t)sb.st_size);
        return errbuf_printf(err, err_size, "out of memory");
    }
    m->files = files;
    files[m->n_files].base = base;
    files[m->n_files].size = (size_t)sb.st_size;
    rc = st_parse(m, (const unsigned char *)base, (size_t)sb.st_size, m->n_files, why, sizeof why);
    m->n_files++;
    return rc ? errbuf_printf(err, err_size, "%s: %s", path, why) : 0;
}

void st_close(st_model *m) {
    size_t i;
    int f;
    for (i = 0; i < m->n_tensors; i++) free((char *)m->tensors[i].name);
    for (f = 0; f < m->n_files; f++) munmap(m->files[f].base, m->files[f].size);
    free(m->tensors);
    free(m->files);
    memset(m, 0, sizeof *m);
}

/* A whole small file (the index), NUL-terminated. */
static int st_plain_name(const char *s, size_t len) {
    return len && strlen(s) == len && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* Opens every shard the index names (in order of first mention) and checks the weight map. */
static int st_open_index(st_model *m, const char *dir, const char *text, size_t len, char *err, size_t err_size) {
    json_doc *doc = NULL;
    const json_value *map, *k, *j;
    char jerr[160], path[4096];
    uint32_t i, q;
    int rc = 0;
    if (json_parse(&doc, text, len, NULL, jerr, sizeof jerr))
        return errbuf_printf(err, err_size, "model.safetensors.index.json: %s", jerr);
    map = json_get(json_root(doc), "weight_map");
    if (!map || map->type != JSON_OBJECT || !map->count)
        rc = errbuf_printf(err, err_size, "model.safetensors.index.json: no \"weight_map\" object");
    for (i = 0, k = json_first(map); !rc && i < map->count; i++, k = json_next(k + 1)) {
        int seen = 0;
        if (k[1].type != JSON_STRING || !st_plain_name(k[1].u.str.s, k[1].u.str.len)) {
            rc = errbuf_printf(err, err_size, "model.safetensors.index.json: tensor '%s' maps to no plain file name",
                               k->u.str.s);
            break;
        }
        for (q = 0, j = json_first(map); q < i; q++, j = json_next(j + 1))
            if (!strcmp(j[1].u.str.s, k[1].u.str.s)) { seen = 1; break; }
        if (seen) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, k[1].u.str.s) >= sizeof path)
            rc = errbuf_printf(err, err_size, "path too long");
        else rc = st_add_file(m, path, err, err_size);
    }
    if (!rc) rc = st_finish(m, err, err_size);
    for (i = 0, k = json_first(map); !rc && i < map->count; i++, k = json_next(k + 1)) {
        const st_tensor *t = st_find(m, k->u.str.s);
        if (!t) rc = errbuf_printf(err, err_size, "tensor '%s' of the index is not in %s", k->u.str.s, k[1].u.str.s);
    }
    json_free(doc);
    return rc;
}

int st_open_dir(st_model *m, const char *dir, char *err, size_t err_size) {
    char path[4096];
    size_t len = 0;
    char *index;
    int rc;
    memset(m, 0, sizeof *m);
    if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir) >= sizeof path)
        return errbuf_printf(err, err_size, "path too long");
    index = json_read_file(path, 64u << 20, &len);
    if (index) {
        rc = st_open_index(m, dir, index, len, err, err_size);
        free(index);
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (access(path, R_OK) != 0)
            return errbuf_printf(err, err_size, "'%s' has no model.safetensors or model.safetensors.index.json", dir);
        rc = st_add_file(m, path, err, err_size);
        if (!rc) rc = st_finish(m, err, err_size);
    }
    if (rc) st_close(m);
    return rc;
}

int st_read_f32(const st_tensor *t, uint64_t first, uint64_t n, float *dst) {
    uint16_t half[256];
    size_t es = st_dtype_size(t->dtype);
    uint64_t i, c;
    if (first > t->n_elements || n > t->n_elements - first) return -1;
    for (i = 0; i < n; i += c) {
        const unsigned char *src = t->data + (first + i) * es;
        c = n - i < 256 ? n - i : 256;
        switch (t->dtype) {
        case ST_F32: memcpy(dst + i, src, (size_t)c * 4); break;
        case ST_F64: {
            uint64_t k;
            for (k = 0; k < c; k++) {
                double d;
                memcpy(&d, src + k * 8, 8);
                dst[i + k] = (float)d;
            }
            break;
        }
        case ST_F16:
        case ST_BF16:
            memcpy(half, src, (size_t)c * 2);
            if (t->dtype == ST_F16) bitnet_fp16_to_fp32_row(half, dst + i, (size_t)c);
            else bitnet_bf16_to_fp32_row(half, dst + i, (size_t)c);
            break;
        default: return -1;
        }
    }
    return 0;
}
