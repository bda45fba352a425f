/* http.h - the HTTP/1.1 server side of `bitnet serve`: a request parser, body framing
   (Content-Length and chunked), reading from a socket with limits and timeouts, and response
   and server-sent-event writers.

   The parsing functions work on a buffer and never touch a socket, so the fuzz target drives
   them directly; http_read_request() wraps them around a connection. Limits: a request head
   longer than max_header_bytes or with more than HTTP_MAX_HEADERS headers is 431, a body longer
   than max_body_bytes is 413. Strictness (against request smuggling): lines end in CRLF; no
   whitespace before a header colon, no obs-fold; Content-Length is digits only, and two that
   disagree are 400; Content-Length together with Transfer-Encoding is 400; a Transfer-Encoding
   other than "chunked" is 501; the version must be HTTP/1.0 or HTTP/1.1 (505 otherwise). */
#ifndef BITNET_TOOLS_HTTP_H
#define BITNET_TOOLS_HTTP_H
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_header {
    const char *name, *value;          /* NUL-terminated, inside the connection's buffer */
} http_header;

typedef struct http_request {
    const char *method;                /* "GET", "POST", ... */
    const char *target;                /* "/v1/models?x=1" */
    const char *path;                  /* target without the query: "/v1/models" */
    int minor;                         /* HTTP/1.minor */
    int n_headers;
    http_header headers[HTTP_MAX_HEADERS];
    int keep_alive;                    /* the client lets the connection stay open */
    int chunked;                       /* Transfer-Encoding: chunked */
    int expect_continue;               /* Expect: 100-continue */
    int64_t content_length;            /* -1 when absent */
    char *body;                        /* (body_len) bytes, NUL-terminated; inside the buffer */
    size_t body_len;
} http_request;

typedef struct http_limits {
    size_t max_header_bytes;           /* 0 = 16 KiB */
    size_t max_body_bytes;             /* 0 = 8 MiB */
    int idle_timeout_ms;               /* waiting for a request to begin; 0 = 30 s */
    int request_timeout_ms;            /* from its first byte to the end of its body; 0 = 30 s */
} http_limits;

/* Parses the request head at buf[0..len) in place (it writes NULs into buf). Returns the head's
   length (through the blank line) and fills req, 0 if the head is not complete yet, or minus an
   HTTP status (-400, -431, -501, -505) for a bad one. */
int http_parse_head(char *buf, size_t len, size_t max_header_bytes, http_request *req);

/* Incremental chunked-body decoder working in place: raw bytes are appended after `out`, and
   each call decodes what it can, moving the decoded bytes down to out[0..out_len). */
typedef struct http_chunked {
    int state;                         /* where in the chunk grammar the decoder stands */
    uint64_t left;                     /* data bytes left in the current chunk */
    size_t raw_pos;                    /* bytes of the raw stream consumed */
    size_t out_len;                    /* decoded bytes so far */
    unsigned line_len;                 /* characters of the size/trailer line so far */
    int size_digits;
} http_chunked;

/* buf[0..raw_len) holds the raw chunked stream (out_len decoded bytes already at its start);
   decodes what it can in place. Returns 1 when the body is complete (then raw_pos is the raw
   length it had), 0 for more, or minus a status (-400 malformed, -413 over max_body). */
int http_chunked_feed(http_chunked *c, char *buf, size_t raw_len, size_t max_body);

/* A header's value by case-insensitive name, NULL if absent. */
const char *http_header_get(const http_request *req, const char *name);
/* value, a comma-separated list, has the token (case-insensitive). */
int http_has_token(const char *value, const char *token);

/* ---- a connection ---- */
typedef struct http_conn {
    int fd;
    char *buf;                         /* (cap) bytes: the current request then whatever followed it */
    size_t len, cap, used;             /* bytes held; bytes of the current request */
    http_limits limits;
    const volatile int *stop;          /* nonzero: stop waiting (the server is shutting down) */
} http_conn;

void http_conn_init(http_conn *c, int fd, const http_limits *limits, const volatile int *stop);
void http_conn_free(http_conn *c);     /* frees the buffer; does not close fd */
/* Reads the next request (after the previous one: pipelined bytes are kept). Returns 0 with req
   filled, -1 when the connection ended cleanly or timed out waiting for a request (close it
   without a response), or an HTTP status >= 400 to answer before closing (400, 408, 413, 431,
   501, 505). Sends "100 Continue" itself when asked and the body is within limits. */
int http_read_request(http_conn *c, http_request *req);

/* Writes all of buf (MSG_NOSIGNAL; retries EINTR, waits up to timeout_ms for a slow reader).
   Returns 0, or -1 when the peer is gone or too slow. */
int http_write_all(int fd, const char *buf, size_t len, int timeout_ms);
/* The reason phrase of a status ("Not Found"). */
const char *http_reason(int status);
/* Writes a status line and headers into out (NUL-terminated) and returns its length, or 0 if
   cap is too small. content_length < 0: a chunked body (used for event streams). extra: more
   header lines, each ending in CRLF, or NULL. */
size_t http_format_head(char *out, size_t cap, int status, const char *content_type,
                        int64_t content_length, int keep_alive, const char *extra);
/* A whole response: head then body. Returns 0 or -1. */
int http_send(int fd, int status, const char *content_type, const char *body, size_t len,
              int keep_alive, const char *extra);
/* One chunk of a chunked body (an SSE event: "data: ...\n\n"); len 0 ends the body. */
int http_send_chunk(int fd, const char *data, size_t len);
/* Closes a connection gracefully: our side first, then whatever the client still sends is read
   and dropped (up to 1 s / 256 KiB) so that an early error answer is not lost to a reset. */
void http_close(int fd);
/* The peer has closed its side or reset the connection (checked without blocking). */
int http_peer_gone(int fd);
#endif
