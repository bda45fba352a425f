/* Tokenizer speed: vocabulary load time and tokenize / detokenize throughput on the llama.cpp
   test strings repeated to ~1 MB, for the Llama 3 BPE, GPT-2 and Llama 2 SentencePiece
   vocabularies. Run from the repository root (reads ../shared/data/vocab). Prints figures. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void bench(const char *name) {
    char path[512];
    bitnet_gguf *g;
    bitnet_vocab *v = NULL;
    FILE *f;
    static char text[1 << 20], back[1 << 21];
    static int32_t ids[1 << 20];
    size_t len = 0, got, n = 0, m = 0;
    double t0, t_load, t_tok, t_detok;
    snprintf(path, sizeof path, "../shared/data/vocab/ggml-vocab-%s.gguf", name);
    if (bitnet_gguf_open(&g, path, NULL) != BITNET_OK) { printf("%s: %s\n", name, bitnet_last_error()); return; }
    t0 = now();
    if (bitnet_vocab_load(&v, g, NULL) != BITNET_OK) { printf("%s: %s\n", name, bitnet_last_error()); bitnet_gguf_close(g); return; }
    t_load = now() - t0;
    strcat(path, ".inp");
    if (!(f = fopen(path, "rb"))) { printf("%s: no test strings\n", name); goto done; }
    got = fread(text, 1, 4096, f);
    fclose(f);
    for (len = got; len + got < sizeof text; len += got) memcpy(text + len, text, got);
    t0 = now();
    bitnet_tokenize(v, text, len, 0, getenv("PARSE_SPECIAL") != NULL, ids, sizeof ids / sizeof ids[0], &n);
    t_tok = now() - t0;
    t0 = now();
    bitnet_detokenize(v, ids, n, 0, back, sizeof back, &m);
    t_detok = now() - t0;
    printf("%-10s %6d tokens, load %6.1f ms | tokenize %5.1f MB/s (%zu bytes -> %zu ids) | detokenize %6.1f MB/s\n",
           name, bitnet_vocab_size(v), 1e3 * t_load, (double)len / t_tok / 1e6, len, n, (double)m / t_detok / 1e6);
done:
    bitnet_vocab_free(v);
    bitnet_gguf_close(g);
}

int main(void) {
    bench("llama-bpe");
    bench("gpt-2");
    bench("llama-spm");
    return 0;
}
