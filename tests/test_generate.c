/* test_generate.c - the generation API: greedy ids against the reference, every stop reason,
   seeded sampling, chunked prefill, several contexts, text and chat prompts, the plain API,
   no allocation while stepping, argument errors. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "check.h"
#include <math.h>

#define MAX_IDS 64
#define MAX_TEXT 4096

/* What one generation produced. */
typedef struct run_result {
    int32_t ids[MAX_IDS];     /* (n_ids) generated ids, in order */
    int n_ids;
    char text[MAX_TEXT];      /* shown text, NUL-terminated */
    size_t len;
    int n_steps, n_prefill_steps, n_pieces;
    bitnet_gen_stats stats;
    int rc;                   /* the last bitnet_gen_step result, or the bitnet_gen_new status */
} run_result;

static void text_append(run_result *r, const char *text, size_t len) {
    if (len > MAX_TEXT - 1 - r->len) len = MAX_TEXT - 1 - r->len;
    memcpy(r->text + r->len, text, len);
    r->len += len;
    r->text[r->len] = 0;
}

/* Runs a generation from an empty cache with the step API, collecting each id as it is sampled. */
static void run_steps(bitnet_ctx *ctx, const bitnet_gen_params *p, run_result *r) {
    bitnet_gen *g = NULL;
    memset(r, 0, sizeof *r);
    bitnet_ctx_truncate(ctx, 0);
    r->rc = bitnet_gen_new(&g, ctx, p);
    if (r->rc != BITNET_OK) return;
    do {
        const char *text;
        size_t len;
        int32_t before = bitnet_gen_stats_get(g)->n_generated;
        r->rc = bitnet_gen_step(g, &text, &len);
        r->n_steps++;
        if (bitnet_gen_stats_get(g)->n_generated > before) {
            if (r->n_ids < MAX_IDS) r->ids[r->n_ids++] = bitnet_gen_last_token(g);
        } else if (r->rc > 0) {
            r->n_prefill_steps++;
        }
        text_append(r, text, len);
    } while (r->rc > 0);
    r->stats = *bitnet_gen_stats_get(g);
    bitnet_gen_free(g);
}

static int collect_piece(const char *text, size_t len, void *user) {
    run_result *r = (run_result *)user;
    r->n_pieces++;
    text_append(r, text, len);
    return 0;
}

static int cancel_at_third(const char *text, size_t len, void *user) {
    run_result *r = (run_result *)user;
    text_append(r, text, len);
    return ++r->n_pieces == 3;
}

/* Runs a generation from an empty cache with bitnet_generate_text; the text goes to r. */
static void run_text(bitnet_ctx *ctx, const bitnet_gen_params *params, run_result *r) {
    bitnet_gen_params p = *params;
    memset(r, 0, sizeof *r);
    if (!p.on_piece) p.on_piece = collect_piece;
    p.user = r;
    bitnet_ctx_truncate(ctx, 0);
    r->rc = bitnet_generate_text(ctx, &p, &r->stats);
}

/* Reads the integers of the JSON array `key` from the reference file; returns the count. */
static int read_ref_ids(const char *json, const char *key, int32_t *out, int cap) {
    const char *p = strstr(json, key);
    int n = 0;
    if (!p || !(p = strchr(p, '['))) return 0;
    p++;
    while (n < cap) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        out[n++] = (int32_t)v;
        p = end;
        while (*p == ' ' || *p == '\n' || *p == ',') p++;
    }
    return n;
}

static int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}


static int32_t g_prompt[64], g_greedy[64];
static int g_n_prompt, g_n_greedy;

static bitnet_gen_params greedy_params(int32_t max_tokens) {
    bitnet_gen_params p;
    memset(&p, 0, sizeof p);
    p.prompt_ids = g_prompt;
    p.n_prompt_ids = g_n_prompt;
    p.max_tokens = max_tokens;
    p.ignore_eog = 1;
    return p;
}

/* ---- logit bias and a custom sampler ---- */

typedef struct scripted { int32_t next, n_vocab; float seen_at_42; int calls; } scripted;

static int32_t scripted_sample(float *logits, int32_t n_vocab, void *user) {
    scripted *s = (scripted *)user;
    s->n_vocab = n_vocab;
    s->seen_at_42 = logits[42];
    s->calls++;
    return s->next < 0 ? s->next : s->next++;
}

