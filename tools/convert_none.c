/* The `convert` command where the CLI is built without the Hugging Face converter (the Windows
   build: its safetensors reader maps the shards with POSIX mmap). Only linked when
   tools/cmd_convert.c exists and is left out. */
#include "cli.h"
#include <stdio.h>

int cmd_convert(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "bitnet: convert: not available in this build (convert on Linux or macOS; the GGUF it writes runs here)\n");
    return 1;
}
