/* libFuzzer target: tokenize and detokenize arbitrary bytes with the four real vocabularies of
   ../shared/data/vocab (Llama 3 and GPT-2 BPE, Llama and Phi-3 SentencePiece). A vocabulary
   file that is missing is replaced by a small in-memory one of the same kind. The first input
   byte picks the flags and (bits 4-5) the vocabulary; the rest is the text. An input that starts
   with "GGUF" is instead read as a file whose vocabulary is loaded and used: fuzz/run.sh seeds
   the corpus with the test strings one per file and with each real vocabulary cut to 600
   tokens (fuzz/make_seeds.c), so mutations start from files that load. Run from the repo root. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>

static bitnet_vocab *fuzz_fallback(bitnet_vocab_type type) {
    static char names[300][8];
    bn_tok_str toks[300];
    int32_t types[300], i, n = 0;
    bn_vocab_src src;
    bitnet_vocab *v = NULL, *tmp = NULL;
    memset(&src, 0, sizeof src);
    src.type = BITNET_VOCAB_BPE; src.pre = BITNET_PRETOK_LLAMA3;
    toks[0].p = "x"; toks[0].n = 1; src.n_tokens = 1; src.tokens = toks;
    if (bn_vocab_build(&tmp, &src, NULL) != BITNET_OK) return NULL;
    for (i = 0; i < 256; i++, n++) {
        if (type == BITNET_VOCAB_SPM) snprintf(names[n], sizeof names[n], "<0x%02X>", i);
        else names[n][bn_tok_utf8_put(tmp->byte_cp[i], names[n])] = 0;
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

static bitnet_vocab *vocabs[4], *bpe;

/* The four vocabularies load once, before the first input (under the sanitizers the Llama 3 one
   takes seconds: not a per-input timeout). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    vocabs[0] = bpe = fuzz_load("ggml-vocab-llama-bpe.gguf", BITNET_VOCAB_BPE);
    vocabs[1] = fuzz_load("ggml-vocab-llama-spm.gguf", BITNET_VOCAB_SPM);
    vocabs[2] = fuzz_load("ggml-vocab-gpt-2.gguf", BITNET_VOCAB_BPE);
    vocabs[3] = fuzz_load("ggml-vocab-phi-3.gguf", BITNET_VOCAB_SPM);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned flags;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        bitnet_gguf *g = NULL;
        bitnet_vocab *v = NULL;
        if (bitnet_gguf_open_memory(&g, data, size, NULL) == BITNET_OK) {
            if (bitnet_vocab_load(&v, g, NULL) == BITNET_OK) {
                static const char text[] = "Hello <|eot_id|> w\xC3\xB6rld 123 \xF0\x9F\xA6\x99\xFF <s>";
                fuzz_one(v, text, sizeof text - 1, 0x0F);
                fuzz_one(v, text, sizeof text - 1, 0x00);
                bitnet_vocab_free(v);
            }
            bitnet_gguf_close(g);
        }
        return 0;
    }
    if (size == 0 || size > 8192) return 0;
    flags = data[0];
    if (vocabs[(flags >> 4) & 3]) fuzz_one(vocabs[(flags >> 4) & 3], (const char *)data + 1, size - 1, flags);
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
