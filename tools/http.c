/* http.c - see http.h. */
#define _POSIX_C_SOURCE 200809L
#include "http.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define HTTP_DEFAULT_MAX_HEADER ((size_t)16 << 10)
#define HTTP_DEFAULT_MAX_BODY ((size_t)8 << 20)
#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_MAX_CHUNK_LINE 4096

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_TRAILER_LINE,
       CH_TRAILER_LF, CH_END_LF, CH_DONE };

static int http_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int http_ieq(const char *a, const char *b) {
    while (*a && http_lower((unsigned char)*a) == http_lower((unsigned char)*b)) { a++; b++; }
    return *a == 0 && *b == 0;
}

/* RFC 9110 token characters (method names, header names). */
static int http_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *http_find_end(const char *buf, size_t len) {
    size_t i;
    for (i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') return buf + i;
    return NULL;
}

/* The request line "METHOD SP target SP HTTP/1.x" at line (NUL-terminated, no CRLF). */
static int http_request_line(char *line, http_request *req) {
    char *p = line, *q;
    while (http_tchar((unsigned char)*p)) p++;
    if (p == line || *p != ' ') return -400;
    *p++ = 0;
    req->method = line;
    q = p;
    while (*p > ' ' && *p != 0x7f) p++;
    if (p == q || *p != ' ' || (*q != '/' && strcmp(q, "*") != 0)) return -400;
    *p++ = 0;
    req->target = req->path = q;
    if (strncmp(p, "HTTP/", 5) != 0) return -400;
    if (p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9' || p[8]) return -400;
    if (p[5] != '1') return -505;
    req->minor = p[7] - '0';
    if ((q = strchr(q, '?')) != NULL) *q = 0;    /* the query is not used */
    return 0;
}

static int http_header_line(char *line, http_request *req) {
    char *p = line, *v, *e;
    while (http_tchar((unsigned char)*p)) p++;
    if (p == line || *p != ':') return -400;     /* also catches obs-fold and space before ':' */
    *p++ = 0;
    while (*p == ' ' || *p == '\t') p++;
    v = p;
    for (e = p; *e; e++)
        if (((unsigned char)*e < 0x20 && *e != '\t') || *e == 0x7f) return -400;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = 0;
    if (req->n_headers == HTTP_MAX_HEADERS) return -431;
    req->headers[req->n_headers].name = line;
    req->headers[req->n_headers].value = v;
    req->n_headers++;
    return 0;
}

/* Content-Length, Transfer-Encoding, Connection and Expect. */
static int http_semantics(http_request *req) {
    const char *te = NULL, *conn = http_header_get(req, "connection"), *expect = http_header_get(req, "expect");
    int i;
    req->content_length = -1;
    for (i = 0; i < req->n_headers; i++) {
        const char *name = req->headers[i].name, *v = req->headers[i].value;
        if (http_ieq(name, "content-length")) {
            int64_t n = 0;
            const char *d = v;
            if (!*d) return -400;
            for (; *d; d++) {
                if (*d < '0' || *d > '9' || n > (INT64_MAX - 9) / 10) return -400;
                n = n * 10 + (*d - '0');
            }
            if (req->content_length >= 0 && req->content_length != n) return -400;
            req->content_length = n;
        } else if (http_ieq(name, "transfer-encoding")) {
            if (te) return -400;
            te = v;
        }
    }
    if (te) {
        if (req->content_length >= 0 || req->minor == 0) return -400;
        if (!http_ieq(te, "chunked")) return -501;
        req->chunked = 1;
    }
    if (req->minor >= 1 && !http_header_get(req, "host")) return -400;
    req->keep_alive = req->minor >= 1 ? !(conn && http_has_token(conn, "close"))
                                      : (conn && http_has_token(conn, "keep-alive"));
    req->expect_continue = req->minor >= 1 && expect && http_ieq(expect, "100-continue");
    return 0;
}

int http_parse_head(char *buf, size_t len, size_t max_header_bytes, http_request *req) {
    size_t skip = 0, scan;
    char *end, *line, *eol;
    int rc, first = 1;
    if (!max_header_bytes) max_header_bytes = HTTP_DEFAULT_MAX_HEADER;
    while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n') skip += 2;   /* stray CRLFs */
    if (skip >= max_header_bytes) return -431;
    scan = len - skip < max_header_bytes ? len - skip : max_header_bytes;
    if (!(end = (char *)http_find_end(buf + skip, scan))) return len - skip >= max_header_bytes ? -431 : 0;
    memset(req, 0, sizeof *req);
    line = buf + skip;
    if (memchr(line, 0, (size_t)(end - line))) return -400;
    *end = 0;                      /* the last line ends here; the body starts 4 bytes on */
    for (;;) {
        if (!(eol = strstr(line, "\r\n"))) eol = end;
        *eol = 0;
        if (memchr(line, '\r', (size_t)(eol - line)) || memchr(line, '\n', (size_t)(eol - line))) return -400;
        rc = first ? http_request_line(line, req) : http_header_line(line, req);
        if (rc) return rc;
        first = 0;
        if (eol == end) break;
        line = eol + 2;
    }
    if ((rc = http_semantics(req)) != 0) return rc;
    return (int)((size_t)(end - buf) + 4);
}

const char *http_header_get(const http_request *req, const char *name) {
    int i;
    for (i = 0; i < req->n_headers; i++)
        if (http_ieq(req->headers[i].name, name)) return req->headers[i].value;
    return NULL;
}

int http_has_token(const char *value, const char *token) {
    size_t n = strlen(token);
    const char *p = value;
    while (*p) {
        const char *s, *e;
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        s = p;
        while (*p && *p != ',') p++;
        e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - s) == n) {
            size_t i;
            for (i = 0; i < n && http_lower((unsigned char)s[i]) == http_lower((unsigned char)token[i]); i++) {}
            if (i == n) return 1;
        }
    }
    return 0;
}

