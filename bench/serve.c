/* bench/serve.c - the client of `make bench-serve` (bench/serve.sh starts the server): for each
   concurrency level, that many streamed /v1/completions at once, each generating N tokens
   (ignore_eos), and prints aggregate generated tokens/s, p50/p99 time to first token and p50/p99
   time between tokens (one SSE event per token), then a summary line.
   tok/s (all) counts from the requests' start, so it includes each prompt's prefill and the time
   to the first token; "decode tok/s" counts from each stream's first token to its last, the
   quantity `bitnet bench`'s tg_tps measures (single-token decodes, no prompt).
   A level jK: K streams generating 2N tokens, and once each has its first tokens one more
   request with a long prompt (the streams' sentence JOIN_REPEAT times) joins: its time to first
   token, and the longest gap the K streams saw while it was prefilling (chunked prefill,
   `bitnet serve --prefill-budget`, keeps it near one step).
   usage: serve PORT N_TOKENS LEVEL...        (the server on 127.0.0.1:PORT) */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 64
#define MAX_EVENTS 4096
#define JOIN_REPEAT 12                 /* the joining prompt: the streams' sentence this many times */
#define MAX_BODY 16384

typedef struct stream {
    int port, n_tokens, index, repeat; /* repeat: the prompt sentence this many times */
    double start, first, last, end;    /* ms; first and last token events */
    double *gaps;                      /* (MAX_EVENTS) ms between token events */
    double *at;                        /* (MAX_EVENTS) when each token event came */
    int n_gaps, n_events, usage_tokens, usage_prompt, ok;
} stream;

