/* libFuzzer target for the stop-string matcher: arbitrary stop strings, text and splits. The
   streamed output must equal the one-piece reference (text up to the first stop string to
   complete, the longest of those ending at the same byte), whatever the split.
   Input: byte 0 = number of stop strings (mod 4); each stop string = a length byte (mod 8, + 1)
   and its bytes (NUL becomes 1); then chunks = a length byte (mod 9) and that many text bytes. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "tests/stop_reference.h"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint8_t text[4096], got[4096 + 16];
    char stops[3][9], out[64];
    const char *ptrs[3];
    size_t pos = 1, len = 0, glen = 0, n, want, i;
    int ns, which;
    bitnet_stop *st = NULL;
    if (size < 1) return 0;
    ns = data[0] % 4;
    for (i = 0; i < (size_t)ns; i++) {
        size_t l = pos < size ? data[pos++] % 8 + 1 : 1, k;
        for (k = 0; k < l; k++) stops[i][k] = (char)(pos < size && data[pos] ? data[pos++] : (pos++, 1));
        stops[i][l] = 0;
        ptrs[i] = stops[i];
    }
    FUZZ_REQUIRE(bitnet_stop_new(&st, ptrs, ns, NULL) == BITNET_OK);
    FUZZ_REQUIRE(bitnet_stop_max_held(st) + 8 <= sizeof out);
    while (pos < size && len < sizeof text - 8) {
        size_t k = data[pos++] % 9;
        if (k > size - pos) k = size - pos;
        memcpy(text + len, data + pos, k);
        FUZZ_REQUIRE(bitnet_stop_feed(st, (const char *)data + pos, k, out, sizeof out, &n) == BITNET_OK);
        FUZZ_REQUIRE(n <= k + bitnet_stop_max_held(st) && st->n_held <= bitnet_stop_max_held(st));
        memcpy(got + glen, out, n);
        glen += n;
        len += k;
        pos += k;
    }
    FUZZ_REQUIRE(bitnet_stop_flush(st, out, sizeof out, &n) == BITNET_OK);
    memcpy(got + glen, out, n);
    glen += n;
    want = stop_reference((const char *)text, len, ptrs, ns, &which);
    FUZZ_REQUIRE(glen == want && memcmp(got, text, want) == 0 && bitnet_stop_matched(st) == which);
    bitnet_stop_free(st);
    return 0;
}
