/* bitnet info FILE.gguf */
#include "cli.h"
#include <stdio.h>

int cmd_info(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bitnet info FILE.gguf\n");
        return 1;
    }
    fprintf(stderr, "bitnet: info: %s: not available yet\n", argv[1]);
    return 1;
}
