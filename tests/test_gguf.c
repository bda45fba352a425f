/* GGUF reader and writer: the shared files, writer -> reader round trips of every value type,
   hostile files built here (every truncation, bad counts, sizes, offsets, types), allocation
   failure at every point. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"

/* ---- a growable byte buffer to build files by hand ---- */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = (unsigned char *)realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static void put_u32(bytes *b, uint32_t v) { unsigned char t[4]; bn_store_u32(t, v); put(b, t, 4); }
static void put_u64(bytes *b, uint64_t v) { unsigned char t[8]; bn_store_u64(t, v); put(b, t, 8); }
static void put_str(bytes *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void put_pad(bytes *b, size_t align) { while (b->n % align) put(b, "", 1); }

static int write_to_bytes(const void *data, size_t size, void *user) {
    put((bytes *)user, data, size);
    return 0;
}

static bitnet_status open_bytes(bitnet_gguf **g, const bytes *b) {
    return bitnet_gguf_open_memory(g, b->p, b->n, NULL);
}

/* Expects opening `b` to fail with FORMAT and a message containing `needle`. */
static void expect_format_error(const bytes *b, const char *needle) {
    bitnet_gguf *g = NULL;
    bitnet_status st = open_bytes(&g, b);
    CHECKF(st == BITNET_ERR_FORMAT, "status %d for '%s'", st, needle);
    CHECKF(strstr(bitnet_last_error(), needle) != NULL, "message '%s' lacks '%s'", bitnet_last_error(), needle);
    if (st == BITNET_OK) bitnet_gguf_close(g);
}

/* header + one u32 key + one F32 tensor [4] with offset `offset` and n_dims/ne given */
static void build_one_tensor(bytes *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                             size_t data_bytes) {
    uint32_t d;
    size_t i;
    b->n = 0;
    put_u32(b, 0x46554747u); put_u32(b, 3); put_u64(b, 1); put_u64(b, 1);
    put_str(b, "general.test"); put_u32(b, BITNET_GGUF_U32); put_u32(b, 7);
    put_str(b, "t0"); put_u32(b, n_dims);
    for (d = 0; d < n_dims; d++) put_u64(b, ne[d]);
    put_u32(b, type); put_u64(b, offset);
    put_pad(b, 32);
    for (i = 0; i < data_bytes; i++) put(b, "\x11", 1);
}

/* ---- shared files ---- */

static bitnet_gguf *open_shared(const char *rel) {
    bitnet_gguf *g = NULL;
    bitnet_status st = bitnet_gguf_open(&g, check_shared(rel), NULL);
    CHECKF(st == BITNET_OK, "%s: %s", rel, bitnet_last_error());
    return st == BITNET_OK ? g : NULL;
}

static void check_vocab_file(const char *rel, const char *model, uint64_t n_tokens) {
    bitnet_gguf *g = open_shared(rel);
    const bitnet_gguf_value *tokens;
    const char *s;
    size_t len;
    if (!g) return;
    CHECK(bitnet_gguf_get_str(g, "tokenizer.ggml.model", &s, &len) == BITNET_OK && len == strlen(model) &&
          memcmp(s, model, len) == 0);
    CHECK(bitnet_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) == BITNET_OK);
    CHECKF(tokens->arr.elem_type == BITNET_GGUF_STRING && tokens->arr.count == n_tokens, "%s: %llu tokens",
           rel, (unsigned long long)tokens->arr.count);
    CHECK(bitnet_gguf_n_tensors(g) == 0);
    bitnet_gguf_close(g);
}

static void test_shared_vocabs(void) {
    bitnet_gguf *g;
    const bitnet_gguf_value *tokens, *merges;
    bitnet_gguf_value e;
    uint32_t bos;
    check_vocab_file("vocab/ggml-vocab-llama-spm.gguf", "llama", 32000);
    check_vocab_file("vocab/ggml-vocab-llama-bpe.gguf", "gpt2", 128256);
    check_vocab_file("vocab/ggml-vocab-gpt-2.gguf", "gpt2", 50257);
    check_vocab_file("vocab/ggml-vocab-phi-3.gguf", "llama", 32064);
    g = open_shared("vocab/ggml-vocab-llama-bpe.gguf");
    if (!g) return;
    CHECK(bitnet_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos) == BITNET_OK && bos == 128000);
    CHECK(bitnet_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens) == BITNET_OK);
    CHECK(bitnet_gguf_array_get(tokens, 128000, &e) == BITNET_OK && e.type == BITNET_GGUF_STRING &&
          e.str.len == 17 && memcmp(e.str.ptr, "<|begin_of_text|>", 17) == 0);
    CHECK(bitnet_gguf_array_get(tokens, 128256, &e) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_get_arr(g, "tokenizer.ggml.merges", &merges) == BITNET_OK && merges->arr.count == 280147);
    CHECK(bitnet_gguf_get_u32(g, "tokenizer.ggml.model", &bos) == BITNET_ERR_TYPE);
    CHECK(bitnet_gguf_get_u32(g, "no.such.key", &bos) == BITNET_ERR_NOT_FOUND);
    bitnet_gguf_close(g);
}

