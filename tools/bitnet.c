/* bitnet - the command-line tool: `bitnet <command> [options]`. Each command lives in
   tools/cmd_<command>.c; this file holds the library implementation and the dispatch. */
#ifdef __linux__
#  define _GNU_SOURCE 1                  /* sched_getaffinity, CPU_COUNT */
#endif
#define BITNET_IMPLEMENTATION
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include "platform.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if !defined(_WIN32)
#  include <fcntl.h>
#  include <sys/stat.h>
#  include <unistd.h>
#endif
#ifdef __linux__
#  include <sched.h>
#endif

#define CLI_MAX_TOKENS (1 << 30)
#define CLI_MAX_THREADS 1024

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
    { "serve", cmd_serve, "serve -m M [--port 8080] [-np SLOTS] [-c CTX] [--api-key K]  OpenAI-compatible HTTP server" },
    { "perplexity", cmd_perplexity, "perplexity -m M -f TEXT [-c N] [--chunks K] [-b B]  perplexity as llama.cpp computes it" },
    { "convert", cmd_convert, "convert HF_DIR OUT.gguf [--outtype T]  Hugging Face checkpoint to GGUF (i2_s tq2_0 tq1_0 f16 bf16)" },
    { "make-model", cmd_make_model, "make-model OUT.gguf [--preset tiny|2b4t]  write a random-weight BitNet model" },
};

int cli_parse_i64(const char *what, const char *text, long long min, long long max, long long *out) {
    char *end;
    long long x;
    errno = 0;
    x = strtoll(text, &end, 10);
    if (!*text || *end || end == text || isspace((unsigned char)*text)) {
        fprintf(stderr, "bitnet: %s: '%s' is not a whole number (allowed %lld..%lld)\n", what, text, min, max);
        return 0;
    }
    if (errno == ERANGE || x < min || x > max) {
        fprintf(stderr, "bitnet: %s: %s is out of range (allowed %lld..%lld)\n", what, text, min, max);
        return 0;
    }
    *out = x;
    return 1;
}

int cli_parse_int(const char *what, const char *text, int min, int max, int *out) {
    long long x;
    if (!cli_parse_i64(what, text, min, max, &x)) return 0;
    *out = (int)x;
    return 1;
}

int cli_parse_u64(const char *what, const char *text, uint64_t *out) {
    char *end;
    unsigned long long x;
    errno = 0;
    x = strtoull(text, &end, 10);
    if (!*text || *end || !isdigit((unsigned char)*text)) {
        fprintf(stderr, "bitnet: %s: '%s' is not a whole number (allowed 0..18446744073709551615)\n", what, text);
        return 0;
    }
    if (errno == ERANGE) {
        fprintf(stderr, "bitnet: %s: %s is out of range (allowed 0..18446744073709551615)\n", what, text);
        return 0;
    }
    *out = (uint64_t)x;
    return 1;
}

int cli_parse_float(const char *what, const char *text, double min, double max, float *out) {
    char *end;
    double x;
    errno = 0;
    x = strtod(text, &end);
    if (!*text || *end || isspace((unsigned char)*text) || x != x) {
        fprintf(stderr, "bitnet: %s: '%s' is not a number (allowed %g..%g)\n", what, text, min, max);
        return 0;
    }
    if (errno == ERANGE || x < min || x > max) {
        fprintf(stderr, "bitnet: %s: %s is out of range (allowed %g..%g)\n", what, text, min, max);
        return 0;
    }
    *out = (float)x;
    return 1;
}

/* Defaults from the environment, parsed as strictly as the flags; 0 on a bad value. */
static int cli_verbose;         /* -v, taken out of argv by main() */