/* The consistent names and their old aliases give the same results. */
static void test_names(bitnet_ctx *ctx) {
    bitnet_gen_params p;
    bitnet_gen *g = NULL;
    bitnet_gguf *gguf = NULL;
    const char *text;
    size_t len;
    memset(&p, 0, sizeof p);
    p.prompt_ids = g_prompt;
    p.n_prompt_ids = g_n_prompt;
    p.max_tokens = 2;
    bitnet_ctx_truncate(ctx, 0);
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_OK);
    if (g) {
        while (bitnet_gen_step(g, &text, &len) > 0) {}
        CHECK(bitnet_gen_get_stats(g) == bitnet_gen_stats_get(g) && bitnet_gen_get_stats(g)->n_generated == 2);
        bitnet_gen_free(g);
    }
    CHECK(bitnet_gen_get_stats(NULL) == NULL);
    CHECK(bitnet_ctx_get_memory(ctx).reserved == bitnet_ctx_memory(ctx).reserved && bitnet_ctx_get_memory(ctx).reserved > 0);
    CHECK(bitnet_gguf_open(&gguf, check_shared("models/tiny-b158-i2_s.gguf"), NULL) == BITNET_OK);
    bitnet_gguf_free(gguf);              /* the sanitizer build sees a leak if it does not close */
    bitnet_gguf_free(NULL);
}

static void test_bias_and_hook(bitnet_ctx *ctx) {
    bitnet_gen_params p;
    bitnet_logit_bias bias[2];
    run_result r;
    scripted sc;
    int32_t i, first, eog_free = 42;
    memset(&p, 0, sizeof p);
    p.prompt_ids = g_prompt;
    p.n_prompt_ids = g_n_prompt;
    p.max_tokens = 6;
    run_steps(ctx, &p, &r);                            /* greedy, unbiased */
    first = r.ids[0];
    /* banning the greedy choice changes the first token; a large bias forces an id */
    bias[0].id = first; bias[0].bias = -INFINITY;
    p.logit_bias = bias; p.n_logit_bias = 1;
    run_steps(ctx, &p, &r);
    CHECKF(r.rc == 0 && r.n_ids >= 1 && r.ids[0] != first, "banned id %d came back", first);
    bias[1].id = eog_free; bias[1].bias = 1000.0f;
    p.n_logit_bias = 2;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == 0 && r.n_ids == 6);
    for (i = 0; i < r.n_ids; i++) CHECKF(r.ids[i] == eog_free, "biased id: got %d", r.ids[i]);
    /* the hook picks every token and sees the biased logits */
    memset(&sc, 0, sizeof sc);
    sc.next = 100;
    p.sample = scripted_sample; p.sample_user = &sc;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == 0 && r.n_ids == 6 && sc.calls == 6 && sc.n_vocab == 512);
    for (i = 0; i < r.n_ids; i++) CHECK(r.ids[i] == 100 + i);
    CHECK(sc.seen_at_42 > 500.0f);
    /* an id out of range from the hook is an error; so is a bias for an id outside the vocabulary */
    sc.next = -5;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == BITNET_ERR_ARGS && strstr(bitnet_last_error(), "custom sampler") != NULL);
    p.sample = NULL;
    bias[1].id = 512;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == BITNET_ERR_ARGS);
    p.n_logit_bias = -1;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == BITNET_ERR_ARGS);
}

