/* bitnet serve - an OpenAI-compatible HTTP server: one model, one context holding SLOTS
   sequences, ONE batching loop (the main thread, after loading) that advances every active slot
   with a single bitnet_gen_step_batch per step. Each connection has a thread that reads and
   checks its request, hands it to the loop through a bounded queue (503 when full) and writes the
   answer (whole, or as server-sent events) from the text the loop appends to the request.
   The loop never writes to a socket, so a slow client slows nobody else.

   Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health,
   GET /metrics (also without the /v1 prefix). Errors have OpenAI's shape
   {"error":{"message","type","param","code"}}.

   Prompt cache: a slot keeps its KV cache and the tokens in it; a request goes to the free slot
   whose tokens share the longest prefix with its prompt, and only the rest is computed.
   Chat prompts: the template's markers are tokenized as special tokens, message contents always
   as plain text (a "<|eot_id|>" typed in a message is text, never a control token). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "http.h"
#include "json.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAX_STOP 4
#define SRV_MAX_CONNS 256
#define SRV_OUT_INITIAL 4096
/* Prompt tokens per step while other streams are generating (chunked prefill): a step then costs
   about one decode plus this many prompt tokens, so a long prompt arriving delays the running
   streams by that much per token instead of by a whole n_batch (512) chunk. */
#define SRV_PREFILL_BUDGET 32

typedef struct srv_opts {
    const char *model, *host, *api_key, *alias;
    int port, n_slots, n_ctx, threads, queue, timeout_s, max_body_mb;
    int kv_f16, prefill_budget;
} srv_opts;

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct srv_job {
    int chat;                          /* chat.completion vs text_completion */
    int stream, include_usage;
    int32_t *prompt, n_prompt;         /* (n_prompt) ids, BOS included */
    int32_t max_tokens;                /* 0 = until end of generation / full context */
    int ignore_eos;                    /* llama-server's extension: go on past end-of-generation */
    bitnet_sampler_params sampler;
    char *stop_text[SRV_MAX_STOP];
    int n_stop;
    char id[48];
    long long created;
    /* shared with the loop, under srv.mu */
    pthread_cond_t cv;
    char *out;                         /* (out_cap) generated text; out_taken bytes already sent */
    size_t out_len, out_cap, out_taken;
    int state, cancel;
    int error;                         /* 0, or the HTTP status of a failure */
    char error_msg[160];
    const char *finish;                /* "stop" or "length" once done */
    int32_t n_gen, n_cached;
} srv_job;

typedef struct srv_slot {
    srv_job *job;                      /* NULL: free */
    bitnet_gen *gen;
    int32_t *tokens, n_tokens;         /* (n_ctx_slot) what this sequence's KV cache holds */
    int32_t n_gen_seen;
    int32_t step_pos;                  /* the sequence's length before the step running now */
    int step_prefilling;               /* its prompt was not all in before that step */
    unsigned long long admitted;       /* admission number: the batch lists slots in this order */
} srv_slot;

typedef struct srv {
    srv_opts o;
    bitnet_model *model;
    const bitnet_vocab *vocab;
    bitnet_ctx *ctx;
    int32_t n_ctx_slot, n_vocab;
    bitnet_chat_format_id chat_format;
    volatile int ready, stopping;
    int listen_fd;
    pthread_mutex_t mu;
    pthread_cond_t loop_cv, conns_cv;
    srv_job **queue;                   /* (o.queue) ring */
    int q_head, q_len;
    srv_slot *slots;                   /* (o.n_slots) */
    int n_conns;
    unsigned long long id_counter;
    /* metrics, under mu */
    unsigned long long n_admitted;     /* requests given a slot so far */
    unsigned long long m_requests, m_prompt_tokens, m_cached_tokens, m_gen_tokens, m_errors, m_cancelled;
    double m_busy_ms;
    int32_t m_prefill_beside_max;      /* most prompt tokens one step ran beside streams it gave a token */
    long long created;                 /* when the server started (for /v1/models) */
} srv;

static volatile sig_atomic_t srv_signal;

static void srv_on_signal(int sig) { srv_signal = sig; }

/* ---- options ---- */

static int srv_int_arg(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "bitnet serve: %s wants a whole number in [%d, %d], got '%s'\n", flag, lo, hi, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

static int srv_parse(int argc, char **argv, srv_opts *o) {
    int i;
    const char *env;
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->n_slots = 1;
    o->timeout_s = 30;
    o->max_body_mb = 8;
    o->prefill_budget = SRV_PREFILL_BUDGET;
    if ((env = getenv("BITNET_MODEL_PATH")) && *env) o->model = env;
    for (i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) {
            printf("usage: bitnet serve -m MODEL [--host 127.0.0.1] [--port 8080] [-np SLOTS] [-c CTX]\n"
                   "       [--api-key KEY] [-t THREADS] [--alias NAME] [--queue N] [--timeout S]\n"
                   "       [--max-body-mb N] [--cache-type f32|f16] [--prefill-budget N]\n"
                   "  -c is the context of all slots together (each gets CTX / SLOTS positions);\n"
                   "  --port 0 picks a free port (printed on stderr);\n"
                   "  --prefill-budget N: most prompt tokens per step while other streams generate\n"
                   "  (chunked prefill; default %d, 0 = no limit but the 512-token batch).\n", SRV_PREFILL_BUDGET);
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bitnet serve: option '%s' needs a value\n", f);
            return 0;
        }
        v = argv[++i];
        if (!strcmp(f, "-m") || !strcmp(f, "--model")) o->model = v;
        else if (!strcmp(f, "--host")) o->host = v;
        else if (!strcmp(f, "--api-key")) o->api_key = v;
        else if (!strcmp(f, "--alias")) o->alias = v;
        else if (!strcmp(f, "--port")) { if (!srv_int_arg(f, v, 0, 65535, &o->port)) return 0; }
        else if (!strcmp(f, "-np") || !strcmp(f, "--parallel")) { if (!srv_int_arg(f, v, 1, 256, &o->n_slots)) return 0; }
        else if (!strcmp(f, "-c") || !strcmp(f, "--ctx-size")) { if (!srv_int_arg(f, v, 0, 1 << 24, &o->n_ctx)) return 0; }
        else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) { if (!srv_int_arg(f, v, 0, 1024, &o->threads)) return 0; }
        else if (!strcmp(f, "--queue")) { if (!srv_int_arg(f, v, 1, 1 << 16, &o->queue)) return 0; }
        else if (!strcmp(f, "--timeout")) { if (!srv_int_arg(f, v, 1, 3600, &o->timeout_s)) return 0; }
        else if (!strcmp(f, "--max-body-mb")) { if (!srv_int_arg(f, v, 1, 1024, &o->max_body_mb)) return 0; }
        else if (!strcmp(f, "--prefill-budget")) { if (!srv_int_arg(f, v, 0, 1 << 16, &o->prefill_budget)) return 0; }
        else if (!strcmp(f, "--cache-type")) {
            if (strcmp(v, "f32") && strcmp(v, "f16")) {
                fprintf(stderr, "bitnet serve: --cache-type wants f32 or f16, got '%s'\n", v);
                return 0;
            }
            o->kv_f16 = !strcmp(v, "f16");
        } else {
            fprintf(stderr, "bitnet serve: unknown option '%s'\n", f);
            return 0;
        }
    }
    if (!o->model) {
        fprintf(stderr, "bitnet serve: no model (use -m FILE or set BITNET_MODEL_PATH)\n");
        return 0;
    }
    if (!o->queue) o->queue = 64 > 4 * o->n_slots ? 64 : 4 * o->n_slots;
    if (!o->alias) {
        const char *slash = strrchr(o->model, '/');
        o->alias = slash ? slash + 1 : o->model;
    }
    return 1;
}

