/* The JSON reader and writer of tools/json.c: valid documents, numbers, escapes, hostile input
   (truncations, bad UTF-8, lone surrogates, duplicate keys, deep nesting, size limits), a
   tokenizer.json-sized document, and writer output that reads back. */
#include "tests/check.h"
#include "tools/json.c"

static json_doc *parse(const char *s) {
    json_doc *d = NULL;
    char err[128];
    if (json_parse(&d, s, strlen(s), NULL, err, sizeof err)) return NULL;
    return d;
}

static int rejects(const char *s, size_t len, const char *want_in_err) {
    json_doc *d = NULL;
    char err[160] = "";
    int bad = json_parse(&d, s, len, NULL, err, sizeof err) != 0 && d == NULL;
    if (!bad) json_free(d);
    if (bad && want_in_err && !strstr(err, want_in_err)) {
        fprintf(stderr, "error for %.40s: '%s' lacks '%s'\n", s, err, want_in_err);
        return 0;
    }
    return bad && err[0];
}
#define REJECTS(lit, what) CHECKF(rejects(lit, sizeof lit - 1, what), "accepted or wrong error: %s", lit)

static void test_structure(void) {
    json_doc *d = parse(" {\"a\": [1, 2, {\"b\": null}], \"c\": \"x\", \"t\": true, \"f\": false, \"e\": {}, \"ea\": []}\n");
    const json_value *r, *a, *e;
    CHECK(d != NULL);
    if (!d) return;
    r = json_root(d);
    CHECK(r->type == JSON_OBJECT && r->count == 6);
    a = json_get(r, "a");
    CHECK(a && a->type == JSON_ARRAY && a->count == 3);
    e = json_first(a);
    CHECK(e->type == JSON_NUMBER && e->is_int && e->u.n.i == 1);
    e = json_next(e);
    CHECK(e->type == JSON_NUMBER && e->u.n.i == 2);
    e = json_next(e);
    CHECK(e->type == JSON_OBJECT && json_get(e, "b") && json_get(e, "b")->type == JSON_NULL);
    CHECK(json_at(a, 2) == e && json_at(a, 3) == NULL);
    CHECK(json_is_str(json_get(r, "c"), "x"));
    CHECK(json_get(r, "t")->type == JSON_TRUE && json_get(r, "f")->type == JSON_FALSE);
    CHECK(json_get(r, "e")->type == JSON_OBJECT && json_get(r, "e")->count == 0 && !json_first(json_get(r, "e")));
    CHECK(json_get(r, "ea")->type == JSON_ARRAY && json_get(r, "ea")->count == 0);
    CHECK(json_get(r, "zz") == NULL && json_get(a, "a") == NULL);
    CHECK(json_next(r) == r + r->span);
    json_free(d);

    d = parse("[[[]],[[],[[1]]],2]");
    CHECK(d && json_root(d)->count == 3 && json_root(d)->span == 9);
    if (d) {
        const json_value *x = json_next(json_first(json_root(d)));
        CHECK(x->type == JSON_ARRAY && x->count == 2 && json_next(x)->type == JSON_NUMBER);
    }
    json_free(d);
    d = parse("\"top\"");
    CHECK(d && json_is_str(json_root(d), "top"));
    json_free(d);
    d = parse("\xEF\xBB\xBF[1]");
    CHECK(d && json_root(d)->count == 1);
    json_free(d);
}

static void test_numbers(void) {
    json_doc *d = parse("[0, -0, 9007199254740993, 9223372036854775807, -9223372036854775808, "
                        "9223372036854775808, 1.5, 1e3, -2.0E+2, 1e400, 12.25e-1, 1e-400]");
    const json_value *e;
    CHECK(d != NULL);
    if (!d) return;
    e = json_first(json_root(d));
    CHECK(e->is_int && e->u.n.i == 0);
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == 0);
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == 9007199254740993ll);      /* exact, not the rounded double */
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == INT64_MAX);
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == INT64_MIN);
    e = json_next(e);
    CHECK(!e->is_int && e->u.n.num == 9223372036854775808.0);
    e = json_next(e);
    CHECK(!e->is_int && e->u.n.num == 1.5);
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == 1000);
    e = json_next(e);
    CHECK(e->is_int && e->u.n.i == -200);
    e = json_next(e);
    CHECK(!e->is_int && e->u.n.num > 1e308);
    e = json_next(e);
    CHECK(!e->is_int && e->u.n.num == 1.225);
    e = json_next(e);
    CHECK(e->u.n.num == 0.0);
    json_free(d);
}

