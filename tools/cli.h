/* cli.h - shared declarations of the `bitnet` command-line tool (tools/bitnet.c, tools/cmd_*.c). */
#ifndef BITNET_CLI_H
#define BITNET_CLI_H
#include "../bitnet.h"

/* Each subcommand: argv[0] is the subcommand name; returns the process exit status. */
int cmd_info(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_make_model(int argc, char **argv);

/* Prints "bitnet: <what>: <last error>" to stderr and returns 1. */
int cli_fail(const char *what);

/* The llama.cpp-style options the model commands share. Defaults come from the environment
   (BITNET_MODEL_PATH, BITNET_MAX_TOKENS, BITNET_THREADS, BITNET_DEVICE), then the flags override them. */
typedef struct cli_opts {
    const char *model;          /* -m */
    const char *prompt;         /* -p (bench: prompt tokens) */
    const char *tokens;         /* --tokens "1 2 3" */
    const char *output;         /* -o */
    const char *system;         /* --system (chat) */
    int n_predict;              /* -n */
    int threads;                /* -t; 0 = all cores */
    int n_ctx;                  /* -c; 0 = the model's, capped at 4096 */
    int repetitions;            /* -r (bench) */
    int print_ids, no_bos, special;
    int kv_f16;                 /* --cache-type f16 */
    int no_mmap;                /* --no-mmap */
    const char *device;         /* --device cpu|cuda|cuda:N|auto (NULL = auto, silently) */
    bitnet_sampler_params sampler;   /* -s --temp --top-k --top-p --min-p --repeat-penalty */
} cli_opts;

/* Parses argv[1..]; prints a one-line error and returns 0 on a bad flag. */
int cli_parse(int argc, char **argv, cli_opts *o);
/* Loads o->model (vocab_only for the tokenizer alone); prints the error and returns 0 on failure. */
int cli_load_model(const cli_opts *o, int vocab_only, bitnet_model **model);
int cli_new_ctx(const cli_opts *o, const bitnet_model *model, int n_batch, int all_logits, bitnet_ctx **ctx);
/* The CUDA devices and what a context on this model (NULL: none) would run on, for `bitnet info`. */
void cli_print_devices(const bitnet_model *model);
/* Parses "1 2 3" (spaces or commas) into a malloc'd array; 0 on a bad list. */
int cli_parse_ids(const char *text, int32_t **ids, int32_t *n);
#endif