static int cli_defaults(cli_opts *o) {
    const char *env;
    memset(o, 0, sizeof *o);
    o->verbose = cli_verbose;
    o->sampler = bitnet_sampler_default_params();
    o->n_predict = 128;
    o->repetitions = 3;
    if ((env = getenv("BITNET_MODEL_PATH")) && *env) o->model = env;
    if ((env = getenv("BITNET_MAX_TOKENS")) && *env &&
        !cli_parse_int("BITNET_MAX_TOKENS", env, 0, CLI_MAX_TOKENS, &o->n_predict)) return 0;
    if ((env = getenv("BITNET_THREADS")) && *env &&
        !cli_parse_int("BITNET_THREADS", env, 0, CLI_MAX_THREADS, &o->threads)) return 0;
    if ((env = getenv("BITNET_DEVICE")) && *env) o->device = env;
    return 1;
}

/* -f FILE: the prompt is the file's text less one final newline (as llama.cpp). */
static int cli_prompt_file(const char *f, const char *path, cli_opts *o) {
    size_t n;
    char *text = cli_read_file(f, path, &n);
    if (!text) return 0;
    if (n && text[n - 1] == '\n') text[--n] = 0;
    if (n && text[n - 1] == '\r') text[--n] = 0;
    o->prompt = text;           /* lives until the process ends */
    return 1;
}

/* One flag with its value; returns 0 on an unknown flag or a bad value. */
static int cli_flag(const char *cmd, const char *f, const char *v, cli_opts *o) {
    if (!strcmp(f, "-m") || !strcmp(f, "--model")) o->model = v;
    else if (!strcmp(f, "-p") || !strcmp(f, "--prompt")) o->prompt = v;
    else if (!strcmp(f, "-f") || !strcmp(f, "--file")) return cli_prompt_file(f, v, o);
    else if (!strcmp(f, "--tokens")) o->tokens = v;
    else if (!strcmp(f, "-o") || !strcmp(f, "--output")) o->output = v;
    else if (!strcmp(f, "--system")) o->system = v;
    else if (!strcmp(f, "--device")) o->device = v;
    else if (!strcmp(f, "-n") || !strcmp(f, "--n-predict")) return cli_parse_int(f, v, 0, CLI_MAX_TOKENS, &o->n_predict);
    else if (!strcmp(f, "-t") || !strcmp(f, "--threads")) return cli_parse_int(f, v, 0, CLI_MAX_THREADS, &o->threads);
    else if (!strcmp(f, "-c") || !strcmp(f, "--ctx-size")) return cli_parse_int(f, v, 0, 1 << 24, &o->n_ctx);
    else if (!strcmp(f, "-r") || !strcmp(f, "--repetitions")) return cli_parse_int(f, v, 1, 32, &o->repetitions);
    else if (!strcmp(f, "--cache-type")) {
        if (strcmp(v, "f32") && strcmp(v, "f16")) {
            fprintf(stderr, "bitnet: --cache-type wants f32 or f16, got '%s'\n", v);
            return 0;
        }
        o->kv_f16 = !strcmp(v, "f16");
    }
    else if (!strcmp(f, "--head-type")) {
        if (strcmp(v, "q8_0") && strcmp(v, "q6_k") && strcmp(v, "Q8_0") && strcmp(v, "Q6_K")) {
            fprintf(stderr, "bitnet: --head-type wants q8_0 or q6_k, got '%s'\n", v);
            return 0;
        }
        o->head_type = (v[1] == '8') ? BITNET_HEAD_Q8_0 : BITNET_HEAD_Q6_K;
    }
    else if (!strcmp(f, "--draft")) {
        if (strcmp(v, "ngram") && strcmp(v, "none")) {
            fprintf(stderr, "bitnet: --draft wants ngram or none, got '%s'\n", v);
            return 0;
        }
        o->draft = !strcmp(v, "ngram") ? BITNET_DRAFT_NGRAM : BITNET_DRAFT_NONE;
    }
    else if (!strcmp(f, "--draft-max")) return cli_parse_int(f, v, 1, 64, &o->draft_max);
    else if (!strcmp(f, "-s") || !strcmp(f, "--seed")) return cli_parse_u64(f, v, &o->sampler.seed);
    else if (!strcmp(f, "--temp")) return cli_parse_float(f, v, 0, 100, &o->sampler.temperature);
    else if (!strcmp(f, "--top-k")) return cli_parse_int(f, v, 0, 1 << 30, &o->sampler.top_k);
    else if (!strcmp(f, "--top-p")) return cli_parse_float(f, v, 0, 1, &o->sampler.top_p);
    else if (!strcmp(f, "--min-p")) return cli_parse_float(f, v, 0, 1, &o->sampler.min_p);
    else if (!strcmp(f, "--repeat-penalty")) return cli_parse_float(f, v, 0, 100, &o->sampler.repeat_penalty);
    else if (!strcmp(f, "--repeat-last-n"))
        return cli_parse_int(f, v, -1, BITNET_SAMPLER_HISTORY_MAX, &o->sampler.penalty_last_n);
    else {
        fprintf(stderr, "bitnet: %s: unknown option '%s' (try: bitnet %s --help)\n", cmd, f, cmd);
        return 0;
    }
    return 1;
}

