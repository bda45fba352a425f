/* simple.c - the smallest program that runs a model, with the plain API.
   Build: cc -O2 -I. examples/simple.c -lpthread -lm
          (a copy beside a copy of bitnet.h: cc -O2 simple.c -lpthread -lm)
   Run:   ./a.out model.gguf ["prompt"]   (or set BITNET_MODEL_PATH) */
#define BITNET_IMPLEMENTATION
#include "bitnet.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : getenv("BITNET_MODEL_PATH");
    const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
    BitNetConfig cfg = { 64, 0.8f, 0.95f, 40, 0 };   /* max_tokens, temperature, top_p, top_k, seed */
    BitNetModel *model;
    char *text;

    if (!path) { fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]  (or set BITNET_MODEL_PATH)\n", argv[0]); return 1; }
    model = bitnet_load_model(path);
    if (!model) { fprintf(stderr, "error: %s\n", bitnet_get_last_error()); return 1; }
    text = bitnet_generate(model, prompt, &cfg);   /* the generated text only, without the prompt */
    if (!text) {
        fprintf(stderr, "error: %s\n", bitnet_get_last_error());
        bitnet_free_model(model);
        return 1;
    }
    printf("%s%s\n", prompt, text);
    bitnet_free_string(text);
    bitnet_free_model(model);
    return 0;
}
