/* libFuzzer target for the HTTP/1.1 request parser of tools/http.c: any bytes as a request head
   are parsed or rejected with a status, never a crash or a read past the input; a complete head
   is no longer than the input; and a chunked body after it decodes to the same bytes whether fed
   at once or one byte at a time. */
#define _POSIX_C_SOURCE 200809L
#include "tools/http.c"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = (char *)malloc(size + 1), *a, *b;
    http_request req;
    http_chunked c1, c2;
    size_t rest, i;
    int n, r1, r2 = 0;
    if (!buf) return 0;
    memcpy(buf, data, size);
    n = http_parse_head(buf, size, 1024, &req);
    FUZZ_REQUIRE(n == 0 || n == -400 || n == -431 || n == -501 || n == -505 || (n > 0 && (size_t)n <= size));
    if (n > 0) {
        FUZZ_REQUIRE(req.method && req.path && req.path[0] && req.n_headers <= HTTP_MAX_HEADERS);
        for (i = 0; i < (size_t)req.n_headers; i++) FUZZ_REQUIRE(req.headers[i].name[0]);
        rest = size - (size_t)n;
        a = (char *)malloc(rest + 1);
        b = (char *)malloc(rest + 1);
        memcpy(a, data + n, rest);
        memcpy(b, data + n, rest);
        memset(&c1, 0, sizeof c1);
        memset(&c2, 0, sizeof c2);
        r1 = http_chunked_feed(&c1, a, rest, 4096);
        for (i = 1; i <= rest; i++) {
            r2 = http_chunked_feed(&c2, b, i, 4096);
            if (r2 != 0) break;
        }
        if (rest == 0) r2 = http_chunked_feed(&c2, b, 0, 4096);
        FUZZ_REQUIRE(r1 == r2 && c1.out_len <= 4096 && c1.raw_pos <= rest);
        if (r1 == 1) FUZZ_REQUIRE(c1.out_len == c2.out_len && c1.raw_pos == c2.raw_pos && !memcmp(a, b, c1.out_len));
        free(a);
        free(b);
    }
    free(buf);
    return 0;
}