/* ---- small helpers ---- */

static double srv_now_ms(void) { return bitnet_time_ms(); }

static void srv_deadline(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) { ts->tv_sec++; ts->tv_nsec -= 1000000000L; }
}

/* Sends an OpenAI-shaped error; returns keep_alive. */
static int srv_error(int fd, json_writer *w, int status, int keep_alive, const char *param, const char *code,
                     const char *fmt, ...) {
    char msg[512];
    va_list ap;
    const char *type = status == 401 ? "authentication_error"
                     : status >= 500 ? (status == 503 ? "unavailable_error" : "server_error")
                     : "invalid_request_error";
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_w_reset(w);
    json_w_obj(w);
    json_w_key(w, "error");
    json_w_obj(w);
    json_w_key(w, "message"); json_w_cstr(w, msg);
    json_w_key(w, "type"); json_w_cstr(w, type);
    json_w_key(w, "param"); json_w_cstr(w, param);
    json_w_key(w, "code"); json_w_cstr(w, code);
    json_w_obj_end(w);
    json_w_obj_end(w);
    if (w->failed) return 0;
    if (http_send(fd, status, "application/json", w->buf, w->len, keep_alive,
                  status == 401 ? "WWW-Authenticate: Bearer\r\n" : NULL))
        return 0;
    return keep_alive;
}

static int srv_send_json(int fd, json_writer *w, int keep_alive) {
    if (w->failed) return 0;
    return http_send(fd, 200, "application/json", w->buf, w->len, keep_alive, NULL) ? 0 : keep_alive;
}

/* ---- prompts ---- */

typedef struct srv_ids { int32_t *ids; size_t n, cap; } srv_ids;

/* Appends the tokens of text (special: control-token spellings become those tokens). */
static int srv_tokenize_into(const srv *s, srv_ids *t, const char *text, size_t len, int add_bos, int special) {
    for (;;) {
        size_t room = t->cap - t->n, n = 0, cap;
        int32_t *ids;
        bitnet_status st = bitnet_tokenize(s->vocab, text, len, add_bos, special, t->ids ? t->ids + t->n : NULL,
                                           room, &n);
        if (st == BITNET_OK) { t->n += n; return 1; }
        if (st != BITNET_ERR_ARGS || n <= room) return 0;
        for (cap = t->cap ? t->cap : 256; cap - t->n < n; cap *= 2) {}
        if (!(ids = (int32_t *)realloc(t->ids, cap * sizeof *ids))) return 0;
        t->ids = ids;
        t->cap = cap;
    }
}

/* One message's text: a string or an array of {"type":"text","text":...} parts, joined. */
static const char *srv_message_text(const json_value *content, char **owned, size_t *len) {
    const json_value *part;
    size_t total = 0, i, at = 0;
    *owned = NULL;
    if (content && content->type == JSON_STRING) { *len = content->u.str.len; return content->u.str.s; }
    if (!content || content->type != JSON_ARRAY) return NULL;
    for (i = 0, part = json_first(content); i < content->count; i++, part = json_next(part)) {
        const json_value *text = json_get(part, "text");
        if (!json_is_str(json_get(part, "type"), "text") || !text || text->type != JSON_STRING) return NULL;
        total += text->u.str.len;
    }
    if (!(*owned = (char *)malloc(total + 1))) return NULL;
    for (i = 0, part = json_first(content); i < content->count; i++, part = json_next(part)) {
        const json_value *text = json_get(part, "text");
        memcpy(*owned + at, text->u.str.s, text->u.str.len);
        at += text->u.str.len;
    }
    (*owned)[at] = 0;
    *len = at;
    return *owned;
}

/* Message i as the library's chat message: role developer is system; the content's text (joined
   from parts into *owned, which the caller frees) must hold no NUL, as the library reads C strings.
   Returns 0 and sets err on a bad message. */
static int srv_chat_message(const json_value *m, uint32_t i, bitnet_chat_message *out, char **owned, char *err,
                            size_t err_size) {
    const json_value *role = json_get(m, "role");
    const char *r, *text;
    size_t len;
    if (!role || role->type != JSON_STRING) {
        snprintf(err, err_size, "messages[%u].role must be a string", (unsigned)i);
        return 0;
    }
    r = role->u.str.s;
    if (!strcmp(r, "developer")) r = "system";
    if (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")) {
        snprintf(err, err_size, "messages[%u].role '%.40s' is not system, developer, user or assistant", (unsigned)i, r);
        return 0;
    }
    if (!(text = srv_message_text(json_get(m, "content"), owned, &len))) {
        snprintf(err, err_size, "messages[%u].content must be a string or an array of text parts", (unsigned)i);
        return 0;
    }
    if (strlen(text) != len) {
        snprintf(err, err_size, "messages[%u].content holds a NUL character", (unsigned)i);
        return 0;
    }
    out->role = r;
    out->content = text;
    return 1;
}

/* The ids of the conversation (with the assistant's turn opener) into t, sized by a first call. */
static int srv_chat_ids(const srv *s, const bitnet_chat_message *cm, size_t n_msgs, srv_ids *t, char *err,
                        size_t err_size) {
    size_t n = 0;
    bitnet_status st = bitnet_chat_tokenize(s->vocab, s->chat_format, cm, n_msgs, 1, NULL, 0, &n);
    if (st == BITNET_ERR_ARGS && n > 0) {
        if (!(t->ids = (int32_t *)malloc(n * sizeof *t->ids))) {
            snprintf(err, err_size, "out of memory for %zu prompt tokens", n);
            return 0;
        }
        t->cap = n;
        st = bitnet_chat_tokenize(s->vocab, s->chat_format, cm, n_msgs, 1, t->ids, t->cap, &t->n);
    }
    if (st != BITNET_OK) snprintf(err, err_size, "cannot tokenize the messages: %s", bitnet_last_error());
    return st == BITNET_OK;
}

/* The chat prompt's ids from bitnet_chat_tokenize: message text stays text, only the template's
   markers become control tokens. Returns 0 and sets err on a bad message. */
static int srv_chat_prompt(const srv *s, const json_value *msgs, srv_ids *t, char *err, size_t err_size) {
    bitnet_chat_message *cm;
    char **owned;
    const json_value *m;
    uint32_t i, n_msgs;
    int ok = 1;
    if (!msgs || msgs->type != JSON_ARRAY || msgs->count == 0) {
        snprintf(err, err_size, "'messages' must be a non-empty array");
        return 0;
    }
    n_msgs = msgs->count;
    cm = (bitnet_chat_message *)calloc(n_msgs, sizeof *cm);
    owned = (char **)calloc(n_msgs, sizeof *owned);
    if (!cm || !owned) { snprintf(err, err_size, "out of memory"); ok = 0; }
    for (i = 0, m = json_first(msgs); ok && i < n_msgs; i++, m = json_next(m))
        ok = srv_chat_message(m, i, &cm[i], &owned[i], err, err_size);
    if (ok) ok = srv_chat_ids(s, cm, n_msgs, t, err, err_size);
    for (i = 0; owned && i < n_msgs; i++) free(owned[i]);
    free(owned);
    free(cm);
    return ok;
}