static int http_hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = http_lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int http_chunked_feed(http_chunked *c, char *buf, size_t raw_len, size_t max_body) {
    while (c->raw_pos < raw_len && c->state != CH_DONE) {
        char ch = buf[c->raw_pos];
        switch (c->state) {
        case CH_SIZE: {
            int h = http_hex((unsigned char)ch);
            if (h >= 0) {
                if (++c->size_digits > 15) return -413;
                c->left = c->left * 16 + (uint64_t)h;
                c->raw_pos++;
                break;
            }
            if (!c->size_digits) return -400;
            if (c->left > max_body || c->out_len + c->left > max_body) return -413;
            c->state = ch == '\r' ? CH_SIZE_LF : CH_EXT;
            if (ch != '\r' && ch != ';' && ch != ' ' && ch != '\t') return -400;
            c->raw_pos++;
            break;
        }
        case CH_EXT:
            if (ch == '\r') c->state = CH_SIZE_LF;
            else if ((unsigned char)ch < 0x20 && ch != '\t') return -400;
            else if (++c->line_len > HTTP_MAX_CHUNK_LINE) return -400;
            c->raw_pos++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n') return -400;
            c->raw_pos++;
            c->line_len = 0;
            c->size_digits = 0;
            c->state = c->left ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA: {
            size_t n = raw_len - c->raw_pos;
            if (n > c->left) n = (size_t)c->left;
            memmove(buf + c->out_len, buf + c->raw_pos, n);
            c->out_len += n;
            c->raw_pos += n;
            c->left -= n;
            if (!c->left) c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (ch != '\r') return -400;
            c->raw_pos++;
            c->state = CH_DATA_LF;
            break;
        case CH_DATA_LF:
            if (ch != '\n') return -400;
            c->raw_pos++;
            c->state = CH_SIZE;
            break;
        case CH_TRAILER:           /* start of a trailer line, or the final CRLF */
            if (ch == '\r') c->state = CH_END_LF;
            else c->state = CH_TRAILER_LINE;
            c->raw_pos += ch == '\r';
            break;
        case CH_TRAILER_LINE:
            if (ch == '\r') c->state = CH_TRAILER_LF;
            else if (++c->line_len > HTTP_MAX_CHUNK_LINE) return -431;
            c->raw_pos++;
            break;
        case CH_TRAILER_LF:
            if (ch != '\n') return -400;
            c->raw_pos++;
            c->line_len = 0;
            c->state = CH_TRAILER;
            break;
        case CH_END_LF:
            if (ch != '\n') return -400;
            c->raw_pos++;
            c->state = CH_DONE;
            break;
        }
    }
    return c->state == CH_DONE;
}

/* ---- a connection ---- */

static double http_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void http_conn_init(http_conn *c, int fd, const http_limits *limits, const volatile int *stop) {
    memset(c, 0, sizeof *c);
    c->fd = fd;
    if (limits) c->limits = *limits;
    if (!c->limits.max_header_bytes) c->limits.max_header_bytes = HTTP_DEFAULT_MAX_HEADER;
    if (!c->limits.max_body_bytes) c->limits.max_body_bytes = HTTP_DEFAULT_MAX_BODY;
    if (c->limits.idle_timeout_ms <= 0) c->limits.idle_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    if (c->limits.request_timeout_ms <= 0) c->limits.request_timeout_ms = HTTP_DEFAULT_TIMEOUT_MS;
    c->stop = stop;
}

void http_conn_free(http_conn *c) {
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = c->used = 0;
}

/* Grows the buffer to hold `need` bytes, moving req's pointers along with it. */
static int http_grow(http_conn *c, size_t need, http_request *req, int have_req) {
    size_t cap = c->cap ? c->cap : 4096, off[4 + 2 * HTTP_MAX_HEADERS];
    char *nb;
    int i;
    if (need <= c->cap) return 0;
    while (cap < need) cap *= 2;
    if (have_req) {
        off[0] = (size_t)(req->method - c->buf);
        off[1] = (size_t)(req->target - c->buf);
        off[2] = (size_t)(req->path - c->buf);
        for (i = 0; i < req->n_headers; i++) {
            off[4 + 2 * i] = (size_t)(req->headers[i].name - c->buf);
            off[5 + 2 * i] = (size_t)(req->headers[i].value - c->buf);
        }
    }
    if (!(nb = (char *)realloc(c->buf, cap))) return -1;
    c->buf = nb;
    c->cap = cap;
    if (have_req) {
        req->method = nb + off[0];
        req->target = nb + off[1];
        req->path = nb + off[2];
        for (i = 0; i < req->n_headers; i++) {
            req->headers[i].name = nb + off[4 + 2 * i];
            req->headers[i].value = nb + off[5 + 2 * i];
        }
    }
    return 0;
}

/* Reads more bytes before the deadline: 1 read something, 0 end of stream, -1 timeout/stop/error. */
static int http_fill(http_conn *c, double deadline, http_request *req, int have_req) {
    for (;;) {
        struct pollfd p;
        double left = deadline - http_now_ms();
        ssize_t n;
        int r;
        if (c->stop && *c->stop) return -1;
        if (left <= 0) return -1;
        if (c->len == c->cap && http_grow(c, c->cap + 1, req, have_req)) return -1;
        p.fd = c->fd;
        p.events = POLLIN;
        p.revents = 0;
        r = poll(&p, 1, left > 200 ? 200 : (int)left + 1);    /* slices: notice a shutdown */
        if (r < 0 && errno != EINTR) return -1;
        if (r <= 0) continue;
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return n == 0 ? 0 : -1;
        c->len += (size_t)n;
        return 1;
    }
}

int http_read_request(http_conn *c, http_request *req) {
    double deadline;
    int head, r;
    size_t max_raw;
    if (c->used) {
        memmove(c->buf, c->buf + c->used, c->len - c->used);
        c->len -= c->used;
        c->used = 0;
    }
    deadline = http_now_ms() + (c->len ? c->limits.request_timeout_ms : c->limits.idle_timeout_ms);
    for (;;) {
        head = c->len ? http_parse_head(c->buf, c->len, c->limits.max_header_bytes, req) : 0;
        if (head < 0) return -head;
        if (head > 0) break;
        if (c->len == 0) {
            r = http_fill(c, deadline, req, 0);
            if (r <= 0) return -1;
            deadline = http_now_ms() + c->limits.request_timeout_ms;
        } else if ((r = http_fill(c, deadline, req, 0)) <= 0) {
            return r == 0 || (c->stop && *c->stop) ? -1 : 408;
        }
    }
    if (req->content_length > (int64_t)c->limits.max_body_bytes) return 413;
    if (req->expect_continue && (req->content_length > 0 || req->chunked) &&
        http_write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, c->limits.request_timeout_ms))
        return -1;
    if (req->chunked) {
        http_chunked ch;
        memset(&ch, 0, sizeof ch);
        max_raw = (size_t)head + 2 * c->limits.max_body_bytes + 65536;
        for (;;) {
            r = http_chunked_feed(&ch, c->buf + head, c->len - (size_t)head, c->limits.max_body_bytes);
            if (r < 0) return -r;
            if (r == 1) break;
            if (c->len >= max_raw) return 413;
            if ((r = http_fill(c, deadline, req, 1)) <= 0) return r == 0 || (c->stop && *c->stop) ? -1 : 408;
        }
        req->body = c->buf + head;
        req->body_len = ch.out_len;
        c->used = (size_t)head + ch.raw_pos;
        return 0;
    }
    if (req->content_length > 0) {
        size_t need = (size_t)head + (size_t)req->content_length;
        if (http_grow(c, need, req, 1)) return 413;
        while (c->len < need)
            if ((r = http_fill(c, deadline, req, 1)) <= 0) return r == 0 || (c->stop && *c->stop) ? -1 : 408;
        req->body_len = (size_t)req->content_length;
    }
    req->body = c->buf + head;
    c->used = (size_t)head + req->body_len;
    return 0;
}

