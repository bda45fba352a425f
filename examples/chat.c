/* chat.c - an interactive chat that keeps the conversation.
   Build: cc -O2 -I. examples/chat.c -lpthread -lm
          (a copy beside a copy of bitnet.h: cc -O2 chat.c -lpthread -lm)
   Run:   ./a.out model.gguf ["system prompt"]   (or set BITNET_MODEL_PATH); empty line or EOF quits.

   Each turn tokenizes the whole conversation in the model's chat format (bitnet_chat_tokenize:
   what the user types stays text, never control tokens). The tokens the context already holds
   from earlier turns are kept: only the new part is decoded (bitnet_ctx_truncate drops whatever
   differs). A vocabulary without a known chat format falls back to a plain "User: ... / Assistant:" transcript. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MSGS 256
#define MAX_REPLY 8192

typedef struct chat {
    bitnet_chat_message msgs[MAX_MSGS];
    int n_msgs;
    int32_t *cache;               /* (n_ctx + 1) the tokens of the context, in order, + the last sampled */
    int32_t n_cache;
    char reply[MAX_REPLY];        /* the assistant's text of this turn */
    size_t reply_len;
} chat;

static char *copy_str(const char *s) {
    char *d = (char *)malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static void add_msg(chat *c, const char *role, const char *content) {
    c->msgs[c->n_msgs].role = role;
    c->msgs[c->n_msgs].content = copy_str(content);
    c->n_msgs++;
}

/* A plain "User: ... / Assistant:" transcript (malloc'd), for a model without a chat format. */
static char *plain_transcript(const chat *c) {
    size_t cap = 64;
    char *text;
    int i;
    for (i = 0; i < c->n_msgs; i++) cap += strlen(c->msgs[i].content) + 16;
    if (!(text = (char *)malloc(cap))) return NULL;
    text[0] = 0;
    for (i = 0; i < c->n_msgs; i++)
        sprintf(text + strlen(text), "%s: %s\n", !strcmp(c->msgs[i].role, "user") ? "User" :
                !strcmp(c->msgs[i].role, "system") ? "System" : "Assistant", c->msgs[i].content);
    strcat(text, "Assistant:");
    return text;
}

/* The conversation as token ids (malloc'd). bitnet_chat_tokenize keeps what the user typed as
   text: "<|eot_id|>" in a message stays characters, only the template's markers are special. */
static int32_t *conversation_ids(const bitnet_vocab *vocab, const chat *c, int plain, size_t *n) {
    int32_t *ids;
    char *text = NULL;
    bitnet_status st;
    *n = 0;
    if (!plain) {
        /* asking with cap 0 gives the count (and BITNET_ERR_ARGS) */
        bitnet_chat_tokenize(vocab, BITNET_CHAT_AUTO, c->msgs, (size_t)c->n_msgs, 1, NULL, 0, n);
    } else {
        if (!(text = plain_transcript(c))) return NULL;
        bitnet_tokenize(vocab, text, strlen(text), 1, 0, NULL, 0, n);
    }
    ids = (int32_t *)malloc((*n ? *n : 1) * sizeof *ids);
    if (!ids) { free(text); return NULL; }
    st = plain ? bitnet_tokenize(vocab, text, strlen(text), 1, 0, ids, *n, n)
               : bitnet_chat_tokenize(vocab, BITNET_CHAT_AUTO, c->msgs, (size_t)c->n_msgs, 1, ids, *n, n);
    free(text);
    if (st != BITNET_OK) { free(ids); return NULL; }
    return ids;
}

/* Runs one assistant turn: 1 done, 0 failed (the message is printed), -1 the prompt is too long. */
static int chat_turn(bitnet_ctx *ctx, const bitnet_vocab *vocab, chat *c, int plain) {
    static const char *stops[] = { "\nUser:" };  /* the plain transcript's next turn */
    size_t n = 0;
    int32_t *ids = conversation_ids(vocab, c, plain, &n), common = 0;
    bitnet_gen_params p;
    bitnet_gen *g = NULL;
    int rc = -1, too_long = 0;

    if (!ids) goto done;
    if ((int32_t)n >= bitnet_ctx_n_ctx(ctx)) { too_long = 1; goto done; }

    /* Keep the longest common prefix of the cached tokens; at least one token is decoded anew. */
    while (common < c->n_cache && common < (int32_t)n - 1 && c->cache[common] == ids[common]) common++;
    bitnet_ctx_truncate(ctx, common);
    memcpy(c->cache, ids, n * sizeof *ids);
    c->n_cache = (int32_t)n;

    memset(&p, 0, sizeof p);
    p.prompt_ids = ids + common;
    p.n_prompt_ids = (int32_t)n - common;
    p.max_tokens = 256;
    p.sampler = bitnet_sampler_default_params();
    p.stop = plain ? stops : NULL;
    p.n_stop = plain ? 1 : 0;
    c->reply_len = 0;
    if (bitnet_gen_new(&g, ctx, &p) != BITNET_OK) goto done;
    do {
        const char *piece;
        size_t len;
        rc = bitnet_gen_step(g, &piece, &len);
        if (bitnet_gen_stats_get(g)->n_generated > c->n_cache - (int32_t)n)   /* a new token: remember it */
            c->cache[c->n_cache++] = bitnet_gen_last_token(g);
        fwrite(piece, 1, len, stdout);
        fflush(stdout);
        if (len > MAX_REPLY - 1 - c->reply_len) len = MAX_REPLY - 1 - c->reply_len;
        memcpy(c->reply + c->reply_len, piece, len);
        c->reply_len += len;
    } while (rc > 0);
    c->reply[c->reply_len] = 0;
    putchar('\n');
    /* The last sampled token was never decoded: the context holds bitnet_ctx_pos tokens. */
    c->n_cache = bitnet_ctx_pos(ctx);
done:
    if (!too_long && (rc < 0 || !g)) fprintf(stderr, "error: %s\n", bitnet_last_error());
    bitnet_gen_free(g);
    free(ids);
    return too_long ? -1 : rc == 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("BITNET_MODEL_PATH");
    static chat c;
    char line[4096];
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    const bitnet_vocab *vocab;
    int plain, i, rc, first;

    if (!path) { fprintf(stderr, "usage: %s MODEL.gguf [SYSTEM]  (or set BITNET_MODEL_PATH)\n", argv[0]); return 1; }
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = path;
    if (bitnet_model_load(&model, &mp) != BITNET_OK) { fprintf(stderr, "error: %s\n", bitnet_last_error()); return 1; }
    cp.n_ctx = bitnet_model_hparams(model)->n_ctx_train < 4096 ? bitnet_model_hparams(model)->n_ctx_train : 4096;
    c.cache = (int32_t *)malloc(((size_t)cp.n_ctx + 1) * sizeof *c.cache);
    if (!c.cache || bitnet_ctx_new(&ctx, model, &cp) != BITNET_OK) {
        fprintf(stderr, "error: %s\n", c.cache ? bitnet_last_error() : "out of memory");
        bitnet_model_free(model);
        return 1;
    }
    vocab = bitnet_model_vocab(model);
    plain = bitnet_vocab_chat_format(vocab) == BITNET_CHAT_AUTO;
    if (plain) fprintf(stderr, "[this model has no known chat format: using a plain User/Assistant transcript]\n");
    if (argc > 2) add_msg(&c, "system", argv[2]);
    first = c.n_msgs;                          /* the first message that may be dropped */

    for (;;) {
        printf("> ");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) break;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) break;
        if (c.n_msgs + 2 > MAX_MSGS) { fprintf(stderr, "[too many messages]\n"); break; }
        add_msg(&c, "user", line);
        while ((rc = chat_turn(ctx, vocab, &c, plain)) < 0 && c.n_msgs > first + 1) {
            /* too long for the context: forget the oldest exchange (the system message stays) */
            int drop = c.n_msgs - first >= 3 ? 2 : 1;
            for (i = first; i < first + drop; i++) free((void *)c.msgs[i].content);
            memmove(c.msgs + first, c.msgs + first + drop, (size_t)(c.n_msgs - first - drop) * sizeof c.msgs[0]);
            c.n_msgs -= drop;
            fprintf(stderr, "[dropped the oldest exchange to fit the context]\n");
        }
        if (rc <= 0) {
            if (rc < 0) fprintf(stderr, "[the message does not fit the context]\n");
            free((void *)c.msgs[--c.n_msgs].content);
            continue;
        }
        add_msg(&c, "assistant", c.reply);
    }
    for (i = 0; i < c.n_msgs; i++) free((void *)c.msgs[i].content);
    free(c.cache);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return 0;
}