static int srv_completion_prompt(const srv *s, const json_value *p, srv_ids *t, char *err, size_t err_size) {
    uint32_t i;
    const json_value *e;
    if (p && p->type == JSON_ARRAY && p->count == 1 && json_first(p)->type == JSON_STRING) p = json_first(p);
    if (p && p->type == JSON_STRING) {
        if (srv_tokenize_into(s, t, p->u.str.s, p->u.str.len, 1, 1)) return 1;
        snprintf(err, err_size, "cannot tokenize the prompt: %s", bitnet_last_error());
        return 0;
    }
    if (!p || p->type != JSON_ARRAY || p->count == 0) {
        snprintf(err, err_size, "'prompt' must be a string or a non-empty array of token ids");
        return 0;
    }
    if (!(t->ids = (int32_t *)malloc(p->count * sizeof *t->ids))) return 0;
    t->cap = p->count;
    for (i = 0, e = json_first(p); i < p->count; i++, e = json_next(e)) {
        if (e->type != JSON_NUMBER || !e->is_int || e->u.n.i < 0 || e->u.n.i >= s->n_vocab) {
            snprintf(err, err_size, "prompt[%u] is not a token id in [0, %d)", (unsigned)i, (int)s->n_vocab);
            return 0;
        }
        t->ids[t->n++] = (int32_t)e->u.n.i;
    }
    return 1;
}

/* ---- request fields ---- */

/* A number field in [lo, hi] (absent or null keeps *out). Returns 0 with err set when bad. */
static int srv_num(const json_value *body, const char *key, double lo, double hi, float *out, char *err, size_t es) {
    const json_value *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return 1;
    if (v->type != JSON_NUMBER || !(v->u.n.num >= lo && v->u.n.num <= hi)) {
        snprintf(err, es, "'%s' must be a number in [%g, %g]", key, lo, hi);
        return 0;
    }
    *out = (float)v->u.n.num;
    return 1;
}

static int srv_int(const json_value *body, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err, size_t es) {
    const json_value *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return 1;
    if (v->type != JSON_NUMBER || !v->is_int || v->u.n.i < lo || v->u.n.i > hi) {
        snprintf(err, es, "'%s' must be an integer in [%lld, %lld]", key, (long long)lo, (long long)hi);
        return 0;
    }
    *out = v->u.n.i;
    return 1;
}

static int srv_bool(const json_value *body, const char *key, int *out, char *err, size_t es) {
    const json_value *v = json_get(body, key);
    if (!v || v->type == JSON_NULL) return 1;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) {
        snprintf(err, es, "'%s' must be a boolean", key);
        return 0;
    }
    *out = v->type == JSON_TRUE;
    return 1;
}

static void srv_job_free(srv_job *j) {
    int i;
    if (!j) return;
    free(j->prompt);
    free(j->out);
    for (i = 0; i < j->n_stop; i++) free(j->stop_text[i]);
    pthread_cond_destroy(&j->cv);
    free(j);
}

static int srv_stops(srv_job *j, const json_value *stop, char *err, size_t es) {
    const json_value *e;
    uint32_t i, n;
    if (!stop || stop->type == JSON_NULL) return 1;
    n = stop->type == JSON_STRING ? 1 : stop->type == JSON_ARRAY ? stop->count : 0;
    if ((stop->type != JSON_STRING && stop->type != JSON_ARRAY) || n > SRV_MAX_STOP) {
        snprintf(err, es, "'stop' must be a string or an array of at most %d strings", SRV_MAX_STOP);
        return 0;
    }
    for (i = 0, e = stop->type == JSON_STRING ? stop : json_first(stop); i < n; i++, e = json_next(e)) {
        if (e->type != JSON_STRING || e->u.str.len == 0 || e->u.str.len > 512 || strlen(e->u.str.s) != e->u.str.len) {
            snprintf(err, es, "'stop' strings must be non-empty text of at most 512 bytes");
            return 0;
        }
        if (!(j->stop_text[j->n_stop] = (char *)malloc(e->u.str.len + 1))) return 0;
        memcpy(j->stop_text[j->n_stop++], e->u.str.s, e->u.str.len + 1);
    }
    return 1;
}

/* Builds a job from a request body; on a bad field returns NULL with the message in err and
   the field in *param. */
static srv_job *srv_job_from(srv *s, const json_value *body, int chat, char *err, size_t es, const char **param) {
    srv_job *j = (srv_job *)calloc(1, sizeof *j);
    srv_ids t = { NULL, 0, 0 };
    int64_t max_tokens = 0, seed = -1, top_k = -1, n = 1;
    float temp, top_p, min_p;
    const json_value *so;
    *param = NULL;
    if (!j) { snprintf(err, es, "out of memory"); return NULL; }
    pthread_cond_init(&j->cv, NULL);
    j->chat = chat;
    j->sampler = bitnet_sampler_default_params();
    temp = j->sampler.temperature; top_p = j->sampler.top_p; min_p = j->sampler.min_p;
    if (!body || body->type != JSON_OBJECT) { snprintf(err, es, "the request body must be a JSON object"); goto bad; }
#define SRV_FIELD(call, name) do { if (!(call)) { *param = name; goto bad; } } while (0)
    SRV_FIELD(srv_int(body, "max_tokens", 1, 1 << 30, &max_tokens, err, es), "max_tokens");
    SRV_FIELD(srv_int(body, "max_completion_tokens", 1, 1 << 30, &max_tokens, err, es), "max_completion_tokens");
    SRV_FIELD(srv_num(body, "temperature", 0, 2, &temp, err, es), "temperature");
    SRV_FIELD(srv_num(body, "top_p", 0, 1, &top_p, err, es), "top_p");
    SRV_FIELD(srv_int(body, "top_k", 0, 1 << 30, &top_k, err, es), "top_k");
    SRV_FIELD(srv_num(body, "min_p", 0, 1, &min_p, err, es), "min_p");
    SRV_FIELD(srv_num(body, "presence_penalty", -2, 2, &j->sampler.presence_penalty, err, es), "presence_penalty");
    SRV_FIELD(srv_num(body, "frequency_penalty", -2, 2, &j->sampler.frequency_penalty, err, es), "frequency_penalty");
    SRV_FIELD(srv_num(body, "repeat_penalty", 0, 10, &j->sampler.repeat_penalty, err, es), "repeat_penalty");
    SRV_FIELD(srv_int(body, "seed", INT64_MIN, INT64_MAX, &seed, err, es), "seed");
    SRV_FIELD(srv_int(body, "n", 1, 1, &n, err, es), "n");
    SRV_FIELD(srv_bool(body, "stream", &j->stream, err, es), "stream");
    SRV_FIELD(srv_bool(body, "ignore_eos", &j->ignore_eos, err, es), "ignore_eos");
    so = json_get(body, "stream_options");
    if (so && so->type != JSON_NULL) {
        if (so->type != JSON_OBJECT) { snprintf(err, es, "'stream_options' must be an object"); *param = "stream_options"; goto bad; }
        SRV_FIELD(srv_bool(so, "include_usage", &j->include_usage, err, es), "stream_options.include_usage");
    }
    SRV_FIELD(srv_stops(j, json_get(body, "stop"), err, es), "stop");
    if (chat) SRV_FIELD(srv_chat_prompt(s, json_get(body, "messages"), &t, err, es), "messages");
    else SRV_FIELD(srv_completion_prompt(s, json_get(body, "prompt"), &t, err, es), "prompt");
#undef SRV_FIELD
    j->sampler.temperature = temp;
    j->sampler.top_p = top_p;
    j->sampler.min_p = min_p;
    if (top_k >= 0) j->sampler.top_k = (int32_t)top_k;
    if (temp <= 0) j->sampler.greedy = 1;
    if (seed >= 0 || seed < -1) j->sampler.seed = (uint64_t)seed;
    else j->sampler.seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)j ^ (uint64_t)(srv_now_ms() * 1000);
    j->max_tokens = (int32_t)max_tokens;
    j->prompt = t.ids;
    j->n_prompt = (int32_t)t.n;
    if (j->n_prompt == 0) { snprintf(err, es, "the prompt has no tokens"); *param = chat ? "messages" : "prompt"; goto bad_keep; }
    if (j->n_prompt >= s->n_ctx_slot) {
        snprintf(err, es, "the prompt is %d tokens; this server's context is %d tokens per slot", (int)j->n_prompt,
                 (int)s->n_ctx_slot);
        *param = chat ? "messages" : "prompt";
        goto bad_keep;
    }
    if (!(j->out = (char *)malloc(SRV_OUT_INITIAL))) { snprintf(err, es, "out of memory"); goto bad_keep; }
    j->out_cap = SRV_OUT_INITIAL;
    return j;
