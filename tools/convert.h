/* convert.h - Hugging Face checkpoint folder -> GGUF, in C (the engine of `bitnet convert`).

   Reads HF_DIR/config.json, the safetensors (single or sharded, tools/safetensors.h),
   tokenizer.json and tokenizer_config.json (tools/hf_tokenizer.h), and writes one GGUF with the
   library's writer and quantizers, tensor by tensor (memory: about one tensor). Layouts:
     BitNetForCausalLM   microsoft/bitnet-b1.58-2B-4T(-bf16): arch "bitnet-b1.58", ReLU^2,
                         attn_sub_norm / ffn_sub_norm, tied embedding; master weights (bf16)
                         ternarized with absmean (FORMATS.md 3.4), or packed uint8 + weight_scale
     BitnetForCausalLM   1bitLLM bitnet_b1_58-large / -3B: arch "bitnet", SiLU, sub-norms named
                         inner_attn_ln / ffn_layernorm, fp16 master weights
     LlamaForCausalLM    with quantization_config.quant_method "bitnet" (HF1BitLLM
                         Llama3-8B-1.58, tiiuae Falcon3-*-1.58bit): arch "llama", packed uint8
                         weights (4 rows a byte, row i*R/4 + r in bits 2i of byte row r, value - 1)
                         and weight_scale = 1/alpha; q/k rows permuted from HF's rotate-half
                         order to GGUF's interleaved RoPE order, as llama.cpp's converter does
   The output is the same bytes for the same input. */
#ifndef BITNET_TOOLS_CONVERT_H
#define BITNET_TOOLS_CONVERT_H
#include "../bitnet.h"

typedef void (*convert_progress_fn)(int done, int total, const char *tensor, void *user);

typedef struct convert_params {
    const char *hf_dir;
    const char *out_path;
    bitnet_type outtype;              /* I2_S (default when 0 is not meant: set it), TQ2_0, TQ1_0, F16, BF16 */
    int vocab_only;                   /* tokenizer metadata only, no tensors (config.json optional) */
    convert_progress_fn progress;     /* after each tensor; NULL = quiet */
    void *user;
} convert_params;

typedef struct convert_report {
    char arch[32];                    /* GGUF architecture written */
    char hf_arch[64];
    int n_tensors, n_ternarized_absmean, n_packed, n_already_ternary;
    int32_t n_vocab;
    char tokenizer[16];               /* "gpt2" or "llama" */
    char pre[16];                     /* BPE split rule written ("" for SentencePiece) */
} convert_report;

/* 0 on success; -1 with the reason in err (and no output file left behind). */
int convert_hf(const convert_params *p, convert_report *report, char *err, size_t err_size);
#endif