static void test_shared_models(void) {
    bitnet_gguf *g = open_shared("models/tiny-b158-i2_s.gguf");
    const bitnet_gguf_tensor *t;
    const char *arch;
    size_t len;
    float eps;
    int64_t i, n_i2s = 0, n_f32 = 0, n_f16 = 0;
    if (g) {
        CHECK(bitnet_gguf_n_tensors(g) == 24);
        for (i = 0; i < bitnet_gguf_n_tensors(g); i++) {
            t = bitnet_gguf_tensor_at(g, i);
            n_i2s += t->type == BITNET_TYPE_I2_S;
            n_f32 += t->type == BITNET_TYPE_F32;
            n_f16 += t->type == BITNET_TYPE_F16;
        }
        CHECK(n_i2s == 14 && n_f32 == 9 && n_f16 == 1);
        t = bitnet_gguf_find_tensor(g, "blk.0.attn_q.weight");
        CHECK(t && t->size == 16416 && t->ne[0] == 256 && t->ne[1] == 256 && t->n_dims == 2);
        /* alpha sits in the I2_S tail: see models/alphas.json */
        CHECK(t && bn_load_f32((const unsigned char *)t->data + 256 * 256 / 4) == 0.072265625f);
        CHECK(bitnet_gguf_get_str(g, "general.architecture", &arch, &len) == BITNET_OK &&
              len == 12 && memcmp(arch, "bitnet-b1.58", 12) == 0);
        CHECK(bitnet_gguf_get_f32(g, "bitnet-b1.58.attention.layer_norm_rms_epsilon", &eps) == BITNET_OK &&
              eps == 1e-5f);
        bitnet_gguf_close(g);
    }
    g = open_shared("models/tiny-b158-as-bitnet-silu-tq1_0.gguf");
    if (g) {
        t = bitnet_gguf_find_tensor(g, "blk.1.ffn_down.weight");
        CHECK(t && t->type == BITNET_TYPE_TQ1_0 && t->size == 768 * 256 / 256 * 54);
        bitnet_gguf_close(g);
    }
    g = open_shared("models/tiny-llama-ternary-tq2_0.gguf");
    if (g) {
        CHECK(bitnet_gguf_n_tensors(g) == 21);
        t = bitnet_gguf_find_tensor(g, "output.weight");
        CHECK(t && t->type == BITNET_TYPE_F16 && t->ne[0] == 256 && t->ne[1] == 512);
        t = bitnet_gguf_find_tensor(g, "blk.0.attn_k.weight");
        CHECK(t && t->type == BITNET_TYPE_TQ2_0 && t->size == 256 * 128 / 256 * 66);
        bitnet_gguf_close(g);
    }
    g = open_shared("models/tiny-2b4t-vocab-i2_s.gguf");
    if (g) {
        CHECK(bitnet_gguf_n_kv(g) == 24 && bitnet_gguf_find_key(g, "tokenizer.ggml.pre") < 0);
        CHECK(strcmp(bitnet_gguf_key(g, 0), "general.architecture") == 0);
        bitnet_gguf_close(g);
    }
}

/* The read() path (from the allocator, or in huge pages with the default one) gives the same
   result as the mmap path. */
static void test_read_fallback(void) {
    bitnet_gguf *g;
    int huge;
    for (huge = 0; huge < 2; huge++) {
        bitnet_status st;
        CHECK(bn_gguf_new(&g, NULL) == BITNET_OK);
        st = bn_gguf_read_file(g, check_shared("models/tiny-b158-f16.gguf"), huge);
        CHECK(st == BITNET_OK);
        if (st != BITNET_OK) {              /* the handle is still ours: close it once */
            bitnet_gguf_close(g);
            continue;
        }
        if (bn_gguf_finish_open(&g, g) != BITNET_OK) {      /* it closed the handle */
            CHECK(0);
            continue;
        }
        CHECK(bitnet_gguf_n_tensors(g) == 24 && bitnet_gguf_find_tensor(g, "token_embd.weight") != NULL);
        bitnet_gguf_close(g);
    }
    CHECK(bitnet_gguf_open(&g, "/nonexistent/file.gguf", NULL) == BITNET_ERR_IO);
    CHECK(strstr(bitnet_last_error(), "/nonexistent/file.gguf") != NULL);
}

/* ---- writer -> reader round trips ---- */