static void test_strings(void) {
    json_doc *d = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", "
                        "\"x\\u0000y\", \"caf\xC3\xA9 \xF0\x9F\x98\x80\", \"\"]");
    const json_value *e;
    CHECK(d != NULL);
    if (!d) return;
    e = json_first(json_root(d));
    CHECK(e->u.str.len == 12 && !memcmp(e->u.str.s, "a\"b\\c/d\b\f\n\r\t", 12));
    e = json_next(e);
    CHECK(!strcmp(e->u.str.s, "\xC3\xA9\xE2\x82\xAC"));
    e = json_next(e);
    CHECK(!strcmp(e->u.str.s, "\xF0\x9F\x98\x80"));
    e = json_next(e);
    CHECK(e->u.str.len == 3 && !memcmp(e->u.str.s, "x\0y", 3));
    e = json_next(e);
    CHECK(!strcmp(e->u.str.s, "caf\xC3\xA9 \xF0\x9F\x98\x80"));
    e = json_next(e);
    CHECK(e->u.str.len == 0 && e->u.str.s[0] == 0);
    json_free(d);
}

static void test_hostile(void) {
    char *deep;
    size_t i;
    json_doc *d = NULL;
    json_limits lim;
    REJECTS("", "end of input");
    REJECTS("   ", "end of input");
    REJECTS("[1,]", "unexpected");
    REJECTS("{,}", "key");
    REJECTS("{\"a\":1,}", "key");
    REJECTS("01", "leading zero");
    REJECTS("1.", "after '.'");
    REJECTS(".5", "unexpected");
    REJECTS("+1", "unexpected");
    REJECTS("1e", "exponent");
    REJECTS("-", "invalid number");
    REJECTS("NaN", "unexpected");
    REJECTS("Infinity", "unexpected");
    REJECTS("[1 2]", "expected ','");
    REJECTS("{\"a\" 1}", "':'");
    REJECTS("{1:2}", "key");
    REJECTS("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"");
    REJECTS("[{\"k\":1,\"k\":1}]", "duplicate");
    REJECTS("\"\\ud800\"", "high surrogate");
    REJECTS("\"\\udc00\"", "lone low");
    REJECTS("\"\\ud800\\u0041\"", "high surrogate");
    REJECTS("\"\\u12\"", "hex");
    REJECTS("\"\\x41\"", "invalid escape");
    REJECTS("\"a\nb\"", "control");
    REJECTS("\"\xC0\x80\"", "UTF-8");           /* overlong NUL */
    REJECTS("\"\xE0\x80\xAF\"", "UTF-8");       /* overlong '/' */
    REJECTS("\"\xED\xA0\x80\"", "UTF-8");       /* encoded surrogate */
    REJECTS("\"\xF4\x90\x80\x80\"", "UTF-8");   /* above U+10FFFF */
    REJECTS("\"\xF5\x80\x80\x80\"", "UTF-8");
    REJECTS("\"\x80\"", "UTF-8");
    REJECTS("\"\xE2\x82\"", "UTF-8");           /* truncated sequence */
    REJECTS("[", "end of input");
    REJECTS("{\"a\":", "end of input");
    REJECTS("\"abc", "unterminated");
    REJECTS("\"abc\\", "unterminated");
    REJECTS("tru", "unexpected");
    REJECTS("nul", "unexpected");
    REJECTS("[1]x", "after the value");
    REJECTS("[1]]", "after the value");
    REJECTS("{}{}", "after the value");
    REJECTS("[1}", "expected ','");
    REJECTS("/*c*/1", "unexpected");
    CHECK(rejects("[1,\0 2]", 7, "unexpected"));
    CHECK(rejects("\"a\0b\"", 5, "control"));

    /* nesting: the limit holds without recursion, even far past it */
    deep = (char *)malloc(200001);
    for (i = 0; i < 100000; i++) { deep[i] = '['; deep[199999 - i] = ']'; }
    deep[200000] = 0;
    CHECK(rejects(deep, 200000, "nesting deeper than 512"));
    memset(&lim, 0, sizeof lim);
    lim.max_depth = 200000;
    CHECK(json_parse(&d, deep, 200000, &lim, NULL, 0) == 0 && d && json_root(d)->span == 100000);
    json_free(d);
    CHECK(json_parse(&d, deep + 100000 - 512, 1024, NULL, NULL, 0) == 0);   /* exactly 512 deep */
    json_free(d);
    CHECK(rejects(deep + 100000 - 513, 1026, "nesting"));
    free(deep);
    lim.max_depth = 0;
    lim.max_bytes = 4;
    CHECK(json_parse(&d, "[1,2]", 5, &lim, NULL, 0) != 0 && d == NULL);
    CHECK(json_parse(&d, "[12]", 4, &lim, NULL, 0) == 0);
    json_free(d);
}

/* A tokenizer.json-shaped document: 128k vocab entries and 280k merges. */
static void test_big(void) {
    size_t cap = 16u << 20, len = 0, i;
    char *s = (char *)malloc(cap);
    json_doc *d = NULL;
    const json_value *model, *vocab, *merges, *k;
    char err[128];
    len += (size_t)sprintf(s + len, "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"vocab\":{");
    for (i = 0; i < 128000; i++) len += (size_t)sprintf(s + len, "%s\"t\\u0120%lu\":%lu", i ? "," : "", (unsigned long)i, (unsigned long)i);
    len += (size_t)sprintf(s + len, "},\"merges\":[");
    for (i = 0; i < 280000; i++) len += (size_t)sprintf(s + len, "%s[\"a%lu\",\"b\"]", i ? "," : "", (unsigned long)i);
    len += (size_t)sprintf(s + len, "]}}");
    CHECKF(json_parse(&d, s, len, NULL, err, sizeof err) == 0, "%s", err);
    model = json_get(json_root(d), "model");
    vocab = json_get(model, "vocab");
    merges = json_get(model, "merges");
    CHECK(vocab && vocab->count == 128000 && merges && merges->count == 280000);
    if (vocab) {
        k = json_first(vocab);
        for (i = 0; i < 127999; i++) k = json_next(k + 1);
        CHECK(!strcmp(k->u.str.s, "t\xC4\xA0" "127999") && k[1].u.n.i == 127999);
    }
    if (merges) CHECK(json_is_str(json_first(json_at(merges, 279999)), "a279999"));
    json_free(d);
    /* the same with one duplicate key at the end of the big object */
    memcpy(strstr(s, "\"t\\u0120127999\""), "\"t\\u0120127998\"", 15);
    CHECK(rejects(s, len, "duplicate"));
    free(s);
}

static void test_writer(void) {
    json_writer w;
    json_doc *d;
    const json_value *r;
    json_w_init(&w);
    json_w_obj(&w);
    json_w_key(&w, "s");
    json_w_str(&w, "q\"\\\n\x01\x7f\xC3\xA9\xFF\xE2\x82", 11);
    json_w_key(&w, "n");
    json_w_arr(&w);
    json_w_int(&w, -42);
    json_w_num(&w, 0.1);
    json_w_num(&w, 1.0 / 3.0);
    json_w_num(&w, strtod("nan", NULL));
    json_w_bool(&w, 1);
    json_w_null(&w);
    json_w_obj(&w);
    json_w_obj_end(&w);
    json_w_cstr(&w, NULL);
    json_w_arr_end(&w);
    json_w_key(&w, "e");
    json_w_arr(&w);
    json_w_arr_end(&w);
    json_w_obj_end(&w);
    CHECK(!w.failed);
    CHECKF(!strcmp(w.buf, "{\"s\":\"q\\\"\\\\\\n\\u0001\x7f\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\","
                          "\"n\":[-42,0.1,0.33333333333333331,null,true,null,{},null],\"e\":[]}"), "%s", w.buf);
    d = parse(w.buf);
    CHECK(d != NULL);
    if (d) {
        r = json_root(d);
        CHECK(json_get(r, "n")->count == 8 && json_at(json_get(r, "n"), 1)->u.n.num == 0.1);
        CHECK(json_get(r, "s")->u.str.len == 17);
    }
    json_free(d);
    json_w_reset(&w);
    CHECK(w.len == 0 && w.cap > 0);
    json_w_arr(&w);
    json_w_int(&w, 1);
    json_w_arr_end(&w);
    CHECK(!strcmp(w.buf, "[1]"));
    json_w_free(&w);
}

/* Random corruptions of a valid document: parsed or rejected, never a crash (ASan build). */
static void test_mutations(void) {
    static const char base[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9 \\ud83d\\ude00\"}],"
                               "\"max_tokens\":16,\"temperature\":0.5,\"stop\":[\"a\",\"b\"],\"x\":[true,false,null,-1e5]}";
    char buf[sizeof base];
    uint32_t rng = 12345;
    int i, ok = 0;
    json_doc *d;
    for (i = 0; i < 20000; i++) {
        json_doc *d = NULL;
        size_t n = sizeof base - 1, k;
        memcpy(buf, base, sizeof base);
        for (k = 0; k < 1 + (size_t)(i % 3); k++) {
            rng = rng * 1103515245u + 12345u;
            buf[(rng >> 8) % n] = (char)(rng >> 20);
        }
        rng = rng * 1103515245u + 12345u;
        if (rng & 1) n = (rng >> 8) % n;
        if (json_parse(&d, buf, n, NULL, NULL, 0) == 0) ok++;
        json_free(d);
    }
    CHECKF(ok > 0 && ok < 20000, "%d of 20000 parsed", ok);
    CHECK((d = parse(base)) != NULL);
    json_free(d);
}

int main(void) {
    json_doc *d = parse(" [ ] ");
    CHECK(d && json_root(d)->type == JSON_ARRAY);
    json_free(d);
    test_structure();
    test_numbers();
    test_strings();
    test_hostile();
    test_big();
    test_writer();
    test_mutations();
    return check_report("test_json");
}