int cli_parse(int argc, char **argv, cli_opts *o) {
    int i;
    if (!cli_defaults(o)) return 0;
    for (i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "-h") || !strcmp(f, "--help")) exit(cli_help(argv[0]));
        if (!strcmp(f, "--print-ids")) { o->print_ids = 1; continue; }
        if (!strcmp(f, "--no-mmap")) { o->no_mmap = 1; continue; }
        if (!strcmp(f, "--no-bos")) { o->no_bos = 1; continue; }
        if (!strcmp(f, "--special")) { o->special = 1; continue; }
        if (!strcmp(f, "--verbose-prompt")) { o->verbose_prompt = 1; continue; }
        if (f[0] != '-' || !f[1]) {
            fprintf(stderr, "bitnet: %s: unexpected argument '%s' (options take the form -x VALUE)\n", argv[0], f);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "bitnet: %s: option '%s' needs a value\n", argv[0], f);
            return 0;
        }
        if (!cli_flag(argv[0], f, argv[++i], o)) return 0;
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
    p.head_type = o->head_type;
    return bitnet_model_load(model, &p) == BITNET_OK ? 1 : !cli_fail("cannot load model");
}

static void cli_log_info(bitnet_log_level level, const char *message, void *user) {
    (void)user;
    if (level == BITNET_LOG_INFO && !strncmp(message, "device ", 7)) fprintf(stderr, "bitnet: %s\n", message);
}

/* --device / BITNET_DEVICE into the params; the choice is logged to stderr when the user asked
   for a device or a GPU backend is linked (a plain CPU build stays silent). */
static int cli_pick_device(const cli_opts *o, bitnet_ctx_params *p) {
    bitnet_device kind = BITNET_DEVICE_AUTO;
    int32_t index = 0;
    if (o->device && bitnet_device_parse(o->device, &kind, &index) != BITNET_OK) {
        fprintf(stderr, "bitnet: --device / BITNET_DEVICE: %s\n", bitnet_last_error());
        return 0;
    }
    p->device = (int)kind;
    p->device_index = index;
    if (o->device || bitnet_backend_get()) bitnet_set_logger(cli_log_info, NULL);
    return 1;
}