static void build_everything(bitnet_gguf_writer *w) {
    static const uint8_t u8s[3] = { 0, 7, 255 };
    static const int16_t i16s[2] = { -32768, 32767 };
    static const float f32s[3] = { 1.5f, -0.0f, 3.25e-7f };
    static const double f64s[2] = { 1e300, -2.5 };
    static const uint64_t u64s[2] = { 0, UINT64_MAX };
    static const char *const strs[3] = { "", "a b", "\xe2\x96\x81x" };
    static const uint64_t ne2[2] = { 64, 3 };
    static const uint64_t ne1[1] = { 256 };
    static const uint64_t ne_i2s[2] = { 128, 2 };
    bitnet_gguf_value v;
    memset(&v, 0, sizeof v);
    v.type = BITNET_GGUF_U8; v.num.u64 = 200; bitnet_gguf_writer_set(w, "v.u8", &v);
    v.type = BITNET_GGUF_I8; v.num.i64 = -100; bitnet_gguf_writer_set(w, "v.i8", &v);
    v.type = BITNET_GGUF_U16; v.num.u64 = 65535; bitnet_gguf_writer_set(w, "v.u16", &v);
    v.type = BITNET_GGUF_I16; v.num.i64 = -30000; bitnet_gguf_writer_set(w, "v.i16", &v);
    bitnet_gguf_writer_set_u32(w, "v.u32", 4000000000u);
    bitnet_gguf_writer_set_i32(w, "v.i32", -2000000000);
    bitnet_gguf_writer_set_f32(w, "v.f32", 0.1f);
    bitnet_gguf_writer_set_bool(w, "v.bool", 1);
    bitnet_gguf_writer_set_str(w, "v.str", "hello");
    bitnet_gguf_writer_set_u64(w, "v.u64", UINT64_MAX);
    v.type = BITNET_GGUF_I64; v.num.i64 = INT64_MIN; bitnet_gguf_writer_set(w, "v.i64", &v);
    v.type = BITNET_GGUF_F64; v.num.f64 = 1.0 / 3.0; bitnet_gguf_writer_set(w, "v.f64", &v);
    bitnet_gguf_writer_set_arr(w, "a.u8", BITNET_GGUF_U8, u8s, 3);
    bitnet_gguf_writer_set_arr(w, "a.i16", BITNET_GGUF_I16, i16s, 2);
    bitnet_gguf_writer_set_arr(w, "a.f32", BITNET_GGUF_F32, f32s, 3);
    bitnet_gguf_writer_set_arr(w, "a.f64", BITNET_GGUF_F64, f64s, 2);
    bitnet_gguf_writer_set_arr(w, "a.u64", BITNET_GGUF_U64, u64s, 2);
    bitnet_gguf_writer_set_arr(w, "a.empty", BITNET_GGUF_I32, NULL, 0);
    bitnet_gguf_writer_set_arr_str(w, "a.str", strs, 3);
    bitnet_gguf_writer_set_u32(w, "general.alignment", 64);
    bitnet_gguf_writer_add_tensor(w, "f32.a", BITNET_TYPE_F32, 2, ne2);
    bitnet_gguf_writer_add_tensor(w, "tq2.b", BITNET_TYPE_TQ2_0, 1, ne1);
    bitnet_gguf_writer_add_tensor(w, "i2s.c", BITNET_TYPE_I2_S, 2, ne_i2s);
}

/* A nested array [[1,2],[ "x" ],[]] built by hand in file layout. */
static void add_nested(bitnet_gguf_writer *w, bytes *raw) {
    bitnet_gguf_value v;
    raw->n = 0;
    put_u32(raw, BITNET_GGUF_I32); put_u64(raw, 2); put_u32(raw, 1); put_u32(raw, 2);
    put_u32(raw, BITNET_GGUF_STRING); put_u64(raw, 1); put_str(raw, "x");
    put_u32(raw, BITNET_GGUF_BOOL); put_u64(raw, 0);
    memset(&v, 0, sizeof v);
    v.type = BITNET_GGUF_ARRAY;
    v.arr.elem_type = BITNET_GGUF_ARRAY;
    v.arr.count = 3;
    v.arr.data = raw->p;
    v.arr.bytes = raw->n;
    CHECK(bitnet_gguf_writer_set(w, "a.nested", &v) == BITNET_OK);
}

static void write_tensor_data(bitnet_gguf_writer *w) {
    float f[192];
    unsigned char tq[66], i2[96];
    int i;
    for (i = 0; i < 192; i++) f[i] = (float)i * 0.5f;
    for (i = 0; i < 66; i++) tq[i] = (unsigned char)(i * 3);
    for (i = 0; i < 96; i++) i2[i] = (unsigned char)(255 - i);
    CHECK(bitnet_gguf_writer_write(w, f, 100 * sizeof(float)) == BITNET_OK);  /* in two pieces */
    CHECK(bitnet_gguf_writer_write(w, f + 100, 92 * sizeof(float)) == BITNET_OK);
    CHECK(bitnet_gguf_writer_write(w, tq, sizeof tq) == BITNET_OK);
    CHECK(bitnet_gguf_writer_write(w, i2, sizeof i2) == BITNET_OK);
}

static int64_t num_i(const bitnet_gguf *g, const char *key) {
    int64_t v = 0;
    bitnet_gguf_get_i64(g, key, &v);
    return v;
}