static void test_greedy_and_stops(bitnet_ctx *ctx) {
    bitnet_gen_params p = greedy_params(32);
    static run_result r, r2, full;
    const char *stop[1];
    const char *at;

    /* greedy ids reproduce the reference oracle's 32 greedy ids */
    run_steps(ctx, &p, &r);
    CHECKF(r.rc == 0, "rc %d: %s", r.rc, bitnet_last_error());
    CHECKF(same_ids(r.ids, r.n_ids, g_greedy, g_n_greedy), "got %d ids, first %d %d %d", r.n_ids, r.ids[0],
           r.ids[1], r.ids[2]);
    CHECK(r.stats.stop_reason == BITNET_STOP_MAX_TOKENS);
    CHECK(r.stats.n_generated == 32 && r.stats.n_prompt == g_n_prompt);
    CHECK(r.n_prefill_steps == 1);
    CHECK(r.stats.prompt_ms >= 0 && r.stats.gen_ms >= 0 && r.stats.ttft_ms >= 0);

    /* bitnet_generate_text gives the same text as stepping */
    run_text(ctx, &p, &r2);
    CHECK(r2.rc == BITNET_OK && r2.len == r.len && strcmp(r2.text, r.text) == 0);
    CHECK(r2.stats.n_generated == 32);

    /* max_tokens stops with its own reason and count */
    p.max_tokens = 5;
    run_text(ctx, &p, &r2);
    CHECK(r2.rc == BITNET_OK && r2.stats.stop_reason == BITNET_STOP_MAX_TOKENS && r2.stats.n_generated == 5);

    /* a stop string from the text of the reference greedy ids, ' \ \444444 andunGGG H H...':
       "unGG" spans three tokens (un G G); the text before it is shown, the stop string is not */
    p = greedy_params(32);
    run_text(ctx, &p, &full);
    CHECK(full.rc == BITNET_OK && full.stats.stop_reason == BITNET_STOP_MAX_TOKENS);
    stop[0] = "unGG";
    at = strstr(full.text, stop[0]);
    CHECKF(at != NULL, "stop string not in the greedy text \"%s\"", full.text);
    p.stop = stop;
    p.n_stop = 1;
    run_text(ctx, &p, &r2);
    CHECK(r2.rc == BITNET_OK && r2.stats.stop_reason == BITNET_STOP_STRING);
    CHECKF(at && r2.len == (size_t)(at - full.text) && memcmp(r2.text, full.text, r2.len) == 0,
           "shown \"%s\"", r2.text);
    CHECK(strcmp(r2.text, " \\ \\444444 and") == 0);
    CHECK(r2.stats.n_generated == 12);     /* up to the second G */
    run_steps(ctx, &p, &r);
    CHECK(r.rc == 0 && r.stats.stop_reason == BITNET_STOP_STRING && strcmp(r.text, r2.text) == 0);

    /* on_piece returning nonzero cancels */
    p = greedy_params(0);
    p.on_piece = cancel_at_third;
    run_text(ctx, &p, &r2);
    CHECK(r2.rc == BITNET_OK && r2.stats.stop_reason == BITNET_STOP_CANCELLED);
    CHECK(r2.n_pieces == 3 && r2.stats.n_generated >= 3 && r2.stats.n_generated < 32);

    /* bitnet_gen_cancel between steps */
    {
        bitnet_gen *g = NULL;
        const char *text;
        size_t len;
        bitnet_ctx_truncate(ctx, 0);
        p = greedy_params(0);
        CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_OK);
        CHECK(bitnet_gen_last_token(g) == -1);
        CHECK(bitnet_gen_step(g, &text, &len) == 1 && bitnet_gen_step(g, &text, &len) == 1);
        bitnet_gen_cancel(g);
        CHECK(bitnet_gen_step(g, &text, &len) == 0);
        CHECK(bitnet_gen_stats_get(g)->stop_reason == BITNET_STOP_CANCELLED);
        CHECK(bitnet_gen_stats_get(g)->n_generated == 1);
        CHECK(bitnet_gen_step(g, &text, &len) == 0 && len == 0);    /* finished stays finished */
        bitnet_gen_free(g);
    }
}

/* A full context: 32 positions, 20 prompt ids; the last sampled token needs no position. */
static void test_context_full(const bitnet_model *model) {
    bitnet_ctx *small = NULL;
    bitnet_ctx_params cp;
    bitnet_gen_params p = greedy_params(0);
    static run_result r;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 32;
    CHECK(bitnet_ctx_new(&small, model, &cp) == BITNET_OK);
    if (!small) return;
    run_steps(small, &p, &r);
    CHECK(r.rc == 0 && r.stats.stop_reason == BITNET_STOP_CONTEXT);
    CHECKF(r.stats.n_generated == 32 - g_n_prompt + 1, "n_generated %d", r.stats.n_generated);
    CHECK(bitnet_ctx_pos(small) == 32);
    CHECK(same_ids(r.ids, r.n_ids, g_greedy, 32 - g_n_prompt + 1));
    /* max_tokens reached exactly as the context fills is a max-tokens stop, and the last
       token is not run */
    bitnet_ctx_truncate(small, 0);
    p.max_tokens = 32 - g_n_prompt + 1;
    run_steps(small, &p, &r);
    CHECK(r.rc == 0 && r.stats.stop_reason == BITNET_STOP_MAX_TOKENS && r.stats.n_generated == p.max_tokens);
    CHECK(bitnet_ctx_pos(small) == 32);
    bitnet_ctx_free(small);
}

