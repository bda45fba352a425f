/* hf_tokenizer.h - a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) as GGUF
   tokenizer.* metadata, for `bitnet convert`.
   Byte-level BPE (model.type "BPE" with a ByteLevel pre-tokenizer or decoder) becomes
   tokenizer.ggml.model "gpt2" with tokenizer.ggml.pre "llama-bpe" when a Split pre-tokenizer
   holds the Llama 3 regex, else "gpt-2" (ByteLevel's own regex); merges may be "a b" strings
   or ["a", "b"] pairs. SentencePiece-style BPE (Llama 2: Metaspace pre-tokenizer or the
   Replace/Prepend normalizer, byte_fallback) becomes "llama" with scores = -merge rank.
   Added tokens: special -> CONTROL, others USER_DEFINED; <0xXX> with byte_fallback -> BYTE;
   model.unk_token -> UNKNOWN. Ids missing below n_vocab (the embedding rows) are filled with
   "[PAD<id>]" UNUSED tokens, as llama.cpp's converter does. BOS/EOS/UNK/PAD ids, add_bos /
   add_eos and the chat template come from tokenizer_config.json (falling back to config.json's
   bos/eos_token_id and the post-processor's template). */
#ifndef BITNET_TOOLS_HF_TOKENIZER_H
#define BITNET_TOOLS_HF_TOKENIZER_H
#include "../bitnet.h"

typedef struct hf_vocab {
    int32_t n;                        /* tokens (= the model's n_vocab) */
    char **text;                      /* (n) NUL-terminated, owned */
    float *scores;                    /* (n) SentencePiece only */
    int32_t *types;                   /* (n) bitnet_token_type */
    char **merges;                    /* (n_merges) "a b", owned */
    int32_t n_merges;
    int spm;                          /* 1 = tokenizer.ggml.model "llama" */
    const char *pre;                  /* "llama-bpe" / "gpt-2" / NULL */
    int32_t bos, eos, unk, pad;       /* -1 = none */
    int add_bos, add_eos;
    char *chat_template;              /* owned, NULL = none */
} hf_vocab;

/* Reads HF_DIR's tokenizer files; n_vocab = rows of the embedding (the vocabulary is padded to
   it; more tokens than that is an error; 0 = the largest id + 1). config_bos/eos: config.json's ids or -1. */
int hf_tokenizer_load(hf_vocab *v, const char *dir, int32_t n_vocab, int32_t config_bos, int32_t config_eos,
                      char *err, size_t err_size);
/* Adds the tokenizer.* keys to a GGUF writer. 0 on success, -1 on a writer error. */
int hf_tokenizer_write(const hf_vocab *v, bitnet_gguf_writer *w);
void hf_tokenizer_free(hf_vocab *v);
#endif