static void check_round_trip_values(const bitnet_gguf *g) {
    const bitnet_gguf_value *a;
    bitnet_gguf_value e, inner;
    uint64_t u = 0;
    uint32_t u32 = 0;
    float f = 0;
    int b = 0;
    const char *s;
    size_t len;
    CHECK(num_i(g, "v.u8") == 200 && num_i(g, "v.i8") == -100 && num_i(g, "v.u16") == 65535);
    CHECK(num_i(g, "v.i16") == -30000 && num_i(g, "v.i32") == -2000000000 && num_i(g, "v.i64") == INT64_MIN);
    CHECK(bitnet_gguf_get_u32(g, "v.u32", &u32) == BITNET_OK && u32 == 4000000000u);
    CHECK(bitnet_gguf_get_u32(g, "v.i32", &u32) == BITNET_ERR_TYPE);       /* negative */
    CHECK(bitnet_gguf_get_u64(g, "v.u64", &u) == BITNET_OK && u == UINT64_MAX);
    CHECK(bitnet_gguf_get_i64(g, "v.u64", (int64_t *)&u) == BITNET_ERR_TYPE); /* too big */
    CHECK(bitnet_gguf_get_f32(g, "v.f32", &f) == BITNET_OK && f == 0.1f);
    CHECK(bitnet_gguf_kv(g, bitnet_gguf_find_key(g, "v.f64"))->num.f64 == 1.0 / 3.0);
    CHECK(bitnet_gguf_get_bool(g, "v.bool", &b) == BITNET_OK && b == 1);
    CHECK(bitnet_gguf_get_str(g, "v.str", &s, &len) == BITNET_OK && len == 5 && !memcmp(s, "hello", 5));
    CHECK(bitnet_gguf_get_arr(g, "a.u8", &a) == BITNET_OK && a->arr.count == 3);
    CHECK(bitnet_gguf_array_get(a, 2, &e) == BITNET_OK && e.type == BITNET_GGUF_U8 && e.num.u64 == 255);
    CHECK(bitnet_gguf_get_arr(g, "a.i16", &a) == BITNET_OK && bitnet_gguf_array_get(a, 0, &e) == BITNET_OK &&
          e.num.i64 == -32768);
    CHECK(bitnet_gguf_get_arr(g, "a.f32", &a) == BITNET_OK && bitnet_gguf_array_get(a, 2, &e) == BITNET_OK &&
          (float)e.num.f64 == 3.25e-7f);
    CHECK(bitnet_gguf_get_arr(g, "a.f64", &a) == BITNET_OK && bitnet_gguf_array_get(a, 0, &e) == BITNET_OK &&
          e.num.f64 == 1e300);
    CHECK(bitnet_gguf_get_arr(g, "a.u64", &a) == BITNET_OK && bitnet_gguf_array_get(a, 1, &e) == BITNET_OK &&
          e.num.u64 == UINT64_MAX);
    CHECK(bitnet_gguf_get_arr(g, "a.empty", &a) == BITNET_OK && a->arr.count == 0 &&
          a->arr.elem_type == BITNET_GGUF_I32);
    CHECK(bitnet_gguf_get_arr(g, "a.str", &a) == BITNET_OK && a->arr.count == 3);
    CHECK(bitnet_gguf_array_get(a, 0, &e) == BITNET_OK && e.str.len == 0);
    CHECK(bitnet_gguf_array_get(a, 2, &e) == BITNET_OK && e.str.len == 4 && !memcmp(e.str.ptr, "\xe2\x96\x81x", 4));
    CHECK(bitnet_gguf_get_arr(g, "a.nested", &a) == BITNET_OK && a->arr.count == 3);
    CHECK(bitnet_gguf_array_get(a, 1, &e) == BITNET_OK && e.type == BITNET_GGUF_ARRAY &&
          e.arr.elem_type == BITNET_GGUF_STRING && bitnet_gguf_array_get(&e, 0, &inner) == BITNET_OK &&
          inner.str.len == 1 && inner.str.ptr[0] == 'x');
    CHECK(bitnet_gguf_array_get(a, 0, &e) == BITNET_OK && bitnet_gguf_array_get(&e, 1, &inner) == BITNET_OK &&
          inner.num.i64 == 2);
    CHECK(bitnet_gguf_array_get(a, 2, &e) == BITNET_OK && e.arr.count == 0 && e.arr.elem_type == BITNET_GGUF_BOOL);
}

static void check_round_trip_tensors(const bitnet_gguf *g) {
    const bitnet_gguf_tensor *t = bitnet_gguf_find_tensor(g, "f32.a");
    CHECK(bitnet_gguf_alignment(g) == 64 && bitnet_gguf_data_offset(g) % 64 == 0);
    CHECK(t && t->type == BITNET_TYPE_F32 && t->ne[0] == 64 && t->ne[1] == 3 && t->size == 768);
    CHECK(t && bn_load_f32((const unsigned char *)t->data + 4 * 191) == 95.5f);
    t = bitnet_gguf_find_tensor(g, "tq2.b");
    CHECK(t && t->size == 66 && t->offset % 64 == 0 && ((const unsigned char *)t->data)[65] == 195);
    t = bitnet_gguf_find_tensor(g, "i2s.c");
    CHECK(t && t->size == 96 && ((const unsigned char *)t->data)[95] == 160);
}

static void test_round_trip(uint32_t version) {
    bitnet_gguf_writer *w;
    bitnet_gguf *g;
    bytes out = { 0, 0, 0 }, raw = { 0, 0, 0 };
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    CHECK(bitnet_gguf_writer_set_version(w, version) == BITNET_OK);
    build_everything(w);
    add_nested(w, &raw);
    CHECK(bitnet_gguf_writer_set_str(w, "v.str", "hello") == BITNET_OK);     /* replacing keeps one key */
    CHECK(bitnet_gguf_writer_begin_fn(w, write_to_bytes, &out) == BITNET_OK);
    CHECK(bitnet_gguf_writer_end(w) == BITNET_ERR_ARGS);                      /* no data yet */
    bitnet_gguf_writer_free(w);
    out.n = 0;
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    CHECK(bitnet_gguf_writer_set_version(w, version) == BITNET_OK);
    build_everything(w);
    add_nested(w, &raw);
    CHECK(bitnet_gguf_writer_begin_fn(w, write_to_bytes, &out) == BITNET_OK);
    write_tensor_data(w);
    CHECK(bitnet_gguf_writer_write(w, "x", 1) == BITNET_ERR_ARGS);             /* more than the tensors hold */
    CHECK(bitnet_gguf_writer_end(w) == BITNET_OK);
    bitnet_gguf_writer_free(w);
    CHECK(open_bytes(&g, &out) == BITNET_OK);
    if (g) {
        CHECK(bitnet_gguf_version(g) == version && bitnet_gguf_n_kv(g) == 21 && bitnet_gguf_n_tensors(g) == 3);
        check_round_trip_values(g);
        check_round_trip_tensors(g);
        bitnet_gguf_close(g);
    }
    free(out.p);
    free(raw.p);
}

