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
int cmd_serve(int argc, char **argv);

/* Strict numbers for flags and BITNET_* variables: the whole text must be the number, inside
   [min, max]. Otherwise prints one line naming `what`, the text and the allowed range, and
   returns 0. */
int cli_parse_i64(const char *what, const char *text, long long min, long long max, long long *out);
int cli_parse_int(const char *what, const char *text, int min, int max, int *out);
int cli_parse_u64(const char *what, const char *text, uint64_t *out);
int cli_parse_float(const char *what, const char *text, double min, double max, float *out);
int cmd_perplexity(int argc, char **argv);
int cmd_convert(int argc, char **argv);

/* Prints "bitnet: <what>: <last error>" to stderr and returns 1. */
int cli_fail(const char *what);

/* The llama.cpp-style options the model commands share. Defaults come from the environment
   (BITNET_MODEL_PATH, BITNET_MAX_TOKENS, BITNET_THREADS, parsed as strictly as the flags, and
   BITNET_DEVICE), then the flags override them. -v/--verbose and --log-disable are taken by
   main() for every command. */
typedef struct cli_opts {
    const char *model;          /* -m */
    const char *prompt;         /* -p, or the text of -f FILE (bench: prompt tokens) */
    const char *tokens;         /* --tokens "1 2 3" */
    const char *output;         /* -o */
    const char *system;         /* --system (chat) */
    int n_predict;              /* -n */
    int threads;                /* -t; 0 = all cores */
    int n_ctx;                  /* -c; 0 = the model's, capped at 4096 */
    int repetitions;            /* -r (bench) */
    int print_ids, no_bos, special;
    int verbose_prompt;         /* --verbose-prompt: the prompt's ids to stderr */
    int verbose;                /* -v (bench: where a decoded token's time goes) */
    int kv_f16;                 /* --cache-type f16 */
    int no_mmap;                /* --no-mmap */
    bitnet_head_type head_type; /* --head-type q8_0|q6_k */
    bitnet_draft_type draft;    /* --draft ngram (run, chat) */
    int draft_max;              /* --draft-max N; 0 = the library's 8 */
    const char *device;         /* --device cpu|cuda|cuda:N|auto (NULL = auto, silently) */
    bitnet_sampler_params sampler;   /* -s --temp --top-k --top-p --min-p --repeat-penalty */
} cli_opts;

/* Parses argv[1..]; prints a one-line error and returns 0 on a bad flag. */
int cli_parse(int argc, char **argv, cli_opts *o);
/* --help of a command: its usage and options on stdout; returns the exit status. */
int cli_help(const char *command);
/* Flushes stdout; on a write error (full disk, closed stdout, broken pipe) prints one line and
   returns 1, else rc. main() calls it after every command. */
int cli_finish_output(int rc);
/* Writes generated text to stdout (control characters made visible when it is a terminal);
   0 after a write error (reported once): stop producing output. */
int cli_write(const char *text, size_t len);
/* The whole file as a NUL-terminated malloc'd string (*len = bytes, may be NULL); NULL after
   printing "bitnet: <what>: ..." (missing, unreadable, a directory). Pipes are read to the end.
   For -f and any future command that reads text (perplexity). */
char *cli_read_file(const char *what, const char *path, size_t *len);
/* CPUs this process may use (affinity mask and cgroup quota on Linux, else online cores). */
int cli_available_cpus(void);
/* The thread count for -t `asked` (0 = cli_available_cpus()); warns once when asked exceeds it. */
int cli_threads(int asked);

/* Loads o->model (vocab_only for the tokenizer alone); prints the error and returns 0 on failure. */
int cli_load_model(const cli_opts *o, int vocab_only, bitnet_model **model);
int cli_new_ctx(const cli_opts *o, const bitnet_model *model, int n_batch, int all_logits, bitnet_ctx **ctx);
/* With --draft: "[draft: P verify passes, A of D drafted tokens accepted]" on stderr. */
void cli_print_draft_stats(const bitnet_gen_stats *s);
/* The CUDA devices and what a context on this model (NULL: none) would run on, for `bitnet info`. */
void cli_print_devices(const bitnet_model *model);
/* Parses "1 2 3" (spaces or commas) into a malloc'd array; 0 on a bad list. */
int cli_parse_ids(const char *text, int32_t **ids, int32_t *n);
#endif
