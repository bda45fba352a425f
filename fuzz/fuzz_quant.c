/* libFuzzer target: dequantize arbitrary tensor bytes of every type the library decodes, then
   quantize floats built from the input and decode them again. Checks: decoding never reads past
   src_size, never writes past n_rows * n_cols floats; what quantizes decodes; a ternary type
   decodes to at most three values per tensor (I2_S) or per block scale (TQ1_0, TQ2_0).
   Input: byte 0 picks the type, bytes 1-2 the shape (rows 1..8, columns in blocks), the rest is
   the tensor. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <math.h>
#include <stdlib.h>

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static const bitnet_type fuzz_types[] = { BITNET_TYPE_F32, BITNET_TYPE_F16, BITNET_TYPE_BF16, BITNET_TYPE_Q8_0,
                                          BITNET_TYPE_Q6_K, BITNET_TYPE_TQ1_0, BITNET_TYPE_TQ2_0, BITNET_TYPE_I2_S };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bitnet_type type;
    uint64_t rows, cols, ne[2], bytes, i, n;
    float *out, *in;
    unsigned char *q;
    if (size < 3) return 0;
    type = fuzz_types[data[0] % (sizeof fuzz_types / sizeof fuzz_types[0])];
    rows = 1 + data[1] % 8;
    cols = (uint64_t)(data[2] % 4 + 1) * (data[2] & 0x80 ? 256 : 32) + (data[2] & 0x40 ? 1 : 0);  /* odd sizes too */
    n = rows * cols;
    data += 3;
    size -= 3;
    /* an exact-size copy: ASan sees any read past src_size */
    q = (unsigned char *)malloc(size ? size : 1);
    out = (float *)malloc((size_t)n * sizeof *out);
    in = (float *)malloc((size_t)n * sizeof *in);
    if (!q || !out || !in) abort();
    memcpy(q, data, size);
    bitnet_dequantize(type, q, size, rows, cols, out);
    free(q);
    /* quantize floats from the input (finite, bounded) and decode them */
    for (i = 0; i < n; i++) {
        int8_t b = size ? (int8_t)data[i % size] : 0;
        in[i] = (float)b / 16.0f;
    }
    ne[0] = cols; ne[1] = rows;
    if (bitnet_tensor_bytes(type, 2, ne, &bytes) == BITNET_OK && type != BITNET_TYPE_Q6_K) {
        q = (unsigned char *)malloc((size_t)bytes);
        if (!q) abort();
        if (bitnet_quantize(type, in, rows, cols, q, bytes) == BITNET_OK) {
            FUZZ_REQUIRE(bitnet_dequantize(type, q, bytes, rows, cols, out) == BITNET_OK);
            for (i = 0; i < n; i++) FUZZ_REQUIRE(isfinite(out[i]));
            if (type == BITNET_TYPE_F32) FUZZ_REQUIRE(memcmp(in, out, (size_t)n * sizeof *in) == 0);
            if (type == BITNET_TYPE_I2_S) {          /* one alpha: every value is -a, 0 or a */
                float a = 0;
                for (i = 0; i < n; i++) if (out[i] != 0) { a = fabsf(out[i]); break; }
                for (i = 0; i < n; i++) FUZZ_REQUIRE(out[i] == 0 || fabsf(out[i]) == a);
            }
        }
        free(q);
    }
    free(out);
    free(in);
    return 0;
}