/* Copying every key and tensor of a shared file through the writer gives identical bytes. */
static void test_copy_shared_file(void) {
    bitnet_gguf *src = open_shared("models/tiny-b158-i2_s.gguf");
    bitnet_gguf_writer *w;
    bytes out = { 0, 0, 0 };
    size_t size = 0;
    unsigned char *orig = check_read_file(check_shared("models/tiny-b158-i2_s.gguf"), &size);
    int64_t i;
    if (!src || !orig) { CHECK(0); return; }
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    for (i = 0; i < bitnet_gguf_n_kv(src); i++)
        CHECK(bitnet_gguf_writer_set(w, bitnet_gguf_key(src, i), bitnet_gguf_kv(src, i)) == BITNET_OK);
    for (i = 0; i < bitnet_gguf_n_tensors(src); i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(src, i);
        CHECK(bitnet_gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne) == BITNET_OK);
    }
    CHECK(bitnet_gguf_writer_begin_fn(w, write_to_bytes, &out) == BITNET_OK);
    for (i = 0; i < bitnet_gguf_n_tensors(src); i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(src, i);
        CHECK(bitnet_gguf_writer_write(w, t->data, (size_t)t->size) == BITNET_OK);
    }
    CHECK(bitnet_gguf_writer_end(w) == BITNET_OK);
    CHECKF(out.n == size && memcmp(out.p, orig, size) == 0, "copy is %zu bytes, original %zu", out.n, size);
    bitnet_gguf_writer_free(w);
    bitnet_gguf_close(src);
    free(orig);
    free(out.p);
}

