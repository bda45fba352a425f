/* libFuzzer target: the GGUF reader on arbitrary bytes, then every accessor on what it accepts. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"

static void fuzz_walk_value(const bitnet_gguf_value *v, int depth) {
    uint64_t i, n;
    if (v->type != BITNET_GGUF_ARRAY || depth > 3) return;
    n = v->arr.count < 64 ? v->arr.count : 64;
    for (i = 0; i < n; i++) {
        bitnet_gguf_value e;
        if (bitnet_gguf_array_get(v, i, &e) == BITNET_OK) fuzz_walk_value(&e, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bitnet_gguf *g;
    int64_t i;
    volatile unsigned sum = 0;
    if (bitnet_gguf_open_memory(&g, data, size, NULL) != BITNET_OK) return 0;
    for (i = 0; i < bitnet_gguf_n_kv(g); i++) {
        uint32_t u;
        bitnet_gguf_get_u32(g, bitnet_gguf_key(g, i), &u);
        fuzz_walk_value(bitnet_gguf_kv(g, i), 0);
    }
    for (i = 0; i < bitnet_gguf_n_tensors(g); i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(g, i);
        if (t->size) sum += ((const unsigned char *)t->data)[0] + ((const unsigned char *)t->data)[t->size - 1];
    }
    bitnet_gguf_close(g);
    return 0;
}
