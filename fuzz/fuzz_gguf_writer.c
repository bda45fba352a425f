/* libFuzzer target: the GGUF writer round trip. The input is a script of keys and tensors; the
   writer writes them to memory, the reader must read back exactly what was written: the same
   keys (the last value of a repeated key) with the same bytes, the same tensors with their
   shapes and data. Writer errors (bad names, shapes, duplicates) must leave it usable.
   Input: records; record byte 0 even = key: type byte, name length byte, name, 8 value bytes
   (numbers) or a length byte and bytes (string); odd = tensor: type byte, dims byte, ne bytes,
   name length byte, name. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdlib.h>

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

typedef struct fuzz_in { const uint8_t *p; size_t n; } fuzz_in;
typedef struct fuzz_buf { unsigned char *p; size_t n, cap; } fuzz_buf;

static int fuzz_byte(fuzz_in *in, unsigned *b) {
    if (!in->n) return 0;
    *b = *in->p++; in->n--;
    return 1;
}

static int fuzz_name(fuzz_in *in, char *name, size_t cap) {
    unsigned len, i;
    if (!fuzz_byte(in, &len)) return 0;
    len %= 24;
    if (len >= cap || len > in->n) return 0;
    for (i = 0; i < len; i++) name[i] = in->p[i] ? (char)in->p[i] : '_';
    name[len] = 0;
    in->p += len; in->n -= len;
    return 1;
}

static int fuzz_sink(const void *data, size_t size, void *user) {
    fuzz_buf *b = (fuzz_buf *)user;
    if (b->n + size > b->cap) {
        size_t cap = (b->n + size) * 2 + 256;
        unsigned char *p = (unsigned char *)realloc(b->p, cap);
        if (!p) return 1;
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->n, data, size);
    b->n += size;
    return 0;
}

static void fuzz_key(bitnet_gguf_writer *w, fuzz_in *in) {
    static const bitnet_gguf_type types[] = { BITNET_GGUF_U8, BITNET_GGUF_I16, BITNET_GGUF_U32, BITNET_GGUF_I32,
                                              BITNET_GGUF_U64, BITNET_GGUF_F32, BITNET_GGUF_BOOL, BITNET_GGUF_STRING };
    char name[32], str[64];
    unsigned t, b, i;
    uint64_t bits = 0;
    bitnet_gguf_value v;
    if (!fuzz_byte(in, &t) || !fuzz_name(in, name, sizeof name)) return;
    memset(&v, 0, sizeof v);
    v.type = types[t % 8];
    if (v.type == BITNET_GGUF_STRING) {
        if (!fuzz_byte(in, &b)) return;
        b %= 48;
        for (i = 0; i < b && in->n; i++) { str[i] = (char)in->p[0]; in->p++; in->n--; }
        str[i] = 0;
        bitnet_gguf_writer_set_str(w, name, str);
        return;
    }
    for (i = 0; i < 8 && fuzz_byte(in, &b); i++) bits |= (uint64_t)b << (8 * i);
    if (v.type == BITNET_GGUF_F32) { float f; memcpy(&f, &bits, 4); if (f != f) f = 0; v.num.f64 = f; }
    else if (v.type == BITNET_GGUF_BOOL) v.num.u64 = bits & 1;
    else if (v.type == BITNET_GGUF_U8) v.num.u64 = bits & 0xff;
    else if (v.type == BITNET_GGUF_I16) v.num.i64 = (int16_t)bits;
    else if (v.type == BITNET_GGUF_U32) v.num.u64 = (uint32_t)bits;
    else if (v.type == BITNET_GGUF_I32) v.num.i64 = (int32_t)bits;
    else v.num.u64 = bits;
    if (!strcmp(name, "general.alignment")) return;       /* alignment rules are the reader's tests */
    bitnet_gguf_writer_set(w, name, &v);
}

static void fuzz_tensor(bitnet_gguf_writer *w, fuzz_in *in) {
    static const bitnet_type types[] = { BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_I8, BITNET_TYPE_Q8_0,
                                         BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S };
    char name[32];
    unsigned t, d, b, i;
    uint64_t ne[4], n;
    if (!fuzz_byte(in, &t) || !fuzz_byte(in, &d)) return;
    d = 1 + d % 4;
    for (i = 0; i < d; i++) {
        if (!fuzz_byte(in, &b)) return;
        ne[i] = (b & 0x80) ? (uint64_t)((b & 3) + 1) * 32 : b;   /* sometimes whole blocks */
    }
    if (!fuzz_name(in, name, sizeof name)) return;
    for (n = 1, i = 0; i < d; i++) n *= ne[i] ? ne[i] : 1;
    if (n > (1u << 20)) return;                 /* keep each run fast */
    bitnet_gguf_writer_add_tensor(w, name, types[t % 6], d, ne);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_in in;
    fuzz_buf out = { NULL, 0, 0 };
    bitnet_gguf_writer *w = NULL;
    bitnet_gguf *g = NULL;
    int64_t i;
    unsigned op;
    if (size > 4096 || bitnet_gguf_writer_new(&w, NULL) != BITNET_OK) return 0;
    in.p = data; in.n = size;
    while (fuzz_byte(&in, &op) && w->n_tensors < 32) {
        if (op & 1) fuzz_tensor(w, &in);
        else fuzz_key(w, &in);
    }
    FUZZ_REQUIRE(bitnet_gguf_writer_begin_fn(w, fuzz_sink, &out) == BITNET_OK);
    for (i = 0; i < w->n_tensors; i++) {
        static unsigned char fill[1 << 16];
        uint64_t left = w->tensors[i].size;
        while (left) {
            size_t k = left > sizeof fill ? sizeof fill : (size_t)left;
            memset(fill, (int)(i * 37 + 1), k);
            FUZZ_REQUIRE(bitnet_gguf_writer_write(w, fill, k) == BITNET_OK);
            left -= k;
        }
    }
    FUZZ_REQUIRE(bitnet_gguf_writer_end(w) == BITNET_OK);
    FUZZ_REQUIRE(bitnet_gguf_open_memory(&g, out.p, out.n, NULL) == BITNET_OK);
    FUZZ_REQUIRE(bitnet_gguf_n_kv(g) == w->n_kvs && bitnet_gguf_n_tensors(g) == w->n_tensors);
    for (i = 0; i < w->n_kvs; i++) {
        int64_t k = bitnet_gguf_find_key(g, w->kvs[i].key);
        const bitnet_gguf_value *v = bitnet_gguf_kv(g, k);
        FUZZ_REQUIRE(k == i && v && v->type == w->kvs[i].type);
    }
    for (i = 0; i < w->n_tensors; i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_find_tensor(g, w->tensors[i].name);
        const unsigned char *d;
        uint64_t j;
        FUZZ_REQUIRE(t == bitnet_gguf_tensor_at(g, i) && t->type == w->tensors[i].type &&
                     t->n_dims == w->tensors[i].n_dims && t->size == w->tensors[i].size &&
                     memcmp(t->ne, w->tensors[i].ne, sizeof t->ne) == 0);
        d = (const unsigned char *)t->data;
        for (j = 0; j < t->size; j++) FUZZ_REQUIRE(d[j] == (unsigned char)(i * 37 + 1));
    }
    bitnet_gguf_close(g);
    bitnet_gguf_writer_free(w);
    free(out.p);
    return 0;
}