static pthread_mutex_t progress_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress_cv = PTHREAD_COND_INITIALIZER;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double percentile(double *v, int n, double p) {
    int i;
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

/* Handles the complete events in buf[*scan..len); returns 1 after [DONE]. */
static int scan_events(stream *s, const char *buf, size_t len, size_t *scan, double *last) {
    for (;;) {
        const char *ev = NULL, *end;
        size_t i;
        for (i = *scan; i + 6 <= len; i++)
            if (!memcmp(buf + i, "data: ", 6)) { ev = buf + i; break; }
        if (!ev) return 0;
        end = NULL;
        for (i = (size_t)(ev - buf); i + 2 <= len; i++)
            if (buf[i] == '\n' && buf[i + 1] == '\n') { end = buf + i; break; }
        if (!end) return 0;
        *scan = (size_t)(end - buf) + 2;
        if (!strncmp(ev, "data: [DONE]", 12)) return 1;
        {
            const char *u = NULL, *t;
            size_t n = (size_t)(end - ev);
            for (t = ev; t + 8 < end; t++)
                if (!memcmp(t, "\"usage\":", 8)) { u = t; break; }
            if (u) {
                const char *c;
                for (c = u; c + 20 < end; c++)
                    if (!memcmp(c, "\"completion_tokens\":", 20)) { s->usage_tokens = atoi(c + 20); break; }
                for (c = u; c + 16 < end; c++)
                    if (!memcmp(c, "\"prompt_tokens\":", 16)) { s->usage_prompt = atoi(c + 16); break; }
                continue;
            }
            for (t = ev; t + 9 < end; t++)
                if (!memcmp(t, "\"text\":\"", 8)) break;
            if (t + 9 >= end || t[8] == '"' || n < 10) continue;      /* the empty finishing event */
        }
        {
            double t = now_ms();
            if (s->n_events == 0) s->first = t;
            else if (s->n_gaps < MAX_EVENTS) s->gaps[s->n_gaps++] = t - *last;
            if (s->at && s->n_events < MAX_EVENTS) s->at[s->n_events] = t;
            *last = s->last = t;
            pthread_mutex_lock(&progress_mu);
            s->n_events++;
            pthread_cond_broadcast(&progress_cv);
            pthread_mutex_unlock(&progress_mu);
        }
    }
}

static void *run_stream(void *p) {
    stream *s = (stream *)p;
    struct sockaddr_in a;
    static const char sentence[] = "the history of the sea and the ships that cross it";
    char prompt[MAX_BODY / 2], *body, *req, *buf;
    size_t cap = 1 << 20, len = 0, scan = 0, plen = 0;
    double last = 0;
    int fd, one = 1, n, r;
    for (r = 0; r < s->repeat && plen + sizeof sentence + 1 < sizeof prompt; r++) {
        memcpy(prompt + plen, sentence, sizeof sentence - 1);
        plen += sizeof sentence - 1;
        prompt[plen++] = r + 1 < s->repeat ? ' ' : 0;
    }
    buf = (char *)malloc(cap);
    body = (char *)malloc(MAX_BODY);
    req = (char *)malloc(MAX_BODY + 512);
    if (!buf || !body || !req) { free(buf); free(body); free(req); return NULL; }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) { free(buf); free(body); free(req); return NULL; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    n = snprintf(body, MAX_BODY, "{\"prompt\":\"Stream %d: %s\","
                 "\"max_tokens\":%d,\"ignore_eos\":true,\"temperature\":0,\"stream\":true,"
                 "\"stream_options\":{\"include_usage\":true}}", s->index, prompt, s->n_tokens);
    n = snprintf(req, MAX_BODY + 512, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
    s->start = now_ms();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        free(buf); free(body); free(req);
        return NULL;
    }
    for (;;) {
        ssize_t k;
        if (len == cap) break;
        k = recv(fd, buf + len, cap - len, 0);
        if (k <= 0) break;
        len += (size_t)k;
        if (scan_events(s, buf, len, &scan, &last)) { s->ok = 1; break; }
    }
    s->end = now_ms();
    close(fd);
    free(buf); free(body); free(req);
    return NULL;
}

/* Tokens/s of one stream from its first token to its last (what `bitnet bench` calls tg). */
static double decode_tps(const stream *s) {
    return s->usage_tokens > 1 && s->last > s->first ? (s->usage_tokens - 1) * 1e3 / (s->last - s->first) : 0;
}

static void stream_init(stream *s, int port, int n_tokens, int index, int repeat) {
    memset(s, 0, sizeof *s);
    s->port = port;
    s->n_tokens = n_tokens;
    s->index = index;
    s->repeat = repeat;
    s->gaps = (double *)malloc(sizeof(double) * MAX_EVENTS);
    s->at = (double *)malloc(sizeof(double) * MAX_EVENTS);
}

static void stream_free(stream *s) {
    free(s->gaps);
    free(s->at);
}

typedef struct join_result {
    double ttft, gap_max, gap_before;  /* ms: the joiner's TTFT; the streams' gaps during, before */
    int n_prompt, ok;
} join_result;

/* Level jK: K streams generating, then a long prompt joins (see the top of the file). */
static join_result run_join(int port, int n_tokens, int k, int index) {
    static stream st[MAX_STREAMS + 1];
    pthread_t th[MAX_STREAMS + 1];
    join_result r;
    double t_join, before[MAX_STREAMS * 8];
    int i, e, n_before = 0, started;
    memset(&r, 0, sizeof r);
    for (i = 0; i < k; i++) {
        stream_init(&st[i], port, 2 * n_tokens, index + i, 1);
        pthread_create(&th[i], NULL, run_stream, &st[i]);
    }
    pthread_mutex_lock(&progress_mu);           /* every stream has had two tokens */
    for (;;) {
        for (i = 0, started = 0; i < k; i++) started += st[i].n_events >= 2;
        if (started == k) break;
        pthread_cond_wait(&progress_cv, &progress_mu);
    }
    pthread_mutex_unlock(&progress_mu);
    t_join = now_ms();
    stream_init(&st[k], port, 4, index + k, JOIN_REPEAT);
    pthread_create(&th[k], NULL, run_stream, &st[k]);
    for (i = 0; i <= k; i++) pthread_join(th[i], NULL);
    r.ok = st[k].ok && st[k].n_events > 0;
    r.ttft = r.ok ? st[k].first - st[k].start : 0;
    r.n_prompt = st[k].usage_prompt;
    for (i = 0; i < k; i++) {
        r.ok = r.ok && st[i].ok;
        for (e = 1; e < st[i].n_events && e < MAX_EVENTS; e++) {
            double gap = st[i].at[e] - st[i].at[e - 1];
            if (st[i].at[e] < t_join && n_before < MAX_STREAMS * 8) before[n_before++] = gap;
            else if (st[i].at[e] >= t_join && st[i].at[e - 1] <= st[k].first && gap > r.gap_max) r.gap_max = gap;
        }
    }
    r.gap_before = percentile(before, n_before, 0.5);
    for (i = 0; i <= k; i++) stream_free(&st[i]);
    return r;
}

int main(int argc, char **argv) {
    int port, n_tokens, a, n_decode = 0, joined = 0;
    double tps[MAX_STREAMS + 1] = { 0 }, ttft_p50_1 = 0, itl_p50_1 = 0, dtps_1 = 0, dtps[MAX_STREAMS + 1] = { 0 };
    int decode_level[MAX_STREAMS + 1];
    join_result jr;
    memset(&jr, 0, sizeof jr);
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT N_TOKENS LEVEL...\n", argv[0]);
        return 1;
    }
    port = atoi(argv[1]);
    n_tokens = atoi(argv[2]);
    printf("| streams | tok/s (all) | tok/s per stream | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms |\n");
    printf("|--------:|------------:|-----------------:|------------:|------------:|-----------:|-----------:|\n");
    for (a = 3; a < argc; a++) {
        int level = atoi(argv[a]), i, n_gaps = 0, total = 0, bad = 0;
        static stream st[MAX_STREAMS];
        pthread_t th[MAX_STREAMS];
        double t0 = 1e300, t1 = 0, ttft[MAX_STREAMS], *gaps, r, d = 0;
        if (argv[a][0] == 'j') {
            int k = atoi(argv[a] + 1);
            if (k >= 1 && k < MAX_STREAMS) { jr = run_join(port, n_tokens, k, 100 * a); joined = k; }
            continue;
        }
        if (level < 1 || level > MAX_STREAMS) continue;
        gaps = (double *)malloc(sizeof(double) * MAX_EVENTS * (size_t)level);
        for (i = 0; i < level; i++) {
            stream_init(&st[i], port, n_tokens, i + 100 * a, 1);
            pthread_create(&th[i], NULL, run_stream, &st[i]);
        }
        for (i = 0; i < level; i++) pthread_join(th[i], NULL);
        for (i = 0; i < level; i++) {
            if (!st[i].ok) bad++;
            if (st[i].start < t0) t0 = st[i].start;
            if (st[i].end > t1) t1 = st[i].end;
            total += st[i].usage_tokens;
            ttft[i] = st[i].first - st[i].start;
            memcpy(gaps + n_gaps, st[i].gaps, sizeof(double) * (size_t)st[i].n_gaps);
            n_gaps += st[i].n_gaps;
            d += decode_tps(&st[i]) / level;
            stream_free(&st[i]);
        }
        r = t1 > t0 ? total * 1000.0 / (t1 - t0) : 0;
        tps[level] = r;
        if (bad) fprintf(stderr, "serve bench: %d of %d streams failed\n", bad, level);
        {
            double tp50 = percentile(ttft, level, 0.5), tp99 = percentile(ttft, level, 0.99);
            double ip50 = percentile(gaps, n_gaps, 0.5), ip99 = percentile(gaps, n_gaps, 0.99);
            if (level == 1 || ttft_p50_1 == 0) { ttft_p50_1 = tp50; itl_p50_1 = ip50; }
            if (level == 1) dtps_1 = d;
            printf("| %7d | %11.2f | %16.2f | %11.1f | %11.1f | %10.1f | %10.1f |\n", level, r, r / level, tp50, tp99,
                   ip50, ip99);
        }
        if (n_decode <= MAX_STREAMS) { decode_level[n_decode] = level; dtps[n_decode++] = d; }
        fflush(stdout);
        free(gaps);
    }
    if (n_decode) {
        printf("decode tok/s per stream, first token to last (no prompt, no TTFT):");
        for (a = 0; a < n_decode; a++) printf(" %d: %.2f", decode_level[a], dtps[a]);
        printf("\n");
    }
    if (joined) {
        if (!jr.ok) fprintf(stderr, "serve bench: the join level failed\n");
        printf("join: %d streams generating, a %d-token prompt joins: its TTFT %.1f ms; the streams' longest gap while "
               "it prefilled %.1f ms (p50 between tokens before it %.1f ms)\n", joined, jr.n_prompt, jr.ttft, jr.gap_max,
               jr.gap_before);
    }
    printf("summary: tps_1=%.2f tps_2=%.2f tps_4=%.2f tps_8=%.2f ttft_p50_ms=%.1f itl_p50_ms=%.1f dtps_1=%.2f", tps[1],
           tps[2], tps[4], tps[8], ttft_p50_1, itl_p50_1, dtps_1);
    if (joined) printf(" join_ttft_ms=%.1f join_gap_max_ms=%.1f join_gap_p50_before_ms=%.1f", jr.ttft, jr.gap_max, jr.gap_before);
    printf("\n");
    return 0;
}
