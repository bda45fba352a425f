/* bitnet chat -m M [--system TEXT]: reads user turns from stdin, answers in the model's chat
   format (BitNet 2B-4T or Llama 3), or as a plain "User: / Assistant:" transcript when the model
   has no chat template. The context keeps the conversation; each turn only the tokens after the
   part already in the cache are run. When the conversation outgrows the context (or the message
   list), the oldest exchanges are dropped. Ctrl-C stops the reply being written; a second Ctrl-C
   (before it stopped, or at the prompt) quits with status 130; Ctrl-D at the prompt quits (0). */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#  define _POSIX_C_SOURCE 200809L      /* sigaction */
#endif
#include "cli.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#  include <unistd.h>
#endif
#include "platform.h"

#define CHAT_MAX_MSGS 256
#define CHAT_LINE 65536
#define CHAT_ROOM 16                /* tokens kept free for the answer when trimming history */

typedef struct chat_state {
    bitnet_chat_message msgs[CHAT_MAX_MSGS];
    size_t n_msgs;
    int plain;                      /* no chat template: a plain transcript */
    int32_t *cached;                /* ids in the context, in order */
    int32_t n_cached, cap_cached;
    char *reply;                    /* the assistant's text of this turn */
    size_t reply_len, reply_cap;
} chat_state;

static volatile sig_atomic_t chat_interrupts, chat_replying;

static void chat_on_sigint(int sig) {
    (void)sig;
    chat_interrupts++;
    if (chat_replying && chat_interrupts >= 2) {
        static const char nl[] = "\n";
        if (write(2, nl, 1) < 0) {}
        _exit(130);
    }
}

/* SIGINT without SA_RESTART: a Ctrl-C at the prompt ends the blocked read. */
static void chat_catch_sigint(void) {
#if !defined(_WIN32)
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = chat_on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
#else
    signal(SIGINT, chat_on_sigint);
#endif
}

static int chat_is_tty(int fd) {
#if !defined(_WIN32)
    return isatty(fd);
#else
    (void)fd;
    return 0;
#endif
}

static int chat_keep_reply(chat_state *s, const char *text, size_t len) {
    if (s->reply_len + len + 1 > s->reply_cap) {
        char *p = (char *)realloc(s->reply, (s->reply_len + len + 1) * 2);
        if (!p) return 0;
        s->reply = p;
        s->reply_cap = (s->reply_len + len + 1) * 2;
    }
    memcpy(s->reply + s->reply_len, text, len);
    s->reply_len += len;
    s->reply[s->reply_len] = 0;
    return 1;
}

static const char *chat_speaker(const char *role) {
    return !strcmp(role, "user") ? "User" : !strcmp(role, "system") ? "System" : "Assistant";
}

/* The plain transcript: "System: ...\nUser: ...\nAssistant: ...\n...Assistant:" (malloc'd). */
static char *chat_transcript(const chat_state *s) {
    size_t i, len = 16, at = 0;
    char *text;
    for (i = 0; i < s->n_msgs; i++) len += strlen(s->msgs[i].content) + 16;
    if (!(text = (char *)malloc(len))) return NULL;
    for (i = 0; i < s->n_msgs; i++)
        at += (size_t)sprintf(text + at, "%s: %s\n", chat_speaker(s->msgs[i].role), s->msgs[i].content);
    strcpy(text + at, "Assistant:");
    return text;
}

/* The conversation so far as token ids (the prompt of this turn). Message text stays text: only
   the template's markers become special tokens (the plain transcript has none). */
