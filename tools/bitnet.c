/* bitnet - the command-line tool: `bitnet <command> [options]`. Each command lives in
   tools/cmd_<command>.c; this file holds the library implementation and the dispatch. */
#define BITNET_IMPLEMENTATION
#include "cli.h"
#include "platform.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} cli_command;

static const cli_command cli_commands[] = {
    { "info", cmd_info, "info FILE.gguf            print metadata, tensors and kernels" },
    { "quantize", cmd_quantize, "quantize IN OUT TYPE      convert projections to TYPE: i2_s tq1_0 tq2_0 f16 bf16 f32" },
    { "run", cmd_run, "run -m M -p TEXT [-n N]   generate text (--tokens IDS, --print-ids, sampling flags)" },
    { "chat", cmd_chat, "chat -m M [--system TEXT] interactive chat in the model's format" },
    { "tokenize", cmd_tokenize, "tokenize -m M -p TEXT     print token ids [--no-bos] [--special]" },
    { "logits", cmd_logits, "logits -m M --tokens IDS -o FILE   write f32 logits of every position" },
    { "bench", cmd_bench, "bench -m M [-p 128] [-n 64] [-t T]  prompt and generation speed" },
    { "make-model", cmd_make_model, "make-model OUT.gguf [--preset tiny|2b4t]  write a random-weight BitNet model" },
};

static int cli_int(const char *flag, const char *v, int *out) {
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < 0 || x > 1 << 30) {
        fprintf(stderr, "bitnet: %s wants a whole number >= 0, got '%s'\n", flag, v);
        return 0;
    }
    *out = (int)x;
    return 1;
}

static int cli_float(const char *flag, const char *v, float *out) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || x != x) {
        fprintf(stderr, "bitnet: %s wants a number, got '%s'\n", flag, v);
        return 0;
    }
    *out = (float)x;
    return 1;
}

static void cli_defaults(cli_opts *o) {
    const char *env;
    memset(o, 0, sizeof *o);
    o->sampler = bitnet_sampler_default_params();
    o->n_predict = 128;
    o->repetitions = 3;
    if ((env = getenv("BITNET_MODEL_PATH")) && *env) o->model = env;
    if ((env = getenv("BITNET_MAX_TOKENS")) && *env) o->n_predict = atoi(env);
    if ((env = getenv("BITNET_THREADS")) && *env) o->threads = atoi(env);
}

/* One flag with its value; returns 0 on an unknown flag or a bad value. */
static int cli_flag(const char *f, const char *v, cli_opts *o) {
    int seed_int;
    if (!strcmp(f, "-m") || !strcmp(f, "--model")) o->model = v;
    else if (!strcmp(f, "-p") || !strcmp(f, "--prompt")) o->prompt = v;
    else if (!strcmp(f, "--tokens")) o->tokens = v;
    else if (!strcmp(f, "-o") || !strcmp(f, "--output")) o->output = v;
    else if (!strcmp(f, "--system")) o->system = v;
    else if (!strcmp(f, "-n") || !strcmp(f, "--n-predict")) return cli_int(f, v, &o->n_predict);
    else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) return cli_int(f, v, &o->threads);
    else if (!strcmp(f, "-c") || !strcmp(f, "--ctx-size")) return cli_int(f, v, &o->n_ctx);
    else if (!strcmp(f, "-r") || !strcmp(f, "--repetitions")) return cli_int(f, v, &o->repetitions);
    else if (!strcmp(f, "--cache-type")) {
        if (strcmp(v, "f32") && strcmp(v, "f16")) {
            fprintf(stderr, "bitnet: --cache-type wants f32 or f16, got '%s'\n", v);
            return 0;
        }
        o->kv_f16 = !strcmp(v, "f16");
    }
    else if (!strcmp(f, "-s") || !strcmp(f, "--seed")) {
        if (!cli_int(f, v, &seed_int)) return 0;
        o->sampler.seed = (uint64_t)seed_int;
    }
    else if (!strcmp(f, "--temp")) return cli_float(f, v, &o->sampler.temperature);
    else if (!strcmp(f, "--top-k")) return cli_int(f, v, &o->sampler.top_k);
    else if (!strcmp(f, "--top-p")) return cli_float(f, v, &o->sampler.top_p);
    else if (!strcmp(f, "--min-p")) return cli_float(f, v, &o->sampler.min_p);
    else if (!strcmp(f, "--repeat-penalty")) return cli_float(f, v, &o->sampler.repeat_penalty);
    else if (!strcmp(f, "--repeat-last-n")) return cli_int(f, v, &o->sampler.penalty_last_n);
    else {
        fprintf(stderr, "bitnet: unknown option '%s'\n", f);
        return 0;
    }
    return 1;
}

int cli_parse(int argc, char **argv, cli_opts *o) {
    int i;
    cli_defaults(o);
    for (i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--print-ids")) { o->print_ids = 1; continue; }
        if (!strcmp(f, "--no-mmap")) { o->no_mmap = 1; continue; }
        if (!strcmp(f, "--no-bos")) { o->no_bos = 1; continue; }
        if (!strcmp(f, "--special")) { o->special = 1; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "bitnet: option '%s' needs a value\n", f);
            return 0;
        }
        if (!cli_flag(f, argv[++i], o)) return 0;
    }
    if (!o->model) {
        fprintf(stderr, "bitnet: %s: no model (use -m FILE or set BITNET_MODEL_PATH)\n", argv[0]);
        return 0;
    }
    return 1;
}

int cli_load_model(const cli_opts *o, int vocab_only, bitnet_model **model) {
    bitnet_model_params p;
    memset(&p, 0, sizeof p);
    p.path = o->model;
    p.vocab_only = vocab_only;
    p.no_mmap = o->no_mmap;
    return bitnet_model_load(model, &p) == BITNET_OK ? 1 : !cli_fail("cannot load model");
}

int cli_new_ctx(const cli_opts *o, const bitnet_model *model, int n_batch, int all_logits, bitnet_ctx **ctx) {
    bitnet_ctx_params p;
    int32_t train = bitnet_model_hparams(model)->n_ctx_train;
    memset(&p, 0, sizeof p);
    p.n_ctx = o->n_ctx ? o->n_ctx : (train < 4096 ? train : 4096);
    p.n_batch = n_batch;
    p.n_threads = o->threads;
    p.all_logits = all_logits;
    p.kv_f16 = o->kv_f16;
    return bitnet_ctx_new(ctx, model, &p) == BITNET_OK ? 1 : !cli_fail("cannot create context");
}

int cli_parse_ids(const char *text, int32_t **ids, int32_t *n) {
    size_t cap = strlen(text) / 2 + 1;
    const char *p = text;
    *n = 0;
    *ids = (int32_t *)malloc(cap * sizeof(int32_t));
    if (!*ids) return 0;
    while (*p) {
        char *end;
        long v;
        if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') { p++; continue; }
        v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX) {
            fprintf(stderr, "bitnet: --tokens: '%s' is not a list of token ids\n", text);
            free(*ids);
            *ids = NULL;
            return 0;
        }
        (*ids)[(*n)++] = (int32_t)v;
        p = end;
    }
    if (*n == 0) {
        fprintf(stderr, "bitnet: --tokens: no ids in '%s'\n", text);
        free(*ids);
        *ids = NULL;
        return 0;
    }
    return 1;
}

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
    cli_utf8_args(&argc, &argv);
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