static void test_sampling_determinism(bitnet_ctx *ctx) {
    bitnet_gen_params p = greedy_params(32);
    static run_result a, b, c;
    p.sampler.temperature = 0.8f;
    p.sampler.seed = 1234;
    run_steps(ctx, &p, &a);
    run_steps(ctx, &p, &b);
    p.sampler.seed = 1235;
    run_steps(ctx, &p, &c);
    CHECK(a.rc == 0 && b.rc == 0 && c.rc == 0);
    CHECK(a.n_ids == 32 && same_ids(a.ids, a.n_ids, b.ids, b.n_ids) && strcmp(a.text, b.text) == 0);
    CHECK(!same_ids(a.ids, a.n_ids, c.ids, c.n_ids));
    CHECK(strcmp(a.text, c.text) != 0);
    CHECK(!same_ids(a.ids, a.n_ids, g_greedy, g_n_greedy));        /* it did sample */
}

static void test_chunked_prefill(bitnet_ctx *ctx) {
    bitnet_gen_params p = greedy_params(16);
    static run_result whole, chunked;
    bitnet_gen *g = NULL;
    const char *text;
    size_t len;
    run_steps(ctx, &p, &whole);
    p.prefill_chunk = 3;
    run_steps(ctx, &p, &chunked);
    CHECK(whole.rc == 0 && chunked.rc == 0);
    CHECK(same_ids(whole.ids, whole.n_ids, chunked.ids, chunked.n_ids) && whole.n_ids == 16);
    CHECKF(chunked.n_prefill_steps == (g_n_prompt + 2) / 3, "%d prefill steps", chunked.n_prefill_steps);
    CHECK(strcmp(whole.text, chunked.text) == 0);
    /* one step runs one chunk */
    bitnet_ctx_truncate(ctx, 0);
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_OK);
    CHECK(bitnet_gen_step(g, &text, &len) == 1 && len == 0 && bitnet_ctx_pos(ctx) == 3);
    CHECK(bitnet_gen_step(g, &text, &len) == 1 && bitnet_ctx_pos(ctx) == 6);
    bitnet_gen_free(g);
}

static void test_generate_many(const bitnet_model *model) {
    static const char *prompts[3] = { "Hello", "The sea", "Once upon a time there was" };
    static run_result many[3], single;
    bitnet_ctx *ctxs[3] = { NULL, NULL, NULL };
    bitnet_gen_params p[3];
    bitnet_gen_stats stats[3];
    bitnet_ctx_params cp;
    int i;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 64;
    cp.n_threads = 1;
    for (i = 0; i < 3; i++) {
        CHECK(bitnet_ctx_new(&ctxs[i], model, &cp) == BITNET_OK);
        memset(&p[i], 0, sizeof p[i]);
        memset(&many[i], 0, sizeof many[i]);
        p[i].prompt = prompts[i];
        p[i].max_tokens = 8 + 4 * i;
        p[i].ignore_eog = 1;
        p[i].sampler.temperature = i == 1 ? 0.8f : 0.0f;
        p[i].sampler.seed = 7;
        p[i].on_piece = collect_piece;
        p[i].user = &many[i];
    }
    if (!ctxs[0] || !ctxs[1] || !ctxs[2]) goto done;
    CHECK(bitnet_generate_many(ctxs, p, 3, stats) == BITNET_OK);
    for (i = 0; i < 3; i++) {
        run_text(ctxs[0], &p[i], &single);
        CHECK(single.rc == BITNET_OK);
        CHECKF(strcmp(single.text, many[i].text) == 0, "context %d: \"%s\" vs \"%s\"", i, single.text, many[i].text);
        CHECK(stats[i].n_generated == 8 + 4 * i && single.stats.n_generated == stats[i].n_generated);
        CHECK(stats[i].n_prompt == single.stats.n_prompt && stats[i].stop_reason == BITNET_STOP_MAX_TOKENS);
    }
    CHECK(bitnet_generate_many(ctxs, p, 0, stats) == BITNET_ERR_ARGS);
done:
    for (i = 0; i < 3; i++) bitnet_ctx_free(ctxs[i]);
}