bad:
    free(t.ids);
bad_keep:
    if (!err[0]) snprintf(err, es, "invalid request");
    srv_job_free(j);
    return NULL;
}

/* ---- the batching loop ---- */

static int32_t srv_common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    int32_t i, n = na < nb ? na : nb;
    for (i = 0; i < n && a[i] == b[i]; i++) {}
    return i;
}

static void srv_finish(srv *s, int slot_i, int error, const char *msg) {
    srv_slot *sl = &s->slots[slot_i];
    srv_job *j = sl->job;
    int32_t pos = bitnet_ctx_seq_pos(s->ctx, slot_i);
    if (sl->gen) {
        const bitnet_gen_stats *st = bitnet_gen_stats_get(sl->gen);
        j->n_gen = st->n_generated;
        j->finish = st->stop_reason == BITNET_STOP_EOG || st->stop_reason == BITNET_STOP_STRING ? "stop" : "length";
        bitnet_gen_free(sl->gen);
        sl->gen = NULL;
    }
    if (error) {
        j->error = error;
        snprintf(j->error_msg, sizeof j->error_msg, "%s", msg);
        s->m_errors++;
        bitnet_ctx_seq_truncate(s->ctx, slot_i, 0);
        pos = 0;
    }
    if (sl->n_tokens > pos) sl->n_tokens = pos;      /* the cache holds a prefix of what was listed */
    j->state = JOB_DONE;
    pthread_cond_broadcast(&j->cv);
    sl->job = NULL;
}

/* Moves queued jobs into free slots (the one sharing the longest prefix with the prompt). */
static void srv_admit(srv *s) {
    while (s->q_len > 0) {
        srv_job *j = s->queue[s->q_head];
        int best = -1, i;
        int32_t best_lcp = -1, keep;
        bitnet_gen_params gp;
        srv_slot *sl;
        for (i = 0; i < s->o.n_slots; i++) {
            int32_t lcp;
            if (s->slots[i].job) continue;
            lcp = srv_common_prefix(s->slots[i].tokens, s->slots[i].n_tokens, j->prompt, j->n_prompt);
            if (lcp > best_lcp || (lcp == best_lcp && s->slots[i].n_tokens < s->slots[best].n_tokens)) {
                best = i;
                best_lcp = lcp;
            }
        }
        if (best < 0) return;
        s->q_head = (s->q_head + 1) % s->o.queue;
        s->q_len--;
        sl = &s->slots[best];
        keep = best_lcp < j->n_prompt ? best_lcp : j->n_prompt - 1;   /* at least one token to decode */
        sl->job = j;
        sl->admitted = ++s->n_admitted;
        sl->n_gen_seen = 0;
        j->state = JOB_RUNNING;
        j->n_cached = keep;
        if (bitnet_ctx_seq_truncate(s->ctx, best, keep) != BITNET_OK) {
            keep = 0;
            bitnet_ctx_seq_truncate(s->ctx, best, 0);
        }
        memcpy(sl->tokens + keep, j->prompt + keep, (size_t)(j->n_prompt - keep) * sizeof(int32_t));
        sl->n_tokens = j->n_prompt;
        memset(&gp, 0, sizeof gp);
        gp.prompt_ids = j->prompt + keep;
        gp.n_prompt_ids = j->n_prompt - keep;
        gp.no_bos = 1;
        gp.max_tokens = s->n_ctx_slot - j->n_prompt;
        if (j->max_tokens > 0 && j->max_tokens < gp.max_tokens) gp.max_tokens = j->max_tokens;
        gp.sampler = j->sampler;
        gp.stop = (const char *const *)j->stop_text;
        gp.n_stop = j->n_stop;
        gp.seq = best;
        gp.ignore_eog = j->ignore_eos;
        s->m_requests++;
        s->m_prompt_tokens += (unsigned long long)j->n_prompt;
        s->m_cached_tokens += (unsigned long long)keep;
        if (bitnet_gen_new(&sl->gen, s->ctx, &gp) != BITNET_OK) {
            sl->gen = NULL;
            sl->n_tokens = 0;
            srv_finish(s, best, 500, bitnet_last_error());
        }
    }
}

static void srv_append(srv_job *j, const char *text, size_t len) {
    if (j->out_len + len > j->out_cap) {
        size_t cap = j->out_cap * 2;
        char *p;
        while (cap < j->out_len + len) cap *= 2;
        if (!(p = (char *)realloc(j->out, cap))) return;    /* the text is cut; the job goes on */
        j->out = p;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, text, len);
    j->out_len += len;
}

/* Before a step: where each slot's sequence stands and whether it is still on its prompt. */
static void srv_before_step(srv *s, const int *which, int n) {
    int i;
    for (i = 0; i < n; i++) {
        srv_slot *sl = &s->slots[which[i]];
        sl->step_pos = bitnet_ctx_seq_pos(s->ctx, which[i]);
        sl->step_prefilling = bitnet_gen_last_token(sl->gen) < 0;
    }
}

/* After a step (before srv_after_step): the prompt tokens it ran, if it also gave a token to a
   stream that was generating before it, for the chunked-prefill gauge. */
static void srv_note_prefill(srv *s, const int *which, int n) {
    int32_t prompt = 0;
    int i, beside = 0;
    for (i = 0; i < n; i++) {
        srv_slot *sl = &s->slots[which[i]];
        if (sl->step_prefilling) prompt += bitnet_ctx_seq_pos(s->ctx, which[i]) - sl->step_pos;
        else beside += bitnet_gen_stats_get(sl->gen)->n_generated > sl->n_gen_seen;
    }
    if (beside && prompt > s->m_prefill_beside_max) s->m_prefill_beside_max = prompt;
}

