/* libFuzzer target: the CLI's argument parsing (tools/bitnet.c cli_parse and the strict number
   parsers, tools/cmd_make_model.c mm_parse, the --tokens list parser) on arbitrary argument
   vectors. Checks: a parse that succeeds gives values inside the documented ranges; nothing
   crashes or reads out of bounds. The input is split at NUL bytes into argv[1..]; byte 0 picks
   the parser. Arguments that would print help and exit, or read a file (-f), are skipped. The
   parsers' one-line errors go to stderr: fuzz/run.sh runs this target with -close_fd_mask=2. */
#define main bitnet_cli_main
#include "../tools/bitnet.c"
#undef main
#include "../tools/cmd_make_model.c"

#define FUZZ_REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* The other commands are not linked in: stubs for the dispatch table. */
int cmd_info(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_quantize(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_run(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_chat(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_tokenize(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_logits(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_bench(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_serve(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_perplexity(int argc, char **argv) { (void)argc; (void)argv; return 0; }
int cmd_convert(int argc, char **argv) { (void)argc; (void)argv; return 0; }

static int fuzz_skip(const char *a) {
    return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-f") || !strcmp(a, "--file");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char buf[4096];
    char *argv[66];
    int argc = 1, i;
    size_t k;
    unsigned which;
    if (size < 1 || size >= sizeof buf) return 0;
    which = data[0] % 3;
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = 0;
    argv[0] = (char *)(which == 1 ? "make-model" : "run");
    argv[argc++] = buf;
    for (k = 0; k + 1 < size - 1 && argc < 64; k++)
        if (!buf[k]) argv[argc++] = buf + k + 1;
    argv[argc] = NULL;
    for (i = 1; i < argc; i++) if (fuzz_skip(argv[i])) return 0;
    if (which == 0) {
        cli_opts o;
        if (cli_parse(argc, argv, &o)) {
            FUZZ_REQUIRE(o.n_predict >= 0 && o.n_predict <= CLI_MAX_TOKENS);
            FUZZ_REQUIRE(o.threads >= 0 && o.threads <= CLI_MAX_THREADS);
            FUZZ_REQUIRE(o.n_ctx >= 0 && o.repetitions >= 1 && o.repetitions <= 32);
            FUZZ_REQUIRE(o.sampler.temperature >= 0 && o.sampler.temperature <= 100);
            FUZZ_REQUIRE(o.sampler.top_p >= 0 && o.sampler.top_p <= 1 && o.sampler.min_p >= 0 && o.sampler.min_p <= 1);
            FUZZ_REQUIRE(o.model != NULL);
        }
    } else if (which == 1) {
        mm_shape s;
        const char *out;
        if (mm_parse(argc, argv, &s, &out)) {
            FUZZ_REQUIRE(out && s.layers >= 1 && s.layers <= 256 && s.embd % 128 == 0 && s.embd <= 16384);
            FUZZ_REQUIRE(s.ff % 128 == 0 && s.ff <= 16384 && s.heads >= 1 && s.embd % s.heads == 0);
            FUZZ_REQUIRE(s.heads % s.kv_heads == 0 && s.vocab >= 400 && mm_estimated_bytes(&s) <= MM_MAX_BYTES);
        }
    } else {
        int32_t *ids = NULL, n = 0;
        if (cli_parse_ids(buf, &ids, &n)) {
            FUZZ_REQUIRE(n > 0);
            for (i = 0; i < n; i++) FUZZ_REQUIRE(ids[i] >= 0);
        }
        free(ids);
    }
    return 0;
}
