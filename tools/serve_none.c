/* The `serve` command where the CLI is built without its HTTP server (the Windows build: the
   server is written on POSIX sockets, poll and signals). Only linked when tools/cmd_serve.c
   exists and is left out. */
#include "cli.h"
#include <stdio.h>

int cmd_serve(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "bitnet: serve: not available in this build (the server needs POSIX sockets)\n");
    return 1;
}
