/* libFuzzer target for the JSON reader and writer of tools/json.c: any input is parsed or
   rejected without a crash; an accepted document, written back with the writer, parses again to
   the same tree, and writing that gives the same bytes. */
#include "tools/json.c"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes the value at v (iteratively through its subtree) and returns the node after it. */
static const json_value *write_value(json_writer *w, const json_value *v) {
    const json_value *end = json_next(v);
    uint32_t left[64];
    int is_obj[64], depth = 0;
    for (;;) {
        if (depth > 0 && is_obj[depth - 1] && left[depth - 1] > 0) {
            json_w_key(w, v->u.str.s);   /* keys with NUL are cut: compared the same way below */
            v++;
        }
        switch (v->type) {
        case JSON_NULL: json_w_null(w); v++; break;
        case JSON_TRUE: json_w_bool(w, 1); v++; break;
        case JSON_FALSE: json_w_bool(w, 0); v++; break;
        case JSON_NUMBER: if (v->is_int) json_w_int(w, v->u.n.i); else json_w_num(w, v->u.n.num); v++; break;
        case JSON_STRING: json_w_str(w, v->u.str.s, v->u.str.len); v++; break;
        default:
            FUZZ_REQUIRE(depth < 64);
            if (v->type == JSON_OBJECT) json_w_obj(w); else json_w_arr(w);
            is_obj[depth] = v->type == JSON_OBJECT;
            left[depth++] = v->count + 1;
            v++;
        }
        while (depth > 0 && --left[depth - 1] == 0) {
            if (is_obj[--depth]) json_w_obj_end(w); else json_w_arr_end(w);
        }
        if (depth == 0) break;
    }
    FUZZ_REQUIRE(v == end);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_doc *d = NULL, *d2 = NULL;
    json_limits lim = { 0, 60 };
    json_writer w1, w2;
    char err[128];
    int has_nul_key = 0;
    uint32_t i;
    if (json_parse(&d, (const char *)data, size, &lim, err, sizeof err)) {
        FUZZ_REQUIRE(d == NULL && err[0]);
        return 0;
    }
    for (i = 0; i < json_root(d)->span; i++) {
        const json_value *v = json_root(d) + i;
        if (v->type == JSON_STRING && strlen(v->u.str.s) != v->u.str.len) has_nul_key = 1;
    }
    json_w_init(&w1);
    json_w_init(&w2);
    write_value(&w1, json_root(d));
    FUZZ_REQUIRE(!w1.failed);
    if (!has_nul_key) {
        /* written back, it parses, to a tree that writes the same bytes */
        FUZZ_REQUIRE(json_parse(&d2, w1.buf, w1.len, &lim, err, sizeof err) == 0);
        FUZZ_REQUIRE(json_root(d2)->span == json_root(d)->span);
        write_value(&w2, json_root(d2));
        FUZZ_REQUIRE(w2.len == w1.len && !memcmp(w1.buf, w2.buf, w1.len));
    }
    json_free(d2);
    json_free(d);
    json_w_free(&w1);
    json_w_free(&w2);
    return 0;
}