static void test_writer_file_and_errors(void) {
    bitnet_gguf_writer *w;
    bitnet_gguf *g;
    const char *path = "build/test_gguf_writer.gguf";
    static const uint64_t bad_ne[2] = { 100, 2 };
    static const uint64_t ne[1] = { 4 };
    float data[4] = { 1, 2, 3, 4 };
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    CHECK(bitnet_gguf_writer_set_version(w, 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_set_u32(w, "", 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_set_i32(w, "general.alignment", 64) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_set_u32(w, "general.alignment", 48) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_add_tensor(w, "bad", BITNET_TYPE_Q8_0, 2, bad_ne) == BITNET_ERR_FORMAT);
    CHECK(strstr(bitnet_last_error(), "'bad'") != NULL);
    CHECK(bitnet_gguf_writer_add_tensor(w, "t", BITNET_TYPE_F32, 1, ne) == BITNET_OK);
    CHECK(bitnet_gguf_writer_add_tensor(w, "t", BITNET_TYPE_F32, 1, ne) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_begin(w, path) == BITNET_OK);
    CHECK(bitnet_gguf_writer_set_u32(w, "late", 1) == BITNET_ERR_ARGS);
    CHECK(bitnet_gguf_writer_write(w, data, sizeof data) == BITNET_OK);
    CHECK(bitnet_gguf_writer_end(w) == BITNET_OK);
    bitnet_gguf_writer_free(w);
    CHECK(bitnet_gguf_open(&g, path, NULL) == BITNET_OK);
    if (g) {
        CHECK(bn_load_f32(bitnet_gguf_find_tensor(g, "t")->data) == 1.0f);
        bitnet_gguf_close(g);
    }
    remove(path);
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    CHECK(bitnet_gguf_writer_begin(w, "/nonexistent/dir/x.gguf") == BITNET_ERR_IO);
    bitnet_gguf_writer_free(w);
}

/* ---- hostile files ---- */

static void build_small_valid(bytes *b) {
    bitnet_gguf_writer *w;
    bytes raw = { 0, 0, 0 };
    b->n = 0;
    bitnet_gguf_writer_new(&w, NULL);
    build_everything(w);
    add_nested(w, &raw);
    bitnet_gguf_writer_begin_fn(w, write_to_bytes, b);
    write_tensor_data(w);
    bitnet_gguf_writer_end(w);
    bitnet_gguf_writer_free(w);
    free(raw.p);
}

/* Every cut before the end of the last tensor's data is refused; the trailing padding is optional. */
static void test_every_truncation(void) {
    bytes b = { 0, 0, 0 };
    bitnet_gguf *g;
    size_t n, data_end = 0, refused = 0;
    build_small_valid(&b);
    if (open_bytes(&g, &b) == BITNET_OK) {
        const bitnet_gguf_tensor *last = bitnet_gguf_find_tensor(g, "i2s.c");
        data_end = (size_t)(bitnet_gguf_data_offset(g) + last->offset + last->size);
        bitnet_gguf_close(g);
    }
    CHECK(data_end > 0 && data_end < b.n);
    for (n = 0; n < b.n; n++) {
        /* an exact-size copy so ASan catches any read past the end */
        unsigned char *copy = (unsigned char *)malloc(n ? n : 1);
        bitnet_status st;
        g = NULL;
        memcpy(copy, b.p, n);
        st = bitnet_gguf_open_memory(&g, copy, n, NULL);
        if (n < data_end) refused += st == BITNET_ERR_FORMAT && bitnet_last_error()[0];
        else CHECK(st == BITNET_OK);
        bitnet_gguf_close(g);
        free(copy);
    }
    CHECKF(refused == data_end, "%zu of %zu truncations refused", refused, data_end);
    free(b.p);
}

static void test_header_errors(void) {
    bytes b = { 0, 0, 0 };
    put_u32(&b, 0x46554746u); put_u32(&b, 3); put_u64(&b, 0); put_u64(&b, 0);
    expect_format_error(&b, "bad magic");
    b.n = 0; put_u32(&b, 0x46554747u); put_u32(&b, 1); put_u64(&b, 0); put_u64(&b, 0);
    expect_format_error(&b, "version 1");
    b.n = 0; put_u32(&b, 0x46554747u); put_u32(&b, 4); put_u64(&b, 0); put_u64(&b, 0);
    expect_format_error(&b, "unknown GGUF version 4");
    b.n = 0; put_u32(&b, 0x46554747u); put_u32(&b, 3); put_u64(&b, 0); put_u64(&b, UINT64_MAX);
    expect_format_error(&b, "metadata count 18446744073709551615");
    b.n = 0; put_u32(&b, 0x46554747u); put_u32(&b, 3); put_u64(&b, 1ull << 40); put_u64(&b, 0);
    expect_format_error(&b, "tensor count");
    b.n = 0; put_u32(&b, 0x46554747u); put_u32(&b, 2); put_u64(&b, 0); put_u64(&b, 0);
    {
        bitnet_gguf *g;
        CHECK(open_bytes(&g, &b) == BITNET_OK && bitnet_gguf_version(g) == 2);   /* empty v2 is fine */
        bitnet_gguf_close(g);
    }
    free(b.p);
}

static void kv_header(bytes *b, uint64_t n_kv) {
    b->n = 0;
    put_u32(b, 0x46554747u); put_u32(b, 3); put_u64(b, 0); put_u64(b, n_kv);
}

static void test_metadata_errors(void) {
    bytes b = { 0, 0, 0 };
    int i;
    kv_header(&b, 1); put_u64(&b, UINT64_MAX - 3); put(&b, "abcdefghijklmnop", 16);
    expect_format_error(&b, "runs past end of file");
    kv_header(&b, 1); put_str(&b, "k"); put_u32(&b, 13); put_u32(&b, 0);
    expect_format_error(&b, "unknown value type 13");
    kv_header(&b, 1); put_str(&b, "k.str"); put_u32(&b, BITNET_GGUF_STRING); put_u64(&b, 1000); put(&b, "ab", 2);
    expect_format_error(&b, "key 'k.str'");
    kv_header(&b, 1); put_str(&b, "k.arr"); put_u32(&b, BITNET_GGUF_ARRAY); put_u32(&b, BITNET_GGUF_U64);
    put_u64(&b, 1ull << 62); put_u64(&b, 0);
    expect_format_error(&b, "array of 4611686018427387904 u64");
    kv_header(&b, 1); put_str(&b, "k.arr"); put_u32(&b, BITNET_GGUF_ARRAY); put_u32(&b, BITNET_GGUF_STRING);
    put_u64(&b, UINT64_MAX); put_u64(&b, 0);
    expect_format_error(&b, "cannot fit");
    kv_header(&b, 1); put_str(&b, "k.arr"); put_u32(&b, BITNET_GGUF_ARRAY); put_u32(&b, 99); put_u64(&b, 0);
    expect_format_error(&b, "unknown array element type 99");
    kv_header(&b, 1); put_str(&b, "k.deep"); put_u32(&b, BITNET_GGUF_ARRAY);
    for (i = 0; i < 20; i++) { put_u32(&b, BITNET_GGUF_ARRAY); put_u64(&b, 1); }
    expect_format_error(&b, "nested deeper");
    kv_header(&b, 2); put_str(&b, "dup"); put_u32(&b, BITNET_GGUF_U8); put(&b, "\1", 1);
    put_str(&b, "dup"); put_u32(&b, BITNET_GGUF_U8); put(&b, "\2", 1);
    expect_format_error(&b, "duplicate key 'dup'");
    kv_header(&b, 1); put_str(&b, "general.alignment"); put_u32(&b, BITNET_GGUF_U32); put_u32(&b, 24);
    expect_format_error(&b, "not a power of two");
    kv_header(&b, 1); put_str(&b, "general.alignment"); put_u32(&b, BITNET_GGUF_U64); put_u64(&b, 32);
    expect_format_error(&b, "expected u32");
    kv_header(&b, 1); put_u64(&b, 3); put(&b, "a\0b", 3); put_u32(&b, BITNET_GGUF_U8); put(&b, "\1", 1);
    expect_format_error(&b, "NUL");
    kv_header(&b, 1); put_u64(&b, 0); put_u32(&b, BITNET_GGUF_U8); put(&b, "\1", 1);
    expect_format_error(&b, "name length 0");
    free(b.p);
}

static void test_tensor_errors(void) {
    bytes b = { 0, 0, 0 };
    uint64_t ne[5] = { 4, 1, 1, 1, 1 };
    uint64_t big[2] = { 1ull << 40, 1ull << 40 };
    uint64_t q8[1] = { 33 };
    uint64_t zero[2] = { 4, 0 };
    build_one_tensor(&b, 1, ne, BITNET_TYPE_F32, 0, 16);
    {
        bitnet_gguf *g;
        CHECK(open_bytes(&g, &b) == BITNET_OK);                   /* the base case is valid */
        bitnet_gguf_close(g);
    }
    build_one_tensor(&b, 5, ne, BITNET_TYPE_F32, 0, 16);
    expect_format_error(&b, "5 dimensions");
    build_one_tensor(&b, 0, ne, BITNET_TYPE_F32, 0, 16);
    expect_format_error(&b, "0 dimensions");
    build_one_tensor(&b, 1, ne, 77, 0, 16);
    expect_format_error(&b, "unknown type 77");
    build_one_tensor(&b, 1, ne, 4, 0, 16);                          /* a removed ggml type id */
    expect_format_error(&b, "unknown type 4");
    build_one_tensor(&b, 2, big, BITNET_TYPE_F32, 0, 16);
    expect_format_error(&b, "'t0'");
    build_one_tensor(&b, 2, zero, BITNET_TYPE_F32, 0, 16);
    expect_format_error(&b, "ne[1] = 0");
    build_one_tensor(&b, 1, q8, BITNET_TYPE_Q8_0, 0, 64);
    expect_format_error(&b, "multiple of 32");
    build_one_tensor(&b, 1, ne, BITNET_TYPE_F32, 16, 64);
    expect_format_error(&b, "not a multiple of the alignment");
    build_one_tensor(&b, 1, ne, BITNET_TYPE_F32, 0, 8);
    expect_format_error(&b, "past end of file");
    build_one_tensor(&b, 1, ne, BITNET_TYPE_F32, 1ull << 62, 16);
    expect_format_error(&b, "past end of file");
    build_one_tensor(&b, 1, ne, BITNET_TYPE_I2_S, 0, 64);
    expect_format_error(&b, "multiple of 128");
    free(b.p);
}

static void test_overlap_and_tl(void) {
    bytes b = { 0, 0, 0 };
    int i;
    bitnet_gguf *g;
    /* two F32 [16] tensors (64 bytes) where the second starts at 32: overlap */
    put_u32(&b, 0x46554747u); put_u32(&b, 3); put_u64(&b, 2); put_u64(&b, 0);
    put_str(&b, "a"); put_u32(&b, 1); put_u64(&b, 16); put_u32(&b, 0); put_u64(&b, 0);
    put_str(&b, "b"); put_u32(&b, 1); put_u64(&b, 16); put_u32(&b, 0); put_u64(&b, 32);
    put_pad(&b, 32);
    for (i = 0; i < 128; i++) put(&b, "\0", 1);
    expect_format_error(&b, "overlaps");
    /* a TL2 tensor is listed with the bytes up to the next tensor */
    b.n = 0;
    put_u32(&b, 0x46554747u); put_u32(&b, 3); put_u64(&b, 2); put_u64(&b, 0);
    put_str(&b, "tl"); put_u32(&b, 2); put_u64(&b, 256); put_u64(&b, 4); put_u32(&b, 39); put_u64(&b, 0);
    put_str(&b, "f"); put_u32(&b, 1); put_u64(&b, 8); put_u32(&b, 0); put_u64(&b, 320);
    put_pad(&b, 32);
    for (i = 0; i < 352; i++) put(&b, "\0", 1);
    CHECK(open_bytes(&g, &b) == BITNET_OK);
    if (g) {
        CHECK(bitnet_gguf_find_tensor(g, "tl")->size == 320 && bitnet_gguf_find_tensor(g, "tl")->type == BITNET_TYPE_TL2);
        bitnet_gguf_close(g);
    }
    /* duplicate tensor names */
    b.n = 0;
    put_u32(&b, 0x46554747u); put_u32(&b, 3); put_u64(&b, 2); put_u64(&b, 0);
    put_str(&b, "a"); put_u32(&b, 1); put_u64(&b, 8); put_u32(&b, 0); put_u64(&b, 0);
    put_str(&b, "a"); put_u32(&b, 1); put_u64(&b, 8); put_u32(&b, 0); put_u64(&b, 32);
    put_pad(&b, 32);
    for (i = 0; i < 64; i++) put(&b, "\0", 1);
    expect_format_error(&b, "duplicate tensor name 'a'");
    free(b.p);
}

/* ---- allocation failure at every point ---- */


static void test_allocation_failures(void) {
    bytes b = { 0, 0, 0 };
    long n, points = 0;
    build_small_valid(&b);
    for (n = 1; n < 64; n++) {
        check_allocator f = { 0, 0, 0, 0 };
        bitnet_allocator a;
        bitnet_gguf *g = NULL;
        bitnet_status st;
        f.fail_at = n;
        a = check_allocator_hooks(&f);
        st = bitnet_gguf_open_memory(&g, b.p, b.n, &a);
        if (st == BITNET_OK) {
            bitnet_gguf_close(g);
            CHECK(f.live == 0);
            break;
        }
        CHECK(st == BITNET_ERR_NOMEM && g == NULL);
        CHECK(f.live == 0);
        points++;
    }
    CHECK(points >= 5);
    free(b.p);
}

/* ---- linear cost: many keys and tensors ---- */

/* A file with n u8 keys and n one-byte I8 tensors whose offsets run backwards (the worst order
   for a naive sort), alignment 1. */
static void build_many(bytes *b, uint32_t n) {
    uint32_t i;
    char name[32];
    b->n = 0;
    put_u32(b, 0x46554747u); put_u32(b, 3); put_u64(b, n); put_u64(b, (uint64_t)n + 1);
    put_str(b, "general.alignment"); put_u32(b, BITNET_GGUF_U32); put_u32(b, 1);
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "k.%u", i);
        put_str(b, name); put_u32(b, BITNET_GGUF_U8); put(b, "\x01", 1);
    }
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof name, "t.%u", i);
        put_str(b, name); put_u32(b, 1); put_u64(b, 1); put_u32(b, BITNET_TYPE_I8); put_u64(b, n - 1 - i);
    }
    for (i = 0; i < n; i++) put(b, "\x7f", 1);
}