static void test_no_alloc_while_stepping(void) {
    check_allocator counter = { 0, 0, 0, 0 };
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_gen *g = NULL;
    bitnet_gen_params p = greedy_params(0);
    int i, rc = 1;
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    mp.allocator = check_allocator_hooks(&counter);
    cp.n_ctx = 64;
    cp.allocator = mp.allocator;
    p.stop = (const char *const[]){ "zzzz" };   /* a stop matcher that never matches */
    p.n_stop = 1;
    p.sampler = bitnet_sampler_default_params();
    p.sampler.repeat_penalty = 1.1f;
    CHECK(bitnet_model_load(&model, &mp) == BITNET_OK);
    CHECK(model && bitnet_ctx_new(&ctx, model, &cp) == BITNET_OK);
    CHECK(ctx && bitnet_gen_new(&g, ctx, &p) == BITNET_OK);
    CHECK(counter.total > 0);        /* the allocator is used at all */
    if (g) {
        check_allocator before = counter;
        for (i = 0; i < 20 && rc > 0; i++) rc = bitnet_gen_step(g, NULL, NULL);
        CHECK(rc == 1 && i == 20);
        CHECKF(counter.total == before.total && counter.frees == before.frees, "%ld allocations, %ld frees in 20 steps",
               counter.total - before.total, counter.frees - before.frees);
    }
    bitnet_gen_free(g);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    CHECKF(counter.total == counter.frees, "%ld allocations, %ld frees", counter.total, counter.frees);
}

static void test_bad_args(bitnet_ctx *ctx, const bitnet_model *model) {
    bitnet_gen *g = NULL;
    bitnet_gen_params p;
    bitnet_ctx *small = NULL;
    bitnet_ctx_params cp;
    int32_t one = 1;

    memset(&p, 0, sizeof p);
    bitnet_clear_error();
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_ERR_ARGS && g == NULL && bitnet_last_error()[0]);
    bitnet_clear_error();
    CHECK(bitnet_generate_text(ctx, &p, NULL) == BITNET_ERR_ARGS && bitnet_last_error()[0]);
    p.prompt_ids = &one;
    p.n_prompt_ids = 0;
    bitnet_clear_error();
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_ERR_ARGS && g == NULL && bitnet_last_error()[0]);
    CHECK(bitnet_gen_new(NULL, ctx, &p) == BITNET_ERR_ARGS);
    CHECK(bitnet_gen_new(&g, NULL, &p) == BITNET_ERR_ARGS && g == NULL);
    CHECK(bitnet_gen_step(NULL, NULL, NULL) == BITNET_ERR_ARGS);
    CHECK(bitnet_gen_last_token(NULL) == -1 && bitnet_gen_stats_get(NULL) == NULL);

    /* a prompt longer than the context */
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 16;
    CHECK(bitnet_ctx_new(&small, model, &cp) == BITNET_OK);
    p = greedy_params(4);
    bitnet_clear_error();
    CHECK(small && bitnet_gen_new(&g, small, &p) == BITNET_ERR_ARGS && g == NULL);
    CHECKF(strstr(bitnet_last_error(), "20") != NULL, "message: %s", bitnet_last_error());
    p.n_prompt_ids = 16;                  /* exactly fits: one token can still be sampled */
    CHECK(small && bitnet_gen_new(&g, small, &p) == BITNET_OK);
    bitnet_gen_free(g);
    bitnet_ctx_free(small);

    /* a bad sampler parameter is reported by bitnet_gen_new */
    g = NULL;
    p = greedy_params(4);
    p.sampler.top_p = -1.0f;
    CHECK(bitnet_gen_new(&g, ctx, &p) == BITNET_ERR_ARGS && g == NULL);
}

