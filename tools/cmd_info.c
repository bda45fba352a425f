/* bitnet info FILE.gguf - version, alignment, every metadata key with type and value (long
   arrays summarised), the tensor table, and the CPU features the kernels can use. */
#include "cli.h"
#include <stdio.h>
#include <string.h>
#include <string.h>

#define INFO_MAX_STR 72         /* longer strings are cut with "..." */
#define INFO_MAX_ITEMS 8        /* arrays show this many leading items */

/* Prints a string escaped so control bytes and quotes stay on one line. */
static void info_print_str(const char *s, uint64_t len) {
    uint64_t i, shown = len > INFO_MAX_STR ? INFO_MAX_STR : len;
    putchar('"');
    for (i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (shown < len) printf("...(%llu bytes)", (unsigned long long)len);
}

static void info_print_value(const bitnet_gguf_value *v);

static void info_print_array(const bitnet_gguf_value *v) {
    uint64_t i, shown = v->arr.count > INFO_MAX_ITEMS ? INFO_MAX_ITEMS : v->arr.count;
    printf("[%s x %llu] [", bitnet_gguf_type_name(v->arr.elem_type), (unsigned long long)v->arr.count);
    for (i = 0; i < shown; i++) {
        bitnet_gguf_value e;
        if (bitnet_gguf_array_get(v, i, &e) != BITNET_OK) break;
        if (i) printf(", ");
        info_print_value(&e);
    }
    printf(shown < v->arr.count ? ", ...]" : "]");
}

static void info_print_value(const bitnet_gguf_value *v) {
    switch (v->type) {
        case BITNET_GGUF_U8: case BITNET_GGUF_U16: case BITNET_GGUF_U32: case BITNET_GGUF_U64:
            printf("%llu", (unsigned long long)v->num.u64); break;
        case BITNET_GGUF_I8: case BITNET_GGUF_I16: case BITNET_GGUF_I32: case BITNET_GGUF_I64:
            printf("%lld", (long long)v->num.i64); break;
        case BITNET_GGUF_F32: case BITNET_GGUF_F64: printf("%.9g", v->num.f64); break;
        case BITNET_GGUF_BOOL: printf(v->num.u64 ? "true" : "false"); break;
        case BITNET_GGUF_STRING: info_print_str(v->str.ptr, v->str.len); break;
        case BITNET_GGUF_ARRAY: info_print_array(v); break;
        default: printf("?"); break;
    }
}

static void info_print_metadata(const bitnet_gguf *g) {
    int64_t i, n = bitnet_gguf_n_kv(g);
    printf("metadata: %lld keys\n", (long long)n);
    for (i = 0; i < n; i++) {
        const bitnet_gguf_value *v = bitnet_gguf_kv(g, i);
        printf("  %-40s %-7s ", bitnet_gguf_key(g, i), bitnet_gguf_type_name(v->type));
        info_print_value(v);
        putchar('\n');
    }
}

static void info_print_tensors(const bitnet_gguf *g) {
    int64_t i, n = bitnet_gguf_n_tensors(g);
    uint64_t total = 0;
    printf("tensors: %lld\n", (long long)n);
    printf("  %-32s %-6s %-24s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
    for (i = 0; i < n; i++) {
        const bitnet_gguf_tensor *t = bitnet_gguf_tensor_at(g, i);
        char shape[64];
        int used = 0;
        uint32_t d;
        for (d = 0; d < t->n_dims && used < (int)sizeof shape; d++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%llu", d ? " x " : "",
                             (unsigned long long)t->ne[d]);
        printf("  %-32s %-6s %-24s %12llu %12llu\n", t->name, bitnet_type_name(t->type), shape,
               (unsigned long long)t->offset, (unsigned long long)t->size);
        total += t->size;
    }
    printf("  total tensor bytes: %llu\n", (unsigned long long)total);
}

static void info_print_model(const char *path) {
    static const char *const acts[] = { "relu2", "silu" }, *const ropes[] = { "neox", "norm" };
    bitnet_model_params mp;
    bitnet_ctx_params cp;
    bitnet_model *m = NULL;
    const bitnet_hparams *hp;
    bitnet_model_memory mem;
    memset(&mp, 0, sizeof mp);
    memset(&cp, 0, sizeof cp);
    mp.path = path;
    if (bitnet_model_load(&m, &mp) != BITNET_OK) {
        printf("model: not runnable: %s\n", bitnet_last_error());
        return;
    }
    hp = bitnet_model_hparams(m);
    mem = bitnet_model_get_memory(m);
    printf("model: %s, %d layers, embd %d, ffn %d, heads %d (kv %d, dim %d), vocab %d, context %d\n",
           hp->arch_name, hp->n_layer, hp->n_embd, hp->n_ff, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_vocab,
           hp->n_ctx_train);
    printf("  activation %s, rope %s (base %g, dims %d), rms eps %g, sub-norms %s, head %s\n", acts[hp->activation],
           ropes[hp->rope_style], (double)hp->rope_base, hp->n_rot, (double)hp->rms_eps, hp->sub_norms ? "yes" : "no",
           hp->tied_head ? "tied to token_embd" : "output.weight");
    printf("memory: file %.1f MB mapped, weights read per token %.1f MB, converted at load %.1f MB\n",
           mem.file_bytes / 1e6, mem.weight_bytes / 1e6, mem.converted_bytes / 1e6);
    cp.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
    printf("  context plan: %.1f MB at n_ctx %d, n_batch 512 (KV cache f32)\n", bitnet_ctx_plan_bytes(m, &cp) / 1e6,
           cp.n_ctx);
    cli_print_devices(m);
    bitnet_model_free(m);
}

int cmd_info(int argc, char **argv) {
    bitnet_gguf *g;
    char features[1024];
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) return cli_help("info");
    if (argc >= 2 && argv[1][0] == '-' && argv[1][1]) {
        fprintf(stderr, "bitnet: info: unknown option '%s' (try: bitnet info --help)\n", argv[1]);
        return 1;
    }
    if (argc > 2) {
        fprintf(stderr, "bitnet: info: unexpected argument '%s' (info takes one file)\n", argv[2]);
        return 1;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: bitnet info FILE.gguf\n");
        return 1;
    }
    if (bitnet_gguf_open(&g, argv[1], NULL) != BITNET_OK) return cli_fail("info");
    printf("file: %s\n", argv[1]);
    printf("gguf version: %u\nalignment: %u\ndata offset: %llu\nfile size: %llu\n", bitnet_gguf_version(g),
           bitnet_gguf_alignment(g), (unsigned long long)bitnet_gguf_data_offset(g),
           (unsigned long long)bitnet_gguf_file_size(g));
    info_print_metadata(g);
    info_print_tensors(g);
    if (bitnet_gguf_find_tensor(g, "token_embd.weight")) info_print_model(argv[1]);
    else cli_print_devices(NULL);
    printf("kernels: %s\n", bitnet_kernels_describe(BITNET_ISA_AUTO, features, sizeof features));
    bitnet_gguf_close(g);
    return 0;
}