static int chat_tokenize_history(const bitnet_vocab *vocab, chat_state *s, int32_t **ids, size_t *n) {
    char *text = NULL;
    bitnet_status st;
    *n = 0;
    if (s->plain) {
        if (!(text = chat_transcript(s))) return !cli_fail("chat");
        bitnet_tokenize(vocab, text, strlen(text), 1, 0, NULL, 0, n);
    } else {
        bitnet_chat_tokenize(vocab, BITNET_CHAT_AUTO, s->msgs, s->n_msgs, 1, NULL, 0, n);
    }
    *ids = (int32_t *)malloc((*n + 1) * sizeof **ids);
    st = !*ids ? BITNET_ERR_NOMEM
       : s->plain ? bitnet_tokenize(vocab, text, strlen(text), 1, 0, *ids, *n, n)
       : bitnet_chat_tokenize(vocab, BITNET_CHAT_AUTO, s->msgs, s->n_msgs, 1, *ids, *n, n);
    free(text);
    if (st != BITNET_OK) {
        free(*ids);
        *ids = NULL;
        return !cli_fail("chat");
    }
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

/* Drops the oldest exchange after any system message (a lone oldest message when no pair is
   left before the current turn); 0 when only the current turn is left. */
static int chat_forget_oldest(chat_state *s) {
    size_t first = s->n_msgs && !strcmp(s->msgs[0].role, "system") ? 1 : 0, drop, i;
    if (s->n_msgs < first + 2) return 0;
    drop = s->n_msgs >= first + 3 ? 2 : 1;
    for (i = first; i < first + drop; i++) free((void *)s->msgs[i].content);
    memmove(&s->msgs[first], &s->msgs[first + drop], (s->n_msgs - first - drop) * sizeof s->msgs[0]);
    s->n_msgs -= drop;
    s->n_cached = 0;
    return 1;
}

/* Generates the reply, printing it; the generated ids are appended to s->cached as far as they
   entered the context (the final token of a turn is sampled but not run). Ctrl-C cancels.
   Returns 1, 0 on a library error, -1 when stdout failed. */
static int chat_generate(bitnet_ctx *ctx, chat_state *s, bitnet_gen *g) {
    const char *text;
    size_t len;
    int step;
    int32_t n_gen = 0;
    chat_interrupts = 0;
    chat_replying = 1;
    while ((step = bitnet_gen_step(g, &text, &len)) >= 0) {
        if (len && (!chat_keep_reply(s, text, len) || !cli_write(text, len))) { step = -1000; break; }
        if (bitnet_gen_stats_get(g)->n_generated > n_gen) {
            int32_t id = bitnet_gen_last_token(g);
            n_gen++;
            if (!chat_remember(s, &id, 1)) { step = BITNET_ERR_NOMEM; break; }
        }
        if (step == 0) break;
        if (chat_interrupts) bitnet_gen_cancel(g);
    }
    chat_replying = 0;
    s->n_cached = bitnet_ctx_pos(ctx);
    if (step == 0 && bitnet_gen_stats_get(g)->stop_reason == BITNET_STOP_CANCELLED) fprintf(stderr, "\n[stopped]");
    return step == 0 ? 1 : step == -1000 ? -1 : 0;
}

/* One assistant turn: reuse the cached prefix of the conversation, run the rest, generate.
   Returns 1, 0 on an error (printed), -1 when stdout failed, 2 when the message alone does not
   fit the context (printed; the message is dropped). */
static int chat_turn(bitnet_ctx *ctx, const cli_opts *o, chat_state *s) {
    static const char *const plain_stops[] = { "\nUser:" };
    const bitnet_vocab *vocab = bitnet_model_vocab(bitnet_ctx_model(ctx));
    bitnet_gen_params p;
    bitnet_gen *g = NULL;
    int32_t *ids = NULL, common = 0;
    size_t n;
    int rc;
    if (!chat_tokenize_history(vocab, s, &ids, &n)) return 0;
    while (n + CHAT_ROOM > (size_t)bitnet_ctx_n_ctx(ctx) && chat_forget_oldest(s)) {   /* keep room to answer */
        free(ids);
        if (!chat_tokenize_history(vocab, s, &ids, &n)) return 0;
    }
    if (n + 1 > (size_t)bitnet_ctx_n_ctx(ctx)) {
        fprintf(stderr, "bitnet: chat: the message is %zu tokens, the context holds %d (-c); not sent\n", n,
                bitnet_ctx_n_ctx(ctx));
        free(ids);
        return 2;
    }
    if (o->verbose_prompt) {
        size_t i;
        fprintf(stderr, "[prompt:");
        for (i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "]\n");
    }
    while (common < s->n_cached && (size_t)common + 1 < n && s->cached[common] == ids[common]) common++;
    bitnet_ctx_truncate(ctx, common);
    s->n_cached = common;
    memset(&p, 0, sizeof p);
    p.prompt_ids = ids + common;
    p.n_prompt_ids = (int32_t)(n - (size_t)common);
    p.max_tokens = o->n_predict;
    p.sampler = o->sampler;
    p.stop = s->plain ? plain_stops : NULL;
    p.n_stop = s->plain ? 1 : 0;
    p.draft = o->draft;
    p.draft_max = o->draft_max;
    p.draft_context = ids;                  /* the conversation already in the cache: more to look up */
    p.n_draft_context = common;
    s->reply_len = 0;
    if (s->reply) s->reply[0] = 0;
    rc = bitnet_gen_new(&g, ctx, &p) == BITNET_OK && chat_remember(s, p.prompt_ids, p.n_prompt_ids) ? 1 : 0;
    if (rc) rc = chat_generate(ctx, s, g);
    if (rc == 0) cli_fail("chat");
    else if (rc == 1 && o->draft) cli_print_draft_stats(bitnet_gen_stats_get(g));
    bitnet_gen_free(g);
    free(ids);
    if (rc > 0 && !cli_write("\n", 1)) rc = -1;
    return rc;
}

static void chat_free(chat_state *s) {
    size_t i;
    for (i = 0; i < s->n_msgs; i++) free((void *)s->msgs[i].content);
    free(s->cached);
    free(s->reply);
}

/* Appends a message; a full list first drops the oldest exchange. */
static int chat_add(chat_state *s, const char *role, const char *content) {
    size_t n = strlen(content);
    char *copy = (char *)malloc(n + 1);
    if (s->n_msgs == CHAT_MAX_MSGS) chat_forget_oldest(s);
    if (!copy || s->n_msgs == CHAT_MAX_MSGS) {
        free(copy);
        fprintf(stderr, "bitnet: chat: out of memory\n");
        return 0;
    }
    memcpy(copy, content, n + 1);
    s->msgs[s->n_msgs].role = role;
    s->msgs[s->n_msgs].content = copy;
    s->n_msgs++;
    return 1;
}

static void chat_drop_last(chat_state *s) {
    free((void *)s->msgs[--s->n_msgs].content);
}

/* Reads one line; 0 at end of input or a Ctrl-C at the prompt. */
static int chat_read_line(char *line, size_t cap) {
    size_t len;
    if (chat_is_tty(0)) fprintf(stderr, "> ");
    chat_interrupts = 0;
    if (!fgets(line, (int)cap, stdin)) {
        if (chat_is_tty(0)) fprintf(stderr, "\n");        /* leave the terminal on a new line */
        return 0;
    }
    len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    return 1;
}

static int chat_loop(bitnet_ctx *ctx, const cli_opts *o, chat_state *s) {
    static char line[CHAT_LINE];
    for (;;) {
        int rc;
        if (!chat_read_line(line, sizeof line)) return chat_interrupts ? 130 : 0;   /* Ctrl-C or Ctrl-D */
        if (!line[0]) continue;
        if (!chat_add(s, "user", line)) return 1;
        rc = chat_turn(ctx, o, s);
        if (rc == 2) { chat_drop_last(s); continue; }
        if (rc <= 0) return 1;
        if (!chat_add(s, "assistant", s->reply ? s->reply : "")) return 1;
    }
}

int cmd_chat(int argc, char **argv) {
    cli_opts o;
    bitnet_model *model = NULL;
    bitnet_ctx *ctx = NULL;
    chat_state s;
    int rc = 1;
    memset(&s, 0, sizeof s);
    if (!cli_parse(argc, argv, &o)) return 1;
    if (cli_load_model(&o, 0, &model) && cli_new_ctx(&o, model, 0, 0, &ctx) &&
        (!o.system || chat_add(&s, "system", o.system))) {
        s.plain = bitnet_vocab_chat_format(bitnet_model_vocab(model)) == BITNET_CHAT_AUTO;
        if (s.plain)
            fprintf(stderr, "bitnet: chat: this model has no chat template; using a plain User:/Assistant: transcript\n");
        chat_catch_sigint();
        rc = chat_loop(ctx, &o, &s);
    }
    chat_free(&s);
    bitnet_ctx_free(ctx);
    bitnet_model_free(model);
    return rc;
}
