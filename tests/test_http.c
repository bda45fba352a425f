/* The HTTP/1.1 request parser of tools/http.c: request heads good and bad, chunked bodies split
   at every byte, and http_read_request over a socket pair (pipelining, Expect: 100-continue,
   limits, timeouts, a peer that goes away). */
#define _POSIX_C_SOURCE 200809L
#include "tests/check.h"
#include "tools/http.c"
#include <pthread.h>

static int head(const char *text, http_request *req) {
    static char buf[70000];
    size_t n = strlen(text);
    memcpy(buf, text, n + 1);
    return http_parse_head(buf, n, 0, req);
}

static void test_heads(void) {
    http_request r;
    int n;
    char *big;
    n = head("GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v a l  \r\nAuthorization: Bearer k\r\n\r\nBODY", &r);
    CHECK(n == (int)strlen("GET /v1/models?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v a l  \r\nAuthorization: Bearer k\r\n\r\n"));
    CHECK(!strcmp(r.method, "GET") && !strcmp(r.path, "/v1/models") && r.minor == 1 && r.keep_alive);
    CHECK(r.n_headers == 3 && !strcmp(http_header_get(&r, "x-thing"), "v a l"));
    CHECK(!strcmp(http_header_get(&r, "AUTHORIZATION"), "Bearer k") && !http_header_get(&r, "nope"));
    CHECK(r.content_length == -1 && !r.chunked);
    CHECK(head("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &r) > 0 && !strcmp(r.path, "/"));
    CHECK(head("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nConnection: foo, Close\r\n\r\n", &r) > 0 &&
          r.content_length == 12 && !r.keep_alive);
    CHECK(head("GET / HTTP/1.0\r\n\r\n", &r) > 0 && !r.keep_alive && r.minor == 0);
    CHECK(head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r) > 0 && r.keep_alive);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n", &r) > 0 &&
          r.chunked && r.expect_continue);
    CHECK(head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", &r) > 0);
    /* incomplete */
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\n", &r) == 0);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\n\r", &r) == 0);
    CHECK(head("", &r) == 0);
    /* bad */
    CHECK(head("GET / HTTP/1.1\r\n\r\n", &r) == -400);                       /* no Host */
    CHECK(head("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", &r) == -400);
    CHECK(head("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", &r) == -400);
    CHECK(head("GET x HTTP/1.1\r\nHost: a\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/2.0\r\nHost: a\r\n\r\n", &r) == -505);
    CHECK(head("GET / HTTQ/1.1\r\nHost: a\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", &r) == -400);
    CHECK(head("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &r) == -501);
    CHECK(head("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", &r) == -400);
    {
        static char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
        CHECK(http_parse_head(nul, sizeof nul - 1, 0, &r) == -400);
    }
    /* limits: 431 for a long head and for too many headers */
    big = (char *)malloc(40000);
    strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(big + strlen(big), 'a', 20000);
    big[29 + 20000] = 0;
    CHECK(head(big, &r) == -431);
    strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (n = 0; n < 70; n++) strcat(big, "X-A: b\r\n");
    strcat(big, "\r\n");
    CHECK(head(big, &r) == -431);
    free(big);
    CHECK(http_has_token("a, keep-alive ,b", "Keep-Alive") && !http_has_token("keep-alivex", "keep-alive"));
}

/* Decodes `raw` fed in pieces of `step` bytes; returns the feed result and the body. */
static int dechunk(const char *raw, size_t step, size_t max_body, char *body, size_t *body_len, size_t *raw_used) {
    char buf[4096];
    http_chunked c;
    size_t n = strlen(raw), have = 0;
    int r = 0;
    memset(&c, 0, sizeof c);
    while (have < n) {
        size_t k = n - have < step ? n - have : step;
        memcpy(buf + have, raw + have, k);
        have += k;
        r = http_chunked_feed(&c, buf, have, max_body);
        if (r != 0) break;
    }
    memcpy(body, buf, c.out_len);
    *body_len = c.out_len;
    *raw_used = c.raw_pos;
    return r;
}

static void test_chunked(void) {
    static const char good[] = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    char body[4096];
    size_t len, used, step;
    int all_ok = 1;
    for (step = 1; step <= sizeof good; step++) {
        int r = dechunk(good, step, 1000, body, &len, &used);
        if (r != 1 || len != 16 || memcmp(body, "hello 0123456789", 16) || used != sizeof good - 5) all_ok = 0;
    }
    CHECK(all_ok);
    CHECK(dechunk("0\r\n\r\n", 1, 10, body, &len, &used) == 1 && len == 0 && used == 5);
    CHECK(dechunk("5\r\nhello\r\n0\r\n\r\n", 3, 4, body, &len, &used) == -413);
    CHECK(dechunk("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 7, 5, body, &len, &used) == -413);
    CHECK(dechunk("fffffffffffffffff\r\n", 1, 1000, body, &len, &used) == -413);
    CHECK(dechunk("x\r\n", 1, 1000, body, &len, &used) == -400);
    CHECK(dechunk("\r\n", 1, 1000, body, &len, &used) == -400);
    CHECK(dechunk("3\r\nabcX\r\n", 1, 1000, body, &len, &used) == -400);
    CHECK(dechunk("3\nabc\r\n", 1, 1000, body, &len, &used) == -400);
    CHECK(dechunk("3\r\nabc\r\n0\r\n\rX", 1, 1000, body, &len, &used) == -400);
    CHECK(dechunk("3\r\nabc\r\n", 2, 1000, body, &len, &used) == 0 && len == 3);
}

/* ---- over a socket pair ---- */
typedef struct writer_arg { int fd; const char *data; size_t len; int delay_ms; int close_after; } writer_arg;

static void *slow_writer(void *p) {
    writer_arg *a = (writer_arg *)p;
    size_t i;
    for (i = 0; i < a->len; i++) {
        if (send(a->fd, a->data + i, 1, MSG_NOSIGNAL) != 1) break;
        if (a->delay_ms) { struct timespec ts = { 0, a->delay_ms * 1000000L }; nanosleep(&ts, NULL); }
    }
    if (a->close_after) shutdown(a->fd, SHUT_WR);
    return NULL;
}

static void test_conn(void) {
    int sv[2];
    http_conn c;
    http_request r;
    http_limits lim;
    pthread_t th;
    writer_arg wa;
    char got[256];
    ssize_t n;
    static const char two[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPOST /b HTTP/1.1\r\nHost: x\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    memset(&lim, 0, sizeof lim);
    lim.idle_timeout_ms = 300;
    lim.request_timeout_ms = 300;
    lim.max_body_bytes = 64;
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    /* three pipelined requests, written one byte at a time */
    wa.fd = sv[1]; wa.data = two; wa.len = sizeof two - 1; wa.delay_ms = 0; wa.close_after = 1;
    pthread_create(&th, NULL, slow_writer, &wa);
    http_conn_init(&c, sv[0], &lim, NULL);
    CHECK(http_read_request(&c, &r) == 0 && !strcmp(r.path, "/a") && r.body_len == 5 && !memcmp(r.body, "hello", 5));
    CHECK(http_read_request(&c, &r) == 0 && !strcmp(r.path, "/b") && r.body_len == 3 && !memcmp(r.body, "abc", 3));
    CHECK(http_read_request(&c, &r) == 0 && !strcmp(r.path, "/c") && r.body_len == 0 && !r.keep_alive);
    CHECK(http_read_request(&c, &r) == -1);          /* clean end of stream */
    pthread_join(th, NULL);
    http_conn_free(&c);
    close(sv[0]); close(sv[1]);

    /* Expect: 100-continue gets its interim response; a body over the limit is 413 at once */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    http_conn_init(&c, sv[0], &lim, NULL);
    CHECK(send(sv[1], "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok", 71, 0) == 71);
    CHECK(http_read_request(&c, &r) == 0 && r.body_len == 2);
    n = recv(sv[1], got, sizeof got - 1, MSG_DONTWAIT);
    CHECK(n == 25 && !memcmp(got, "HTTP/1.1 100 Continue\r\n\r\n", 25));
    CHECK(send(sv[1], "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n", 48, 0) == 48);
    CHECK(http_read_request(&c, &r) == 413);
    http_conn_free(&c);
    close(sv[0]); close(sv[1]);

    /* a silent client: idle timeout closes quietly; a half-sent request is 408 */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    http_conn_init(&c, sv[0], &lim, NULL);
    CHECK(http_read_request(&c, &r) == -1);
    CHECK(send(sv[1], "GET / HT", 8, 0) == 8);
    CHECK(http_read_request(&c, &r) == 408);
    http_conn_free(&c);
    close(sv[0]); close(sv[1]);

    /* slowloris: a byte every 20 ms never completes within the request timeout */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    wa.fd = sv[1]; wa.data = "GET / HTTP/1.1\r\nHost: xxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n"; wa.len = strlen(wa.data);
    wa.delay_ms = 20; wa.close_after = 0;
    pthread_create(&th, NULL, slow_writer, &wa);
    http_conn_init(&c, sv[0], &lim, NULL);
    CHECK(http_read_request(&c, &r) == 408);
    pthread_join(th, NULL);
    http_conn_free(&c);
    close(sv[0]); close(sv[1]);

    /* peer detection and writes to a closed peer */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(!http_peer_gone(sv[0]));
    CHECK(send(sv[1], "x", 1, 0) == 1 && !http_peer_gone(sv[0]));     /* pending data is not a hang-up */
    close(sv[1]);
    CHECK(recv(sv[0], got, 1, 0) == 1 && http_peer_gone(sv[0]));
    CHECK(http_write_all(sv[0], "abc", 3, 100) == -1);
    close(sv[0]);

    CHECK(http_format_head(got, sizeof got, 404, "application/json", 7, 1, NULL) > 0 &&
          !strncmp(got, "HTTP/1.1 404 Not Found\r\n", 24) && strstr(got, "Content-Length: 7\r\n") &&
          strstr(got, "Connection: keep-alive\r\n"));
    CHECK(http_format_head(got, sizeof got, 200, "text/event-stream", -1, 0, "X-A: b\r\n") > 0 &&
          strstr(got, "Transfer-Encoding: chunked\r\n") && strstr(got, "X-A: b\r\n\r\n"));
    CHECK(http_format_head(got, 20, 200, "text/plain", 1, 0, NULL) == 0);
}

int main(void) {
    test_heads();
    test_chunked();
    test_conn();
    return check_report("test_http");
}