/* Records the step's results of slot i: its text, a new token in the slot's cache list. */
static void srv_after_step(srv *s, int i, const char *text, size_t len, int result) {
    srv_slot *sl = &s->slots[i];
    const bitnet_gen_stats *st = bitnet_gen_stats_get(sl->gen);
    if (st->n_generated > sl->n_gen_seen) {
        s->m_gen_tokens += (unsigned long long)(st->n_generated - sl->n_gen_seen);
        sl->n_gen_seen = st->n_generated;
        if (sl->n_tokens < s->n_ctx_slot) sl->tokens[sl->n_tokens++] = bitnet_gen_last_token(sl->gen);
    }
    if (len) srv_append(sl->job, text, len);
    pthread_cond_broadcast(&sl->job->cv);
    if (result < 0) srv_finish(s, i, 500, bitnet_status_str((bitnet_status)result));
    else if (result == 0) srv_finish(s, i, 0, NULL);
}

/* Puts slot i into the first n of the batch lists, kept in admission order: the step hands its
   prompt budget out in list order, so the request that came first is prefilled first. */
static void srv_list_by_admission(const srv *s, int *which, bitnet_gen **gens, int n, int i) {
    int at = n;
    while (at > 0 && s->slots[which[at - 1]].admitted > s->slots[i].admitted) {
        which[at] = which[at - 1];
        gens[at] = gens[at - 1];
        at--;
    }
    which[at] = i;
    gens[at] = s->slots[i].gen;
}

