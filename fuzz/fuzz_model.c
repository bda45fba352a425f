/* libFuzzer target: a whole model loaded from arbitrary bytes (GGUF, hyperparameters, tensor
   checks, vocabulary); a small model that loads (embedding <= 256, <= 2 layers) also runs a few
   tokens, a larger one is only loaded, so each run stays fast. fuzz/run.sh seeds it with small
   models from `bitnet make-model` and the smallest shared one. */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *m = NULL;
    bitnet_ctx *c = NULL;
    int32_t ids[3] = { 0, 1, 2 };
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.data = data;
    mp.size = size;
    if (bitnet_model_load(&m, &mp) != BITNET_OK) return 0;
    cp.n_ctx = 8;
    cp.n_threads = 1;
    if (bitnet_model_hparams(m)->n_vocab >= 3 && bitnet_model_hparams(m)->n_embd <= 256 &&
        bitnet_model_hparams(m)->n_layer <= 2 && bitnet_ctx_new(&c, m, &cp) == BITNET_OK)
        bitnet_decode(c, ids, 3);
    bitnet_ctx_free(c);
    bitnet_model_free(m);
    return 0;
}
