/* libFuzzer target: tokenize and detokenize arbitrary bytes with a BPE vocabulary (Llama 3,
   ../shared/data/vocab/ggml-vocab-llama-bpe.gguf) and a SentencePiece one (llama-spm). A
   vocabulary file that is missing is replaced by a small in-memory one of the same kind.
   The first input byte picks the flags; the rest is the text. Run from the repository root. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>

static bitnet_vocab *fuzz_fallback(bitnet_vocab_type type) {
    static char names[300][8];
    bn_str toks[300];
    int32_t types[300], i, n = 0;
    bn_vocab_src src;
    bitnet_vocab *v = NULL, *tmp = NULL;
    memset(&src, 0, sizeof src);
    src.type = BITNET_VOCAB_BPE; src.pre = BITNET_PRETOK_LLAMA3;
    toks[0].p = "x"; toks[0].n = 1; src.n_tokens = 1; src.tokens = toks;
    if (bn_vocab_build(&tmp, &src, NULL) != BITNET_OK) return NULL;
    for (i = 0; i < 256; i++, n++) {
        if (type == BITNET_VOCAB_SPM) snprintf(names[n], sizeof names[n], "<0x%02X>", i);
        else names[n][bn_utf8_put(tmp->byte_cp[i], names[n])] = 0;
        types[n] = type == BITNET_VOCAB_SPM ? BITNET_TOKEN_BYTE : BITNET_TOKEN_NORMAL;
    }
    bitnet_vocab_free(tmp);
    strcpy(names[n], "<|eot_id|>"); types[n++] = BITNET_TOKEN_CONTROL;
    strcpy(names[n], "\xE2\x96\x81" "a"); types[n++] = BITNET_TOKEN_NORMAL;
    for (i = 0; i < n; i++) { toks[i].p = names[i]; toks[i].n = strlen(names[i]); }
    src.type = type; src.pre = type == BITNET_VOCAB_BPE ? BITNET_PRETOK_LLAMA3 : BITNET_PRETOK_NONE;
    src.n_tokens = n; src.types = types;
    src.bos = src.eos = src.eot = src.eom = src.unk = src.pad = -1;
    src.add_bos = src.add_eos = src.add_space_prefix = -1;
    if (bn_vocab_build(&v, &src, NULL) != BITNET_OK) return NULL;
    return v;
}

static bitnet_vocab *fuzz_load(const char *name, bitnet_vocab_type type) {
    char path[1024];
    const char *root = getenv("BITNET_SHARED");
    bitnet_gguf *g = NULL;
    bitnet_vocab *v = NULL;
    snprintf(path, sizeof path, "%s/data/vocab/%s", root && *root ? root : "../shared", name);
    if (bitnet_gguf_open(&g, path, NULL) == BITNET_OK) {
        if (bitnet_vocab_load(&v, g, NULL) != BITNET_OK) v = NULL;
        bitnet_gguf_close(g);
    }
    return v ? v : fuzz_fallback(type);
}

static void fuzz_one(const bitnet_vocab *v, const char *text, size_t len, unsigned flags) {
    static int32_t ids[1 << 16];
    static char out[1 << 18];
    size_t n = 0, k, m, total = 0;
    bitnet_detok d;
    bitnet_status st = bitnet_tokenize(v, text, len, flags & 1, (flags >> 1) & 1, ids, sizeof ids / sizeof ids[0], &n);
    if (st != BITNET_OK) return;
    bitnet_detokenize(v, ids, n, (int)(flags >> 2) & 3, out, sizeof out, &m);
    bitnet_detok_init(&d, v, (int)(flags >> 2) & 3);
    for (k = 0; k < n; k++) {
        if (sizeof out - total < 3 * (bitnet_vocab_max_piece(v) + 4)) total = 0;
        if (bitnet_detok_push(&d, ids[k], out + total, sizeof out - total, &m) != BITNET_OK) abort();
        total += m;
    }
    total += bitnet_detok_flush(&d, out + total, sizeof out - total);
    /* without a BOS and special text, BPE round-trips valid UTF-8 exactly: not checked here,
       the unit tests do; the fuzzer looks for memory errors and hangs */
    (void)total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bitnet_vocab *bpe, *spm;
    static int loaded;
    unsigned flags;
    if (!loaded) {
        bpe = fuzz_load("ggml-vocab-llama-bpe.gguf", BITNET_VOCAB_BPE);
        spm = fuzz_load("ggml-vocab-llama-spm.gguf", BITNET_VOCAB_SPM);
        loaded = 1;
    }
    if (size == 0 || size > 8192) return 0;
    flags = data[0];
    if (bpe) fuzz_one(bpe, (const char *)data + 1, size - 1, flags);
    if (spm) fuzz_one(spm, (const char *)data + 1, size - 1, flags);
    {
        char buf[20000];
        size_t len;
        bitnet_chat_message msg;
        char *content = (char *)malloc(size);
        if (content) {
            memcpy(content, data + 1, size - 1);
            content[size - 1] = 0;
            msg.role = "user"; msg.content = content;
            bitnet_chat_format(bpe, (bitnet_chat_format_id)(flags % 3), &msg, 1, 1, buf, sizeof buf, &len);
            free(content);
        }
    }
    return 0;
}