void cli_print_devices(const bitnet_model *model) {
    const bitnet_backend *b = bitnet_backend_get();
    int32_t i, n = b ? b->device_count() : 0;
    if (!b) {
        printf("cuda: not linked (build/bitnet-cuda, from `make cuda`, has the GPU backend)\n");
    } else if (n == 0) {
        printf("cuda: backend linked, no CUDA device present\n");
    }
    for (i = 0; i < n; i++) {
        bitnet_device_info d;
        if (b->device_info(i, &d) != BITNET_OK) {
            printf("cuda:%d: %s\n", i, bitnet_last_error());
            continue;
        }
        printf("cuda:%d: %s, compute %d.%d, %d SMs, memory %.1f GB (%.1f GB free), driver %d.%d, runtime %d.%d\n", i,
               d.name, d.cc_major, d.cc_minor, d.sm_count, d.total_bytes / 1e9, d.free_bytes / 1e9,
               d.driver_version / 1000, d.driver_version % 1000 / 10, d.runtime_version / 1000,
               d.runtime_version % 1000 / 10);
    }
    if (model) {
        bitnet_ctx_params p;
        bitnet_ctx *c = NULL;
        cli_opts none;
        int32_t train = bitnet_model_hparams(model)->n_ctx_train;
        char desc[512];
        memset(&p, 0, sizeof p);
        memset(&none, 0, sizeof none);
        none.device = getenv("BITNET_DEVICE");
        p.n_ctx = train < 4096 ? train : 4096;
        p.n_threads = 1;
        if (!cli_pick_device(&none, &p)) return;
        if (bitnet_ctx_new(&c, model, &p) != BITNET_OK) {
            printf("backend: none: %s\n", bitnet_last_error());
            return;
        }
        if (bitnet_ctx_device(c, NULL) == BITNET_DEVICE_CUDA)
            printf("backend: %s\n", bitnet_ctx_describe_device(c, desc, sizeof desc));
        else
            printf("backend: cpu (kernels below)\n");
        bitnet_ctx_free(c);
    }
}

