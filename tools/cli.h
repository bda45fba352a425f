/* cli.h - shared declarations of the `bitnet` command-line tool (tools/bitnet.c, tools/cmd_*.c). */
#ifndef BITNET_CLI_H
#define BITNET_CLI_H
#include "../bitnet.h"

/* Each subcommand: argv[0] is the subcommand name; returns the process exit status. */
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);

/* Prints "bitnet: <what>: <last error>" to stderr and returns 1. */
int cli_fail(const char *what);
#endif