/* The Llama 3 vocabulary: text prompts, chat formatting. */
static void test_text_and_chat(void) {
    static const int32_t expect[13] = { 128000, 9906, 6631, 7099, 11, 3371, 757, 264, 3446, 922, 279, 9581, 13 };
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    bitnet_gen_params p;
    const bitnet_vocab *vocab;
    bitnet_chat_message msgs[2];
    static run_result r;
    static char chat[512];
    int32_t ids[64];
    size_t n = 0, len = 0;

    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = check_shared("models/tiny-2b4t-vocab-i2_s.gguf");
    cp.n_ctx = 128;
    CHECKF(bitnet_model_load(&model, &mp) == BITNET_OK, "%s", bitnet_last_error());
    if (!model) return;
    CHECK(bitnet_ctx_new(&ctx, model, &cp) == BITNET_OK);
    if (!ctx) goto done;
    vocab = bitnet_model_vocab(model);

    memset(&p, 0, sizeof p);
    p.prompt = "Hello BitNet, tell me a story about the sea.";
    p.max_tokens = 6;
    CHECK(bitnet_tokenize(vocab, p.prompt, strlen(p.prompt), 1, 0, ids, 64, &n) == BITNET_OK);
    CHECK(same_ids(ids, (int)n, expect, 13));
    run_steps(ctx, &p, &r);
    CHECKF(r.rc == 0, "%s", bitnet_last_error());
    CHECK(r.stats.n_prompt == 13 && r.n_prefill_steps == 1);
    CHECK(r.stats.stop_reason == BITNET_STOP_MAX_TOKENS || r.stats.stop_reason == BITNET_STOP_EOG);

    /* chat: the 2B-4T format, tokenized as bitnet_chat_format says (no added BOS, specials parsed) */
    CHECK(bitnet_vocab_chat_format(vocab) == BITNET_CHAT_BITNET);
    msgs[0].role = "system";
    msgs[0].content = "You are a sailor.";
    msgs[1].role = "user";
    msgs[1].content = "Tell me about the sea.";
    CHECK(bitnet_chat_format(vocab, BITNET_CHAT_AUTO, msgs, 2, 1, chat, sizeof chat, &len) == BITNET_OK);
    CHECKF(strcmp(chat, "<|begin_of_text|>System: You are a sailor.<|eot_id|>User: Tell me about the sea.<|eot_id|>"
                        "Assistant: ") == 0, "chat text \"%s\"", chat);
    CHECK(bitnet_tokenize(vocab, chat, len, 0, 1, ids, 64, &n) == BITNET_OK);
    CHECK(n > 2 && ids[0] == 128000 && ids[1] != 128000);
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids;
    p.n_prompt_ids = (int32_t)n;
    p.max_tokens = 8;
    run_steps(ctx, &p, &r);
    CHECK(r.rc == 0 && r.stats.n_prompt == (int32_t)n && r.stats.n_generated >= 1);
    CHECK(r.stats.stop_reason == BITNET_STOP_MAX_TOKENS || r.stats.stop_reason == BITNET_STOP_EOG);
    /* the same chat text given as a prompt with no_bos: the same tokens, one BOS */
    memset(&p, 0, sizeof p);
    p.prompt = chat;
    p.parse_special = 1;
    p.no_bos = 1;
    p.max_tokens = 1;
    bitnet_ctx_truncate(ctx, 0);
    run_steps(ctx, &p, &r);
    CHECK(r.rc == 0 && r.stats.n_prompt == (int32_t)n);
done:
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
}