/* ---- responses ---- */

int http_write_all(int fd, const char *buf, size_t len, int timeout_ms) {
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) { buf += n; len -= (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p;
            p.fd = fd;
            p.events = POLLOUT;
            p.revents = 0;
            if (poll(&p, 1, timeout_ms) <= 0 || (p.revents & (POLLERR | POLLHUP))) return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

const char *http_reason(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

size_t http_format_head(char *out, size_t cap, int status, const char *content_type,
                        int64_t content_length, int keep_alive, const char *extra) {
    char length[64];
    int n;
    if (content_length >= 0) snprintf(length, sizeof length, "Content-Length: %lld\r\n", (long long)content_length);
    else snprintf(length, sizeof length, "Transfer-Encoding: chunked\r\n");
    n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sConnection: %s\r\n%s%s\r\n", status,
                 http_reason(status), content_type, length, keep_alive ? "keep-alive" : "close",
                 content_length < 0 ? "Cache-Control: no-cache\r\n" : "", extra ? extra : "");
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int http_send(int fd, int status, const char *content_type, const char *body, size_t len,
              int keep_alive, const char *extra) {
    char head[1024];
    size_t n = http_format_head(head, sizeof head, status, content_type, (int64_t)len, keep_alive, extra);
    if (!n || http_write_all(fd, head, n, HTTP_DEFAULT_TIMEOUT_MS)) return -1;
    return len ? http_write_all(fd, body, len, HTTP_DEFAULT_TIMEOUT_MS) : 0;
}

int http_send_chunk(int fd, const char *data, size_t len) {
    char size[24];
    int n = snprintf(size, sizeof size, "%lx\r\n", (unsigned long)len);
    if (http_write_all(fd, size, (size_t)n, HTTP_DEFAULT_TIMEOUT_MS)) return -1;
    if (len && http_write_all(fd, data, len, HTTP_DEFAULT_TIMEOUT_MS)) return -1;
    return http_write_all(fd, "\r\n", 2, HTTP_DEFAULT_TIMEOUT_MS);
}

int http_peer_gone(int fd) {
    struct pollfd p;
    char b;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return 1;
    if (p.revents & POLLIN) {
        ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }
    return 0;
}

void http_close(int fd) {
    char sink[4096];
    double until = http_now_ms() + 1000;
    size_t total = 0;
    shutdown(fd, SHUT_WR);
    while (total < (256u << 10)) {
        struct pollfd p;
        double left = until - http_now_ms();
        ssize_t n;
        if (left <= 0) break;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, (int)left + 1) <= 0) break;
        n = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        total += (size_t)n;
    }
    close(fd);
}