int cli_new_ctx(const cli_opts *o, const bitnet_model *model, int n_batch, int all_logits, bitnet_ctx **ctx) {
    bitnet_ctx_params p;
    int32_t train = bitnet_model_hparams(model)->n_ctx_train;
    memset(&p, 0, sizeof p);
    p.n_ctx = o->n_ctx ? o->n_ctx : (train < 4096 ? train : 4096);
    p.n_batch = n_batch;
    p.n_threads = cli_threads(o->threads);
    p.all_logits = all_logits;
    p.kv_f16 = o->kv_f16;
    if (o->draft) p.n_outputs = (o->draft_max ? o->draft_max : 8) + 1;   /* a row per draft, and one */
    if (!cli_pick_device(o, &p)) return 0;
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

void cli_print_draft_stats(const bitnet_gen_stats *s) {
    fprintf(stderr, "[draft: %d verify passes, %d of %d drafted tokens accepted]\n", s->n_draft_passes,
            s->n_draft_accepted, s->n_drafted);
}

int cli_fail(const char *what) {
    fprintf(stderr, "bitnet: %s: %s\n", what, bitnet_last_error());
    return 1;
}

/* ---- help ---- */

static const char *const cli_model_options =
    "  -m, --model FILE       the model (default: $BITNET_MODEL_PATH)\n"
    "  -t, --threads N        0..1024 threads (default 0: the CPUs this process may use, $BITNET_THREADS)\n"
    "  -c, --ctx-size N       context tokens (default: the model's, at most 4096)\n"
    "  --cache-type f32|f16   KV cache type\n"
    "  --no-mmap              read the file into memory\n"
    "  -v, --verbose          also print the library's informational messages\n"
    "  --log-disable          do not print the library's warnings\n";
static const char *const cli_prompt_options =
    "  -p, --prompt TEXT      the prompt\n"
    "  -f, --file FILE        the prompt from a file\n"
    "  --no-bos               no BOS token before the prompt\n"
    "  --special              parse special-token text (<|eot_id|>) in the prompt\n";
static const char *const cli_sampling_options =
    "  -n, --n-predict N      0..1073741824 tokens to generate (default 128, $BITNET_MAX_TOKENS; 0: until the end)\n"
    "  -s, --seed N           random seed (0..2^64-1)\n"
    "  --temp X               0..100 temperature (0: greedy)\n"
    "  --top-k N, --top-p X, --min-p X, --repeat-penalty X, --repeat-last-n N   sampling\n";

static const struct { const char *name, *usage, *details; int model, prompt, sampling; } cli_help_text[] = {
    { "info", "info FILE.gguf", "  prints the metadata, the tensor table and the kernels chosen\n", 0, 0, 0 },
    { "quantize", "quantize IN.gguf OUT.gguf TYPE",
      "  TYPE: i2_s tq1_0 tq2_0 f16 bf16 f32 for the projections\n"
      "  --token-embedding-type T, --output-tensor-type T   f32 f16 bf16 q8_0\n", 0, 0, 0 },
    { "run", "run -m MODEL (-p TEXT | -f FILE | --tokens IDS) [options]",
      "  --tokens \"1 2 3\"       the prompt as token ids\n"
      "  --print-ids            print the generated ids instead of the text\n", 1, 1, 1 },
    { "chat", "chat -m MODEL [--system TEXT] [options]",
      "  --system TEXT          the system message\n"
      "  --verbose-prompt       print each turn's prompt ids to stderr\n"
      "  Reads one message a line. Ctrl-C stops the reply (twice: quits); Ctrl-D quits.\n", 1, 0, 1 },
    { "tokenize", "tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--special]", "", 1, 1, 0 },
    { "logits", "logits -m MODEL --tokens IDS -o FILE", "  writes the f32 logits of every position\n", 1, 0, 0 },
    { "bench", "bench -m MODEL [-p 128] [-n 64] [-r 3] [-t T]",
      "  -p N                   0..1048576 prompt tokens\n"
      "  -n N                   1..1048576 generated tokens\n"
      "  -r N                   1..32 repetitions\n", 1, 0, 0 },
    { "make-model", "make-model OUT.gguf [--preset tiny|2b4t] [shape options]",
      "  --layers 1..256 --embd 128..16384 --ff 128..16384 --heads 1..256 --kv-heads 1..256\n"
      "  --vocab 400..1048576 --ctx 8..1048576 --seed N\n", 0, 0, 0 },
};

int cli_help(const char *command) {
    size_t i;
    for (i = 0; i < sizeof cli_help_text / sizeof cli_help_text[0]; i++) {
        if (strcmp(cli_help_text[i].name, command)) continue;
        printf("usage: bitnet %s\n%s", cli_help_text[i].usage, cli_help_text[i].details);
        if (cli_help_text[i].prompt) fputs(cli_prompt_options, stdout);
        if (cli_help_text[i].sampling) fputs(cli_sampling_options, stdout);
        if (cli_help_text[i].model) fputs(cli_model_options, stdout);
        return cli_finish_output(0);
    }
    printf("usage: bitnet %s [options]\n", command);
    return cli_finish_output(0);
}

static int cli_usage(FILE *out) {
    size_t i;
    fprintf(out, "bitnet %s - BitNet b1.58 inference\nusage: bitnet <command> [options]   (bitnet <command> --help for its options)\n",
            BITNET_VERSION_STRING);
    for (i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
        fprintf(out, "  bitnet %s\n", cli_commands[i].usage);
    return out == stdout ? cli_finish_output(0) : 1;
}

/* ---- output ---- */

static int cli_output_failed;

int cli_finish_output(int rc) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (!cli_output_failed) fprintf(stderr, "bitnet: cannot write the output: %s\n", strerror(errno));
        cli_output_failed = 1;
        return 1;
    }
    return rc;
}

/* Control characters shown as ^X (C0, DEL) or U+FFFD (C1), so generated text cannot move the
   cursor, retitle the window or run terminal escapes. */
static int cli_write_visible(const char *text, size_t len) {
    size_t i, start = 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        const char *shown = NULL;
        char caret[3];
        size_t skip = 1;
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            caret[0] = '^'; caret[1] = (char)(c == 0x7f ? '?' : c + '@'); caret[2] = 0;
            shown = caret;
        } else if (c == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] >= 0x80 && (unsigned char)text[i + 1] < 0xa0) {
            shown = "\xef\xbf\xbd";
            skip = 2;
        }
        if (!shown) continue;
        if (fwrite(text + start, 1, i - start, stdout) != i - start || fputs(shown, stdout) == EOF) return 0;
        i += skip - 1;
        start = i + 1;
    }
    return fwrite(text + start, 1, len - start, stdout) == len - start;
}