typedef struct name_work { double probes_per_name, sort_per_nlogn, writer_probes_per_name; } name_work;

static name_work many_names(uint32_t n) {
    name_work r = { 1e9, 1e9, 1e9 };
    bytes b = { 0, 0, 0 };
    bitnet_gguf *g = NULL;
    bitnet_gguf_writer *w = NULL;
    uint64_t ne = 1, log2n = 1;
    uint32_t i;
    char name[32];
    while ((1ull << log2n) < n) log2n++;
    build_many(&b, n);
    CHECKF(open_bytes(&g, &b) == BITNET_OK, "%u names: %s", n, bitnet_last_error());
    if (g) {
        CHECK(bitnet_gguf_n_kv(g) == (int64_t)n + 1 && bitnet_gguf_n_tensors(g) == (int64_t)n);
        snprintf(name, sizeof name, "t.%u", n / 2);
        CHECK(bitnet_gguf_find_tensor(g, name) == bitnet_gguf_tensor_at(g, n / 2));
        snprintf(name, sizeof name, "k.%u", n - 1);
        CHECK(bitnet_gguf_find_key(g, name) == (int64_t)n && bitnet_gguf_find_key(g, "k.x") < 0);
        r.probes_per_name = (double)(g->key_index.n_probes + g->tensor_index.n_probes) / (2.0 * n + 1);
        r.sort_per_nlogn = (double)g->n_sort_steps / ((double)n * (double)log2n);
        bitnet_gguf_close(g);
    }
    /* the same names through the writer */
    CHECK(bitnet_gguf_writer_new(&w, NULL) == BITNET_OK);
    for (i = 0; w && i < n; i++) {
        snprintf(name, sizeof name, "k.%u", i);
        if (bitnet_gguf_writer_set_u32(w, name, i) != BITNET_OK) break;
        snprintf(name, sizeof name, "t.%u", i);
        if (bitnet_gguf_writer_add_tensor(w, name, BITNET_TYPE_I8, 1, &ne) != BITNET_OK) break;
    }
    CHECK(i == n);
    if (w) {
        CHECK(bitnet_gguf_writer_set_u32(w, "k.0", 7) == BITNET_OK && w->n_kvs == (int64_t)n);    /* replaced */
        CHECK(bitnet_gguf_writer_add_tensor(w, "t.1", BITNET_TYPE_I8, 1, &ne) == BITNET_ERR_ARGS);
        r.writer_probes_per_name = (double)(w->key_index.n_probes + w->tensor_index.n_probes) / (2.0 * n);
    }
    bitnet_gguf_writer_free(w);
    free(b.p);
    return r;
}

