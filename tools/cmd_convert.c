/* bitnet convert HF_DIR OUT.gguf [--outtype i2_s|tq2_0|tq1_0|f16|bf16] [--progress] [--vocab-only]
   A Hugging Face checkpoint folder (config.json, safetensors, tokenizer.json) to GGUF, in C:
   see tools/convert.h for the layouts. The progress bar goes to stderr when it is a terminal
   (or with --progress). --vocab-only writes the tokenizer metadata alone (config.json optional). */
#include "cli.h"
#include "convert.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct { const char *name; bitnet_type type; } cv_types[] = {
    { "i2_s", BITNET_TYPE_I2_S }, { "tq2_0", BITNET_TYPE_TQ2_0 }, { "tq1_0", BITNET_TYPE_TQ1_0 },
    { "f16", BITNET_TYPE_F16 }, { "bf16", BITNET_TYPE_BF16 },
};

static int cv_usage(void) {
    fprintf(stderr, "usage: bitnet convert HF_DIR OUT.gguf [--outtype i2_s|tq2_0|tq1_0|f16|bf16] [--progress] [--vocab-only]\n");
    return 1;
}

static void cv_progress(int done, int total, const char *tensor, void *user) {
    (void)user;
    fprintf(stderr, "\r[%3d%%] %-40.40s", 100 * done / (total ? total : 1), tensor);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

int cmd_convert(int argc, char **argv) {
    convert_params p;
    convert_report r;
    const char *pos[2];
    char err[1024];
    int i, n_pos = 0, progress = isatty(2);
    size_t k;
    memset(&p, 0, sizeof p);
    p.outtype = BITNET_TYPE_I2_S;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--progress")) { progress = 1; continue; }
        if (!strcmp(argv[i], "--vocab-only")) { p.vocab_only = 1; continue; }
        if (!strcmp(argv[i], "--outtype")) {
            char low[16];
            size_t n;
            if (i + 1 >= argc) return cv_usage();
            for (n = 0; argv[i + 1][n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)argv[i + 1][n]);
            low[n] = 0;
            for (k = 0; k < sizeof cv_types / sizeof cv_types[0] && strcmp(low, cv_types[k].name); k++) {}
            if (k == sizeof cv_types / sizeof cv_types[0] || argv[i + 1][n]) {
                fprintf(stderr, "bitnet: convert: unknown --outtype '%s' (i2_s, tq2_0, tq1_0, f16 or bf16)\n", argv[i + 1]);
                return 1;
            }
            p.outtype = cv_types[k].type;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "bitnet: convert: unknown option '%s'\n", argv[i]);
            return 1;
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            return cv_usage();
        }
    }
    if (n_pos != 2) return cv_usage();
    p.hf_dir = pos[0];
    p.out_path = pos[1];
    if (progress) p.progress = cv_progress;
    if (convert_hf(&p, &r, err, sizeof err)) {
        fprintf(stderr, "bitnet: convert: %s\n", err);
        return 1;
    }
    if (p.vocab_only) {
        printf("bitnet convert: %s -> %s: vocabulary only, %d tokens (%s%s%s)\n", p.hf_dir, p.out_path, r.n_vocab,
               r.tokenizer, r.pre[0] ? ", pre " : "", r.pre);
        return 0;
    }
    printf("bitnet convert: %s (%s) -> %s: arch %s, %d tensors, projections %s (%d ternarized by absmean, %d already "
           "ternary, %d unpacked), vocab %d (%s%s%s)\n", p.hf_dir, r.hf_arch, p.out_path, r.arch, r.n_tensors,
           bitnet_type_name(p.outtype), r.n_ternarized_absmean, r.n_already_ternary, r.n_packed, r.n_vocab, r.tokenizer,
           r.pre[0] ? ", pre " : "", r.pre);
    return 0;
}
