/* bitnet chat -m M [--system TEXT]: reads user turns from stdin, answers in the model's chat
   format (BitNet 2B-4T or Llama 3). The context keeps the conversation; each turn only the
   tokens after the part already in the cache are run. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform.h"

#define CHAT_MAX_TURNS 256
#define CHAT_LINE 65536

typedef struct chat_state {
    bitnet_chat_message msgs[CHAT_MAX_TURNS];
    size_t n_msgs;
    int32_t *cached;                /* ids in the context, in order */
    int32_t n_cached, cap_cached;
    char *reply;                    /* the assistant's text of this turn */
    size_t reply_len, reply_cap;
} chat_state;

static int chat_on_piece(const char *text, size_t len, void *user) {
    chat_state *s = (chat_state *)user;
    if (s->reply_len + len + 1 > s->reply_cap) {
        char *p = (char *)realloc(s->reply, (s->reply_len + len + 1) * 2);
        if (!p) return 1;
        s->reply = p;
        s->reply_cap = (s->reply_len + len + 1) * 2;
    }
    memcpy(s->reply + s->reply_len, text, len);
    s->reply_len += len;
    s->reply[s->reply_len] = 0;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0;
}

/* The conversation so far as token ids (the prompt of this turn). */
static int chat_tokenize_history(const bitnet_vocab *vocab, chat_state *s, int32_t **ids, size_t *n) {
    size_t len = 0;
    char *text;
    bitnet_chat_format(vocab, BITNET_CHAT_AUTO, s->msgs, s->n_msgs, 1, NULL, 0, &len);
    text = (char *)malloc(len + 1);
    if (!text || bitnet_chat_format(vocab, BITNET_CHAT_AUTO, s->msgs, s->n_msgs, 1, text, len + 1, &len) != BITNET_OK) {
        free(text);
        return !cli_fail("chat");
    }
    bitnet_tokenize(vocab, text, len, 0, 1, NULL, 0, n);
    *ids = (int32_t *)malloc((*n + 1) * sizeof **ids);
    if (!*ids || bitnet_tokenize(vocab, text, len, 0, 1, *ids, *n, n) != BITNET_OK) {
        free(text);
        return !cli_fail("chat");
    }
    free(text);
    return 1;
}

static int chat_remember(chat_state *s, const int32_t *ids, int32_t n) {
    if (s->n_cached + n > s->cap_cached) {
        int32_t cap = (s->n_cached + n) * 2;
        int32_t *p = (int32_t *)realloc(s->cached, (size_t)cap * sizeof *p);
        if (!p) return 0;
        s->cached = p;
        s->cap_cached = cap;
    }
    memcpy(s->cached + s->n_cached, ids, (size_t)n * sizeof *ids);
    s->n_cached += n;
    return 1;
}

/* Drops the oldest exchange after any system message when the conversation outgrows the
   context; 0 when only the current turn is left. */
static int chat_forget_oldest(chat_state *s) {
    size_t first = s->n_msgs && !strcmp(s->msgs[0].role, "system") ? 1 : 0, drop = 2;
    if (s->n_msgs < first + 3) return 0;
    free((void *)s->msgs[first].content);
    free((void *)s->msgs[first + 1].content);
    memmove(&s->msgs[first], &s->msgs[first + drop], (s->n_msgs - first - drop) * sizeof s->msgs[0]);
    s->n_msgs -= drop;
    s->n_cached = 0;
    return 1;
}

/* Generates the reply, printing it; the generated ids are appended to s->cached as far as they
   entered the context (the final token of a turn is sampled but not run). */
static int chat_generate(bitnet_ctx *ctx, chat_state *s, bitnet_gen *g) {
    const char *text;
    size_t len;
    int step;
    int32_t n_gen = 0;
    while ((step = bitnet_gen_step(g, &text, &len)) >= 0) {
        if (len) chat_on_piece(text, len, s);
        if (bitnet_gen_stats_get(g)->n_generated > n_gen) {
            int32_t id = bitnet_gen_last_token(g);
            n_gen++;
            if (!chat_remember(s, &id, 1)) return 0;
        }
        if (step == 0) break;
    }
    s->n_cached = bitnet_ctx_pos(ctx);
    return step == 0;
}

/* One assistant turn: reuse the cached prefix of the conversation, run the rest, generate. */
static int chat_turn(bitnet_ctx *ctx, const cli_opts *o, chat_state *s) {
    const bitnet_vocab *vocab = bitnet_model_vocab(bitnet_ctx_model(ctx));
    bitnet_gen_params p;
    bitnet_gen *g = NULL;
    int32_t *ids = NULL, common = 0;
    size_t n;
    int rc;
    if (!chat_tokenize_history(vocab, s, &ids, &n)) return 0;
    while (n + 16 > (size_t)bitnet_ctx_n_ctx(ctx) && chat_forget_oldest(s)) {   /* keep room to answer */
        free(ids);
        if (!chat_tokenize_history(vocab, s, &ids, &n)) return 0;
    }
    while (common < s->n_cached && (size_t)common + 1 < n && s->cached[common] == ids[common]) common++;
    bitnet_ctx_truncate(ctx, common);
    s->n_cached = common;
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids + common;
    p.n_prompt_ids = (int32_t)(n - (size_t)common);
    p.max_tokens = o->n_predict;
    p.sampler = o->sampler;
    s->reply_len = 0;
    if (s->reply) s->reply[0] = 0;
    rc = bitnet_gen_new(&g, ctx, &p) == BITNET_OK && chat_remember(s, p.prompt_ids, p.n_prompt_ids) &&
         chat_generate(ctx, s, g);
    if (!rc) cli_fail("chat");
    bitnet_gen_free(g);
    free(ids);
    printf("\n");
    return rc;
}

static void chat_free(chat_state *s) {
    size_t i;
    for (i = 0; i < s->n_msgs; i++) free((void *)s->msgs[i].content);
    free(s->cached);
    free(s->reply);
}

static int chat_add(chat_state *s, const char *role, const char *content) {
    size_t n = strlen(content);
    char *copy = (char *)malloc(n + 1);
    if (!copy || s->n_msgs == CHAT_MAX_TURNS) {
        free(copy);
        fprintf(stderr, "bitnet: chat: conversation too long\n");
        return 0;
    }
    memcpy(copy, content, n + 1);
    s->msgs[s->n_msgs].role = role;
    s->msgs[s->n_msgs].content = copy;
    s->n_msgs++;
    return 1;
}

int cmd_chat(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    chat_state s;
    static char line[CHAT_LINE];
    int rc = 1;
    memset(&s, 0, sizeof s);
    if (!cli_parse(argc, argv, &o)) return 1;
    if (cli_load_model(&o, 0, &model) && cli_new_ctx(&o, model, 0, 0, &ctx) &&
        (!o.system || chat_add(&s, "system", o.system))) {
        rc = 0;
        for (;;) {
            size_t len;
            if (cli_isatty(0)) fprintf(stderr, "> ");
            if (!fgets(line, sizeof line, stdin)) break;
            len = strlen(line);
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
            if (!len) continue;
            if (!chat_add(&s, "user", line) || !chat_turn(ctx, &o, &s) ||
                !chat_add(&s, "assistant", s.reply ? s.reply : "")) {
                rc = 1;
                break;
            }
        }
    }
    chat_free(&s);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return rc;
}
