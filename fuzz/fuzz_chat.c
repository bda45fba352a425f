/* libFuzzer target: conversations of arbitrary roles and contents through bitnet_chat_format and
   bitnet_chat_tokenize with the Llama 3 vocabulary (../shared/data/vocab/ggml-vocab-llama-bpe.gguf;
   a small in-memory one when missing). Checks the guarantee "chat text is text": the control
   ids in the result are exactly the template's markers, whatever the messages contain, and the
   ids spell the formatted conversation.
   Input: byte 0 = format and add_assistant; the rest is split at 0x1E into role, content, role,
   content, ... (at most 8 messages). */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdlib.h>

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static bitnet_vocab *fuzz_vocab(void) {
    char path[1024];
    const char *root = getenv("BITNET_SHARED");
    static bitnet_gguf *g;
    bitnet_vocab *v = NULL;
    snprintf(path, sizeof path, "%s/data/vocab/ggml-vocab-llama-bpe.gguf", root && *root ? root : "../shared");
    if (bitnet_gguf_open(&g, path, NULL) == BITNET_OK && bitnet_vocab_load(&v, g, NULL) == BITNET_OK) return v;
    {   /* fallback: bytes plus the four markers */
        static char names[260][8];
        static bn_tok_str toks[260];
        static const char *const marks[4] = { "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>" };
        int32_t types[260], i, n = 0;
        bn_vocab_src src;
        bitnet_vocab *tmp = NULL;
        memset(&src, 0, sizeof src);
        src.type = BITNET_VOCAB_BPE; src.pre = BITNET_PRETOK_LLAMA3;
        toks[0].p = "x"; toks[0].n = 1; src.n_tokens = 1; src.tokens = toks;
        if (bn_vocab_build(&tmp, &src, NULL) != BITNET_OK) return NULL;
        for (i = 0; i < 256; i++, n++) {
            names[n][bn_tok_utf8_put(tmp->byte_cp[i], names[n])] = 0;
            toks[n].p = names[n]; toks[n].n = strlen(names[n]); types[n] = BITNET_TOKEN_NORMAL;
        }
        bitnet_vocab_free(tmp);
        for (i = 0; i < 4; i++, n++) { toks[n].p = marks[i]; toks[n].n = strlen(marks[i]); types[n] = BITNET_TOKEN_CONTROL; }
        src.n_tokens = n; src.types = types;
        src.bos = 256; src.eos = src.eot = 259; src.eom = src.unk = src.pad = -1;
        src.add_bos = src.add_eos = src.add_space_prefix = -1;
        if (bn_vocab_build(&v, &src, NULL) != BITNET_OK) return NULL;
        return v;
    }
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
static int fuzz_valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
        unsigned cp = need == 0 ? c : need == 1 ? c & 0x1f : need == 2 ? c & 0x0f : c & 0x07, k;
        if (need == 9 || i + need >= n + 1) return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((need == 1 && cp < 0x80) || (need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += need + 1;
    }
    return 1;
}

static bitnet_vocab *v;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {       /* the vocabulary loads before the first input */
    (void)argc; (void)argv;
    v = fuzz_vocab();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int32_t ids[1 << 15];
    static char text[1 << 16], back[1 << 16];
    bitnet_chat_message msgs[8];
    char *copy, *p, *end;
    size_t n_msgs = 0, n_ids = 0, len = 0, blen = 0, i, n_ctl = 0, want;
    bitnet_chat_format_id format;
    int add_assistant;
    if (!v) return 0;
    if (size < 1 || size > 8192) return 0;
    format = data[0] & 1 ? BITNET_CHAT_LLAMA3 : BITNET_CHAT_BITNET;
    add_assistant = (data[0] >> 1) & 1;
    copy = (char *)malloc(size);
    if (!copy) abort();
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    for (i = 0; i + 1 < size; i++) if (!copy[i]) copy[i] = ' ';       /* messages are C strings */
    for (p = copy, end = copy + size - 1; p <= end && n_msgs < 8;) {
        char *sep = (char *)memchr(p, 0x1e, (size_t)(end - p)), *content;
        if (sep) *sep = 0;
        msgs[n_msgs].role = p;
        if (!sep) { msgs[n_msgs].content = ""; n_msgs++; break; }
        content = sep + 1;
        sep = (char *)memchr(content, 0x1e, (size_t)(end - content));
        if (sep) *sep = 0;
        msgs[n_msgs++].content = content;
        if (!sep) break;
        p = sep + 1;
    }
    if (bitnet_chat_tokenize(v, format, msgs, n_msgs, add_assistant, ids, sizeof ids / sizeof ids[0], &n_ids) == BITNET_OK) {
        for (i = 0; i < n_ids; i++) n_ctl += bitnet_vocab_token_type(v, ids[i]) == BITNET_TOKEN_CONTROL;
        want = format == BITNET_CHAT_BITNET ? 1 + n_msgs : 1 + 3 * n_msgs + (add_assistant ? 2 : 0);
        FUZZ_REQUIRE(n_ctl == want);
        FUZZ_REQUIRE(bitnet_chat_format(v, format, msgs, n_msgs, add_assistant, text, sizeof text, &len) == BITNET_OK);
        if (fuzz_valid_utf8((const unsigned char *)text, len) &&
            bitnet_detokenize(v, ids, n_ids, BITNET_DETOK_SPECIAL, back, sizeof back, &blen) == BITNET_OK) {
            /* byte-level BPE is lossless: the ids spell the text exactly */
            FUZZ_REQUIRE(blen == len && memcmp(back, text, len) == 0);
        }
    }
    free(copy);
    return 0;
}