int cli_write(const char *text, size_t len) {
    static int tty = -1;
    int ok;
    if (tty < 0) tty = isatty(1);
    ok = tty ? cli_write_visible(text, len) : fwrite(text, 1, len, stdout) == len;
    if (ok && fflush(stdout) == 0) return 1;
    return !cli_finish_output(1);
}

/* fds 0-2 closed by the caller get /dev/null read-only, so no file we open becomes "stdout"
   and writing to a closed stdout fails (and is reported) instead of going into that file. */
static void cli_guard_std_fds(void) {
#if !defined(_WIN32)
    int fd;
    for (fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int got = open("/dev/null", fd == 2 ? O_WRONLY : O_RDONLY);
            if (got >= 0 && got != fd) close(got);
        }
#endif
}

/* ---- files, threads, logging ---- */

char *cli_read_file(const char *what, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
#if !defined(_WIN32)
    struct stat sb;
    if (f && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {   /* pipes are fine: -f <(cmd) */
        fclose(f);
        fprintf(stderr, "bitnet: %s: '%s' is a directory\n", what, path);
        return NULL;
    }
#endif
    if (!f) {
        fprintf(stderr, "bitnet: %s: cannot open '%s': %s\n", what, path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n + 4096 + 1 > cap) {
            char *p = (char *)realloc(buf, cap = (n + 4096 + 1) * 2);
            if (!p) { fprintf(stderr, "bitnet: %s: out of memory reading '%s'\n", what, path); break; }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f) || !buf || n + 1 > cap) {
        if (ferror(f)) fprintf(stderr, "bitnet: %s: cannot read '%s': %s\n", what, path, strerror(errno));
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

/* The CPUs this process may run on: its affinity mask, then the cgroup CPU quota where readable;
   else the online cores. */
int cli_available_cpus(void) {
    int n = bitnet_online_cores();
#ifdef __linux__
    cpu_set_t set;
    FILE *f;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n) n = CPU_COUNT(&set);
    if ((f = fopen("/sys/fs/cgroup/cpu.max", "r")) != NULL) {
        long long quota, period;
        if (fscanf(f, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0 && (quota + period - 1) / period < n)
            n = (int)((quota + period - 1) / period);
        fclose(f);
    }
#endif
    return n > 0 ? n : 1;
}

int cli_threads(int asked) {
    static int warned;
    int cpus = cli_available_cpus();
    if (!asked) return cpus;
    if (asked > cpus && !warned) {
        fprintf(stderr, "bitnet: warning: %d threads asked, but this process may use %d CPUs\n", asked, cpus);
        warned = 1;
    }
    return asked;
}

static int cli_log_level = BITNET_LOG_WARN;

static void cli_logger(bitnet_log_level level, const char *message, void *user) {
    (void)user;
    if (level == BITNET_LOG_ERROR || (int)level > cli_log_level) return;   /* errors come with the failure */
    fprintf(stderr, "bitnet: %s: %s\n", level == BITNET_LOG_WARN ? "warning" : "info", message);
}

/* Takes -v/--verbose and --log-disable out of argv (every command accepts them). */
static int cli_take_log_flags(int argc, char **argv) {
    int i, n = 1;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) cli_log_level = BITNET_LOG_INFO, cli_verbose = 1;
        else if (!strcmp(argv[i], "--log-disable")) cli_log_level = -1;
        else argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

int main(int argc, char **argv) {
    size_t i;
    cli_utf8_args(&argc, &argv);
    cli_guard_std_fds();
    if (argc < 2) return cli_usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return cli_usage(stdout);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("bitnet %s\n", BITNET_VERSION_STRING);
        return cli_finish_output(0);
    }
    argc = 1 + cli_take_log_flags(argc - 1, argv + 1);
    bitnet_set_logger(cli_logger, NULL);
    for (i = 0; i < sizeof cli_commands / sizeof cli_commands[0]; i++)
        if (!strcmp(argv[1], cli_commands[i].name)) return cli_finish_output(cli_commands[i].run(argc - 1, argv + 1));
    fprintf(stderr, "bitnet: unknown command '%s' (try: bitnet --help)\n", argv[1]);
    return 1;
}