static void test_plain_api(void) {
    BitNetConfig cfg = { 8, 0.0f, 0.0f, 0, 0 };
    BitNetModel *m = bitnet_load_model(check_shared("models/tiny-b158-i2_s.gguf"));
    char *a, *b;
    CHECKF(m != NULL, "%s", bitnet_get_last_error());
    if (!m) return;
    a = bitnet_generate(m, "Hello", &cfg);
    b = bitnet_generate(m, "Hello", &cfg);
    CHECK(a != NULL && b != NULL);
    CHECK(a && b && strcmp(a, b) == 0);
    CHECK(bitnet_generate(m, NULL, &cfg) == NULL && bitnet_get_last_error()[0]);
    {   /* the seed: the same one repeats, another one differs, 0 is the default seed */
        BitNetConfig s1 = { 32, 0.9f, 0.0f, 0, 1 }, s2 = { 32, 0.9f, 0.0f, 0, 2 };
        BitNetConfig s0 = { 32, 0.9f, 0.0f, 0, 0 }, sd = { 32, 0.9f, 0.0f, 0, BITNET_SAMPLER_DEFAULT_SEED };
        char *x = bitnet_generate(m, "Hello", &s1), *y = bitnet_generate(m, "Hello", &s1);
        char *z = bitnet_generate(m, "Hello", &s2), *d0 = bitnet_generate(m, "Hello", &s0);
        char *dd = bitnet_generate(m, "Hello", &sd);
        CHECK(x && y && z && d0 && dd);
        CHECK(x && y && strcmp(x, y) == 0);
        CHECK(x && z && strcmp(x, z) != 0);
        CHECK(d0 && dd && strcmp(d0, dd) == 0);
        bitnet_free_string(x); bitnet_free_string(y); bitnet_free_string(z);
        bitnet_free_string(d0); bitnet_free_string(dd);
    }
    bitnet_free_string(a);
    bitnet_free_string(b);
    bitnet_free_model(m);
    bitnet_clear_error();
    CHECK(bitnet_load_model("/nonexistent/model.gguf") == NULL);
    CHECK(bitnet_get_last_error()[0] != 0);
    bitnet_free_model(NULL);
    bitnet_free_string(NULL);
}

/* The bandwidth probe: passes over 8 MiB on 1 and 2 threads give a positive, finite figure;
   bad arguments are refused; the one-shot measure agrees in kind. */
static void test_bandwidth_probe(void) {
    bitnet_threadpool *pool = NULL;
    bitnet_bw_probe *probe = NULL;
    double g;
    int th;
    CHECK(bitnet_bw_probe_new(NULL, NULL, 1 << 20) == BITNET_ERR_ARGS);
    CHECK(bitnet_bw_probe_pass(NULL) == 0);
    bitnet_bw_probe_free(NULL);
    for (th = 1; th <= 2; th++) {
        CHECK(bitnet_threadpool_new(&pool, th, NULL) == BITNET_OK);
        CHECK(bitnet_bw_probe_new(&probe, pool, (size_t)8 << 20) == BITNET_OK);
        g = bitnet_bw_probe_pass(probe);
        CHECKF(g > 0 && g < 1e6, "probe pass on %d threads: %g GB/s", th, g);
        bitnet_bw_probe_free(probe);
        g = bitnet_measure_read_bandwidth(pool, (size_t)8 << 20);
        CHECKF(g > 0 && g < 1e6, "measure on %d threads: %g GB/s", th, g);
        bitnet_threadpool_free(pool);
    }
}

int main(void) {
    size_t size = 0;
    char *json = (char *)check_read_file(check_shared("ref/tiny-b158-i2_s.oracle.json"), &size);
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;

    if (!check_have_shared()) return check_report("generate");
    CHECK(json != NULL);
    if (!json) return check_report("generate");
    json[size] = 0;
    g_n_prompt = read_ref_ids(json, "\"prompt_ids\"", g_prompt, 64);
    g_n_greedy = read_ref_ids(json, "\"greedy_ids\"", g_greedy, 64);
    free(json);
    CHECK(g_n_prompt == 20 && g_n_greedy == 32);

    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = check_shared("models/tiny-b158-i2_s.gguf");
    cp.n_ctx = 128;
    CHECKF(bitnet_model_load(&model, &mp) == BITNET_OK, "%s", bitnet_last_error());
    if (model) CHECK(bitnet_ctx_new(&ctx, model, &cp) == BITNET_OK);
    if (ctx) {
        test_greedy_and_stops(ctx);
        test_context_full(model);
        test_sampling_determinism(ctx);
        test_chunked_prefill(ctx);
        test_generate_many(model);
        test_bad_args(ctx, model);
        test_bias_and_hook(ctx);
        test_names(ctx);
    }
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    test_no_alloc_while_stepping();
    test_text_and_chat();
    test_plain_api();
    test_bandwidth_probe();
    return check_report("generate");
}