/* Duplicate names are found with a hash, tensors sorted in O(n log n): the work per name stays
   flat from a thousand names to a million (work is counted, not timed). */
static void test_many_names(void) {
    name_work small = many_names(1000), big = many_names(1000000);
    printf("names: probes/name %.2f (1k) %.2f (1M); writer %.2f %.2f; sort steps/(n log2 n) %.2f %.2f\n",
           small.probes_per_name, big.probes_per_name, small.writer_probes_per_name, big.writer_probes_per_name,
           small.sort_per_nlogn, big.sort_per_nlogn);
    CHECK(small.probes_per_name < 4 && big.probes_per_name < 4);
    CHECK(big.probes_per_name < 2 * small.probes_per_name);
    CHECK(small.writer_probes_per_name < 4 && big.writer_probes_per_name < 4);
    CHECK(small.sort_per_nlogn < 3 && big.sort_per_nlogn < 3);
}

int main(void) {
    if (check_have_shared()) {
        test_shared_vocabs();
        test_shared_models();
        test_read_fallback();
        test_copy_shared_file();
    }
    test_round_trip(3);
    test_round_trip(2);
    test_writer_file_and_errors();
    test_every_truncation();
    test_header_errors();
    test_metadata_errors();
    test_tensor_errors();
    test_overlap_and_tl();
    test_allocation_failures();
    test_many_names();
    return check_report("gguf");
}
