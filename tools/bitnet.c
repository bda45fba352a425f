/* bitnet - the command-line tool: `bitnet <command> [options]`. Each command lives in
   tools/cmd_<command>.c; this file holds the library implementation and the dispatch. */
#define BITNET_IMPLEMENTATION
#include "cli.h"
#include <stdio.h>
#include <string.h>

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} cli_command;

static const cli_command cli_commands[] = {
    { "info", cmd_info, "info FILE.gguf            print metadata, tensors and kernels" },
    { "quantize", cmd_quantize, "quantize IN OUT TYPE      convert projections to TYPE: i2_s tq1_0 tq2_0 f16 bf16 f32" },
};

int cli_fail(const char *what) {
    fprintf(stderr, "bitnet: %s: %s\n", what, bitnet_last_error());
    return 1;
}

static int cli_usage(FILE *out) {
    size_t i;
    fprintf(out, "bitnet %s - BitNet b1.58 inference\nusage: bitnet <command> [options]\n",
            BITNET_VERSION_STRING);
    for (i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
        fprintf(out, "  bitnet %s\n", cli_commands[i].usage);
    return out == stdout ? 0 : 1;
}

int main(int argc, char **argv) {
    size_t i;
    if (argc < 2) return cli_usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return cli_usage(stdout);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("bitnet %s\n", BITNET_VERSION_STRING);
        return 0;
    }
    for (i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
        if (!strcmp(argv[1], cli_commands[i].name)) return cli_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bitnet: unknown command '%s' (try: bitnet --help)\n", argv[1]);
    return 1;
}