static void srv_loop(srv *s) {
    bitnet_gen **gens = (bitnet_gen **)calloc((size_t)s->o.n_slots, sizeof *gens);
    const char **texts = (const char **)calloc((size_t)s->o.n_slots, sizeof *texts);
    size_t *lens = (size_t *)calloc((size_t)s->o.n_slots, sizeof *lens);
    int *results = (int *)calloc((size_t)s->o.n_slots, sizeof *results);
    int *which = (int *)calloc((size_t)s->o.n_slots, sizeof *which);
    double stop_at = 0;
    if (!gens || !texts || !lens || !results || !which) { s->stopping = 1; }
    pthread_mutex_lock(&s->mu);
    for (;;) {
        int n = 0, i;
        bitnet_status st;
        double t0;
        if (srv_signal && !s->stopping) s->stopping = 1;
        if (s->stopping) {
            if (stop_at == 0) stop_at = srv_now_ms();
            while (s->q_len > 0) {          /* queued requests are refused */
                srv_job *j = s->queue[s->q_head];
                s->q_head = (s->q_head + 1) % s->o.queue;
                s->q_len--;
                j->error = 503;
                snprintf(j->error_msg, sizeof j->error_msg, "the server is shutting down");
                j->state = JOB_DONE;
                pthread_cond_broadcast(&j->cv);
            }
            for (i = 0; i < s->o.n_slots; i++)
                if (s->slots[i].gen) bitnet_gen_cancel(s->slots[i].gen);
        }
        if (gens) srv_admit(s);
        for (i = 0; i < s->o.n_slots; i++) {
            if (!s->slots[i].job) continue;
            if (s->slots[i].job->cancel) {
                s->m_cancelled++;
                srv_finish(s, i, 0, NULL);
                continue;
            }
            srv_list_by_admission(s, which, gens, n++, i);
        }
        if (n == 0) {
            struct timespec ts;
            if (s->stopping && (s->n_conns == 0 || srv_now_ms() - stop_at > 5000)) break;
            srv_deadline(&ts, 100);
            pthread_cond_timedwait(&s->loop_cv, &s->mu, &ts);
            continue;
        }
        srv_before_step(s, which, n);
        pthread_mutex_unlock(&s->mu);
        t0 = srv_now_ms();
        st = bitnet_gen_step_batch(gens, n, texts, lens, results);
        pthread_mutex_lock(&s->mu);
        s->m_busy_ms += srv_now_ms() - t0;
        if (st == BITNET_OK) srv_note_prefill(s, which, n);
        for (i = 0; i < n; i++) {
            if (st != BITNET_OK) srv_finish(s, which[i], 500, bitnet_last_error());
            else srv_after_step(s, which[i], texts[i], lens[i], results[i]);
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(gens); free(texts); free(lens); free(results); free(which);
}

/* ---- answering ---- */

static void srv_usage(json_writer *w, const srv_job *j) {
    json_w_key(w, "usage");
    json_w_obj(w);
    json_w_key(w, "prompt_tokens"); json_w_int(w, j->n_prompt);
    json_w_key(w, "completion_tokens"); json_w_int(w, j->n_gen);
    json_w_key(w, "total_tokens"); json_w_int(w, j->n_prompt + j->n_gen);
    json_w_key(w, "prompt_tokens_details");
    json_w_obj(w);
    json_w_key(w, "cached_tokens"); json_w_int(w, j->n_cached);
    json_w_obj_end(w);
    json_w_obj_end(w);
}

static void srv_head(const srv *s, json_writer *w, const srv_job *j, int chunk) {
    json_w_key(w, "id"); json_w_cstr(w, j->id);
    json_w_key(w, "object");
    json_w_cstr(w, j->chat ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
    json_w_key(w, "created"); json_w_int(w, j->created);
    json_w_key(w, "model"); json_w_cstr(w, s->o.alias);
    json_w_key(w, "system_fingerprint"); json_w_null(w);
}

/* One streamed event: text (may be empty), or the finishing chunk when finish != NULL. */
static int srv_event(const srv *s, int fd, json_writer *w, const srv_job *j, int role, const char *text, size_t len,
                     const char *finish) {
    json_w_reset(w);
    json_w_raw(w, "data: ", 6);
    json_w_obj(w);
    srv_head(s, w, j, 1);
    json_w_key(w, "choices");
    json_w_arr(w);
    json_w_obj(w);
    json_w_key(w, "index"); json_w_int(w, 0);
    if (j->chat) {
        json_w_key(w, "delta");
        json_w_obj(w);
        if (role) { json_w_key(w, "role"); json_w_cstr(w, "assistant"); }
        if (!finish) { json_w_key(w, "content"); json_w_str(w, text, len); }
        json_w_obj_end(w);
    } else {
        json_w_key(w, "text"); json_w_str(w, text, len);
    }
    json_w_key(w, "finish_reason"); json_w_cstr(w, finish);
    json_w_key(w, "logprobs"); json_w_null(w);
    json_w_obj_end(w);
    json_w_arr_end(w);
    json_w_obj_end(w);
    json_w_raw(w, "\n\n", 2);
    return w->failed ? -1 : http_send_chunk(fd, w->buf, w->len);
}

static int srv_usage_event(const srv *s, int fd, json_writer *w, const srv_job *j) {
    json_w_reset(w);
    json_w_raw(w, "data: ", 6);
    json_w_obj(w);
    srv_head(s, w, j, 1);
    json_w_key(w, "choices"); json_w_arr(w); json_w_arr_end(w);
    srv_usage(w, j);
    json_w_obj_end(w);
    json_w_raw(w, "\n\n", 2);
    return w->failed ? -1 : http_send_chunk(fd, w->buf, w->len);
}

static int srv_error_event(int fd, json_writer *w, const srv_job *j) {
    json_w_reset(w);
    json_w_raw(w, "data: ", 6);
    json_w_obj(w);
    json_w_key(w, "error");
    json_w_obj(w);
    json_w_key(w, "message"); json_w_cstr(w, j->error_msg);
    json_w_key(w, "type"); json_w_cstr(w, j->error == 503 ? "unavailable_error" : "server_error");
    json_w_key(w, "param"); json_w_null(w);
    json_w_key(w, "code"); json_w_null(w);
    json_w_obj_end(w);
    json_w_obj_end(w);
    json_w_raw(w, "\n\n", 2);
    return w->failed ? -1 : http_send_chunk(fd, w->buf, w->len);
}

/* Cancels a job (removing it from the queue, or asking the loop) and waits until the loop has
   let go of it. Called with s->mu held. */
static void srv_cancel(srv *s, srv_job *j) {
    if (j->state == JOB_QUEUED) {
        int i, k = -1;
        for (i = 0; i < s->q_len; i++)
            if (s->queue[(s->q_head + i) % s->o.queue] == j) k = i;
        if (k >= 0) {
            for (i = k; i + 1 < s->q_len; i++)
                s->queue[(s->q_head + i) % s->o.queue] = s->queue[(s->q_head + i + 1) % s->o.queue];
            s->q_len--;
            s->m_cancelled++;
            j->state = JOB_DONE;
        }
    }
    j->cancel = 1;
    pthread_cond_signal(&s->loop_cv);
    while (j->state != JOB_DONE) pthread_cond_wait(&j->cv, &s->mu);
}

/* Waits for news of a job (new text or done) for up to 100 ms. Called with s->mu held. */
static void srv_wait_job(srv *s, srv_job *j) {
    struct timespec ts;
    if (j->state == JOB_DONE || j->out_taken < j->out_len) return;
    srv_deadline(&ts, 100);
    pthread_cond_timedwait(&j->cv, &s->mu, &ts);
}

static int srv_stream(srv *s, int fd, json_writer *w, srv_job *j, char **pending, size_t *pending_cap) {
    char head[512];
    size_t hn = http_format_head(head, sizeof head, 200, "text/event-stream", -1, 1, NULL);
    int alive = http_write_all(fd, head, hn, 30000) == 0;
    if (alive && j->chat) alive = srv_event(s, fd, w, j, 1, "", 0, NULL) == 0;
    pthread_mutex_lock(&s->mu);
    while (alive) {
        size_t n;
        int done;
        srv_wait_job(s, j);
        done = j->state == JOB_DONE;
        n = j->out_len - j->out_taken;
        if (n > *pending_cap) {
            char *p = (char *)realloc(*pending, n);
            if (!p) { alive = 0; break; }
            *pending = p;
            *pending_cap = n;
        }
        if (n) memcpy(*pending, j->out + j->out_taken, n);
        j->out_taken += n;
        pthread_mutex_unlock(&s->mu);
        if (n) alive = srv_event(s, fd, w, j, 0, *pending, n, NULL) == 0;
        else if (!done && http_peer_gone(fd)) alive = 0;
        pthread_mutex_lock(&s->mu);
        if (done) break;
    }
    if (!alive) {
        srv_cancel(s, j);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    pthread_mutex_unlock(&s->mu);
    if (j->error) alive = srv_error_event(fd, w, j) == 0;
    else alive = srv_event(s, fd, w, j, 0, "", 0, j->finish) == 0 && (!j->include_usage || srv_usage_event(s, fd, w, j) == 0);
    alive = alive && http_send_chunk(fd, "data: [DONE]\n\n", 14) == 0 && http_send_chunk(fd, NULL, 0) == 0;
    return alive;
}

static int srv_whole(srv *s, int fd, json_writer *w, srv_job *j, int keep_alive) {
    pthread_mutex_lock(&s->mu);
    while (j->state != JOB_DONE) {
        srv_wait_job(s, j);
        if (j->state == JOB_DONE) break;
        pthread_mutex_unlock(&s->mu);
        if (http_peer_gone(fd)) {
            pthread_mutex_lock(&s->mu);
            srv_cancel(s, j);
            pthread_mutex_unlock(&s->mu);
            return 0;
        }
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    if (j->error) return srv_error(fd, w, j->error, keep_alive, NULL, NULL, "%s", j->error_msg);
    json_w_reset(w);
    json_w_obj(w);
    srv_head(s, w, j, 0);
    json_w_key(w, "choices");
    json_w_arr(w);
    json_w_obj(w);
    json_w_key(w, "index"); json_w_int(w, 0);
    if (j->chat) {
        json_w_key(w, "message");
        json_w_obj(w);
        json_w_key(w, "role"); json_w_cstr(w, "assistant");
        json_w_key(w, "content"); json_w_str(w, j->out, j->out_len);
        json_w_key(w, "refusal"); json_w_null(w);
        json_w_obj_end(w);
    } else {
        json_w_key(w, "text"); json_w_str(w, j->out, j->out_len);
    }
    json_w_key(w, "finish_reason"); json_w_cstr(w, j->finish);
    json_w_key(w, "logprobs"); json_w_null(w);
    json_w_obj_end(w);
    json_w_arr_end(w);
    srv_usage(w, j);
    json_w_obj_end(w);
    return srv_send_json(fd, w, keep_alive);
}

static int srv_completion(srv *s, int fd, const http_request *req, json_writer *w, int keep_alive, int chat,
                          char **pending, size_t *pending_cap) {
    json_doc *doc = NULL;
    json_limits lim;
    char err[300] = "";
    const char *param = NULL;
    srv_job *j;
    int full;
    memset(&lim, 0, sizeof lim);
    lim.max_depth = 64;
    lim.max_bytes = req->body_len + 1;
    if (!s->ready) return srv_error(fd, w, 503, keep_alive, NULL, "model_loading", "the model is still loading");
    if (json_parse(&doc, req->body, req->body_len, &lim, err, sizeof err))
        return srv_error(fd, w, 400, keep_alive, NULL, "invalid_json", "the body is not valid JSON: %s", err);
    j = srv_job_from(s, json_root(doc), chat, err, sizeof err, &param);
    json_free(doc);
    if (!j) return srv_error(fd, w, 400, keep_alive, param, NULL, "%s", err);
    pthread_mutex_lock(&s->mu);
    snprintf(j->id, sizeof j->id, "%s-%llx%08llx", chat ? "chatcmpl" : "cmpl", ++s->id_counter,
             (unsigned long long)time(NULL));
    j->created = (long long)time(NULL);
    full = s->q_len == s->o.queue || s->stopping;
    if (!full) {
        s->queue[(s->q_head + s->q_len) % s->o.queue] = j;
        s->q_len++;
        pthread_cond_signal(&s->loop_cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
        srv_job_free(j);
        return srv_error(fd, w, 503, keep_alive, NULL, "server_busy", "every slot is busy and the queue is full; retry later");
    }
    keep_alive = j->stream ? srv_stream(s, fd, w, j, pending, pending_cap) && keep_alive
                           : srv_whole(s, fd, w, j, keep_alive);
    srv_job_free(j);
    return keep_alive;
}

static int srv_models(const srv *s, int fd, json_writer *w, int keep_alive, const char *one) {
    json_w_reset(w);
    if (!one) {
        json_w_obj(w);
        json_w_key(w, "object"); json_w_cstr(w, "list");
        json_w_key(w, "data");
        json_w_arr(w);
    }
    json_w_obj(w);
    json_w_key(w, "id"); json_w_cstr(w, s->o.alias);
    json_w_key(w, "object"); json_w_cstr(w, "model");
    json_w_key(w, "created"); json_w_int(w, s->created);
    json_w_key(w, "owned_by"); json_w_cstr(w, "bitnet.h");
    json_w_obj_end(w);
    if (!one) {
        json_w_arr_end(w);
        json_w_obj_end(w);
    }
    return srv_send_json(fd, w, keep_alive);
}

static int srv_metrics(srv *s, int fd, json_writer *w, int keep_alive) {
    char buf[4096];
    int n, busy = 0, i;
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->o.n_slots; i++) busy += s->slots && s->slots[i].job != NULL;
    n = snprintf(buf, sizeof buf,
                 "# HELP bitnet_requests_total Completion requests started.\n# TYPE bitnet_requests_total counter\n"
                 "bitnet_requests_total %llu\n"
                 "# HELP bitnet_prompt_tokens_total Prompt tokens of started requests.\n# TYPE bitnet_prompt_tokens_total counter\n"
                 "bitnet_prompt_tokens_total %llu\n"
                 "# HELP bitnet_prompt_tokens_cached_total Prompt tokens reused from a slot's cache.\n"
                 "# TYPE bitnet_prompt_tokens_cached_total counter\nbitnet_prompt_tokens_cached_total %llu\n"
                 "# HELP bitnet_generated_tokens_total Generated tokens.\n# TYPE bitnet_generated_tokens_total counter\n"
                 "bitnet_generated_tokens_total %llu\n"
                 "# HELP bitnet_requests_failed_total Requests that ended in an error.\n# TYPE bitnet_requests_failed_total counter\n"
                 "bitnet_requests_failed_total %llu\n"
                 "# HELP bitnet_requests_cancelled_total Requests whose client went away.\n"
                 "# TYPE bitnet_requests_cancelled_total counter\nbitnet_requests_cancelled_total %llu\n"
                 "# HELP bitnet_tokens_per_second Generated tokens per second of batching-loop time.\n"
                 "# TYPE bitnet_tokens_per_second gauge\nbitnet_tokens_per_second %.3f\n"
                 "# HELP bitnet_slots_busy Slots generating now.\n# TYPE bitnet_slots_busy gauge\nbitnet_slots_busy %d\n"
                 "# HELP bitnet_slots_total Slots.\n# TYPE bitnet_slots_total gauge\nbitnet_slots_total %d\n"
                 "# HELP bitnet_requests_queued Requests waiting for a slot.\n# TYPE bitnet_requests_queued gauge\n"
                 "bitnet_requests_queued %d\n"
                 "# HELP bitnet_prefill_budget Most prompt tokens per step while streams generate (--prefill-budget).\n"
                 "# TYPE bitnet_prefill_budget gauge\nbitnet_prefill_budget %d\n"
                 "# HELP bitnet_prefill_beside_max Most prompt tokens one step ran beside generating streams.\n"
                 "# TYPE bitnet_prefill_beside_max gauge\nbitnet_prefill_beside_max %d\n",
                 s->m_requests, s->m_prompt_tokens, s->m_cached_tokens, s->m_gen_tokens, s->m_errors, s->m_cancelled,
                 s->m_busy_ms > 0 ? (double)s->m_gen_tokens * 1000.0 / s->m_busy_ms : 0.0, busy, s->o.n_slots, s->q_len,
                 s->o.prefill_budget, (int)s->m_prefill_beside_max);
    pthread_mutex_unlock(&s->mu);
    (void)w;
    return http_send(fd, 200, "text/plain; version=0.0.4", buf, (size_t)n, keep_alive, NULL) ? 0 : keep_alive;
}

/* Compares in time independent of where the strings differ. */
static int srv_key_ok(const char *header, const char *key) {
    size_t n = strlen(key), i, hl;
    unsigned diff = 0;
    if (!header || strncmp(header, "Bearer ", 7) != 0) return 0;
    header += 7;
    hl = strlen(header);
    diff = hl != n;
    for (i = 0; i < n; i++) diff |= (unsigned)(key[i] ^ (i < hl ? header[i] : 0));
    return diff == 0;
}

/* Routes one request; returns whether the connection stays open. */
static int srv_handle(srv *s, int fd, const http_request *req, json_writer *w, int keep_alive, char **pending,
                      size_t *pending_cap) {
    const char *path = req->path, *allow = NULL;
    int get = !strcmp(req->method, "GET"), post = !strcmp(req->method, "POST");
    if (!strncmp(path, "/v1/", 4)) path += 3;
    if (!strcmp(path, "/health")) {
        if (!get) allow = "GET";
        else if (!s->ready) return srv_error(fd, w, 503, keep_alive, NULL, "model_loading", "the model is still loading");
        else {
            static const char ok[] = "{\"status\":\"ok\"}";
            return http_send(fd, 200, "application/json", ok, sizeof ok - 1, keep_alive, NULL) ? 0 : keep_alive;
        }
    }
    if (!allow && s->o.api_key && !srv_key_ok(http_header_get(req, "authorization"), s->o.api_key))
        return srv_error(fd, w, 401, keep_alive, NULL, "invalid_api_key",
                         http_header_get(req, "authorization") ? "incorrect API key" : "no API key (send 'Authorization: Bearer KEY')");
    if (allow) {}
    else if (!strcmp(path, "/metrics")) { if (get) return srv_metrics(s, fd, w, keep_alive); allow = "GET"; }
    else if (!strcmp(path, "/models")) { if (get) return srv_models(s, fd, w, keep_alive, NULL); allow = "GET"; }
    else if (!strncmp(path, "/models/", 8)) {
        if (!get) allow = "GET";
        else if (!strcmp(path + 8, s->o.alias)) return srv_models(s, fd, w, keep_alive, path + 8);
        else return srv_error(fd, w, 404, keep_alive, "model", "model_not_found", "no model '%.100s'", path + 8);
    }
    else if (!strcmp(path, "/chat/completions")) {
        if (post) return srv_completion(s, fd, req, w, keep_alive, 1, pending, pending_cap);
        allow = "POST";
    } else if (!strcmp(path, "/completions")) {
        if (post) return srv_completion(s, fd, req, w, keep_alive, 0, pending, pending_cap);
        allow = "POST";
    } else {
        return srv_error(fd, w, 404, keep_alive, NULL, "not_found", "no route %.16s %.200s", req->method, req->path);
    }
    return srv_error(fd, w, 405, keep_alive, NULL, "method_not_allowed", "%.16s is not allowed on %.200s (use %s)",
                     req->method, req->path, allow);
}

typedef struct srv_conn_arg { srv *s; int fd; } srv_conn_arg;

static void *srv_conn_main(void *p) {
    srv_conn_arg *a = (srv_conn_arg *)p;
    srv *s = a->s;
    int fd = a->fd, keep = 1;
    http_conn c;
    http_request req;
    http_limits lim;
    json_writer w;
    char *pending = NULL;
    size_t pending_cap = 0;
    free(a);
    memset(&lim, 0, sizeof lim);
    lim.max_body_bytes = (size_t)s->o.max_body_mb << 20;
    lim.idle_timeout_ms = lim.request_timeout_ms = s->o.timeout_s * 1000;
    http_conn_init(&c, fd, &lim, &s->stopping);
    json_w_init(&w);
    while (keep) {
        int rc = http_read_request(&c, &req);
        if (rc < 0) break;
        if (rc >= 400) {
            srv_error(fd, &w, rc, 0, NULL, NULL, "%s", http_reason(rc));
            break;
        }
        keep = srv_handle(s, fd, &req, &w, req.keep_alive && !s->stopping, &pending, &pending_cap);
    }
    http_close(fd);
    http_conn_free(&c);
    json_w_free(&w);
    free(pending);
    pthread_mutex_lock(&s->mu);
    s->n_conns--;
    pthread_cond_broadcast(&s->conns_cv);
    pthread_cond_signal(&s->loop_cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *srv_accept_main(void *p) {
    srv *s = (srv *)p;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    while (!s->stopping && !srv_signal) {
        struct pollfd pf;
        srv_conn_arg *a;
        pthread_t th;
        int fd, full, one = 1;
        pf.fd = s->listen_fd;
        pf.events = POLLIN;
        pf.revents = 0;
        if (poll(&pf, 1, 200) <= 0) continue;
        fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        pthread_mutex_lock(&s->mu);
        full = s->n_conns >= SRV_MAX_CONNS;
        if (!full) s->n_conns++;
        pthread_mutex_unlock(&s->mu);
        if (full || !(a = (srv_conn_arg *)malloc(sizeof *a))) {
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            http_write_all(fd, busy, sizeof busy - 1, 1000);
            close(fd);
            if (!full) { pthread_mutex_lock(&s->mu); s->n_conns--; pthread_mutex_unlock(&s->mu); }
            continue;
        }
        a->s = s;
        a->fd = fd;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);   /* events go out at once */
        if (pthread_create(&th, &attr, srv_conn_main, a) != 0) {
            close(fd);
            free(a);
            pthread_mutex_lock(&s->mu);
            s->n_conns--;
            pthread_mutex_unlock(&s->mu);
        }
    }
    pthread_attr_destroy(&attr);
    return NULL;
}

static int srv_listen(srv *s) {
    struct addrinfo hints, *res = NULL, *ai;
    char port[16];
    int fd = -1, one = 1, rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof port, "%d", s->o.port);
    if ((rc = getaddrinfo(s->o.host, port, &hints, &res)) != 0) {
        fprintf(stderr, "bitnet serve: cannot resolve '%s': %s\n", s->o.host, gai_strerror(rc));
        return 0;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        if ((fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol)) < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "bitnet serve: cannot listen on %s:%d: %s\n", s->o.host, s->o.port, strerror(errno));
        return 0;
    }
    {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        char host[128] = "?";
        int p = s->o.port;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET) {
                p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
                inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
            } else if (ss.ss_family == AF_INET6) {
                p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
            }
        }
        s->o.port = p;
        fprintf(stderr, "bitnet serve: listening on http://%s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", p);
    }
    s->listen_fd = fd;
    return 1;
}

/* BITNET_SERVE_TEST_LOAD_DELAY_MS (tests only, at most 60000): holds the load back, so a test can
   see how the server answers while the model is loading. */
static void srv_test_load_delay(void) {
    const char *v = getenv("BITNET_SERVE_TEST_LOAD_DELAY_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    struct timespec ts;
    if (ms <= 0 || ms > 60000) return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = ms % 1000 * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !srv_signal) {}
}

static int srv_load(srv *s) {
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    int32_t train, total;
    int i;
    memset(&mp, 0, sizeof mp);
    mp.path = s->o.model;
    srv_test_load_delay();
    if (bitnet_model_load(&s->model, &mp) != BITNET_OK) return !cli_fail("cannot load model");
    s->vocab = bitnet_model_vocab(s->model);
    s->n_vocab = bitnet_vocab_size(s->vocab);
    s->chat_format = bitnet_vocab_chat_format(s->vocab);
    if (s->chat_format != BITNET_CHAT_LLAMA3) s->chat_format = BITNET_CHAT_BITNET;
    train = bitnet_model_hparams(s->model)->n_ctx_train;
    total = s->o.n_ctx ? s->o.n_ctx : (train < 4096 ? train : 4096) ;
    if (!s->o.n_ctx && total < 512 * s->o.n_slots) total = (train < 512 ? train : 512) * s->o.n_slots;
    s->n_ctx_slot = total / s->o.n_slots;
    if (s->n_ctx_slot < 8) {
        fprintf(stderr, "bitnet serve: -c %d over %d slots leaves %d positions per slot (8 at least)\n", total,
                s->o.n_slots, (int)s->n_ctx_slot);
        return 0;
    }
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = s->n_ctx_slot;
    cp.n_seq = s->o.n_slots;
    cp.n_threads = s->o.threads;
    cp.kv_f16 = s->o.kv_f16;
    cp.prefill_budget = s->o.prefill_budget;
    if (bitnet_ctx_new(&s->ctx, s->model, &cp) != BITNET_OK) return !cli_fail("cannot create context");
    s->slots = (srv_slot *)calloc((size_t)s->o.n_slots, sizeof *s->slots);
    if (!s->slots) return 0;
    for (i = 0; i < s->o.n_slots; i++)
        if (!(s->slots[i].tokens = (int32_t *)malloc((size_t)s->n_ctx_slot * sizeof(int32_t)))) return 0;
    return 1;
}

static void srv_free(srv *s) {
    int i;
    if (s->slots)
        for (i = 0; i < s->o.n_slots; i++) {
            if (s->slots[i].gen) bitnet_gen_free(s->slots[i].gen);
            free(s->slots[i].tokens);
        }
    free(s->slots);
    free(s->queue);
    bitnet_ctx_free(s->ctx);
    bitnet_model_free(s->model);
    if (s->listen_fd >= 0) close(s->listen_fd);
}

int cmd_serve(int argc, char **argv) {
    static srv s;
    pthread_t acceptor;
    struct sigaction sa;
    int ok, lingering;
    memset(&s, 0, sizeof s);
    s.listen_fd = -1;
    if (!srv_parse(argc, argv, &s.o)) return 1;
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.loop_cv, NULL);
    pthread_cond_init(&s.conns_cv, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = srv_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (!(s.queue = (srv_job **)calloc((size_t)s.o.queue, sizeof *s.queue)) || !srv_listen(&s)) {
        srv_free(&s);
        return 1;
    }
    s.created = (long long)time(NULL);
    if (pthread_create(&acceptor, NULL, srv_accept_main, &s) != 0) {
        fprintf(stderr, "bitnet serve: cannot start a thread\n");
        srv_free(&s);
        return 1;
    }
    ok = srv_load(&s);
    if (ok) {
        fprintf(stderr, "bitnet serve: model '%s' ready: %d slots of %d positions, %d threads, queue %d\n",
                s.o.alias, s.o.n_slots, (int)s.n_ctx_slot, s.o.threads ? s.o.threads : bitnet_online_cores(), s.o.queue);
        s.ready = 1;
        srv_loop(&s);
    }
    s.stopping = 1;
    pthread_join(acceptor, NULL);
    pthread_mutex_lock(&s.mu);
    {
        double until = srv_now_ms() + 3000;
        while (s.n_conns > 0 && srv_now_ms() < until) {
            struct timespec ts;
            srv_deadline(&ts, 100);
            pthread_cond_timedwait(&s.conns_cv, &s.mu, &ts);
        }
    }
    lingering = s.n_conns;
    pthread_mutex_unlock(&s.mu);
    if (lingering) {           /* threads still hold the model: leave it to the exit */
        fprintf(stderr, "bitnet serve: %d connections still open at exit\n", lingering);
        return ok ? 0 : 1;
    }
    srv_free(&s);
    if (ok) fprintf(stderr, "bitnet serve: stopped\n");
    return ok ? 0 : 1;
}
