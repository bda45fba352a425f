/* bench/serve.c - the client of `make bench-serve` (bench/serve.sh starts the server): for each
   concurrency level, that many streamed /v1/completions at once, each generating N tokens
   (ignore_eos), and prints aggregate generated tokens/s, p50/p99 time to first token and p50/p99
   time between tokens (one SSE event per token), then a summary line.
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

typedef struct stream {
    int port, n_tokens, index;
    double start, first, end;          /* ms */
    double *gaps;                      /* (MAX_EVENTS) ms between token events */
    int n_gaps, n_events, usage_tokens, ok;
} stream;

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
            *last = t;
            s->n_events++;
        }
    }
}

static void *run_stream(void *p) {
    stream *s = (stream *)p;
    struct sockaddr_in a;
    char body[512], req[1024], *buf;
    size_t cap = 1 << 20, len = 0, scan = 0;
    double last = 0;
    int fd, one = 1, n;
    buf = (char *)malloc(cap);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (!buf || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) { free(buf); return NULL; }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    n = snprintf(body, sizeof body, "{\"prompt\":\"Stream %d: the history of the sea and the ships that cross it\","
                 "\"max_tokens\":%d,\"ignore_eos\":true,\"temperature\":0,\"stream\":true,"
                 "\"stream_options\":{\"include_usage\":true}}", s->index, s->n_tokens);
    n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Content-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
    s->start = now_ms();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        free(buf);
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
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    int port, n_tokens, a;
    double tps[MAX_STREAMS + 1] = { 0 }, ttft_p50_1 = 0, itl_p50_1 = 0;
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
        double t0 = 1e300, t1 = 0, ttft[MAX_STREAMS], *gaps, r;
        if (level < 1 || level > MAX_STREAMS) continue;
        gaps = (double *)malloc(sizeof(double) * MAX_EVENTS * (size_t)level);
        for (i = 0; i < level; i++) {
            memset(&st[i], 0, sizeof st[i]);
            st[i].port = port;
            st[i].n_tokens = n_tokens;
            st[i].index = i + 100 * a;
            st[i].gaps = (double *)malloc(sizeof(double) * MAX_EVENTS);
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
            free(st[i].gaps);
        }
        r = t1 > t0 ? total * 1000.0 / (t1 - t0) : 0;
        tps[level] = r;
        if (bad) fprintf(stderr, "serve bench: %d of %d streams failed\n", bad, level);
        {
            double tp50 = percentile(ttft, level, 0.5), tp99 = percentile(ttft, level, 0.99);
            double ip50 = percentile(gaps, n_gaps, 0.5), ip99 = percentile(gaps, n_gaps, 0.99);
            if (level == 1 || ttft_p50_1 == 0) { ttft_p50_1 = tp50; itl_p50_1 = ip50; }
            printf("| %7d | %11.2f | %16.2f | %11.1f | %11.1f | %10.1f | %10.1f |\n", level, r, r / level, tp50, tp99,
                   ip50, ip99);
        }
        fflush(stdout);
        free(gaps);
    }
    printf("summary: tps_1=%.2f tps_2=%.2f tps_4=%.2f tps_8=%.2f ttft_p50_ms=%.1f itl_p50_ms=%.1f\n", tps[1], tps[2],
           tps[4], tps[8], ttft_p50_1, itl_p50_1);
    return 0;
}
