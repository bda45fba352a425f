/* libFuzzer target for the safetensors header reader of tools/safetensors.c: any image is
   parsed or rejected with a message, never a crash; every accepted tensor lies inside the
   image with exactly elements * dtype-size bytes, and reading it as floats (for float dtypes)
   stays inside it. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include "tools/json.c"
#include "tools/safetensors.c"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_model m;
    char err[256] = "";
    size_t i;
    memset(&m, 0, sizeof m);
    if (st_parse(&m, data, size, 0, err, sizeof err) || st_finish(&m, err, sizeof err)) {
        FUZZ_REQUIRE(err[0]);
        st_close(&m);
        return 0;
    }
    for (i = 0; i < m.n_tensors; i++) {
        const st_tensor *t = &m.tensors[i];
        float buf[64];
        FUZZ_REQUIRE(t->data >= data && t->size <= size && (size_t)(t->data - data) <= size - t->size);
        FUZZ_REQUIRE(t->size == t->n_elements * st_dtype_size(t->dtype));
        FUZZ_REQUIRE(st_find(&m, t->name) == t);
        if (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64) {
            uint64_t n = t->n_elements < 64 ? t->n_elements : 64;
            FUZZ_REQUIRE(st_read_f32(t, t->n_elements - n, n, buf) == 0);
            FUZZ_REQUIRE(st_read_f32(t, t->n_elements, 1, buf) != 0);
        }
    }
    st_close(&m);
    return 0;
}
